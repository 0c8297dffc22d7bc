#!/bin/sh
# evstore stat and verify: stat's fields on an empty and a filled store, verify of a
# whole store (exit 0) and of one whose segment file was damaged with dd (exit 5, file
# and byte offset on stderr, "ok":false on stdout), missing stores (exit 1).
. "$(dirname "$0")/lib.sh"

d=$T/store

# ---- stat ------------------------------------------------------------------------------
evs append --create "$d" </dev/null
evs stat "$d"
expect_rc 0 "stat of an empty store"
expect_eq "$(lines "$T/out")" 1 "stat prints one line"
fields='["events","streams","segments","bytes","first_pos","last_pos",'
fields=$fields'"first_ts","last_ts","segment_size","lost_positions"]'
expect_eq "$(jq -c 'keys_unsorted' "$T/out")" "$fields" "stat fields in order"
expect_eq "$(jq -c '[.events,.streams,.first_pos,.last_pos,.first_ts,.last_ts]' "$T/out")" \
    '[0,0,0,0,null,null]' "stat of an empty store"

pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
seq 1 500 | sed "s/.*/{\"stream\":\"s-&\",\"type\":\"N\",\"data\":{\"n\":&,\"pad\":\"$pad\"}}/" |
    sed 's/"s-\([0-9]*\)\([0-9]\)"/"s-\2"/' | evs append --create "$d" --quiet
expect_rc 0 "append 500 events over 10 streams"
evs stat "$d"
expect_rc 0 "stat"
expect_eq "$(jq -c '[.events,.streams,.first_pos,.last_pos]' "$T/out")" '[500,10,1,500]' \
    "stat counts"
expect_eq "$(jq -c '.segments >= 1 and .bytes > 500*32 and .segment_size > 0' "$T/out")" true \
    "stat sizes"
stat_bytes=$(jq .bytes "$T/out")
expect_eq "$stat_bytes" "$(du -bc "$d"/*.seg | tail -1 | cut -f1)" \
    "stat bytes: the segment files of a closed store, whole"
jq -e '(.first_ts | test("^[0-9-]{10}T[0-9:]{8}\\.[0-9]{9}Z$")) and .first_ts <= .last_ts' \
    "$T/out" >/dev/null || fail "stat timestamps: $(cat "$T/out")"
first_read_ts=$("$EVS" read "$d" --limit 1 | jq -r .ts)
expect_eq "$(jq -r .first_ts "$T/out")" "$first_read_ts" "stat first_ts is the first event's"

# ---- verify a whole store --------------------------------------------------------------
evs verify "$d"
expect_rc 0 "verify a whole store"
expect_empty "$T/err" "verify of a whole store: nothing on stderr"
expect_eq "$(jq -c '[.ok,.events,.problems]' "$T/out")" '[true,500,0]' "verify summary"
expect_eq "$(jq -c 'keys_unsorted' "$T/out")" \
    '["ok","events","segments","checksummed_bytes","problems","lost_positions"]' \
    "verify summary fields"
checksummed=$(jq .checksummed_bytes "$T/out")
[ "$checksummed" -gt 500 ] && [ "$checksummed" -lt "$stat_bytes" ] ||
    fail "verify's checksummed_bytes ($checksummed) counts records, not headers or padding"
evs verify "$d" --quick
expect_eq "$(jq .checksummed_bytes "$T/out")" "$checksummed" \
    "verify --quick checksums every record of a store under 1 MiB: the same count"

# ---- a last event time ahead of the clock: a warning, not an error ---------------------
evs init "$T/future"
echo '{"stream":"f","type":"T","data":1,"ts":"2099-01-01T00:00:00Z"}' >"$T/future.ndjson"
evs import "$T/future" --format ndjson --keep-ts "$T/future.ndjson"
expect_rc 0 "import an event dated 2099"
for cmd in stat verify; do
    evs $cmd "$T/future"
    expect_rc 0 "$cmd of a store whose last event is in the future"
    one_stderr_line $cmd "future last ts"
    expect_in "warning: the last event's time, 2099-01-01T00:00:00.000000000Z, is" "$T/err" \
        "$cmd warns of a last ts ahead of the clock"
    expect_in "days ahead of this machine's clock" "$T/err" "$cmd says how far ahead"
done

# ---- verify a damaged store ------------------------------------------------------------
seg=
for f in "$d"/*.seg; do
    [ -f "$f" ] && seg=${f##*/} && break
done
[ -n "$seg" ] || fail "no segment file (*.seg) in the store: $(ls "$d")"
size=$(wc -c <"$d/$seg" | tr -d ' ')
off=$((size / 3))
printf 'GARBAGE!GARBAGE!' | dd of="$d/$seg" bs=1 seek="$off" conv=notrunc 2>/dev/null ||
    fail "dd into the segment"
evs verify "$d"
expect_rc 5 "verify a damaged store"
expect_in "evstore verify: " "$T/err" "damage reported on stderr"
expect_in "$seg" "$T/err" "damage names the segment file"
grep -qiE '(byte|offset) [0-9]+' "$T/err" || fail "damage names a byte offset"
expect_eq "$(jq -c .ok "$T/out")" false "verify summary says not ok"
[ "$(jq -c '.problems' "$T/out")" != 0 ] || fail "verify summary counts problems"

# ---- the remedy depends on who reports the damage --------------------------------------
# verify's own report names the damage: it never tells the user to run verify; a read
# that meets damage does.
dl=$T/lostbad
echo '{"stream":"a","type":"T","data":{}}' | "$EVS" append --create "$dl" --quiet
printf 'EVSLOST1-damaged-020' >"$dl/lost" # 20 bytes: bad version, count, checksum
evs verify "$dl"
expect_rc 5 "verify of a store whose lost file is damaged"
expect_in "is damaged" "$T/err" "verify names the damaged lost file"
expect_not_in "run 'evstore verify'" "$T/err" "verify does not tell the user to run verify"
evs read "$dl"
expect_rc 5 "read of a store whose lost file is damaged"
expect_in "run 'evstore verify'" "$T/err" "read tells the user to run verify"

# ---- progress: on a terminal only ------------------------------------------------------
d2="$T/progress"
seq 1 2000 | sed 's/.*/{"stream":"p-1","type":"T","data":&}/' | "$EVS" append --create "$d2" --quiet
evs verify "$d2"
expect_rc 0 "verify of a whole store"
expect_empty "$T/err" "no progress bar when stderr is not a terminal"
if command -v script >/dev/null 2>&1; then
    # script(1) runs the command on a pseudo-terminal: now the bar is drawn and cleared.
    script -qec "'$EVS' verify '$d2'" /dev/null >"$T/tty" 2>&1 || fail "verify on a terminal"
    grep -q "verify: 100%" "$T/tty" || fail "progress bar reaches 100% on a terminal"
    grep -q '"ok":true' "$T/tty" || fail "summary after the progress bar"
else
    echo "skipped: progress on a terminal (no script(1) here)"
fi

# ---- missing stores --------------------------------------------------------------------
for cmd in stat verify; do
    evs $cmd "$T/missing"
    expect_rc 1 "$cmd of a missing store"
    one_stderr_line $cmd "$cmd of a missing store: message"
    expect_empty "$T/out" "$cmd of a missing store: nothing on stdout"
done
[ ! -e "$T/missing" ] || fail "stat or verify created the missing store"

echo ok

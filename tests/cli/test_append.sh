#!/bin/sh
# evstore append: round trip through read (data and metadata byte for byte, unicode and
# escapes in names), acknowledgements, --stream, explicit ids and idempotent re-append,
# --atomic all-or-nothing, --quiet, --sync, re-appending read's output, streaming acks.
. "$(dirname "$0")/lib.sh"

d=$T/store
"$EVS" init "$d" >/dev/null || fail "init $d"

# ---- round trip, byte for byte ---------------------------------------------------------
data1='{ "sku" : "A1",  "qty":2, "price": 10.50, "note":"caf\u00e9 \"x\"\n\t", "e":1E+2 }'
meta1='{"actor":"ann", "corr":"c-1"}'
data2='"just a string with \\ and \/ and caf\u00e9 and raw é and 😀"'
data3='[1,-0.5e-3,true,false,null,{"nested":{"deep":[[[]]]}}]'
cat >"$T/in" <<EOF
{"stream":"order-1","type":"ItemAdded","data":$data1,"metadata":$meta1}
{"stream":"order-1","type":"ItemRemoved","data":$data2}

{"stream":"order-\u00e9\"q","type":"T\u00fcp \\\\ x","data":$data3}
{"type":"OrderPlaced","data":42,"stream":"order-2"}
EOF
evs append "$d" <"$T/in"
expect_rc 0 "append round-trip input"
expect_empty "$T/err" "append prints nothing on stderr"
expect_eq "$(lines "$T/out")" 4 "one ack per event (blank line skipped)"
expect_eq "$(sed -n 1p "$T/out")" '{"pos":1,"stream":"order-1","version":0}' "first ack"
expect_eq "$(sed -n 2p "$T/out")" '{"pos":2,"stream":"order-1","version":1}' "second ack"
expect_eq "$(sed -n 3p "$T/out" | jq -r .stream)" 'order-é"q' "ack stream unescaped then escaped"
expect_eq "$(sed -n 4p "$T/out")" '{"pos":4,"stream":"order-2","version":0}' "fourth ack"

evs read "$d"
expect_rc 0 "read all"
cp "$T/out" "$T/read1"
expect_eq "$(lines "$T/read1")" 4 "read returns 4 events"
expect_in "\"data\":$data1,\"metadata\":$meta1}" "$T/read1" "data and metadata byte for byte"
expect_in "\"data\":$data2}" "$T/read1" "string data byte for byte, no metadata"
expect_in "\"data\":$data3}" "$T/read1" "array data byte for byte"
expect_in ',"data":42}' "$T/read1" "number data"
expect_eq "$(sed -n 3p "$T/read1" | jq -r .stream)" 'order-é"q' "stream name round trip"
expect_eq "$(sed -n 3p "$T/read1" | jq -r .type)" 'Tüp \ x' "type name round trip"
expect_eq "$(sed -n 2p "$T/read1" | jq -c 'has("metadata")')" false "metadata omitted when none"
expect_eq "$(sed -n 1p "$T/read1" | jq -c 'keys_unsorted')" \
    '["pos","stream","version","id","type","ts","data","metadata"]' "envelope field order"
expect_eq "$(sed -n 2p "$T/read1" | jq -c 'keys_unsorted')" \
    '["pos","stream","version","id","type","ts","data"]' "field order without metadata"
ts_re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z$'
sed -n 1p "$T/read1" | jq -e --arg re "$ts_re" '.ts | test($re)' >/dev/null ||
    fail "ts is RFC 3339 UTC with 9 fraction digits"
uuid_re='^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
sed -n 1p "$T/read1" | jq -e --arg re "$uuid_re" '.id | test($re)' >/dev/null ||
    fail "generated id is a v4 UUID"
jq -e -s 'map(.pos) == [1,2,3,4]' "$T/read1" >/dev/null || fail "positions 1..4 in order"

# ---- --stream default and --quiet -------------------------------------------------------
printf '%s\n' '{"type":"A","data":1}' '{"type":"B","data":2,"stream":"other"}' |
    evs append "$d" --stream dflt --quiet
expect_rc 0 "append --stream --quiet"
expect_empty "$T/out" "--quiet prints no acks"
evs read "$d" --stream dflt
expect_eq "$(lines "$T/out")" 1 "--stream is the default stream"
evs read "$d" --stream other
expect_eq "$(lines "$T/out")" 1 "a line's stream wins over --stream"

# ---- explicit ids, idempotent re-append ------------------------------------------------
id1=0b7e0f4e-2c1a-4d5e-9f00-1a2b3c4d5e61
id2=0B7E0F4E-2C1A-4D5E-9F00-1A2B3C4D5E62
cat >"$T/ids" <<EOF
{"stream":"inv-1","type":"Created","data":{},"id":"$id1"}
{"stream":"inv-1","type":"Paid","data":{},"id":"$id2"}
EOF
evs append "$d" <"$T/ids"
expect_rc 0 "append with ids"
cp "$T/out" "$T/acks_ids"
before=$(count_events "$d")
evs append "$d" <"$T/ids"
expect_rc 0 "re-append the same ids"
expect_eq "$(cat "$T/out")" "$(cat "$T/acks_ids")" "re-append prints the original positions"
expect_eq "$(count_events "$d")" "$before" "re-append wrote nothing"
# A retry with the expectation the first attempt had (the usual retry after a timeout)
# is also a duplicate, in one commit or in several.
evs append "$d" --expected-version no_stream <"$T/ids"
expect_rc 0 "re-append the same ids with the original expectation"
expect_eq "$(cat "$T/out")" "$(cat "$T/acks_ids")" "retry prints the original positions"
evs append "$d" --expected-version no_stream --batch 1 <"$T/ids"
expect_rc 0 "re-append the same ids in commits of one"
expect_eq "$(cat "$T/out")" "$(cat "$T/acks_ids")" "retry in commits of one"
expect_eq "$(count_events "$d")" "$before" "retries wrote nothing"
evs read "$d" --stream inv-1
expect_eq "$(jq -r .id "$T/out" | tr '\n' ' ')" "$id1 $(echo $id2 | tr 'A-F' 'a-f') " \
    "ids stored as given (printed lowercase)"

# ---- --atomic: all or nothing ----------------------------------------------------------
d2=$T/atomic
printf '%s\n' '{"stream":"s","type":"A","data":1}' '{"stream":"t","type":"A","data":2}' \
    '{"stream":"s","type":"A","data":3,"expected_version":7}' | evs append --create "$d2" --atomic
expect_rc 3 "--atomic with a conflicting batch"
expect_empty "$T/out" "--atomic conflict prints no acks"
expect_in "line 3: " "$T/err" "--atomic conflict names the conflicting line"
expect_in "no lines were written" "$T/err" "--atomic conflict: nothing written"
expect_eq "$(count_events "$d2")" 0 "--atomic conflict wrote nothing"
printf '%s\n' '{"stream":"s","type":"A","data":1}' '{"stream":"t","type":"A","data":2}' \
    '{"stream":"s","type":"A"}' | evs append --create "$d2" --atomic
expect_rc 4 "--atomic with a bad line"
expect_in 'line 3: field "data": missing; no lines were written' "$T/err" \
    "--atomic bad line message"
expect_eq "$(count_events "$d2")" 0 "--atomic bad line wrote nothing"
printf '%s\n' '{"stream":"s","type":"A","data":1}' '{"stream":"t","type":"A","data":2}' \
    '{"stream":"s","type":"A","data":3}' | evs append --create "$d2" --atomic
expect_rc 0 "--atomic good input"
expect_eq "$(lines "$T/out")" 3 "--atomic acks"
expect_eq "$(count_events "$d2")" 3 "--atomic wrote everything"

# ---- --sync modes and --batch ----------------------------------------------------------
for mode in always batch none; do
    seq 1 25 | sed 's/.*/{"stream":"sync","type":"N","data":&}/' |
        evs append --create "$d2" --sync "$mode" --batch 7
    expect_rc 0 "append --sync $mode --batch 7"
    expect_eq "$(lines "$T/out")" 25 "--sync $mode acks"
done
evs read "$d2" --stream sync
expect_eq "$(jq -s -c 'map(.version) == [range(0;75)]' "$T/out")" true \
    "--batch commits keep versions contiguous"

# ---- read's output appends to another store; ids keep it idempotent ---------------------
d3=$T/copy
"$EVS" read "$d" >"$T/export" || fail "read for export"
evs append --create "$d3" <"$T/export"
expect_rc 0 "append read's output"
"$EVS" read "$d3" >"$T/export2" || fail "read the copy"
jq -c 'del(.ts)' "$T/export" >"$T/a"
jq -c 'del(.ts)' "$T/export2" >"$T/b"
cmp -s "$T/a" "$T/b" || fail "a copy through read | append has the same events"
evs append --create "$d3" <"$T/export"
expect_rc 0 "append read's output again"
expect_eq "$(count_events "$d3")" "$(lines "$T/export")" "copy again is idempotent"

# ---- a long line (over the 4 MiB commit bound, split across many reads) -----------------
big=$(head -c 3000000 /dev/zero | tr '\0' 'x')
{
    echo '{"stream":"big","type":"B","data":1}'
    printf '{"stream":"big","type":"B","data":"%s%s"}\n' "$big" "$big"
    echo '{"stream":"big","type":"B","data":3}'
} >"$T/big"
evs append "$d" <"$T/big"
expect_rc 0 "append a 6 MB line"
expect_eq "$(lines "$T/out")" 3 "acks for the long line"
evs read "$d" --stream big
expect_eq "$(sed -n 2p "$T/out" | jq -r '.data | length')" 6000000 "long data round trip"

# ---- streaming: the first event is acknowledged before the producer sends the second ----
d4=$T/stream
{
    echo '{"stream":"slow","type":"T","data":1}'
    sleep 3
    date +%s%N >"$T/t_sent2"
    echo '{"stream":"slow","type":"T","data":2}'
} | "$EVS" append --create "$d4" 2>"$T/err" | while IFS= read -r ack; do
    echo "$(date +%s%N) $ack"
done >"$T/acks_timed"
expect_eq "$(lines "$T/acks_timed")" 2 "streaming: two acks"
t_ack1=$(sed -n 1p "$T/acks_timed" | cut -d' ' -f1)
t_sent2=$(cat "$T/t_sent2")
[ "$t_ack1" -lt "$t_sent2" ] ||
    fail "streaming: first ack ($t_ack1) came after the second line was sent ($t_sent2)"
expect_eq "$(sed -n 2p "$T/acks_timed" | cut -d' ' -f2)" \
    '{"pos":2,"stream":"slow","version":1}' "streaming: second ack"

# ---- the reader of the acknowledgements goes away: appending goes on -------------------
seq 1 20000 | sed 's/.*/{"stream":"gone","type":"N","data":&}/' >"$T/many"
{
    "$EVS" append --create "$d4" <"$T/many" 2>"$T/err"
    echo $? >"$T/rc_gone"
} | head -n 1 >"$T/out"
expect_eq "$(cat "$T/rc_gone")" 0 "append | head -1 exits 0"
expect_empty "$T/err" "append | head -1: nothing on stderr"
evs read "$d4" --stream gone
expect_eq "$(lines "$T/out")" 20000 "append | head -1 still stores every event"

# ---- --wait: another process holds the writer lock (LOCK, flock()ed while appending) ----
if command -v flock >/dev/null 2>&1; then
    echo '{"stream":"w","type":"T","data":0}' | evs append --create "$T/locked"
    flock "$T/locked/LOCK" sleep 2 &
    holder=$!
    sleep 0.3
    echo '{"stream":"w","type":"T","data":1}' | evs append --create "$T/locked" --wait 0
    expect_rc 1 "--wait 0 while the lock is held"
    one_stderr_line append "--wait 0 message"
    expect_in "busy" "$T/err" "--wait 0 says busy"
    echo '{"stream":"w","type":"T","data":2}' | evs append --create "$T/locked" --wait 30
    expect_rc 0 "--wait 30 gets the lock once it is released"
    wait $holder
    evs read "$T/locked"
    expect_eq "$(jq -c .data "$T/out" | tr '\n' ' ')" "0 2 " "only the waiting append wrote"
fi

# ---- no input: nothing written, store created ------------------------------------------
evs append --create "$T/empty" </dev/null
expect_rc 0 "append of empty input"
expect_empty "$T/out" "empty input: no acks"
expect_eq "$(cat "$T/err")" "evstore append: created a new store in '$T/empty'" \
    "--create says that it made a store"
evs stat "$T/empty"
expect_rc 0 "empty input still creates the store"

# ---- a store is made only when asked ---------------------------------------------------
echo '{"stream":"s","type":"T","data":1}' >"$T/one"
evs append "$T/typo" <"$T/one"
expect_rc 1 "append to a missing store without --create"
one_stderr_line append "missing store"
expect_in "there is no store in '$T/typo'; create it with 'evstore init $T/typo' or give --create" \
    "$T/err" "missing store: says how to make one"
[ ! -e "$T/typo" ] || fail "append without --create made '$T/typo'"
# A first append that stores nothing takes its new store back, and the directory too
# when it made that; an empty directory it was given stays, empty.
echo '{"stream":"s","data":1}' | evs append --create "$T/failed"
expect_rc 4 "a bad first line into a new store"
expect_in "evstore append: nothing was stored: removed the new store in '$T/failed' again" \
    "$T/err" "the new store is removed again"
[ ! -e "$T/failed" ] || fail "a failed first append left '$T/failed' behind"
mkdir "$T/emptydir"
echo '{"stream":"s","data":1}' | evs append --create "$T/emptydir"
expect_rc 4 "a bad first line into a new store in an empty directory"
[ -d "$T/emptydir" ] && [ -z "$(ls -A "$T/emptydir")" ] ||
    fail "the empty directory stays, empty: $(ls -A "$T/emptydir")"
# A store that got events keeps them, also when a later line is bad.
printf '%s\n' '{"stream":"s","type":"T","data":1}' '{"stream":"s","data":2}' |
    evs append --create "$T/half"
expect_rc 4 "a bad second line into a new store"
expect_eq "$(count_events "$T/half")" 1 "the line before the bad one is kept"

echo ok

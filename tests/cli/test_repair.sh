#!/bin/sh
# evstore repair and verify --quick. A store of 2000 one-event appends (so event n is at
# position n) is copied and damaged on purpose: bytes flipped in the middle of an old
# segment and in the last segment with the head page deleted (open refuses that), the
# last segment truncated inside a record, the head page alone deleted. For each: the
# JSON line names exactly the positions lost, the saved bytes are the damaged store's own
# bytes from the cut on, verify passes afterwards, the surviving events are
# byte-identical to before, appends go on. Repair refuses while `tail -f` holds the
# store open (and changes nothing), leaves a healthy store untouched, and --dry-run
# changes nothing. verify --quick passes a healthy store and catches a broken frame and
# a broken segment header, but (by design) not bit rot inside an older event. A repair
# that cuts positions 1..22 declares them lost: the next append gets 23, and a consumer
# that acknowledged one of them is listed by repair and refused until reset.
. "$(dirname "$0")/lib.sh"

d=$T/store
pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
evs init "$d" --segment-size 64K
expect_rc 0 "init"
seq 1 2000 | sed "s/.*/{\"stream\":\"s-&\",\"type\":\"N\",\"data\":{\"n\":&,\"pad\":\"$pad\"}}/" |
    sed 's/"s-\([0-9]*\)\([0-9]\)"/"s-\2"/' | evs append --create "$d" --quiet --batch 1 --sync none
expect_rc 0 "append 2000 events, one per append"
"$EVS" read "$d" >"$T/before" || fail "read the whole store"
expect_eq "$(lines "$T/before")" 2000 "2000 events before"

# seg_of N DIR: the segment file holding event n=N; data_off N DIR: its data's offset
# (the '{' before "n"); rec_off N DIR: its record's (88-byte header, stream "s-D", type
# "N" before the data).
seg_of() {
    grep -laF "{\"n\":$1," "$2"/*.seg | head -1
}
data_off() {
    grep -boaF "{\"n\":$1," "$(seg_of "$1" "$2")" | head -1 | cut -d: -f1
}
rec_off() {
    echo $(($(data_off "$1" "$2") - 92))
}
# u64_at FILE OFFSET: the little-endian integer there
u64_at() {
    od -An -tu8 -j "$2" -N8 "$1" | tr -d ' '
}
# fingerprint DIR [live]: every file's name, size and checksum (the lock files are
# empty); with "live", not the head page, whose futex word and waiter count a running
# tail -f changes
fingerprint() {
    if [ "${2:-}" = live ]; then
        (cd "$1" && find . -type f ! -name head | sort | xargs cksum)
    else
        (cd "$1" && find . -type f | sort | xargs cksum)
    fi
}
# json FIELDS: the repair line's fields as one compact array
json() {
    jq -c "$1" "$T/out"
}
# flip DIR N: overwrite two bytes inside event n=N's data
flip() {
    printf 'XX' | dd of="$(seg_of "$2" "$1")" bs=1 seek=$(($(data_off "$2" "$1") + 2)) \
        conv=notrunc 2>/dev/null || fail "dd into the segment"
}
# survivors DIR K: the store holds exactly the first K events of before, byte for byte
survivors() {
    "$EVS" read "$1" >"$T/after" || fail "read after repair"
    head -n "$2" "$T/before" >"$T/want"
    cmp -s "$T/after" "$T/want" || fail "the $2 surviving events differ from before"
}
# appends_go_on DIR POS: a new event gets position POS and the store verifies
appends_go_on() {
    echo '{"stream":"after","type":"Repaired","data":{"ok":true}}' | evs append --create "$1"
    expect_rc 0 "append after repair"
    expect_eq "$(jq -c .pos "$T/out")" "$2" "the next append's position"
    evs verify "$1"
    expect_rc 0 "verify after the new append"
}

[ "$(u64_at "$(seg_of 500 "$d")" $(($(rec_off 500 "$d") + 8)))" = 500 ] ||
    fail "the test's record offsets are wrong (position field of n=500)"

# ---- help, usage ------------------------------------------------------------------------
evs repair --help
expect_rc 0 "repair --help"
expect_in "usage: evstore repair" "$T/out" "repair usage"
expect_in "--dry-run" "$T/out" "repair help names --dry-run"
expect_in "repair-YYYYMMDDTHHMMSSZ" "$T/out" "repair help says where the bytes go"
expect_empty "$T/err" "repair --help: nothing on stderr"
evs verify --help
expect_rc 0 "verify --help"
expect_in "--quick" "$T/out" "verify help names --quick"
expect_in "Not checked:" "$T/out" "verify help says what --quick does not check"
evs repair "$d" --bogus
expect_rc 2 "repair with an unknown option"
one_stderr_line repair "repair --bogus"
evs repair "$T/missing"
expect_rc 1 "repair of a missing store"
one_stderr_line repair "repair of a missing store"
[ ! -e "$T/missing" ] || fail "repair created the missing store"

# ---- a healthy store is left alone ------------------------------------------------------
fingerprint "$d" >"$T/fp1"
evs repair "$d"
expect_rc 0 "repair of a healthy store"
expect_eq "$(json '[.damaged,.kept_last_pos,.first_lost_pos,.lost_events,.saved_to,.damage]')" \
    '[false,2000,null,0,null,null]' "healthy: the repair line"
expect_in "not damaged" "$T/err" "healthy: says so"
evs repair "$d" --dry-run
expect_rc 0 "dry run of a healthy store"
fingerprint "$d" >"$T/fp2"
cmp -s "$T/fp1" "$T/fp2" || fail "repair changed a healthy store: $(diff "$T/fp1" "$T/fp2")"

# ---- verify --quick ---------------------------------------------------------------------
# 6000 events of ~700 bytes: 4 MiB in 64 KiB segments, so most records lie outside the
# last MiB, whose checksums --quick checks.
q=$T/quick
"$EVS" init "$q" --segment-size 64K >/dev/null || fail "init the quick-verify store"
pad600=$(printf '%0600d' 0)
seq 1 6000 | sed "s/.*/{\"stream\":\"q-1\",\"type\":\"N\",\"data\":{\"n\":&,\"pad\":\"$pad600\"}}/" |
    "$EVS" append --create "$q" --quiet --sync none || fail "append the quick-verify store"
evs verify "$q" --quick
expect_rc 0 "verify --quick of a healthy store"
expect_empty "$T/err" "verify --quick of a healthy store: nothing on stderr"
expect_eq "$(jq -c '[.ok,.quick,.events,.problems]' "$T/out")" '[true,true,6000,0]' \
    "verify --quick summary"
[ "$(jq .checksummed_bytes "$T/out")" -lt $(($(du -bc "$q"/*.seg | tail -1 | cut -f1) / 2)) ] ||
    fail "verify --quick checksummed more than half the log: $(cat "$T/out")"
if command -v script >/dev/null 2>&1; then
    # On a terminal (script(1) gives it one) --quick draws the same progress bar.
    script -qec "'$EVS' verify '$q' --quick" /dev/null >"$T/tty" 2>&1 ||
        fail "verify --quick on a terminal"
    grep -q "verify: 100%" "$T/tty" || fail "verify --quick: progress bar on a terminal"
    grep -q '"quick":true' "$T/tty" || fail "verify --quick: summary after the progress bar"
fi
# Event 100 is in an old segment, far from the last MiB.
cp -a "$q" "$T/q2"
rec=$(($(data_off 100 "$T/q2") - 92))
seg=$(seg_of 100 "$T/q2")
printf '\377' | dd of="$seg" bs=1 seek=$((rec + 5)) conv=notrunc 2>/dev/null
evs verify "$T/q2" --quick
expect_rc 5 "verify --quick of a broken frame"
expect_in "${seg##*/}: byte $rec:" "$T/err" "verify --quick names the frame's file and offset"
expect_eq "$(jq -c '[.ok,.quick]' "$T/out")" '[false,true]' "verify --quick summary: not ok"
cp -a "$q" "$T/q3"
seg=$(seg_of 1500 "$T/q3")
printf 'X' | dd of="$seg" bs=1 seek=3 conv=notrunc 2>/dev/null
evs verify "$T/q3" --quick
expect_rc 5 "verify --quick of a broken segment header"
expect_in "${seg##*/}: byte 0: bad segment header" "$T/err" "verify --quick names the header"
# An event in the middle of an old segment (neither its first nor its last record, whose
# checksums --quick does check); where batches end depends on timing, so look.
mid=100
while [ "$(seg_of $((mid - 1)) "$q")" != "$(seg_of $((mid + 1)) "$q")" ]; do
    mid=$((mid + 1))
done
cp -a "$q" "$T/q4"
flip "$T/q4" $mid
evs verify "$T/q4" --quick
expect_rc 0 "verify --quick does not checksum an older event's data (documented)"
evs verify "$T/q4"
expect_rc 5 "the full verify does"

# ---- bytes flipped in the middle of an old segment -------------------------------------
b=$T/old
cp -a "$d" "$b"
seg=$(seg_of 500 "$b")
segname=${seg##*/}
rec=$(rec_off 500 "$b")
flip "$b" 500
mkdir "$T/old-copy" && cp -a "$b"/*.seg "$T/old-copy/" # the damaged store's bytes
later=$(ls "$b"/*.seg | awk -v s="$seg" '$0 > s' | wc -l | tr -d ' ')
bytes=$(($(wc -c <"$seg") - rec))
for f in $(ls "$b"/*.seg | awk -v s="$seg" '$0 > s'); do
    bytes=$((bytes + $(wc -c <"$f")))
done

# Refused while another process has the store open, and nothing changes; a dry run
# changes nothing, so it works while readers have the store open.
"$EVS" tail "$b" -f -n 0 >/dev/null 2>&1 &
tail_pid=$!
fingerprint "$b" live >"$T/fp1"
open_ino=
tries=0
# tail -f holds the open lock once /proc/locks lists its flock on OPEN.
until [ -n "$open_ino" ] && grep -q "FLOCK.* $tail_pid [0-9a-f]*:[0-9a-f]*:$open_ino " /proc/locks; do
    [ -e "$b/OPEN" ] && open_ino=$(stat -c %i "$b/OPEN")
    tries=$((tries + 1))
    [ $tries -lt 200 ] || { kill $tail_pid; fail "tail -f never held the store open"; }
    sleep 0.05
done
evs repair "$b"
expect_rc 1 "repair while tail -f has the store open"
one_stderr_line repair "repair refused"
expect_in "is open (pid $tail_pid)" "$T/err" "the refusal names the process"
expect_in "readers included" "$T/err" "the refusal says why"
expect_empty "$T/out" "repair refused: nothing on stdout"
evs repair "$b" --dry-run
expect_rc 5 "dry run while tail -f has the store open"
expect_eq "$(json '[.damaged,.dry_run,.kept_last_pos]')" '[true,true,499]' \
    "dry run beside a reader: the damage"
fingerprint "$b" live >"$T/fp2"
cmp -s "$T/fp1" "$T/fp2" || fail "a refused repair changed the store: $(diff "$T/fp1" "$T/fp2")"
kill -TERM $tail_pid
wait $tail_pid
fingerprint "$b" >"$T/fp1"

evs repair "$b" --dry-run
expect_rc 5 "dry run of a damaged store"
expect_eq "$(json '[.damaged,.dry_run,.kept_last_pos,.first_lost_pos,.last_lost_pos,.lost_events]')" \
    '[true,true,499,500,2000,1501]' "dry run: the positions"
expect_eq "$(json '[.bytes_moved,.files_moved]')" "[$bytes,$((later + 1))]" "dry run: the bytes"
# The folder named is the one a repair now would make, in the store; it is not made.
would=$(jq -r .saved_to "$T/out")
case $would in
"$b"/repair-2*Z) ;;
*) fail "dry run: saved_to is not a repair folder in the store: $would" ;;
esac
[ ! -e "$would" ] || fail "a dry run made the folder $would"
expect_in "would be saved in a new folder $would" "$T/err" "dry run names the folder"
expect_eq "$(json '[.damage.file,.damage.offset,.damage.pos,.damage.what]')" \
    "[\"$segname\",$rec,500,\"checksum mismatch\"]" "dry run: the damage"
expect_in "dry run: nothing changed" "$T/err" "dry run says so"
fingerprint "$b" >"$T/fp2"
cmp -s "$T/fp1" "$T/fp2" || fail "a dry run changed the store"

# A dry run on a read-only file system: a small tmpfs, mounted read-only in a private
# mount namespace (as root, permissions cannot stand in for it).
mnt=$T/ro
mkdir "$mnt"
if unshare -m sh -c "mount --make-rprivate / && mount -t tmpfs -o size=16m tmpfs '$mnt'" \
    2>/dev/null; then
    unshare -m sh -c "mount --make-rprivate / && mount -t tmpfs -o size=16m tmpfs '$mnt' &&
        cp -a '$b' '$mnt/s' && mount -o remount,ro '$mnt' &&
        { touch '$mnt/s/probe' 2>/dev/null && exit 9; '$EVS' repair '$mnt/s' --dry-run \
          >'$T/out' 2>'$T/err'; echo \$? >'$T/rc'; }" || fail "setting up the read-only mount"
    expect_rc 5 "dry run on a read-only file system"
    expect_eq "$(json '[.damaged,.dry_run,.kept_last_pos,.last_lost_pos]')" '[true,true,499,2000]' \
        "dry run on a read-only file system: the positions"
else
    echo "skipped: dry run on a read-only mount (no mount namespace here)"
fi

evs repair "$b"
expect_rc 0 "repair of an old segment's damage"
expect_eq "$(json '[.damaged,.dry_run,.kept_last_pos,.first_lost_pos,.last_lost_pos,.lost_events]')" \
    '[true,false,499,500,2000,1501]' "repair: the positions"
expect_eq "$(json '[.bytes_moved,.files_moved]')" "[$bytes,$((later + 1))]" "repair: the bytes"
expect_in "positions 500..2000 (1501 events) are lost" "$T/err" "repair says what is lost"
expect_in "appends go on at position 2001" "$T/err" "repair says where the log goes on"
saved=$(jq -r .saved_to "$T/out")
case $saved in
"$b"/repair-2*Z) ;;
*) fail "saved_to is not a repair folder in the store: $saved" ;;
esac
expect_in "$saved" "$T/err" "repair says where the bytes went"
[ -d "$saved" ] || fail "the repair folder $saved does not exist"
tail -c +$((rec + 1)) "$T/old-copy/$segname" >"$T/want-tail"
cmp -s "$T/want-tail" "$saved/$segname.from-$rec" ||
    fail "the saved tail differs from the segment's bytes from byte $rec"
for f in $(ls "$T/old-copy"/*.seg | awk -v s="$T/old-copy/$segname" '$0 > s'); do
    cmp -s "$f" "$saved/${f##*/}" || fail "the moved segment ${f##*/} differs from the original"
    [ ! -e "$b/${f##*/}" ] || fail "${f##*/} is still in the store"
done
expect_in "500..2000" "$saved/REPAIR.txt" "REPAIR.txt names the positions"
expect_eq "$(wc -c <"$seg" | tr -d ' ')" "$rec" "the damaged segment is cut at the record"
evs verify "$b"
expect_rc 0 "verify after repair"
expect_eq "$(json .events)" 499 "verify counts the survivors"
survivors "$b" 499
appends_go_on "$b" 2001
evs repair "$b"
expect_rc 0 "repair of a repaired store"
expect_eq "$(json .damaged)" false "a repaired store is not damaged"

# ---- the last segment damaged and the head page deleted: open refuses -------------------
c=$T/nohead
cp -a "$d" "$c"
seg=$(seg_of 1990 "$c")
rec=$(rec_off 1990 "$c")
flip "$c" 1990
rm "$c/head"
evs read "$c" --count
expect_rc 5 "open refuses: a hole before the end the synced file knows, no head page"
expect_in "before the synced end of the log" "$T/err" "open says why it refuses"
mv "$c/synced" "$T/nohead-synced"
evs read "$c" --count
expect_rc 5 "open refuses: a hole before valid records, no head page, no synced file"
expect_in "valid records follow" "$T/err" "open without the synced file says why it refuses"
mv "$T/nohead-synced" "$c/synced"
cp "$seg" "$T/nohead-seg"
evs repair "$c"
expect_rc 0 "repair of the refused store"
expect_eq "$(json '[.kept_last_pos,.first_lost_pos,.last_lost_pos,.lost_events,.files_moved]')" \
    '[1989,1990,2000,11,1]' "head lost: the positions"
expect_eq "$(json '[.damage.file,.damage.offset]')" "[\"${seg##*/}\",$rec]" "head lost: the damage"
saved=$(jq -r .saved_to "$T/out")
tail -c +$((rec + 1)) "$T/nohead-seg" >"$T/want-tail"
cmp -s "$T/want-tail" "$saved/${seg##*/}.from-$rec" || fail "head lost: the saved tail differs"
evs verify "$c"
expect_rc 0 "verify after repairing the refused store"
survivors "$c" 1989
appends_go_on "$c" 2001

# ---- the last segment truncated inside a record ----------------------------------------
t=$T/cut
cp -a "$d" "$t"
seg=$(seg_of 1995 "$t")
rec=$(rec_off 1995 "$t")
truncate -s $((rec + 40)) "$seg"
evs repair "$t"
expect_rc 0 "repair of a truncated segment"
expect_eq "$(json '[.kept_last_pos,.first_lost_pos,.last_lost_pos,.lost_events,.bytes_moved]')" \
    '[1994,1995,2000,6,40]' "truncated: the positions (the head page knew 2000)"
expect_eq "$(json .damage.what)" '"record runs past the end of the file"' "truncated: why"
evs verify "$t"
expect_rc 0 "verify after repairing the truncated segment"
survivors "$t" 1994
appends_go_on "$t" 2001

# ---- the head page alone deleted: nothing to repair ------------------------------------
h=$T/headless
cp -a "$d" "$h"
rm "$h/head"
fingerprint "$h" >"$T/fp1"
evs repair "$h"
expect_rc 0 "repair without a head page"
expect_eq "$(json '[.damaged,.kept_last_pos]')" '[false,2000]' "no head page is no damage"
fingerprint "$h" >"$T/fp2"
cmp -s "$T/fp1" "$T/fp2" || fail "repair changed a store that only lacked its head page"

# ---- positions are not reused; a consumer that saw lost events is stopped --------------
q=$T/reuse
evs init "$q"
seq 1 22 | sed 's/.*/{"stream":"cart-42","type":"Added","data":{"n":&,"x":0}}/' | evs append "$q" --quiet
expect_rc 0 "22 events"
evs subscribe "$q" --consumer billing --limit 1 --timeout 1
expect_rc 0 "billing acknowledges position 1"
flip "$q" 1
evs repair "$q" --dry-run
expect_rc 5 "dry run of a store damaged at its first event"
expect_eq "$(json '.consumers_affected')" '["billing"]' "dry run lists the consumer"
evs repair "$q"
expect_rc 0 "repair cutting positions 1..22"
expect_eq "$(json '[.kept_last_pos,.first_lost_pos,.last_lost_pos,.consumers_affected]')" \
    '[0,1,22,["billing"]]' "repair: the positions and the consumer"
expect_in "billing" "$T/err" "repair names the consumer"
echo '{"stream":"cart-42","type":"Added","data":{"n":23}}' | evs append "$q"
expect_rc 0 "append after the repair"
expect_eq "$(jq -c .pos "$T/out")" 23 "the next position is after the lost ones"
evs consumers "$q"
expect_in '"error"' "$T/out" "consumers shows the consumer that saw lost events"
evs subscribe "$q" --consumer billing --limit 1 --timeout 1
expect_rc 5 "subscribe refuses the consumer until it is reset"
expect_in "declared lost" "$T/err" "subscribe says why"
evs consumer reset "$q" billing --to 0
expect_rc 0 "reset"
evs subscribe "$q" --consumer billing --limit 1 --timeout 1
expect_rc 0 "subscribe after the reset"
expect_eq "$(jq -c .pos "$T/out")" 23 "the consumer gets the new event"
evs stat "$q"
expect_eq "$(jq -c '[.events,.last_pos,.lost_positions]' "$T/out")" '[1,23,22]' "stat"
evs verify "$q"
expect_rc 0 "verify: lost positions are no damage"
expect_eq "$(jq -c .lost_positions "$T/out")" 22 "verify counts them"

echo ok

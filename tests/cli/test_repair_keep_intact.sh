# test_repair_keep_intact.sh - `evstore repair --keep-intact`: one damaged event costs
# that event, not the log after it.
#
# The issue's case: one byte of the event at position 4 of a 22-event store (three
# streams, event i in s<i mod 3>, one append) changed. Plain repair would cut positions
# 1..22 (the append has no commit record before the damage); with
# --keep-intact the dry run says only position 4 is lost and changes nothing; the run
# keeps every other event byte for byte (the reads before and after agree but for
# position 4), declares 4 lost (verify and stat count it), saves the damaged bytes, and
# the stream of the damaged event keeps its versions: the next append gets the version
# after its last.
. "$(dirname "$0")/lib.sh"

d=$T/store
i=1
while [ $i -le 22 ]; do
    echo "{\"stream\":\"s$((i % 3))\",\"type\":\"T\",\"data\":{\"i\":$i}}"
    i=$((i + 1))
done | "$EVS" append --create "$d" --quiet 2>/dev/null || fail "appending to $d"
"$EVS" read "$d" >"$T/before" || fail "read before the damage"
rec=$(od -An -tu4 -j 12 -N4 "$d"/00000000000000000001.idx | tr -d ' ')
len=$(od -An -tu4 -j $((rec + 4)) -N4 "$d"/00000000000000000001.seg | tr -d ' ')
printf 'X' | dd of="$d"/00000000000000000001.seg bs=1 seek=$((rec + len - 3)) conv=notrunc \
    2>/dev/null || fail "dd into the segment"
cp "$d"/00000000000000000001.seg "$T/damaged.seg"

evs repair "$d" --dry-run
expect_rc 5 "plain repair --dry-run of the damaged store"
expect_eq "$(jq -c '[.kept_last_pos,.lost_ranges]' "$T/out")" '[0,[[1,22]]]' \
    "plain repair would cut positions 1..22 (one append wrote them all)"

evs repair "$d" --keep-intact --dry-run
expect_rc 5 "repair --keep-intact --dry-run of the damaged store"
expect_eq "$(jq -c '[.kept_last_pos,.first_lost_pos,.last_lost_pos,.lost_events,.lost_ranges]' \
    "$T/out")" '[22,4,4,1,[[4,4]]]' "the dry run loses only position 4"
expect_in "positions 4 (1 events) would be declared lost" "$T/err" "the dry run says what it loses"
cmp -s "$d"/00000000000000000001.seg "$T/damaged.seg" || fail "the dry run changed the segment"
ls "$d" | grep -q repair- && fail "the dry run made a repair folder"

evs repair "$d" --keep-intact
expect_rc 0 "repair --keep-intact"
expect_eq "$(jq -c '[.damaged,.kept_last_pos,.lost_events,.lost_ranges,.damage.pos]' "$T/out")" \
    '[true,22,1,[[4,4]],4]' "the repair report"
saved=$(jq -r .saved_to "$T/out")
expect_eq "$(ls "$saved" | sort | tr '\n' ' ')" \
    "00000000000000000001.seg.bytes-$rec-$((rec + (len + 7) / 8 * 8)) REPAIR.txt " \
    "the damaged bytes are saved with a note"
dd if="$T/damaged.seg" of="$T/rec" bs=1 skip="$rec" count=$(((len + 7) / 8 * 8)) 2>/dev/null
cmp -s "$saved/00000000000000000001.seg.bytes-$rec-$((rec + (len + 7) / 8 * 8))" "$T/rec" ||
    fail "the saved bytes are the damaged record's"

evs read "$d"
expect_rc 0 "read of the repaired store"
grep -v '"pos":4,' "$T/before" >"$T/want"
cmp -s "$T/out" "$T/want" || fail "the repaired store does not read as before but position 4"
evs read "$d" --stream s1
expect_rc 0 "read of the stream that lost an event"
expect_eq "$(jq -c .version "$T/out" | tr '\n' ' ')" "0 2 3 4 5 6 7 " \
    "the stream keeps its versions, the lost one left out"
evs verify "$d"
expect_rc 0 "verify of the repaired store"
expect_eq "$(jq -c '[.ok,.events,.lost_positions]' "$T/out")" '[true,21,1]' "verify's figures"
evs stat "$d"
expect_eq "$(jq -c '[.events,.last_pos,.lost_positions]' "$T/out")" '[21,22,1]' "stat's figures"
echo '{"stream":"s1","type":"T","data":{}}' | evs append "$d"
expect_rc 0 "append to the stream that lost an event"
expect_eq "$(jq -c '[.pos,.version]' "$T/out")" '[23,8]' "the next position and version"
evs repair "$d" --keep-intact
expect_rc 0 "a second repair"
expect_eq "$(jq -c .damaged "$T/out")" 'false' "a second repair finds nothing to do"

evs repair --help
expect_in "--keep-intact" "$T/out" "repair --help names --keep-intact"
expect_in "Exit codes:" "$T/out" "repair --help has the exit codes"
echo ok

#!/bin/sh
# evstore retain and evstore discard: a dry run changes nothing, segments dropped by
# size, reads begin at the new start, refused while another process has the store
# open, usage errors, discard by consumers and its refusals, --help with exit codes.
. "$(dirname "$0")/lib.sh"

d=$T/store
evs init "$d" --segment-size 64K
expect_rc 0 "init"
i=0
while [ $i -lt 2000 ]; do
    echo "{\"stream\":\"s-$((i % 5))\",\"type\":\"A\",\"data\":{\"i\":$i,\"pad\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}}"
    i=$((i + 1))
done >"$T/in"
evs append "$d" --quiet <"$T/in"
expect_rc 0 "append the fixture"

evs retain "$d" --max-size 120K --dry-run
expect_rc 0 "dry run"
expect_eq "$(jq -c .dry_run "$T/out")" true "the dry run says so"
dry_start=$(jq .new_start "$T/out")
evs read "$d" --limit 1
expect_eq "$(jq .pos "$T/out")" 1 "the dry run dropped nothing"

"$EVS" tail "$d" -f >/dev/null 2>&1 &
tail_pid=$!
sleep 0.5
evs retain "$d" --max-size 120K
kill "$tail_pid" # first: a failed check below ends the script
wait "$tail_pid" 2>/dev/null
expect_rc 1 "busy while another process has the store open"
expect_in "busy" "$T/err" "the message says busy"

evs retain "$d" --max-size 120K
expect_rc 0 "retain by size"
start=$(jq .new_start "$T/out")
expect_eq "$start" "$dry_start" "the dry run said what retain did"
[ "$start" -gt 1 ] || fail "the start moved: $start"
evs read "$d" --limit 1
expect_eq "$(jq .pos "$T/out")" "$start" "a read begins at the new start"
evs read "$d" --from 1 --limit 1
expect_eq "$(jq .pos "$T/out")" "$start" "a read from before the start begins at it"
evs stat "$d"
expect_eq "$(jq .first_pos "$T/out")" "$start" "stat's first position"
evs verify "$d"
expect_rc 0 "the store verifies"

evs retain "$d"
expect_rc 2 "no policy"
evs retain "$d" --max-size 12Q
expect_rc 2 "a bad size"
evs retain "$d" --max-age 3
expect_rc 2 "a span without a unit"

evs discard "$d"
expect_rc 4 "no durable consumer"
evs discard "$d" --consumer nobody
expect_rc 1 "a named consumer that does not exist"
evs subscribe "$d" --consumer c1 --timeout 0 --limit 1500
expect_rc 0 "a consumer acknowledges up to 1500"
evs discard "$d"
expect_rc 0 "discard"
dstart=$(jq .new_start "$T/out")
[ "$dstart" -ge "$start" ] && [ "$dstart" -le 1501 ] ||
    fail "discard kept what c1 has not acknowledged: start $dstart"
evs verify "$d"
expect_rc 0 "the store verifies after discard"

evs retain --help
expect_in "Exit codes:" "$T/out" "retain's help lists the exit codes"
evs discard --help
expect_in "Exit codes:" "$T/out" "discard's help lists the exit codes"
echo "ok"

#!/bin/sh
# evstore archive: --keep-size moves the older sealed segments to ADIR and keeps the
# policy; reads, stream reads and verify are unchanged; a run without options applies
# the kept policy; bad settings (no ADIR, a missing one, a bad age) are refused with
# their exit codes; --help names the exit codes.
. "$(dirname "$0")/lib.sh"

d=$T/store
mkdir "$T/cold"
evs init "$d" --segment-size 64K
seq 1 3000 | sed 's/.*/{"stream":"s-&","type":"N","data":{"n":&,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}/' |
    evs append "$d" --quiet --batch 1 --sync none
expect_rc 0 "append 3000 events"
"$EVS" read "$d" >"$T/before" || fail "read before"
"$EVS" read "$d" --stream s-17 >"$T/stream.before" || fail "stream read before"

evs archive "$d"
expect_rc 4 "no archive directory yet"
expect_in "no archive directory" "$T/err" "message"
evs archive "$d" --to "$T/nowhere"
expect_rc 1 "a missing archive directory"
evs archive "$d" --to "$T/cold" --older-than soon
expect_rc 2 "a bad age"

evs archive "$d" --to "$T/cold" --keep-size 100K
expect_rc 0 "archive"
moved=$(jq -r .moved "$T/out")
[ "$moved" -ge 4 ] || fail "older segments moved, got $moved"
[ "$(jq -r .local_bytes "$T/out")" -ge 102400 ] || fail "the newest 100K of log kept"
expect_eq "$(ls "$T/cold" | wc -l | tr -d ' ')" "$moved" "segments in the archive"
"$EVS" read "$d" >"$T/after" || fail "read after"
cmp -s "$T/before" "$T/after" || fail "reads changed"
"$EVS" read "$d" --stream s-17 >"$T/stream.after" || fail "stream read after"
cmp -s "$T/stream.before" "$T/stream.after" || fail "stream reads changed"
evs verify "$d"
expect_rc 0 "verify an archived store"

seq 3001 5000 | sed 's/.*/{"stream":"s-&","type":"N","data":{"n":&,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}/' |
    evs append "$d" --quiet --batch 1 --sync none
evs archive "$d"
expect_rc 0 "archive by the kept policy"
[ "$(jq -r .moved "$T/out")" -ge 1 ] || fail "the kept policy moved new sealed segments"
[ "$(jq -r .local_bytes "$T/out")" -ge 102400 ] || fail "the kept policy keeps 100K"

evs archive --help
expect_rc 0 "--help"
expect_in "Exit codes:" "$T/out" "help names the exit codes"
echo "ok"

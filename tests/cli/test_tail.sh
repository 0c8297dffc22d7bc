#!/bin/sh
# evstore tail: the last N (default 10) events in position order, with filters; -f sees
# appends from another process within a second; `tail -f | head -2` ends; SIGTERM and
# SIGINT end it with exit code 0; usage errors.
. "$(dirname "$0")/lib.sh"

d=$T/store
seq 1 15 | sed 's/.*/{"stream":"s-&","type":"T&","data":&}/' | "$EVS" append --create "$d" --quiet ||
    fail "append the fixture"
echo '{"stream":"other","type":"X","data":"x"}' | "$EVS" append --create "$d" --quiet ||
    fail "append other"

data_of() {
    jq -c .data "$T/out" | tr '\n' ' '
}

evs tail "$d"
expect_rc 0 "tail"
expect_eq "$(data_of)" '7 8 9 10 11 12 13 14 15 "x" ' "the last 10, oldest first"
evs tail "$d" -n 3
expect_eq "$(data_of)" '14 15 "x" ' "-n 3"
evs tail "$d" -n2
expect_eq "$(data_of)" '15 "x" ' "-n2"
evs tail "$d" --lines=1
expect_eq "$(data_of)" '"x" ' "--lines=1"
evs tail "$d" -n 0
expect_rc 0 "-n 0"
expect_empty "$T/out" "-n 0 prints nothing"
evs tail "$d" -n 100
expect_eq "$(lines "$T/out")" 16 "-n larger than the store"
evs tail "$d" -n 2 --prefix s-
expect_eq "$(data_of)" '14 15 ' "-n 2 --prefix s-"
evs tail "$d" -n 3 --type T1 --type T2 --type X
expect_eq "$(data_of)" '1 2 "x" ' "-n 3 with --type"
evs tail "$d" --stream s-4
expect_eq "$(data_of)" '4 ' "--stream"
[ "$(head -n 1 "$T/out" | jq -r 'keys_unsorted | join(",")')" = \
    "pos,stream,version,id,type,ts,data" ] || fail "tail prints read's envelope"

# ---- -f: another process appends; the follower prints it within a second ---------------
: >"$T/follow" # exists before the job's own redirection: the loop below reads it at once
"$EVS" tail "$d" -f -n 1 --prefix live >"$T/follow" 2>"$T/follow_err" &
pid=$!
echo '{"stream":"live-1","type":"L","data":1}' | "$EVS" append --create "$d" --quiet
i=0
while [ "$(lines "$T/follow")" -lt 1 ] && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
[ "$(lines "$T/follow")" -eq 1 ] || fail "tail -f printed the first live event"
echo '{"stream":"nolive","type":"L","data":0}' | "$EVS" append --create "$d" --quiet
start=$(date +%s%N)
echo '{"stream":"live-2","type":"L","data":2}' | "$EVS" append --create "$d" --quiet
while [ "$(lines "$T/follow")" -lt 2 ] && [ $(($(date +%s%N) - start)) -lt 1000000000 ]; do
    sleep 0.01
done
[ "$(lines "$T/follow")" -eq 2 ] || fail "tail -f saw the append of another process within 1 s"
expect_eq "$(jq -c .data "$T/follow" | tr '\n' ' ')" "1 2 " "tail -f follows only its filter"
kill -TERM $pid
rc=0
wait $pid || rc=$?
expect_eq "$rc" 0 "tail -f ends with 0 on SIGTERM"
expect_empty "$T/follow_err" "tail -f: nothing on stderr"

# SIGINT too (tail installs its own handler, so the SIG_IGN a non-interactive shell gives
# its background jobs does not matter).
"$EVS" tail "$d" -f -n 0 >/dev/null 2>&1 &
pid=$!
sleep 0.3
kill -INT $pid
rc=0
wait $pid || rc=$?
expect_eq "$rc" 0 "tail -f -n 0 ends with 0 on SIGINT"

# ---- -f | head -2: ends when its reader goes away, even on a quiet store ----------------
{
    timeout 10 "$EVS" tail "$d" -f -n 1 --stream piped 2>"$T/pipe_err"
    echo $? >"$T/pipe_rc"
} | head -n 2 >"$T/piped" &
pipe_pid=$!
echo '{"stream":"piped","type":"P","data":1}' | "$EVS" append --create "$d" --quiet
sleep 0.3
echo '{"stream":"piped","type":"P","data":2}' | "$EVS" append --create "$d" --quiet
wait $pipe_pid
expect_eq "$(cat "$T/pipe_rc")" 0 "tail -f | head -2 exits 0 (not killed by timeout)"
expect_eq "$(jq -c .data "$T/piped" | tr '\n' ' ')" "1 2 " "tail -f | head -2 got two events"
expect_empty "$T/pipe_err" "tail -f | head -2: nothing on stderr"

# ---- errors -----------------------------------------------------------------------------
evs tail "$T/missing" -f
expect_rc 1 "tail -f of a missing store"
one_stderr_line tail "missing store"
[ ! -e "$T/missing" ] || fail "tail created the missing store"
evs tail "$d" -n x
expect_rc 2 "-n x"
one_stderr_line tail "-n x"
evs tail "$d" -n
expect_rc 2 "-n without a value"
evs tail "$d" -x
expect_rc 2 "-x"
evs tail "$d" --from 3
expect_rc 2 "tail has no --from"
evs tail --help
expect_rc 0 "--help"
expect_in "usage: evstore tail" "$T/out" "--help prints usage"
echo ok

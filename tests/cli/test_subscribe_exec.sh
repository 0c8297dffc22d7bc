#!/bin/sh
# evstore subscribe --consumer NAME --exec CMD: events go to runs of CMD in batches,
# each acknowledged only when its run exits 0 having read all of its input. A run that
# fails on the Nth batch stops delivery there; the rerun starts with that batch: no
# event lost, and the only repeats are of the failed batch. Also: a handler killed by
# a signal, one that leaves input unread, one that ends without reading a batch larger
# than the pipe (no hang), arguments passed word for word (no shell), filters, live
# delivery of another process's appends, SIGTERM with a batch open, usage errors.
. "$(dirname "$0")/lib.sh"

d=$T/store
seq 1 29 | sed 's/.*/{"stream":"s-&","type":"T&","data":&}/' | "$EVS" append "$d" --create --quiet ||
    fail "append the fixture"

checkpoint() { # NAME
    "$EVS" consumers "$d" | jq -r "select(.consumer == \"$1\") | .checkpoint"
}

# The handler: numbers its runs, keeps each batch it got, fails (exit 3) on run
# $FAIL_AT after reading its whole input, else appends the batch to 'handled'.
h=$T/handler.sh
cat >"$h" <<'HANDLER'
#!/bin/sh
dir=$1
n=$(($(cat "$dir/runs" 2>/dev/null || echo 0) + 1))
echo "$n" >"$dir/runs"
cat >"$dir/batch.$n"
[ "$n" -eq "${FAIL_AT:-0}" ] && exit 3
cat "$dir/batch.$n" >>"$dir/handled"
exit 0
HANDLER
chmod +x "$h"
w=$T/work
mkdir "$w"

# ---- fail on the 3rd batch, then rerun: at least once ----------------------------------
FAIL_AT=3 evs subscribe "$d" --consumer h --batch 5 --timeout 0 --exec "$h" "$w"
expect_rc 1 "a handler that fails on its 3rd batch"
one_stderr_line subscribe "the failure"
expect_in "consumer 'h': handler '$h' exited with status 3" "$T/err" "says how the handler ended"
expect_in "its batch (5 events, positions 11..15) is not acknowledged" "$T/err" \
    "names the unacknowledged positions"
expect_empty "$T/out" "subscribe --exec prints nothing itself"
expect_eq "$(cat "$w/runs")" 3 "delivery stopped at the failed batch"
expect_eq "$(checkpoint h)" 10 "the checkpoint is the last good batch's end"
FAIL_AT=0 evs subscribe "$d" --consumer h --batch 5 --timeout 0 --exec "$h" "$w"
expect_rc 0 "the rerun"
expect_eq "$(jq -s -c 'map(.pos)' "$w/batch.4")" "[11,12,13,14,15]" \
    "the rerun starts with the failed batch"
expect_eq "$(jq -s -c 'map(.pos)' "$w/handled")" "$(seq 1 29 | jq -s -c .)" \
    "every event handled once, in order, none lost"
expect_eq "$(cat "$w"/batch.* | jq -s -c 'group_by(.pos) | map(select(length > 1) | .[0].pos)')" \
    "[11,12,13,14,15]" "the only repeats are the failed batch's"
expect_eq "$(checkpoint h)" 29 "all acknowledged"
expect_eq "$(jq -c 'del(.id, .ts)' "$w/batch.1" | head -n 1)" \
    '{"pos":1,"stream":"s-1","version":0,"type":"T1","data":1}' "the lines subscribe prints"

# ---- how a run can fail ----------------------------------------------------------------
evs consumer reset "$d" h --to 20
evs subscribe "$d" --consumer h --timeout 0 --exec sh -c 'cat >/dev/null; kill -KILL $$'
expect_rc 1 "a handler killed by a signal"
expect_in "handler 'sh' was killed by signal 9 (SIGKILL)" "$T/err" "names the signal"
expect_in "positions 21..29" "$T/err" "the whole batch is unacknowledged"
expect_eq "$(checkpoint h)" 20 "killed: nothing acknowledged"
evs subscribe "$d" --consumer h --timeout 0 --exec sh -c 'read -r line'
expect_rc 1 "a handler that reads one line and exits 0"
expect_in "exited with status 0 but left" "$T/err" "unread input is a failure"
expect_in "bytes of its input unread" "$T/err" "and says so"
expect_eq "$(checkpoint h)" 20 "unread: nothing acknowledged"
evs subscribe "$d" --consumer h --timeout 0 --exec /nonexistent/handler
expect_rc 1 "a handler that cannot be run"
expect_in "cannot run '/nonexistent/handler': No such file or directory" "$T/err" \
    "says why it cannot run"
expect_eq "$(checkpoint h)" 20 "not run: nothing acknowledged"

# A batch far larger than a pipe, to a handler that exits at once: no hang.
big=$T/big
head -c 4000 /dev/zero | tr '\0' x >"$T/pad"
pad=$(cat "$T/pad")
seq 1 100 | sed "s/.*/{\"stream\":\"b\",\"type\":\"B\",\"data\":\"$pad\"}/" |
    "$EVS" append "$big" --create --quiet || fail "append the big fixture"
evs subscribe "$big" --consumer early --timeout 0 --exec true
expect_rc 1 "a handler that ends without reading a large batch"
expect_in "handler 'true' exited with status 0 but left" "$T/err" "and it is not acknowledged"
"$EVS" consumers "$big" | jq -e 'select(.consumer == "early") | .checkpoint == 0' >/dev/null ||
    fail "early: nothing acknowledged"

# ---- arguments word for word, no shell -------------------------------------------------
evs subscribe "$d" --consumer args --limit 2 --exec sh -c 'cat >"$1"; echo "$2" >"$1.arg"' \
    sh "$T/out file" '$HOME; `x` "q"'
expect_rc 0 "arguments with spaces, quotes and dollars"
expect_eq "$(jq -c .pos "$T/out file" | tr '\n' ' ')" "1 2 " "--limit 2: two events"
expect_eq "$(cat "$T/out file.arg")" '$HOME; `x` "q"' "passed verbatim"

# ---- filters ---------------------------------------------------------------------------
evs subscribe "$d" --consumer f --type T7 --type T17 --timeout 0 --exec sh -c 'cat >"$0"' \
    "$T/filtered"
expect_rc 0 "--exec with --type filters"
expect_eq "$(jq -c .pos "$T/filtered" | tr '\n' ' ')" "7 17 " "only the matching events"

# ---- live: another process appends while subscribe waits -------------------------------
: >"$T/live"
"$EVS" subscribe "$d" --consumer live --batch 100 --batch-wait 0.2 --limit 31 \
    --exec sh -c 'cat >>"$0"' "$T/live" >"$T/live_out" 2>"$T/live_err" &
pid=$!
i=0
while [ "$(lines "$T/live")" -lt 29 ] && [ $i -lt 200 ]; do
    sleep 0.05
    i=$((i + 1))
done
echo '{"stream":"n","type":"N","data":30}' | "$EVS" append "$d" --quiet
echo '{"stream":"n","type":"N","data":31}' | "$EVS" append "$d" --quiet
rc=0
wait $pid || rc=$?
expect_eq "$rc" 0 "live --exec ends at --limit"
expect_empty "$T/live_err" "live: nothing on stderr"
expect_eq "$(jq -s -c 'map(.pos) | .[-2:]' "$T/live")" "[30,31]" "saw the new events"
expect_eq "$(checkpoint live)" 31 "live: acknowledged"

# ---- SIGTERM with a batch open: the handler finishes it, and it counts ------------------
: >"$T/term"
"$EVS" subscribe "$d" --consumer term --batch-wait 60 --exec sh -c 'cat >"$0"' "$T/term" \
    2>"$T/term_err" &
pid=$!
i=0 # the open batch reaches the handler before subscribe waits for more
while [ "$(lines "$T/term")" -lt 31 ] && [ $i -lt 200 ]; do
    sleep 0.05
    i=$((i + 1))
done
kill -TERM $pid
rc=0
wait $pid || rc=$?
expect_eq "$rc" 0 "SIGTERM with a batch open: exit 0"
expect_empty "$T/term_err" "SIGTERM: nothing on stderr"
expect_eq "$(lines "$T/term")" 31 "the handler got the open batch"
expect_eq "$(checkpoint term)" 31 "and it was acknowledged"

# ---- usage -----------------------------------------------------------------------------
evs subscribe "$d" --exec cat
expect_rc 2 "--exec without --consumer"
expect_in "--exec needs --consumer" "$T/err" "says --consumer is needed"
evs subscribe "$d" --consumer u --batch 5
expect_rc 2 "--batch without --exec"
evs subscribe "$d" --consumer u --exec
expect_rc 2 "--exec without a command"
evs subscribe "$d" --consumer u --batch 0 --exec cat
expect_rc 2 "--batch 0"
evs subscribe --help
expect_in "--exec CMD [ARG...]" "$T/out" "--help shows --exec"
expect_in "Exit codes:" "$T/out" "--help has the exit codes"

echo "ok"

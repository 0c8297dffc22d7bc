#!/bin/sh
# evstore subscribe / consumers / consumer: a durable consumer prints from its
# checkpoint and keeps it across runs; consumers lists checkpoint and lag; reset
# replays; delete removes; a second subscribe with a busy name fails; a waiting
# subscribe sees another process's append; a plain subscription honours --from; a
# --live subscription starts at the head, skips a backlog past --max-lag and keeps nothing.
. "$(dirname "$0")/lib.sh"

d=$T/store
seq 1 6 | sed 's/.*/{"stream":"s-&","type":"T","data":&}/' | "$EVS" append --create "$d" --quiet ||
    fail "append the fixture"

pos_of() {
    jq -c .pos "$T/out" | tr '\n' ' '
}

# ---- --limit, then resume at the checkpoint ---------------------------------------------
evs subscribe "$d" --consumer c1 --limit 3
expect_rc 0 "subscribe --limit 3"
expect_eq "$(pos_of)" "1 2 3 " "subscribe --limit 3 prints the first 3 events"
[ "$(head -n 1 "$T/out" | jq -r 'keys_unsorted | join(",")')" = \
    "pos,stream,version,id,type,ts,data" ] || fail "subscribe prints read's envelope"
evs subscribe "$d" --consumer c1 --limit 2
expect_eq "$(pos_of)" "4 5 " "a second run resumes at the 4th"
evs subscribe "$d" --consumer c1 --timeout 0
expect_rc 0 "--timeout 0 ends after the catch-up"
expect_eq "$(pos_of)" "6 " "--timeout 0 prints the rest"

# ---- consumers ------------------------------------------------------------------------
evs subscribe "$d" --consumer c2 --limit 2 --type T
evs consumers "$d"
expect_rc 0 "consumers"
expect_eq "$(lines "$T/out")" 2 "consumers: one line per consumer"
expect_eq "$(sed -n 1p "$T/out" | jq -c '[.consumer,.checkpoint,.lag,.open]')" \
    '["c1",6,0,false]' "consumers: c1"
expect_eq "$(sed -n 2p "$T/out" | jq -c '[.consumer,.checkpoint,.lag,.open]')" \
    '["c2",2,4,false]' "consumers: c2 with its lag"
sed -n 1p "$T/out" | jq -e '.ack_ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z$")' >/dev/null ||
    fail "consumers: ack_ts is RFC 3339"

# ---- reset, delete --------------------------------------------------------------------
evs consumer reset "$d" c1 --to 0
expect_rc 0 "reset --to 0"
expect_eq "$(jq -c . "$T/out")" '{"consumer":"c1","checkpoint":0}' "reset prints it"
evs subscribe "$d" --consumer c1 --limit 1
expect_eq "$(pos_of)" "1 " "after reset --to 0 subscribe replays from 1"
evs consumer reset "$d" c1
expect_eq "$(jq -c . "$T/out")" '{"consumer":"c1","checkpoint":0}' "reset defaults to 0"
evs consumer reset "$d" c1 --to 4
evs subscribe "$d" --consumer c1 --limit 1
expect_eq "$(pos_of)" "5 " "reset --to 4: subscribe starts at 5"
evs consumer reset "$d" c1 --to 99
expect_rc 4 "reset past the head"
want="evstore consumer reset: position 99 for consumer 'c1' is not between 0 and the head"
expect_in "$want" "$T/err" "the message names the command, not the library's function"
evs consumer reset "$d" nope
expect_rc 1 "reset of a missing consumer"
one_stderr_line "consumer reset" "reset of a missing consumer"
expect_in "no consumer 'nope'" "$T/err" "reset names the missing consumer"
evs consumer delete "$d" c2
expect_rc 0 "delete"
expect_eq "$(jq -c . "$T/out")" '{"deleted":"c2"}' "delete prints it"
evs consumers "$d"
expect_not_in '"c2"' "$T/out" "a deleted consumer is not listed"
evs consumer delete "$d" c2
expect_rc 1 "delete twice"
expect_in "no consumer 'c2'" "$T/err" "delete names the missing consumer"

# ---- busy: one process at a time per name ---------------------------------------------
: >"$T/bg" # exists before the job's own redirection: the loop below reads it at once
"$EVS" subscribe "$d" --consumer busy1 >"$T/bg" 2>"$T/bg_err" &
pid=$!
i=0
while [ "$(lines "$T/bg")" -lt 6 ] && [ $i -lt 100 ]; do
    sleep 0.05
    i=$((i + 1))
done
[ "$(lines "$T/bg")" -eq 6 ] || fail "background subscribe caught up"
evs subscribe "$d" --consumer busy1 --limit 1
expect_rc 1 "a second subscribe with a busy name"
one_stderr_line subscribe "busy subscribe"
expect_in "consumer 'busy1' is busy" "$T/err" "busy message names the consumer"
evs consumers "$d"
expect_eq "$(jq -c 'select(.consumer == "busy1") | .open' "$T/out")" true "consumers: open"
evs consumer reset "$d" busy1
expect_rc 1 "reset of an open consumer"
expect_in "consumer 'busy1' is busy" "$T/err" "reset: busy message"
evs consumer delete "$d" busy1
expect_rc 1 "delete of an open consumer"
kill -TERM $pid
rc=0
wait $pid || rc=$?
expect_eq "$rc" 0 "subscribe ends with 0 on SIGTERM"
expect_empty "$T/bg_err" "background subscribe: nothing on stderr"
evs consumers "$d"
expect_eq "$(jq -c 'select(.consumer == "busy1") | [.checkpoint,.open]' "$T/out")" \
    '[6,false]' "SIGTERM saved the checkpoint"

# ---- live: an append by another process while waiting ----------------------------------
(sleep 0.5 && echo '{"stream":"live","type":"L","data":"new"}' |
    "$EVS" append --create "$d" --quiet) &
apid=$!
evs subscribe "$d" --consumer busy1 --limit 1 --timeout 10
wait $apid || fail "background append"
expect_rc 0 "live subscribe"
expect_eq "$(jq -c '[.pos,.data]' "$T/out")" '[7,"new"]' "subscribe saw the other process's event"

# ---- filters, plain subscriptions, timeouts -------------------------------------------
evs subscribe "$d" --consumer f1 --stream live --timeout 0
expect_eq "$(pos_of)" "7 " "--stream filter with a consumer"
evs subscribe "$d" --from 6 --timeout 0
expect_eq "$(pos_of)" "6 7 " "plain subscribe --from 6"
evs subscribe "$d" --from-end --timeout 0.2
expect_rc 0 "--from-end --timeout"
expect_empty "$T/out" "--from-end prints nothing without new events"
evs subscribe "$d" --prefix s- --limit 2
expect_eq "$(pos_of)" "1 2 " "plain subscribe from the start"

# ---- --live: from the head, no checkpoint, skips when behind ---------------------------
l=$T/live-store
echo '{"stream":"old","type":"T","data":0}' | "$EVS" append --create "$l" --quiet || fail "live fixture"
: >"$T/live_out"
"$EVS" subscribe "$l" --live --max-lag 5 --limit 5 --timeout 10 >"$T/live_out" \
    2>"$T/live_err" &
lpid=$!
sleep 0.5 # let it reach its wait: the burst below then lands as one backlog
seq 1 100 | sed 's/.*/{"stream":"burst","type":"B","data":&}/' |
    "$EVS" append --create "$l" --atomic --quiet || fail "append the burst (one atomic commit)"
rc=0
wait $lpid || rc=$?
expect_eq "$rc" 0 "subscribe --live ends with 0"
expect_eq "$(jq -c .pos "$T/live_out" | tr '\n' ' ')" "97 98 99 100 101 " \
    "--live --max-lag 5 prints only the newest 5 of a burst of 100"
expect_in "live: skipped 95 positions" "$T/live_err" "--live says what it skipped"
evs consumers "$l"
expect_empty "$T/out" "--live leaves no consumer behind"
evs subscribe "$l" --live --timeout 0.2
expect_rc 0 "--live --timeout"
expect_empty "$T/out" "--live starts at the head: nothing stored is printed"

# ---- usage errors ---------------------------------------------------------------------
evs subscribe "$d" --consumer c1 --from 3
expect_rc 2 "--consumer with --from"
one_stderr_line subscribe "--consumer with --from"
evs subscribe "$d" --from 1 --from-end
expect_rc 2 "--from with --from-end"
evs subscribe "$d" --limit 0
expect_rc 2 "--limit 0"
evs subscribe "$d" --live --consumer c1
expect_rc 2 "--live with --consumer"
one_stderr_line subscribe "--live with --consumer"
evs subscribe "$d" --live --from 3
expect_rc 2 "--live with --from"
evs subscribe "$d" --max-lag 3
expect_rc 2 "--max-lag without --live"
evs subscribe "$d" --live --max-lag 0
expect_rc 2 "--max-lag 0"
evs subscribe "$d" --timeout x
expect_rc 2 "--timeout x"
evs subscribe "$d" --consumer 'bad name' --timeout 0
expect_rc 4 "a bad consumer name"
evs subscribe "$T/missing" --timeout 0
expect_rc 1 "subscribe of a missing store"
[ ! -e "$T/missing" ] || fail "subscribe created the missing store"
evs consumer
expect_rc 2 "consumer without an action"
evs consumer frob "$d" x
expect_rc 2 "consumer frob"
evs consumer delete "$d" c1 --to 3
expect_rc 2 "delete --to"
for cmd in subscribe consumers consumer; do
    evs help $cmd
    expect_rc 0 "help $cmd"
    expect_in "usage: evstore $cmd" "$T/out" "help $cmd prints its usage"
done
evs subscribe --help
expect_in "ACK RULE" "$T/out" "subscribe --help documents the ack rule"
expect_in "--live" "$T/out" "subscribe --help documents --live"
evs consumer reset --help
expect_rc 0 "consumer reset --help"
evs help
expect_in "subscribe" "$T/out" "help lists subscribe"
expect_in "consumers" "$T/out" "help lists consumers"
echo ok

#!/bin/sh
# Push over HTTP: a long poll (GET events?wait=) returns as soon as a matching event is
# appended, and after `wait` seconds with nothing; SSE (GET subscribe) catches up, goes
# live, sends heartbeats, ends cleanly on SIGTERM, and a reconnect with Last-Event-ID
# resumes after that event across a server restart: no gap, no repeat.
. "$(dirname "$0")/lib_server.sh"

ROOT=$T/root
mkdir "$ROOT"
"$EVS" tenant create "$ROOT" acme >/dev/null || fail "tenant create"
AUTH=$(token acme read,append)
start_server --root "$ROOT" --heartbeat-ms 200
J='Content-Type: application/json'
now_ms() { echo $(($(date +%s%N) / 1000000)); }
append() { # STREAM TYPE DATA
    req POST "/v1/t/acme/streams/$1" -H "$J" --data "[{\"type\":\"$2\",\"data\":$3}]"
    expect_status 201 "append $1 $2"
}
append s-1 Other 0

# ---- long poll: woken by a matching append, not by another -----------------------------
(curl -s -H "Authorization: Bearer $AUTH" "$BASE/v1/t/acme/events?from=2&type=Want&wait=20" \
    >"$T/poll"; now_ms >"$T/woke") &
poller=$!
sleep 0.5
append s-1 Other 1
sleep 0.3
[ ! -s "$T/woke" ] || fail "an event of another type does not end the poll"
t0=$(now_ms)
append s-1 Want 2
wait $poller
woke=$(($(cat "$T/woke") - t0))
expect_eq "$(jq -c .pos "$T/poll")" 3 "the poll answers the matching event"
[ "$woke" -lt 1000 ] || fail "the poll woke ${woke} ms after the append started"
echo "long poll woke ${woke} ms after the append began (append, HTTP and curl included)"
t0=$(now_ms)
req GET "/v1/t/acme/events?from=4&wait=1"
took=$(($(now_ms) - t0))
expect_status 200 "a poll that times out"
expect_empty "$T/body" "nothing came"
[ "$took" -ge 950 ] && [ "$took" -lt 5000 ] || fail "wait=1 took ${took} ms"

# ---- SSE: catch up, live, heartbeat, SIGTERM ------------------------------------------
curl -s -N -H "Authorization: Bearer $AUTH" "$BASE/v1/t/acme/subscribe?from=2" >"$T/sse1" &
sse=$!
sleep 0.7
append s-2 Live 4
sleep 0.5
stop_server
wait $sse || fail "the SSE stream ends cleanly when the server drains"
grep '^id: ' "$T/sse1" | cut -d' ' -f2 | tr '\n' ' ' >"$T/ids"
expect_eq "$(cat "$T/ids")" "2 3 4 " "catch-up from 2, then live"
expect_in ": heartbeat" "$T/sse1" "heartbeats while idle"
sed -n 's/^data: //p' "$T/sse1" | head -1 >"$T/first"
"$EVS" read "$ROOT/tenants/acme" --from 2 --limit 1 >"$T/cli"
cmp -s "$T/first" "$T/cli" || fail "an SSE event's data is read's envelope"

# ---- resume across a restart -------------------------------------------------------------
start_server --root "$ROOT" --heartbeat-ms 200
append s-3 After 5
curl -s -N --max-time 2 -H "Authorization: Bearer $AUTH" -H 'Last-Event-ID: 4' \
    "$BASE/v1/t/acme/subscribe" >"$T/sse2"
expect_eq "$(grep '^id: ' "$T/sse2" | cut -d' ' -f2 | tr '\n' ' ')" "5 " \
    "Last-Event-ID 4 resumes at 5: no gap, no repeat"
req GET /v1/t/acme/subscribe -H 'Last-Event-ID: x'
expect_error 400 invalid_input "a bad Last-Event-ID"
req GET "/v1/t/acme/subscribe?limit=3"
expect_error 400 invalid_input "subscribe with a limit"

# ---- live mode ----------------------------------------------------------------------------
curl -s -N --max-time 2 -H "Authorization: Bearer $AUTH" "$BASE/v1/t/acme/subscribe?live=1&max_lag=10" \
    >"$T/sse3" &
sse=$!
sleep 0.7
append s-4 New 6
wait $sse
expect_eq "$(grep '^id: ' "$T/sse3" | cut -d' ' -f2 | tr '\n' ' ')" "6 " "live starts at the head"
stop_server
echo "ok"

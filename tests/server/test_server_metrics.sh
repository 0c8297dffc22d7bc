#!/bin/sh
# GET /metrics: latency histograms (request duration by route class, append to
# acknowledgement) in the Prometheus text format, and --metrics-listen serving them
# without a token on a listener of its own that answers nothing else.
. "$(dirname "$0")/lib_server.sh"

ROOT=$T/root
mkdir "$ROOT"
"$EVS" tenant create "$ROOT" acme >/dev/null || fail "tenant create"
AUTH=$(token acme read,append)
start_server --root "$ROOT" --metrics-listen 127.0.0.1:0
MBASE=http://$(jq -r .metrics "$T/serve.out")
[ "$MBASE" != "http://null" ] || fail "the listening line names the metrics listener"
J='Content-Type: application/json'
n=0
while [ $n -lt 5 ]; do
    req POST /v1/t/acme/streams/s-1 -H "$J" --data '[{"type":"T","data":1}]'
    expect_status 201 "append $n"
    n=$((n + 1))
done
req GET /v1/t/acme/events
expect_status 200 "a read"
req GET "/v1/t/acme/events?from=99&wait=1"
expect_status 200 "a long poll"

curl -s -o "$T/m" -w '%{http_code}' "$MBASE/metrics" >"$T/status"
expect_status 200 "/metrics on --metrics-listen needs no token"
series() { awk -v n="$1" '$1 == n {print $2}' "$T/m"; }
expect_eq "$(series 'evstore_http_request_duration_seconds_count{class="append"}')" 5 \
    "five appends in the append class"
expect_eq "$(series 'evstore_http_request_duration_seconds_bucket{class="append",le="+Inf"}')" 5 \
    "+Inf holds them all"
expect_eq "$(series 'evstore_http_request_duration_seconds_count{class="read"}')" 1 "one read"
expect_eq "$(series 'evstore_http_request_duration_seconds_count{class="poll"}')" 1 "one poll"
poll_fast=$(series 'evstore_http_request_duration_seconds_bucket{class="poll",le="0.500000"}')
poll_slow=$(series 'evstore_http_request_duration_seconds_bucket{class="poll",le="2.500000"}')
[ "$poll_fast" = 0 ] && [ "$poll_slow" = 1 ] ||
    fail "a 1 s poll falls between 0.5 and 2.5 s: $poll_fast, $poll_slow"
expect_eq "$(series evstore_append_ack_seconds_count)" 5 "five append acknowledgements"
expect_in "# TYPE evstore_append_ack_seconds histogram" "$T/m" "typed as a histogram"
# Buckets are cumulative: never falling.
grep '^evstore_append_ack_seconds_bucket' "$T/m" | awk '{print $2}' >"$T/b"
sort -n -c "$T/b" || fail "buckets are cumulative: $(tr '\n' ' ' <"$T/b")"
expect_in 'evstore_tenant_events{tenant="acme"} 5' "$T/m" "every tenant, as an operator sees it"

curl -s -o "$T/body" -w '%{http_code}' "$MBASE/v1/t/acme/events" >"$T/status"
expect_error 404 not_found "the metrics listener serves nothing else"
curl -s -o "$T/body" -w '%{http_code}' -X POST "$MBASE/metrics" >"$T/status"
expect_error 405 method_not_allowed "only GET"
AUTH=
req GET /metrics
expect_error 401 unauthorized "the main listener still wants a token"
stop_server

evs serve --root "$ROOT" --listen 127.0.0.1:0 --metrics-listen nowhere
expect_rc 2 "a bad --metrics-listen"
expect_in "--metrics-listen wants IPV4:PORT" "$T/err" "says what it wants"
evs serve --root "$ROOT" --listen 127.0.0.1:0 --timeout 5 --heartbeat-ms 5000
expect_rc 2 "a heartbeat as long as the idle timeout"
expect_in "must be shorter than --timeout" "$T/err" "says why"
echo ok

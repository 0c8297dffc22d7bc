#!/bin/sh
# Abuse: broken HTTP, bad bodies, bodies too large for one request or for the server,
# thousands of idle connections, slowloris clients sending a byte a second, SSE and
# long-poll clients that never read. After each, the server is up, answers other
# clients, and its resident memory stays bounded (printed; docs/TESTING.md has the
# figures). The attackers connect from other loopback addresses (127.0.0.2 ...), so the
# per-address limit applies to them and not to the checks from 127.0.0.1.
#
#   sh test_server_abuse.sh EVSTORE ABUSE_CLIENT
# EVS_ABUSE_IDLE sets the idle connections tried (default 1500).
. "$(dirname "$0")/lib_server.sh"

AB=${2:?usage: sh test_server_abuse.sh EVSTORE ABUSE_CLIENT}
command -v ss >/dev/null 2>&1 || fail "ss (iproute2) is needed by the abuse test"
IDLE=${EVS_ABUSE_IDLE:-1500}
PER_IP=$((IDLE * 2 / 3))
ROOT=$T/root
mkdir "$ROOT"
"$EVS" tenant create "$ROOT" acme >/dev/null || fail "tenant create"
AUTH=$(token acme read,append)
ADMIN=$(token '*' admin)
start_server --root "$ROOT" --timeout 4 --heartbeat-ms 500 --max-connections $((PER_IP + 600)) \
    --max-connections-per-ip "$PER_IP" --max-body 1048576 --max-bodies 4194304 \
    --sse-buffer 16384
J='Content-Type: application/json'
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
threads() { awk '/^Threads/ {print $2}' "/proc/$PID/status"; }
answers_others() {
    req GET /health --max-time 5
    expect_status 200 "$1: the server answers others"
}
metric() { # NAME: its value on /metrics
    curl -s -H "Authorization: Bearer $ADMIN" "$BASE/metrics" | awk -v n="$1" '$1 == n {print $2}'
}
rss0=$(rss_kib)

# ---- broken HTTP: an error status or a closed connection, never a crash -------------------
raw() { # WANT(extended regex) WHAT, request bytes on stdin
    got=$("$AB" raw "$PORT")
    echo "$got" | grep -qxE "$1" || fail "$2: got '$got', wanted $1"
    kill -0 "$PID" 2>/dev/null || fail "$2: the server died: $(cat "$T/serve.err")"
}
big=$(printf 'A%.0s' $(seq 1 20000))
printf 'GARBAGE\r\n\r\n' | raw '4..|closed' "a request line of one word"
printf 'GET\r\n\r\n' | raw '4..|closed' "a method alone"
printf 'GET /health HTTP/9.9\r\nHost: x\r\n\r\n' | raw '4..|505|closed' "an unknown HTTP version"
printf 'GET /he\000alth HTTP/1.1\r\nHost: x\r\n\r\n' | raw '4..|closed' "a NUL in the path"
printf 'GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n' | raw '4..|closed' \
    "a header line without a colon"
printf 'GET /health HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n' "$big" | raw '4..|closed' \
    "a 20 KB header (past --max-header)"
printf "GET /health?%s HTTP/1.1\r\nHost: x\r\n\r\n" "$big" | raw '4..|closed' "a 20 KB URL"
i=0
{
    printf 'GET /health HTTP/1.1\r\nHost: x\r\n'
    while [ $i -lt 600 ]; do printf 'X-%d: y\r\n' $i; i=$((i + 1)); done
    printf '\r\n'
} | raw '4..|closed' "600 headers"
post="POST /v1/t/acme/streams/s-1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $AUTH\r\nContent-Type: application/json\r\n"
printf "${post}Transfer-Encoding: chunked\r\n\r\nzz\r\n[]\r\n0\r\n\r\n" | raw '4..|closed' \
    "a chunk size that is not hex"
printf "${post}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffffff\r\n[]\r\n0\r\n\r\n" |
    raw '4..|closed' "a chunk size past 64 bits"
printf "${post}Transfer-Encoding: chunked\r\n\r\n5\r\n[]" | raw '4..|closed' "a chunk cut short"
printf "${post}Content-Length: -5\r\n\r\n[]" | raw '4..|closed' "a negative Content-Length"
printf "${post}Content-Length: abc\r\n\r\n[]" | raw '4..|closed' "a Content-Length not a number"
printf "${post}Content-Length: 2\r\nContent-Length: 9\r\n\r\n[]" | raw '4..|closed' \
    "two Content-Lengths"
printf "${post}Content-Length: 99999999999999999999999\r\n\r\n[]" | raw '4..|closed' \
    "a Content-Length past 64 bits"
printf "${post}Content-Length: 2000000\r\n\r\n[]" | raw 413 "a Content-Length past --max-body"
printf "${post}Content-Length: 2000000\r\nExpect: 100-continue\r\n\r\n" | raw 413 \
    "100-continue for a body past --max-body"
printf "${post}Content-Length: 9\r\n\r\n[]" | raw '4..|closed' "a body shorter than it said"
for path in '/v1/t/acme/../../tokens' '/v1/t/%2e%2e/stat' '/v1/t/acme%2f..%2fx/stat' \
    '/v1/t/acme/streams/%ff%fe' '/../../../etc/passwd' '/v1/t/acme/streams/s%00x'; do
    printf "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" "$path" "$AUTH" |
        raw '4..|closed' "path $path"
done
answers_others "after the broken requests"

# ---- bad bodies: 400 with a message, nothing written --------------------------------------
before=$(count_events "$ROOT/tenants/acme")
for body in '[{"type":"T","data":' '{"type":"T"}' '[{"type":"T","data":1}' 'null' \
    "$(printf '[{"type":"T","data":"\377\376"}]')" "$(printf '[{"type":"\300\200","data":1}]')" \
    '[{"type":"T","data":1,"id":"not-a-uuid"}]' "$(printf '[{"type":"T","data":"%s"}]' "$big")x"; do
    req POST /v1/t/acme/streams/s-1 -H "$J" --data-binary "$body"
    expect_error 400 invalid_input "body $(printf '%s' "$body" | head -c 40)"
done
expect_eq "$(count_events "$ROOT/tenants/acme")" "$before" "bad bodies write nothing"

# ---- huge batches: past --max-body 413 (announced or chunked); 40,000 events under it pass ---
head -c 1500000 /dev/zero | tr '\0' ' ' >"$T/huge"
req POST /v1/t/acme/streams/s-1 -H "$J" --data-binary @"$T/huge"
expect_error 413 too_large "a body past --max-body"
req POST /v1/t/acme/streams/s-1 -H "$J" -H "Transfer-Encoding: chunked" --data-binary @"$T/huge"
expect_error 413 too_large "a chunked body past --max-body"
{
    printf '['
    i=0
    while [ $i -lt 39999 ]; do printf '{"type":"T","data":%d},' $i; i=$((i + 1)); done
    printf '{"type":"T","data":0}]'
} >"$T/many"
req POST /v1/t/acme/streams/many -H "$J" --data-binary @"$T/many"
expect_status 201 "40,000 events in one batch under --max-body"
expect_eq "$(jq .version "$T/body")" 39999 "all of them"

# ---- bodies of many connections together: past --max-bodies 503 with Retry-After ----------
head -c 900000 /dev/zero | tr '\0' ' ' >"$T/slowbody"
k=0
uploads=
while [ $k -lt 8 ]; do
    # Slow uploads, so that all eight hold their bodies at once.
    curl -s -o /dev/null -D "$T/hdr$k" -w '%{http_code}' --limit-rate 300k -X POST \
        -H "Authorization: Bearer $AUTH" -H "$J" --data-binary @"$T/slowbody" \
        "$BASE/v1/t/acme/streams/s-1" >"$T/st$k" &
    uploads="$uploads $!"
    k=$((k + 1))
done
wait_bodies=$(rss_kib)
answers_others "while 8 bodies upload"
for u in $uploads; do wait "$u"; done
busy=$(cat "$T"/st? | grep -o 503 | wc -l | tr -d " ")
[ "$busy" -ge 3 ] || fail "8 bodies of 900 KB past --max-bodies 4 MiB: $busy got 503, wanted >= 3"
cat "$T"/hdr? | grep -qi '^Retry-After: 1' || fail "the 503 says Retry-After"
echo "8 concurrent 900 KB bodies under --max-bodies 4 MiB: $busy refused with 503"

# ---- thousands of idle connections and slowloris clients ------------------------------------
"$AB" hold "$PORT" "$IDLE" 8 127.0.0.2 >"$T/idle" &
idle=$!
"$AB" slow "$PORT" 100 8 127.0.0.3 >"$T/slow" &
slow=$!
sleep 1.5
rss_idle=$(rss_kib)
threads_idle=$(threads)
open_idle=$(metric evstore_open_connections)
answers_others "with $IDLE idle and 100 slowloris connections"
wait $idle
wait $slow
# Past the per-address limit connections are refused at once; the rest are closed after
# --timeout (4 s) without a byte.
expect_eq "$(cat "$T/idle")" "open $IDLE closed $IDLE" "idle connections are refused or closed"
[ "$open_idle" -ge $((PER_IP + 100)) ] && [ "$open_idle" -le $((PER_IP + 101)) ] ||
    fail "$IDLE idle from one address with --max-connections-per-ip $PER_IP, 100 slowloris: $open_idle open"
# A byte a second keeps libmicrohttpd's idle timer going: the per-address limit is what
# bounds slowloris clients; they are still open here.
expect_eq "$(cat "$T/slow")" "open 100 closed 0" "slowloris clients stay within their limit"
echo "$IDLE idle connections tried, $open_idle open (per-address limit $PER_IP, plus 100 slowloris): RSS $((rss_idle / 1024)) MiB, $threads_idle threads (from $((rss0 / 1024)) MiB)"

# ---- SSE and long-poll clients that never read ---------------------------------------------
printf 'GET /v1/t/acme/subscribe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n' \
    "$AUTH" >"$T/subreq"
"$AB" noread "$PORT" 20 12 127.0.0.4 <"$T/subreq" >"$T/sse" &
sse=$!
printf 'GET /v1/t/acme/events?from=999999999&wait=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n' \
    "$AUTH" >"$T/pollreq"
"$AB" noread "$PORT" 20 12 127.0.0.5 <"$T/pollreq" >"$T/poll" &
poll=$!
sleep 1
data=$(head -c 16000 /dev/zero | tr '\0' 'x')
printf '[{"type":"Big","data":"%s"}]' "$data" >"$T/bigev"
n=0
queued=0
while [ $n -lt 60 ]; do
    req POST /v1/t/acme/streams/big -H "$J" --data-binary @"$T/bigev"
    expect_status 201 "append while subscribers do not read"
    n=$((n + 1))
    # What the subscribers' sockets hold, after each append until they are dropped: at
    # most --sse-buffer bytes (doubled by the kernel), never what the kernel would grow
    # the buffer to (megabytes).
    now=$(ss -tn state established "( sport = :$PORT and dst 127.0.0.4 )" |
        awk 'NR > 1 {print $2}' | sort -n | tail -1)
    [ "${now:-0}" -le "$queued" ] || queued=$now
done
[ "$queued" -gt 0 ] || fail "no SSE socket seen holding data (the machine too slow?)"
[ "$queued" -le 32768 ] || fail "an SSE socket with --sse-buffer 16384 queued $queued bytes"
rss_sse=$(rss_kib)
wait $sse
wait $poll
expect_eq "$(cat "$T/sse")" "open 20 closed 20" "SSE clients that do not read are dropped"
expect_eq "$(grep -c 'dropped an SSE subscriber of tenant .acme. from 127.0.0.4: it read nothing for 4 s' \
    "$T/serve.err")" 20 "one log line per dropped subscriber"
expect_eq "$(cat "$T/poll")" "open 20 closed 20" "long polls that are not read are closed"
expect_eq "$(metric evstore_sse_subscribers)" 0 "no subscriber left"
answers_others "after the clients that do not read"
echo "20 SSE subscribers not reading 1 MB of events: at most $queued bytes queued in a socket, RSS $((rss_sse / 1024)) MiB; all dropped"

# ---- a long poll longer than --timeout still gets its answer ----------------------------------
req GET "/v1/t/acme/events?from=999999999&wait=6" --max-time 20
expect_status 200 "a long poll of 6 s under --timeout 4"

rss_end=$(rss_kib)
kill -0 "$PID" 2>/dev/null || fail "the server died: $(cat "$T/serve.err")"
stop_server
echo "RSS: start $((rss0 / 1024)) MiB, 8 bodies $((wait_bodies / 1024)) MiB, idle $((rss_idle / 1024)) MiB, SSE $((rss_sse / 1024)) MiB, end $((rss_end / 1024)) MiB"
# The memory a connection held is given back or reused: the end is near the start.
[ $((rss_end - rss0)) -lt $((256 * 1024)) ] ||
    fail "RSS grew from $((rss0 / 1024)) MiB to $((rss_end / 1024)) MiB"
echo ok

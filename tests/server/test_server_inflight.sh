#!/bin/sh
# Appends in flight per tenant (--max-inflight-appends): concurrent clients past the
# limit get 429 with Retry-After and a JSON error, at once and writing nothing; those
# admitted are all stored; another tenant is not held up by the first one's limit.
. "$(dirname "$0")/lib_server.sh"

ROOT=$T/root
mkdir "$ROOT"
"$EVS" tenant create "$ROOT" acme >/dev/null || fail "tenant create acme"
"$EVS" tenant create "$ROOT" beta >/dev/null || fail "tenant create beta"
A=$(token acme append)
B=$(token beta append)
start_server --root "$ROOT" --max-inflight-appends 2
J='Content-Type: application/json'
# Batches large enough that appends overlap: 20,000 events each.
{
    printf '['
    i=0
    while [ $i -lt 19999 ]; do printf '{"type":"T","data":%d},' $i; i=$((i + 1)); done
    printf '{"type":"T","data":0}]'
} >"$T/batch"
burst() { # TOKEN TENANT N: N concurrent appends; statuses in $T/st.*, headers in $T/h.*
    rm -f "$T"/st.* "$T"/h.*
    pids=
    k=0
    while [ $k -lt "$3" ]; do
        curl -s -o "$T/b.$k" -D "$T/h.$k" -w '%{http_code}\n' -X POST -H "Authorization: Bearer $1" \
            -H "$J" --data-binary @"$T/batch" "$BASE/v1/t/$2/streams/s-$k" >"$T/st.$k" &
        pids="$pids $!"
        k=$((k + 1))
    done
    for p in $pids; do wait "$p"; done
}
burst "$A" acme 16
ok=$(cat "$T"/st.* | grep -c 201)
busy=$(cat "$T"/st.* | grep -c 429)
expect_eq "$((ok + busy))" 16 "every append is stored or refused with 429: $(cat "$T"/st.* | tr '\n' ' ')"
[ "$busy" -ge 1 ] || fail "16 concurrent appends with --max-inflight-appends 2: none got 429"
[ "$ok" -ge 2 ] || fail "at least the first two are admitted, $ok were"
for k in $(seq 0 15); do
    grep -q 429 "$T/st.$k" || continue
    grep -qi '^Retry-After: 1' "$T/h.$k" || fail "a 429 says Retry-After"
    [ "$(jq -r .error "$T/b.$k")" = too_many_requests ] || fail "429's error: $(cat "$T/b.$k")"
    expect_in "has 2 appends in flight, its limit (--max-inflight-appends)" "$T/b.$k" \
        "429 says why"
done
expect_eq "$(count_events "$ROOT/tenants/acme")" $((ok * 20000)) "what was admitted is stored, nothing else"
echo "16 concurrent appends of 20,000 events, limit 2: $ok stored, $busy refused with 429"

# Another tenant is counted apart: acme's burst does not refuse beta's appends.
burst "$A" acme 8 &
acme=$!
sleep 0.2
AUTH=$B
req POST /v1/t/beta/streams/b -H "$J" --data '[{"type":"T","data":1}]'
expect_status 201 "beta appends while acme is at its limit"
wait $acme
stop_server

# The limit is per tenant and configurable: with room for 16, none is refused.
start_server --root "$ROOT" --max-inflight-appends 16
burst "$A" acme 16
expect_eq "$(cat "$T"/st.* | grep -c 201)" 16 "16 appends under a limit of 16"
stop_server
evs serve --root "$ROOT" --max-inflight-appends 0
expect_rc 2 "a limit of 0"
echo ok

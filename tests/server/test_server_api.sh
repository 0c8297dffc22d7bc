#!/bin/sh
# The HTTP API through curl against a real `evstore serve` on 127.0.0.1: appends (JSON
# array, NDJSON, expected versions, conflict 409 with both versions, idempotent retry
# 200 with the original positions, several streams at once), reads (byte-exact data
# round trip, every filter, JSON arrays, one stream, 404 for a missing one, the stream
# list, stat), consumers (poll, ack, poll again, list, reset, delete), tenants
# (create, list), /health and /ready, and the error statuses 400, 404, 405, 409, 413,
# 415 with their messages.
. "$(dirname "$0")/lib_server.sh"

ROOT=$T/root
mkdir "$ROOT"
"$EVS" tenant create "$ROOT" acme >/dev/null || fail "tenant create"
AUTH=$(token acme read,append,consume svc)
SVC=$AUTH
OP=$(token '*' admin)
start_server --root "$ROOT"
J='Content-Type: application/json'
N='Content-Type: application/x-ndjson'

# ---- health, ready --------------------------------------------------------------------
req GET /health
expect_status 200 "health"
req GET /ready
expect_status 200 "ready"
req GET /v1/t/acme/streams
expect_status 200 "the streams of an empty store"
expect_empty "$T/body" "no streams yet"

# ---- append: a JSON array, byte-exact data ----------------------------------------------
data='{"b":[1,2.50,"\u00e9\n"],  "a" : null}'
printf '[{"type":"Added","data":%s,"metadata":{"k":"v","actor":"forged"}},{"type":"Placed","data":7}]' "$data" >"$T/in"
req POST "/v1/t/acme/streams/order-1?expected_version=no_stream" -H "$J" --data-binary @"$T/in"
expect_status 201 "append a JSON array"
expect_eq "$(jq -c . "$T/body")" '{"first_pos":1,"last_pos":2,"version":1,"duplicate":false}' \
    "append's reply"
req GET "/v1/t/acme/events?limit=1"
expect_status 200 "read"
expect_eq "$(jq -r .metadata.actor.id "$T/body")" svc "the token's actor replaces the client's"
expect_eq "$(jq -r .metadata.k "$T/body")" v "the client's other metadata stays"
case $(cat "$T/body") in
*"\"data\":$data,"*) ;;
*) fail "data comes back byte for byte: $(cat "$T/body")" ;;
esac
"$EVS" read "$ROOT/tenants/acme" --limit 1 >"$T/cli" 2>/dev/null || true
cmp -s "$T/cli" "$T/body" || fail "GET events prints what evstore read prints"

# ---- conflicts and retries -------------------------------------------------------------
req POST "/v1/t/acme/streams/order-1?expected_version=0" -H "$J" --data '[{"type":"X","data":1}]'
expect_error 409 conflict "a wrong expected version"
expect_eq "$(jq -c '[.expected,.actual]' "$T/body")" '["0",1]' "409 names both versions"
expect_in "expected version 0 but the stream is at version 1" "$T/body" "409's message"
req POST "/v1/t/acme/streams/order-1?expected_version=soon" -H "$J" --data '[]'
expect_error 400 invalid_input "a bad expected_version"
ID=0b7e0f4e-2c1a-4d5e-9f00-1a2b3c4d5e6f
printf '{"type":"Paid","data":1,"id":"%s"}\n' $ID >"$T/in"
req POST "/v1/t/acme/streams/order-1?expected_version=1" -H "$N" --data-binary @"$T/in"
expect_status 201 "append NDJSON with an id"
first=$(jq -c . "$T/body")
req POST "/v1/t/acme/streams/order-1?expected_version=1" -H "$N" --data-binary @"$T/in"
expect_status 200 "the same ids again"
expect_eq "$(jq -c '[.first_pos,.last_pos,.version,.duplicate]' "$T/body")" '[3,3,2,true]' \
    "a retry answers the original positions"
expect_eq "$(echo "$first" | jq -c '[.first_pos,.duplicate]')" '[3,false]' "the first write"

# ---- several streams at once -------------------------------------------------------------
printf '%s\n' '{"stream":"a-1","type":"T","data":1}' '{"stream":"a-1","type":"T","data":2}' \
    '{"stream":"b-1","type":"U","data":3,"expected_version":"no_stream"}' >"$T/in"
req POST /v1/t/acme/append -H "$N" --data-binary @"$T/in"
expect_status 201 "multi-stream append"
expect_eq "$(jq -c '[.results[]|[.stream,.result.first_pos,.result.last_pos]]' "$T/body")" \
    '[["a-1",4,5],["b-1",6,6]]' "each stream's batch"
printf '%s\n' '{"stream":"c-1","type":"T","data":1}' \
    '{"stream":"b-1","type":"U","data":3,"expected_version":"no_stream"}' >"$T/in"
req POST /v1/t/acme/append -H "$N" --data-binary @"$T/in"
expect_error 409 conflict "a conflict in one batch"
req GET "/v1/t/acme/streams/c-1"
expect_error 404 not_found "nothing of a failed multi-append is written"
req POST /v1/t/acme/append -H "$J" --data '[]'
expect_error 415 unsupported_media_type "append takes NDJSON only"

# ---- bad bodies -----------------------------------------------------------------------
req POST /v1/t/acme/streams/s -H "$J" --data '[{"type":"A"}]'
expect_error 400 invalid_input "an event without data"
expect_in "event 0: data: missing" "$T/body" "the message names event and field"
req POST /v1/t/acme/streams/s -H "$J" --data '[{"type":"A",'
expect_error 400 invalid_input "broken JSON"
req POST /v1/t/acme/streams/s -H "$J" --data '{"type":"A","data":1}'
expect_error 400 invalid_input "an object instead of an array"
req POST /v1/t/acme/streams/s -H "$J" --data '[]'
expect_error 400 invalid_input "no events"
req POST /v1/t/acme/streams/s -H "$J" --data '[{"type":"A","data":1,"stream":"other"}]'
expect_error 400 invalid_input "a stream field that is not the URL's"
req POST /v1/t/acme/streams/s --data 'x=1'
expect_error 415 unsupported_media_type "a form body"
head -c 2000 /dev/zero | tr '\0' ' ' >"$T/big"
req POST /v1/t/acme/streams/s -H "$J" --data-binary @"$T/big"
expect_error 400 invalid_input "whitespace only"

# ---- reads and their filters -------------------------------------------------------------
req GET "/v1/t/acme/events?type=T&type=U"
expect_eq "$(jq -c .pos "$T/body" | tr '\n' ' ')" "4 5 6 " "type, repeated"
req GET "/v1/t/acme/events?category=a"
expect_eq "$(jq -c .pos "$T/body" | tr '\n' ' ')" "4 5 " "category"
req GET "/v1/t/acme/events?prefix=order&backwards=1&limit=2"
expect_eq "$(jq -c .pos "$T/body" | tr '\n' ' ')" "3 2 " "prefix, backwards, limit"
req GET "/v1/t/acme/events?from=2&to=4"
expect_eq "$(jq -c .pos "$T/body" | tr '\n' ' ')" "2 3 4 " "from and to"
req GET "/v1/t/acme/events?since=-1h&until=now"
expect_eq "$(jq -c .pos "$T/body" | wc -l | tr -d ' ')" 6 "since and until"
req GET "/v1/t/acme/events?limit=0"
expect_empty "$T/body" "limit 0"
req GET "/v1/t/acme/events?from=2&limit=2" -H 'Accept: application/json'
expect_eq "$(jq -c '[.[].pos]' "$T/body")" "[2,3]" "Accept: application/json gives an array"
req GET "/v1/t/acme/events?from=99" -H 'Accept: application/json'
expect_eq "$(jq -c . "$T/body")" "[]" "an empty array"
req GET "/v1/t/acme/events?from=x"
expect_error 400 invalid_input "a bad position"
expect_in "from wants a position >= 0, not 'x'" "$T/body" "read's message, with the parameter's name"
req GET "/v1/t/acme/events?since=yesterday"
expect_error 400 invalid_input "a bad time"
req GET "/v1/t/acme/events?until=-2h&since=-1h"
expect_error 400 invalid_input "until before since"
req GET "/v1/t/acme/events?colour=red"
expect_error 400 invalid_input "an unknown parameter"
req GET "/v1/t/acme/events?wait=100000"
expect_error 400 invalid_input "wait past the limit"
req GET "/v1/t/acme/streams/order-1?from_version=1"
expect_eq "$(jq -c .version "$T/body" | tr '\n' ' ')" "1 2 " "one stream from a version"
req GET "/v1/t/acme/streams/order-1?backwards=1&limit=1"
expect_eq "$(jq -c .version "$T/body")" 2 "one stream backwards"
req GET "/v1/t/acme/streams/nope"
expect_error 404 not_found "a missing stream"
expect_in "stream 'nope' does not exist" "$T/body" "404's message"
req GET "/v1/t/acme/streams"
"$EVS" streams "$ROOT/tenants/acme" >"$T/cli"
cmp -s "$T/cli" "$T/body" || fail "GET streams prints what evstore streams prints"
req GET "/v1/t/acme/streams?category=a"
expect_eq "$(jq -r .stream "$T/body")" a-1 "streams by category"
req GET /v1/t/acme/stat
expect_eq "$(jq -c '[.events,.streams,.last_pos]' "$T/body")" "[6,3,6]" "stat"

# ---- consumers -------------------------------------------------------------------------
req GET "/v1/t/acme/consumers/billing/events?limit=2"
expect_status 200 "consumer poll"
expect_eq "$(jq -c .pos "$T/body" | tr '\n' ' ')" "1 2 " "the first poll"
req GET "/v1/t/acme/consumers/billing/events?limit=2"
expect_eq "$(jq -c .pos "$T/body" | tr '\n' ' ')" "1 2 " "no ack: the same events again"
req POST "/v1/t/acme/consumers/billing/ack?pos=2"
expect_eq "$(jq -c . "$T/body")" '{"checkpoint":2}' "ack"
req GET "/v1/t/acme/consumers/billing/events?limit=10"
expect_eq "$(jq -c .pos "$T/body" | tr '\n' ' ')" "3 4 5 6 " "after the ack"
req POST "/v1/t/acme/consumers/billing/ack?pos=1"
expect_error 400 invalid_input "an ack backwards"
req POST "/v1/t/acme/consumers/billing/ack"
expect_error 400 invalid_input "an ack without pos"
req POST "/v1/t/acme/consumers/nobody/ack?pos=1"
expect_error 404 not_found "an ack of an unknown consumer"
req GET /v1/t/acme/consumers
expect_eq "$(jq -c '[.consumer,.checkpoint,.lag]' "$T/body")" '["billing",2,4]' "consumers"
"$EVS" consumers "$ROOT/tenants/acme" >"$T/cli"
expect_eq "$(jq -r .consumer "$T/cli")" svc.billing "kept under the actor's name"
req POST "/v1/t/acme/consumers/billing/reset?to=0"
expect_eq "$(jq -c . "$T/body")" '{"checkpoint":0}' "reset"
req GET "/v1/t/acme/consumers/billing/events?limit=1&type=T"
expect_error 400 invalid_input "another filter than the consumer's"
req GET "/v1/t/acme/consumers/bad%20name/events"
expect_error 400 invalid_input "a bad consumer name"
req GET /v1/t/acme/consumers/other/events?limit=1
expect_status 200 "a second consumer"
req DELETE /v1/t/acme/consumers/billing
expect_status 200 "delete"
req DELETE /v1/t/acme/consumers/billing
expect_error 404 not_found "delete again"
# Each consumer route's parameter is checked the same way (one prologue).
for bad in "GET /v1/t/acme/consumers/other/events?wait=601" \
    "POST /v1/t/acme/consumers/other/ack?pos=-1" "POST /v1/t/acme/consumers/other/reset?to=x" \
    "DELETE /v1/t/acme/consumers/bad%20name" "POST /v1/t/acme/consumers/bad%20name/reset?to=0"; do
    req ${bad% *} "${bad#* }"
    expect_error 400 invalid_input "$bad"
done

# ---- routes, methods ----------------------------------------------------------------------
req PUT /v1/t/acme/events
expect_error 405 method_not_allowed "a method the path does not take"
req GET /v1/t/acme/nothing
expect_error 404 not_found "an unknown path"

# ---- tenants -------------------------------------------------------------------------------
AUTH=$OP
req GET /v1/t/ghost/events
expect_error 404 not_found "an unknown tenant"
req POST /v1/tenants/beta
expect_status 201 "create a tenant"
req POST /v1/tenants/beta
expect_error 409 exists "create it again"
req POST /v1/tenants/Beta
expect_error 400 invalid_input "a bad tenant name"
req GET /v1/tenants
expect_eq "$(jq -r .tenant "$T/body" | tr '\n' ' ')" "acme beta " "list the tenants"
req POST /v1/t/beta/streams/x -H "$J" --data '[{"type":"A","data":1}]'
expect_status 201 "the new tenant is served at once"

# ---- an "actor" key spelt with an escape is the client's actor too ---------------------
AUTH=$SVC
req POST /v1/t/acme/streams/forge -H "$J" \
    --data '[{"type":"T","data":1,"metadata":{"\u0061ctor":"forged","n":1}}]'
expect_status 201 "an escaped actor key"
req GET /v1/t/acme/streams/forge
expect_not_in forged "$T/body" "an escaped \"actor\" key is replaced too"
expect_eq "$(jq -c .metadata "$T/body")" '{"actor":{"id":"svc"},"n":1}' "the metadata of a forged key"

# ---- metrics --------------------------------------------------------------------------
req GET /metrics
expect_error 403 forbidden "metrics need the admin scope"
AUTH=$OP
req GET /metrics
expect_status 200 "metrics with an operator token"
expect_in 'evstore_http_requests_total{route="POST /v1/t/{tenant}/streams/{stream}",status="201"}' \
    "$T/body" "requests by route and status"
expect_in 'evstore_http_requests_total{route="unmatched",status="404"}' "$T/body" "404s counted"
expect_in 'evstore_tenant_events{tenant="acme"} 7' "$T/body" "a tenant's events"
expect_in 'evstore_tenant_events{tenant="beta"} 1' "$T/body" "every tenant for an operator"
expect_in 'evstore_consumer_lag{tenant="acme",consumer="svc.other"} 7' "$T/body" "a consumer's lag"
[ "$(grep -c '^# TYPE evstore_tenant_events ' "$T/body")" = 1 ] || fail "one TYPE per family"
AUTH=$(token acme admin)
req GET /metrics
expect_status 200 "metrics with a tenant's admin token"
expect_not_in 'tenant="beta"' "$T/body" "only the token's own tenant"
grep -q '^evstore_appends_total [1-9]' "$T/body" || fail "appends counted: $(cat "$T/body")"

# ---- limits ------------------------------------------------------------------------------
stop_server
start_server --root "$ROOT" --max-body 4096
head -c 5000 /dev/zero | tr '\0' ' ' >"$T/big"
req POST /v1/t/acme/streams/s -H "$J" --data-binary @"$T/big"
expect_error 413 too_large "a body past --max-body"
req POST /v1/t/acme/streams/s -H "$J" -H 'Transfer-Encoding: chunked' --data-binary @"$T/big"
expect_error 413 too_large "a chunked body past --max-body"
req GET /health
expect_status 200 "the server answers after a 413"
req GET /health -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' x)"
case $(cat "$T/status") in
413 | 431) ;;
*) fail "headers past --max-header: status $(cat "$T/status")" ;;
esac
req GET "/v1/t/$(head -c 70 /dev/zero | tr '\0' a)/events"
expect_error 400 invalid_input "an over-long tenant name"
expect_in "longer than 63 bytes" "$T/body" "says so"
stop_server

# ---- a long poll outlives the idle timeout ----------------------------------------------
start_server --root "$ROOT" --timeout 1
t0=$(date +%s)
req GET "/v1/t/acme/events?from=100&wait=3"
expect_status 200 "a long poll longer than --timeout is answered"
[ $(($(date +%s) - t0)) -ge 2 ] || fail "the poll waited its 3 s"
stop_server
echo "ok"

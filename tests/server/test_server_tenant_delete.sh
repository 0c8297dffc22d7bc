#!/bin/sh
# DELETE /v1/tenants/{tenant}: operator tokens only; the tenant's directory is moved to
# ROOT/deleted/ whole (nothing destroyed), its tokens are revoked, its SSE streams end
# with a "tenant_deleted" event, appends in flight do not crash the server, other
# tenants go on, and the name can be made again as a new, empty tenant.
. "$(dirname "$0")/lib_server.sh"

ROOT=$T/root
mkdir "$ROOT"
"$EVS" tenant create "$ROOT" acme >/dev/null || fail "tenant create acme"
"$EVS" tenant create "$ROOT" beta >/dev/null || fail "tenant create beta"
OP=$(token '*' admin)
A=$(token acme admin)
B=$(token beta read,append)
start_server --root "$ROOT"
J='Content-Type: application/json'
AUTH=$A
req POST /v1/t/acme/streams/s-1 -H "$J" --data '[{"type":"T","data":1},{"type":"T","data":2}]'
expect_status 201 "append to acme"
curl -s -N -H "Authorization: Bearer $A" "$BASE/v1/t/acme/subscribe" >"$T/sse" &
sse=$!
# Appenders running while the tenant goes.
k=0
pids=
while [ $k -lt 4 ]; do
    (
        i=0
        while [ $i -lt 40 ]; do
            curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $A" -H "$J" \
                --data '[{"type":"T","data":0}]' "$BASE/v1/t/acme/streams/w-$k"
            i=$((i + 1))
        done
    ) >"$T/w$k" &
    pids="$pids $!"
    k=$((k + 1))
done
sleep 0.5

req DELETE /v1/tenants/acme
expect_error 403 forbidden "a tenant's own admin token cannot delete it"
AUTH=$OP
req DELETE /v1/tenants/acme
expect_status 200 "an operator deletes acme"
expect_eq "$(jq -r .deleted "$T/body")" true "the answer says deleted"
expect_eq "$(jq -r .tokens_revoked "$T/body")" 1 "acme's one token is revoked"
moved=$(jq -r .moved_to "$T/body")
case $moved in
deleted/acme.*) ;;
*) fail "moved_to is relative to the root, under deleted/: $moved" ;;
esac
wait $sse || fail "the SSE stream ends cleanly"
expect_in "event: tenant_deleted" "$T/sse" "the subscriber is told why its stream ends"
for p in $pids; do wait "$p"; done
kill -0 "$PID" 2>/dev/null || fail "the server died with appends in flight: $(cat "$T/serve.err")"
# Each append before the delete was stored; after it 401 (the token is revoked) or 404.
cat "$T"/w? | sort | uniq -c | tr '\n' ' ' >"$T/codes"
grep -vqE '^(201|401|404)$' "$T"/w? && fail "appends around the delete answered: $(cat "$T/codes")"
echo "appends around the delete: $(cat "$T/codes")"

req GET /v1/t/acme/events
expect_error 404 not_found "acme is gone"
req DELETE /v1/tenants/acme
expect_error 404 not_found "deleting it again"
req DELETE /v1/tenants/Acme_
expect_error 400 invalid_input "a bad name"
AUTH=$A
req GET /v1/tenants
expect_error 401 unauthorized "acme's token is revoked"
# Nothing destroyed: the moved directory is the store.
[ "$("$EVS" read "$ROOT/$moved" --stream s-1 | wc -l | tr -d ' ')" = 2 ] ||
    fail "the moved store keeps acme's events"
AUTH=$B
req GET /v1/t/beta/events
expect_status 200 "beta goes on"
AUTH=$OP
req GET /v1/tenants
expect_eq "$(jq -r .tenant "$T/body" | tr '\n' ' ')" "beta " "the list has beta only"
req POST /v1/tenants/acme
expect_status 201 "the name can be made again"
req GET /v1/t/acme/events
expect_status 200 "the new acme answers"
expect_empty "$T/body" "and is empty"
stop_server
expect_eq "$(grep -c . "$T/serve.err")" 1 "the server stopped with its one line: $(cat "$T/serve.err")"

# A root that is one store cannot lose its one tenant.
start_server "$ROOT/tenants/beta" --no-auth
AUTH=
req DELETE /v1/tenants/default
expect_error 501 not_supported "the default tenant of a single store"
stop_server
echo ok

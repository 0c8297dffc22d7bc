#!/bin/sh
# Tokens and isolation: 401 without a token or with a wrong one; a token of tenant A
# gets 403 on every route of tenant B (every method, consumers and subscribe
# included) and nothing of B changes; a read-only token cannot append; a token without
# admin cannot administer tenants; a revoked token stops working without a restart, a
# new one works at once; path tricks (.., encoded slashes, over-long names, odd UTF-8)
# never reach another tenant; tokens are stored hashed, mode 0600; --no-auth refuses a
# non-loopback address; a second server on the same root says who serves it.
. "$(dirname "$0")/lib_server.sh"

ROOT=$T/root
mkdir "$ROOT"
for t in acme beta; do "$EVS" tenant create "$ROOT" $t >/dev/null || fail "tenant $t"; done
A=$(token acme read,append,consume a1)
B=$(token beta read,append,consume b1)
RO=$(token acme read)
start_server --root "$ROOT"
J='Content-Type: application/json'

# ---- the tokens file -------------------------------------------------------------------
expect_eq "$(stat -c %a "$ROOT/tokens")" 600 "tokens file mode"
grep -qF "${A#evs_*_}" "$ROOT/tokens" && fail "the secret is not stored"
"$EVS" token list "$ROOT" >"$T/list"
expect_eq "$(lines "$T/list")" 3 "token list"
expect_not_in "$A" "$T/list" "token list shows no secret"

# ---- 401 -----------------------------------------------------------------------------
AUTH=
req GET /v1/t/acme/events
expect_error 401 unauthorized "no token"
AUTH=evs_0000000000000000_00
req GET /v1/t/acme/events
expect_error 401 unauthorized "an unknown token"
AUTH="${A%?}x"
req GET /v1/t/acme/events
expect_error 401 unauthorized "a token with its last character changed"

# ---- isolation: A on every route of B ---------------------------------------------------
AUTH=$B
req POST /v1/t/beta/streams/s -H "$J" --data '[{"type":"T","data":1}]'
expect_status 201 "B appends to B"
AUTH=$A
for route in "GET /v1/t/beta/events" "GET /v1/t/beta/events?wait=1" \
    "GET /v1/t/beta/streams" "GET /v1/t/beta/streams/s" "POST /v1/t/beta/streams/s" \
    "POST /v1/t/beta/append" "GET /v1/t/beta/subscribe" "GET /v1/t/beta/stat" \
    "GET /v1/t/beta/consumers" "GET /v1/t/beta/consumers/c/events" \
    "POST /v1/t/beta/consumers/c/ack?pos=1" "POST /v1/t/beta/consumers/c/reset" \
    "DELETE /v1/t/beta/consumers/c" "GET /v1/tenants" "POST /v1/tenants/gamma"; do
    set -- $route
    req "$1" "$2" -H "$J" --data '[{"type":"T","data":1}]' --max-time 5
    expect_error 403 forbidden "$route with a token of another tenant"
done
[ ! -d "$ROOT/tenants/gamma" ] || fail "no tenant was made"
expect_eq "$("$EVS" read "$ROOT/tenants/beta" | wc -l | tr -d ' ')" 1 "B's store is untouched"

# ---- scopes -----------------------------------------------------------------------------
AUTH=$RO
req GET /v1/t/acme/events
expect_status 200 "a read token reads"
req POST /v1/t/acme/streams/s -H "$J" --data '[{"type":"T","data":1}]'
expect_error 403 forbidden "a read token cannot append"
expect_in "needs the scope 'append'" "$T/body" "403 says which scope"
req GET /v1/t/acme/consumers/c/events
expect_error 403 forbidden "a read token cannot consume"

# ---- path tricks --------------------------------------------------------------------------
AUTH=$A
for path in "/v1/t/acme/../beta/events" "/v1/t/..%2Fbeta/events" "/v1/t/acme%2F..%2Fbeta/events" \
    "/v1/t/%2e%2e/events" "/v1/t/ACME/events" "/v1/t/acm%C3%A9/events" "/v1/t/acme%00/events" \
    "/v1/t/$(printf 'a%.0s' $(seq 1 80))/events"; do
    curl -s -o "$T/body" -w '%{http_code}' --path-as-is -H "Authorization: Bearer $A" \
        "$BASE$path" >"$T/status"
    case $(cat "$T/status") in
    400 | 403 | 404) ;;
    *) fail "path $path: status $(cat "$T/status"): $(cat "$T/body")" ;;
    esac
    expect_not_in '"stream":"s"' "$T/body" "path $path reads nothing of beta"
done
req POST "/v1/t/acme/streams/..%2F..%2Ftenants%2Fbeta" -H "$J" --data '[{"type":"T","data":1}]'
expect_status 201 "a stream name with slashes is just a name"
expect_eq "$("$EVS" read "$ROOT/tenants/beta" | wc -l | tr -d ' ')" 1 "beta is untouched"
[ "$("$EVS" read "$ROOT/tenants/acme" | jq -r .stream)" = "../../tenants/beta" ] ||
    fail "the name is stored as given"

# ---- revoke without restart ---------------------------------------------------------------
id=$(echo "$A" | cut -d_ -f2)
evs token revoke "$ROOT" "$id"
expect_rc 0 "token revoke"
req GET /v1/t/acme/events
expect_error 401 unauthorized "a revoked token stops working"
evs token revoke "$ROOT" "$id"
expect_rc 1 "revoke an unknown id"
AUTH=$(token acme read)
req GET /v1/t/acme/events
expect_status 200 "a new token works without a restart"

# ---- one server per root; --no-auth only on loopback ---------------------------------------
evs serve --root "$ROOT" --listen 127.0.0.1:0
expect_rc 1 "a second server on the root"
expect_in "is already served by pid $PID" "$T/err" "names the pid"
evs serve --root "$ROOT" --no-auth --listen 0.0.0.0:0
expect_rc 2 "--no-auth on all addresses"
expect_in "loopback" "$T/err" "says why"
stop_server
start_server --root "$ROOT" --no-auth
AUTH=
req GET /v1/tenants
expect_status 200 "--no-auth on loopback: no token needed"
stop_server

# ---- token create's checks ---------------------------------------------------------------------
evs token create "$ROOT" --tenant acme --scopes read,fly
expect_rc 2 "an unknown scope"
expect_in "unknown scope 'fly'" "$T/err" "names it"
evs token create "$ROOT" --tenant ../x --scopes read
expect_rc 2 "a bad tenant"
evs token create "$ROOT" --tenant acme --scopes read --actor 'a.b'
expect_rc 2 "an actor with a dot"
echo "ok"

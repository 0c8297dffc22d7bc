#!/bin/sh
# What the web UI needs from the API, through curl against a real `evstore serve`:
# GET /v1/whoami for each kind of token, the stream list in pages (after=, limit=) that
# add up to the whole list, last_ts, an admin with every actor's consumers (all=1,
# stored=1), and the UI's files: every module index.html and
# the modules import is served with its content type and the security headers, a
# missing file is a JSON 404, /ui redirects to /ui/.
. "$(dirname "$0")/lib_server.sh"

ROOT=$T/root
mkdir "$ROOT"
"$EVS" tenant create "$ROOT" acme >/dev/null || fail "tenant create"
FULL=$(token acme read,append,consume svc)
READ=$(token acme read)
OP=$(token '*' admin)
start_server --root "$ROOT"

# ---- whoami ---------------------------------------------------------------------------
AUTH=
req GET /v1/whoami
expect_error 401 unauthorized "whoami without a token"
AUTH=evs_0000000000000000_nope
req GET /v1/whoami
expect_error 401 unauthorized "whoami with a wrong token"
AUTH=$FULL
req GET /v1/whoami
expect_status 200 "whoami"
expect_eq "$(jq -c '[.tenant,.scopes,.actor,.auth]' "$T/body")" '["acme","read,append,consume","svc",true]' \
    "whoami of a tenant token"
case $(cat "$T/body") in *"$FULL"* | *"${FULL##*_}"*) fail "whoami shows the secret" ;; esac
AUTH=$READ
req GET /v1/whoami
expect_eq "$(jq -c '[.tenant,.scopes]' "$T/body")" '["acme","read"]' "whoami of a read-only token"
AUTH=$OP
req GET /v1/whoami
expect_eq "$(jq -c '[.tenant,.scopes]' "$T/body")" '["*","admin"]' "whoami of an operator token"

# ---- the stream list in pages ----------------------------------------------------------
AUTH=$FULL
i=0
: >"$T/in"
while [ $i -lt 250 ]; do
    printf '{"stream":"s-%03d","type":"T","data":%d}\n' $((i * 7 % 250)) $i >>"$T/in"
    i=$((i + 1))
done
printf '%s\n' '{"stream":"other-1","type":"T","data":0}' >>"$T/in"
req POST /v1/t/acme/append -H 'Content-Type: application/x-ndjson' --data-binary @"$T/in"
expect_status 201 "251 streams"
req GET "/v1/t/acme/streams?prefix=s-"
expect_status 200 "the whole list"
jq -r .stream "$T/body" >"$T/whole"
expect_eq "$(lines "$T/whole")" 250 "250 streams with prefix s-"
: >"$T/paged"
after=
pages=0
while :; do
    req GET "/v1/t/acme/streams?prefix=s-&limit=100${after:+&after=$after}"
    expect_status 200 "page $pages"
    [ -s "$T/body" ] || break
    jq -r .stream "$T/body" >>"$T/paged"
    after=$(jq -r .stream "$T/body" | tail -n 1)
    pages=$((pages + 1))
    [ $pages -le 5 ] || fail "paging does not end"
done
expect_eq "$pages" 3 "250 streams in pages of 100"
cmp -s "$T/whole" "$T/paged" || fail "the pages add up to the whole list, in order: $(diff "$T/whole" "$T/paged" | head -5)"
req GET "/v1/t/acme/streams?category=s&after=s-247&limit=10"
expect_eq "$(jq -r .stream "$T/body" | tr '\n' ' ')" "s-248 s-249 " "category with after"
req GET "/v1/t/acme/streams?limit=0"
expect_error 400 invalid_input "limit 0"
req GET "/v1/t/acme/streams?last_ts=yes"
expect_error 400 invalid_input "last_ts other than 0 or 1"
req GET "/v1/t/acme/streams?prefix=other&last_ts=1"
expect_status 200 "last_ts"
ts=$(jq -r .last_ts "$T/body")
req GET "/v1/t/acme/streams/other-1"
expect_eq "$ts" "$(jq -r .ts "$T/body")" "last_ts is the time of the stream's last event"
req GET "/v1/t/acme/streams?prefix=other"
expect_eq "$(jq -r 'has("last_ts")' "$T/body")" false "no last_ts unless asked"

# ---- an admin and every actor's consumers ------------------------------------------------
ADMIN=$(token acme read,admin ops)
AUTH=$FULL
req GET "/v1/t/acme/consumers/c1/events?limit=1"
expect_status 200 "svc's consumer c1"
req GET "/v1/t/acme/consumers?all=1"
expect_error 403 forbidden "all=1 without the admin scope"
req POST "/v1/t/acme/consumers/svc.c1/reset?stored=1"
expect_error 403 forbidden "stored=1 without the admin scope"
AUTH=$ADMIN
req GET /v1/t/acme/consumers
expect_empty "$T/body" "the admin's own actor has no consumers"
req GET "/v1/t/acme/consumers?all=1"
expect_eq "$(jq -r .consumer "$T/body")" svc.c1 "all=1 lists svc's consumer under its stored name"
req POST "/v1/t/acme/consumers/svc.c1/ack?pos=1&stored=1"
expect_error 404 not_found "ack takes no stored name: it acts for the token's actor only"
req POST "/v1/t/acme/consumers/svc.c1/reset?stored=1&to=3"
expect_status 200 "an admin resets another actor's consumer"
AUTH=$FULL
req GET /v1/t/acme/consumers
expect_eq "$(jq -c '[.consumer,.checkpoint]' "$T/body")" '["c1",3]' "svc sees the reset"
AUTH=$ADMIN
req DELETE "/v1/t/acme/consumers/svc.c1?stored=1"
expect_status 200 "an admin deletes another actor's consumer"
req GET "/v1/t/acme/consumers?all=1"
expect_empty "$T/body" "no consumer left"

# ---- the UI's files -----------------------------------------------------------------------
AUTH=
curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$BASE/ui" >"$T/status"
expect_eq "$(cat "$T/status")" "308 $BASE/ui/" "/ui redirects to /ui/"
curl -s -D "$T/headers" -o "$T/index" "$BASE/ui/"
expect_in "200" "$T/headers" "GET /ui/ without a token"
expect_in "Content-Type: text/html" "$T/headers" "the page's content type"
expect_in "Content-Security-Policy: default-src 'none'" "$T/headers" "the page's CSP"
expect_in "connect-src 'self'" "$T/headers" "the page connects to its server only"
# Each file the page names, and each module the modules import, is there.
grep -o '\(src\|href\)="[a-z_]*\.\(js\|css\)"' "$T/index" | sed 's/.*="\(.*\)"/\1/' >"$T/files"
grep -ho "from '\./[a-z_]*\.js'" "$(dirname "$0")/../../server/ui/"*.js | sed "s/from '\.\/\(.*\)'/\1/" |
    sort -u >>"$T/files"
[ "$(lines "$T/files")" -gt 5 ] || fail "the page and its modules name their files: $(cat "$T/files")"
while read -r f; do
    curl -s -D "$T/headers" -o "$T/file" "$BASE/ui/$f"
    expect_in "200 OK" "$T/headers" "GET /ui/$f"
    case $f in
    *.js) expect_in "Content-Type: text/javascript" "$T/headers" "$f's content type" ;;
    *.css) expect_in "Content-Type: text/css" "$T/headers" "$f's content type" ;;
    esac
    cmp -s "$T/file" "$(dirname "$0")/../../server/ui/$f" || fail "/ui/$f is the file of server/ui/"
done <"$T/files"
req GET /ui/missing.js
expect_error 404 not_found "a file the UI does not have"
expect_in "missing.js" "$T/body" "the 404 names the file"
req GET /ui/../tokens
[ "$(cat "$T/status")" != 200 ] || fail "/ui/../tokens is not served"
stop_server
echo "ok: whoami, stream pages, the UI's files"

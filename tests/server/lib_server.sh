# lib_server.sh - helpers of the server tests (POSIX sh), on top of tests/cli/lib.sh:
#
#   start_server ARGS...   evstore serve ARGS --listen 127.0.0.1:0 in the background;
#                          waits for its "listening" line; sets $PID, $PORT, $BASE
#   stop_server            SIGTERM to $PID, then waits for it (each test stops what it
#                          started, by its PID; the EXIT trap does it too)
#   req METHOD PATH [CURL ARGS...]   one request with curl: the body in $T/body, the
#                          status in $T/status; $AUTH (when set) is sent as the token
#   expect_status CODE CHECK
. "$(dirname "$0")/../cli/lib.sh"

command -v curl >/dev/null 2>&1 || { echo "FAIL: curl is needed by the server tests" >&2; exit 1; }

PID=
AUTH=
trap 'if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi; rm -rf "$T"' EXIT

start_server() {
    : >"$T/serve.out"
    "$EVS" serve "$@" --listen 127.0.0.1:0 >"$T/serve.out" 2>"$T/serve.err" &
    PID=$!
    i=0
    while ! grep -q listening "$T/serve.out" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 300 ] || ! kill -0 "$PID" 2>/dev/null; then
            cat "$T/serve.err" >&2
            PID=
            fail "the server did not start"
        fi
        sleep 0.1
    done
    PORT=$(jq -r .listening "$T/serve.out" | cut -d: -f2)
    BASE=http://127.0.0.1:$PORT
}

stop_server() {
    kill -TERM "$PID" || fail "SIGTERM to the server"
    rc=0
    wait "$PID" || rc=$?
    PID=
    [ "$rc" -eq 0 ] || fail "the server exited with $rc after SIGTERM: $(cat "$T/serve.err")"
}

req() {
    method=$1
    path=$2
    shift 2
    if [ -n "$AUTH" ]; then
        curl -s -o "$T/body" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $AUTH" \
            "$@" "$BASE$path" >"$T/status" || echo 000 >"$T/status"
    else
        curl -s -o "$T/body" -w '%{http_code}' -X "$method" "$@" "$BASE$path" >"$T/status" ||
            echo 000 >"$T/status"
    fi
}

expect_status() {
    got=$(cat "$T/status")
    [ "$got" = "$1" ] || fail "$2: status $got, wanted $1; body: $(head -c 600 "$T/body")"
}

# expect_error CODE ERROR CHECK: the status and the body's "error"; the body is JSON
# with a non-empty message.
expect_error() {
    expect_status "$1" "$3"
    [ "$(jq -r .error "$T/body")" = "$2" ] || fail "$3: error $(jq -r .error "$T/body"), wanted $2"
    [ -n "$(jq -r .message "$T/body")" ] || fail "$3: the error has no message"
}

# token TENANT SCOPES [ACTOR]: a new token's text
token() {
    if [ $# -ge 3 ]; then
        "$EVS" token create "$ROOT" --tenant "$1" --scopes "$2" --actor "$3" | jq -r .token
    else
        "$EVS" token create "$ROOT" --tenant "$1" --scopes "$2" | jq -r .token
    fi
}

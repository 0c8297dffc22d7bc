#!/bin/sh
# Crash trials: 16 clients append over HTTP, one event per request with its own id,
# while the server is SIGKILLed at a random moment; then the server is started again on
# the same root. Every event a client got a 2xx for must be in the store, and no event
# may be stored twice. EVS_SERVER_CRASH_TRIALS trials (default 50).
. "$(dirname "$0")/lib_server.sh"

TRIALS=${EVS_SERVER_CRASH_TRIALS:-50}
CLIENTS=16
ROOT=$T/root
mkdir "$ROOT"
"$EVS" tenant create "$ROOT" acme >/dev/null || fail "tenant create"
AUTH=$(token acme append)
J='Content-Type: application/json'

client() { # CLIENT TRIAL: append until the server is gone
    i=0
    while :; do
        i=$((i + 1))
        id=$(printf '%08x-%04x-4000-8000-%012x' "$1" "$2" "$i")
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST \
            -H "Authorization: Bearer $AUTH" -H "$J" \
            --data "[{\"type\":\"T\",\"data\":$i,\"id\":\"$id\"}]" \
            "$BASE/v1/t/acme/streams/c-$1") || break
        case $code in
        2??) echo "$id" >>"$T/acked" ;;
        *) echo "client $1: status $code" >>"$T/odd" ;;
        esac
    done
}

: >"$T/acked"
trial=0
while [ $trial -lt "$TRIALS" ]; do
    trial=$((trial + 1))
    start_server --root "$ROOT"
    c=0
    pids=
    while [ $c -lt $CLIENTS ]; do
        c=$((c + 1))
        client $c $trial &
        pids="$pids $!"
    done
    # A random moment 0.2 to 1.2 s into the load.
    sleep "$(awk -v s="$trial" 'BEGIN { srand(s); printf "%.2f", 0.2 + rand() }')"
    kill -KILL "$PID"
    wait "$PID" 2>/dev/null
    PID=
    for p in $pids; do wait "$p"; done
done
[ ! -s "$T/odd" ] || fail "a request got an unexpected status: $(head -5 "$T/odd")"

# The last start recovers the tail; read what the store holds.
start_server --root "$ROOT"
stop_server
"$EVS" read "$ROOT/tenants/acme" | jq -r .id | sort >"$T/stored"
sort "$T/acked" >"$T/acked.sorted"
missing=$(comm -23 "$T/acked.sorted" "$T/stored" | wc -l | tr -d ' ')
dups=$(uniq -d "$T/stored" | wc -l | tr -d ' ')
acked=$(lines "$T/acked")
stored=$(lines "$T/stored")
expect_eq "$missing" 0 "acknowledged events missing after $TRIALS crashes"
expect_eq "$dups" 0 "events stored twice"
[ "$acked" -gt 0 ] || fail "no append was acknowledged"
echo "ok: $TRIALS trials, $acked events acknowledged, $stored stored, none missing, none twice"

#!/bin/sh
# evstore serve measured with the tools of compare.sh, in one run:
#   GET /health requests/s beside mhd_trivial's GET / (the server's own cost, H5)
#   RSS per idle keep-alive connection (IDLE connections, default 2,000, read after
#   HOLD seconds, default 10)
#   SSE clients (SSE, default 1,000) on one tenant while events are appended about
#   RATE times a second: append-to-delivery delay (the envelope's ts to arrival)
# SERVE_ARGS adds options to evstore serve (e.g. "--max-header 8192").
# SERVE_ARGS adds options to evstore serve (e.g. "--max-header 8192").
#
#   bench/http/serve_bench.sh BUILD_DIR     BUILD_DIR: a release build (cli/evstore,
#                                            bench/http/{mhd_trivial,conn_hold})
set -eu
b=$1
port=${PORT:-18531}
idle=${IDLE:-2000}
sse=${SSE:-1000}
rate=${RATE:-100}
tmp=$(mktemp -d)
trap 'kill $srv $triv 2>/dev/null || true; rm -rf "$tmp"' EXIT
rss_kib() { awk '/^VmRSS/ {print $2}' /proc/"$1"/status; }
mkdir "$tmp/root"
"$b/cli/evstore" tenant create "$tmp/root" t >/dev/null
"$b/cli/evstore" serve --root "$tmp/root" --no-auth --listen 127.0.0.1:$port \
    --max-connections 20000 ${SERVE_ARGS:-} >"$tmp/serve.out" &
srv=$!
POOL=16384 "$b/bench/http/mhd_trivial" $((port + 1)) tpc &
triv=$!
sleep 1
secs=${WRK_SECONDS:-8}
h=$(wrk -t2 -c50 -d${secs}s http://127.0.0.1:$port/health | awk '/Requests\/sec/ {print $2}')
t=$(wrk -t2 -c50 -d${secs}s http://127.0.0.1:$((port + 1))/ | awk '/Requests\/sec/ {print $2}')
echo "health requests/s $h, trivial handler requests/s $t, ratio $(echo "$h $t" | awk '{printf "%.2f", $1 / $2}')"
base=$(rss_kib $srv)
"$b/bench/http/conn_hold" $port "$idle" idle $((${HOLD:-10} + 1)) /health >"$tmp/idle" &
hold=$!
sleep "${HOLD:-10}"
held=$(rss_kib $srv)
threads=$(awk '/^Threads/ {print $2}' /proc/$srv/status)
wait $hold
echo "idle connections $idle: RSS $base KiB before, $held KiB held ($threads threads), $(( (held - base) * 1024 / idle )) bytes each; client: $(cat "$tmp/idle")"
( i=0; end=$(( $(date +%s) + 8 )); while [ "$(date +%s)" -lt $end ]; do
      printf '[{"type":"T","data":%d}]' $i |
          curl -s -o /dev/null -H 'Content-Type: application/json' --data-binary @- \
              http://127.0.0.1:$port/v1/t/t/streams/s || true
      i=$((i + 1)); sleep "$(awk -v r=$rate 'BEGIN { printf "%.4f", 1 / r }')"
  done ) &
app=$!
"$b/bench/http/conn_hold" $port "$sse" sse 10 "/v1/t/t/subscribe?live=1" >"$tmp/sse" &
h2=$!
sleep 9
echo "sse clients $sse: RSS $(rss_kib $srv) KiB during; $(cat "$tmp/sse" 2>/dev/null)"
wait $h2
echo "sse: $(cat "$tmp/sse")"
wait $app
"$b/cli/evstore" stat "$tmp/root/tenants/t" | jq -c '{events}'

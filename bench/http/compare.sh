#!/bin/sh
# The HTTP library comparison behind the README's "Server" section: the same trivial
# server on libmicrohttpd (thread per connection, and an epoll thread pool) and on
# libevent's evhttp, measured with wrk (requests/s of GET /), conn_hold (RSS per idle
# keep-alive connection; 1,000 SSE streams with a tick every 100 ms).
#
#   bench/http/compare.sh BUILD_DIR     BUILD_DIR holds mhd_trivial, evhttp_trivial,
#                                        conn_hold (built by bench/http/CMakeLists.txt)
set -eu
bin=$1
port=${PORT:-18431}
idle=${IDLE:-2000}
sse=${SSE:-1000}
rss_kib() { awk '/^VmRSS/ {print $2}' /proc/"$1"/status; }

measure() { # NAME COMMAND...
    name=$1; shift
    "$@" &
    pid=$!
    sleep 0.5
    base=$(rss_kib $pid)
    rps=$(wrk -t2 -c50 -d${WRK_SECONDS:-8}s http://127.0.0.1:$port/ | awk '/Requests\/sec/ {print $2}')
    after_wrk=$(rss_kib $pid)
    "$bin/conn_hold" $port "$idle" idle 4 > /tmp/conn_hold.$$ &
    hold=$!
    sleep 3
    held=$(rss_kib $pid)
    wait $hold
    per_idle=$(( (held - after_wrk) * 1024 / idle ))
    sse_line="-"
    if [ "$name" != "mhd-epoll" ]; then
        sse_line=$("$bin/conn_hold" $port "$sse" sse 6 &
                   h=$!; sleep 5; echo "rss_kib $(rss_kib $pid)" > /tmp/sse_rss.$$; wait $h)
        sse_line="$sse_line $(cat /tmp/sse_rss.$$)"
    fi
    kill $pid
    wait $pid 2>/dev/null || true
    echo "$name: base_rss_kib $base requests/s $rps idle_conns $idle bytes/idle_conn $per_idle"
    echo "$name: sse $sse_line"
}

measure mhd-tpc "$bin/mhd_trivial" $port tpc
port=$((port + 1))
measure mhd-epoll "$bin/mhd_trivial" $port epoll 2
port=$((port + 1))
measure evhttp "$bin/evhttp_trivial" $port

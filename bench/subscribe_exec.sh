#!/bin/sh
# Throughput of `evstore subscribe --consumer NAME --exec CMD` with a trivial handler,
# per batch size, beside the plain pipe `subscribe --consumer NAME | cat >/dev/null`.
# Usage: bench/subscribe_exec.sh PATH_TO_EVSTORE [EVENTS]
# Prints one JSON line per measurement: handler, batch, events, seconds, events_per_s.
# Each batch size delivers at most 2,000 batches (so batch 1 and 10 stay short); the
# store is made once, with 140-byte events like the suite's.
set -eu
EVS=${1:?usage: bench/subscribe_exec.sh PATH_TO_EVSTORE [EVENTS]}
EVENTS=${2:-100000}
T=$(mktemp -d "${TMPDIR:-/tmp}/evs-exec-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

seq 1 "$EVENTS" | awk '{printf "{\"stream\":\"order-%d\",\"type\":\"OrderPlaced\",\"data\":{\"n\":%d,\"sku\":\"A-%d\",\"qty\":2}}\n", $1 % 1000, $1, $1 % 97}' |
    "$EVS" append "$T/store" --create --quiet --sync none

now() { date +%s.%N; }
report() { # HANDLER BATCH EVENTS START END
    awk -v h="$1" -v b="$2" -v n="$3" -v s="$4" -v e="$5" 'BEGIN {
        printf "{\"handler\":\"%s\",\"batch\":%s,\"events\":%d,\"seconds\":%.3f,\"events_per_s\":%.0f}\n",
            h, b, n, e - s, n / (e - s) }'
}

s=$(now)
"$EVS" subscribe "$T/store" --consumer pipe --timeout 0 | cat >/dev/null
report "pipe: subscribe | cat >/dev/null" null "$EVENTS" "$s" "$(now)"

for batch in 1 10 100 1000 10000; do
    n=$((batch * 2000))
    [ "$n" -gt "$EVENTS" ] && n=$EVENTS
    s=$(now)
    "$EVS" subscribe "$T/store" --consumer "sh$batch" --batch "$batch" --limit "$n" \
        --timeout 0 --exec sh -c 'cat >/dev/null'
    report "sh -c 'cat >/dev/null'" "$batch" "$n" "$s" "$(now)"
    s=$(now)
    "$EVS" subscribe "$T/store" --consumer "cat$batch" --batch "$batch" --limit "$n" \
        --timeout 0 --exec cat >/dev/null
    report "cat (stdout /dev/null)" "$batch" "$n" "$s" "$(now)"
done

#!/bin/sh
# Speed of `evstore backup` beside `cp -r` of the same store (issue 22: aim >= 0.8x).
# Usage: bench/backup.sh PATH_TO_EVSTORE [EVENTS]
# Makes one store (EVENTS events of ~140 bytes of data, 64 MiB segments, like the
# suite's) and times, with the page cache warm for all of them:
#   cp -r STORE COPY                    the yardstick (its copy is not synced)
#   cp -r STORE COPY && sync COPY/*     the same copy made durable, as a backup is
#   evstore backup STORE DEST --copy    every segment copied (and synced), then the
#                                       backup opened and verified whole
#   evstore backup STORE DEST           sealed segments hard-linked (same file system)
#   the --copy backup again after 1% more events (incremental)
# The first four run three times in turn; each one's fastest round counts.
# Prints one JSON line per kind: what, seconds, MiB, MiB_per_s, and ratio = the fastest
# cp -r's seconds / the kind's (>= 1: as fast as cp -r or faster); the backups' own
# summary lines go to stderr.
set -eu
EVS=${1:?usage: bench/backup.sh PATH_TO_EVSTORE [EVENTS]}
EVENTS=${2:-1000000}
T=$(mktemp -d "${TMPDIR:-/tmp}/evs-backup-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

gen() { # FROM TO
    seq "$1" "$2" | awk '{printf "{\"stream\":\"order-%d\",\"type\":\"OrderPlaced\",\"data\":{\"n\":%d,\"sku\":\"A-%d\",\"qty\":2,\"note\":\"standard delivery, leave at the door\",\"price\":{\"amount\":1999,\"currency\":\"EUR\"}}}\n", $1 % 1000, $1, $1 % 97}'
}
gen 1 "$EVENTS" | "$EVS" append "$T/store" --create --quiet --sync none
MIB=$(du -sm "$T/store" | cut -f1)
cat "$T"/store/*.seg >/dev/null # warm the page cache for every run alike

now() { date +%s.%N; }
secs() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.3f", e - s }'; }
RUNS=$T/runs
: >"$RUNS"
run() { # WHAT COMMAND...: time it, keep the evstore summary line when there is one
    what=$1
    shift
    s=$(now)
    "$@" >"$T/out"
    e=$(now)
    printf '%s\t%s\n' "$(secs "$s" "$e")" "$what" >>"$RUNS"
    [ -s "$T/out" ] && cat "$T/out" >&2 || true
}
copy_synced() { cp -r "$T/store" "$T/copy" && sync "$T"/copy/*; }

# Three rounds, each kind in turn, so that a burst of load on a shared machine hits
# them alike; each kind's fastest round counts.
for round in 1 2 3; do
    run "cp -r" cp -r "$T/store" "$T/copy"
    rm -rf "$T/copy"
    run "cp -r, then sync" copy_synced
    rm -rf "$T/copy"
    run "evstore backup --copy (copied, synced, verified)" "$EVS" backup "$T/store" "$T/bk" --copy
    rm -rf "$T/bk"
    run "evstore backup (hard links, verified)" "$EVS" backup "$T/store" "$T/linked"
    rm -rf "$T/linked"
done
"$EVS" backup "$T/store" "$T/bk" --copy >/dev/null
gen $((EVENTS + 1)) $((EVENTS + EVENTS / 100)) | "$EVS" append "$T/store" --quiet --sync none
run "evstore backup --copy, incremental after 1% more" "$EVS" backup "$T/store" "$T/bk" --copy

# Each kind's fastest round, and its ratio to the fastest plain cp -r.
awk -F '\t' -v m="$MIB" '
    { if (!($2 in best) || $1 < best[$2]) best[$2] = $1; if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
    END { cp = best["cp -r"]
        for (i = 1; i <= n; i++)
            printf "{\"what\":\"%s\",\"seconds\":%.3f,\"MiB\":%d,\"MiB_per_s\":%.0f,\"ratio\":%.2f}\n",
                order[i], best[order[i]], m, m / best[order[i]], cp / best[order[i]] }' "$RUNS"

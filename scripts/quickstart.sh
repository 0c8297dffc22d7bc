#!/bin/sh
# quickstart.sh BIN DIR - a short narrated tour of the evstore command line, run by
# `make run`: append order events, see an expected-version conflict, read a stream and
# a type, look at the store's figures and verify it. Exits 0 when every step behaved as
# expected (the conflict is expected), 1 otherwise.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 PATH_TO_EVSTORE STORE_DIR" >&2
    exit 2
fi
BIN=$1
DIR=$2
failed=0

# step LINE...: a header saying what the next step shows, one "## " line per argument.
step() {
    echo
    for line in "$@"; do
        printf '## %s\n' "$line"
    done
}

# run WANTED_STATUS ARGS...: show the command, run it (its stderr interleaved with its
# stdout so messages appear where they happen), and check its exit status.
run() {
    want=$1
    shift
    printf '$ evstore %s\n' "$*"
    status=0
    "$BIN" "$@" 2>&1 || status=$?
    check "$want"
}

# run_in INPUT WANTED_STATUS ARGS...: the same with INPUT (one line) on stdin.
run_in() {
    input=$1
    want=$2
    shift 2
    printf "$ echo '%s' | evstore %s\n" "$input" "$*"
    status=0
    echo "$input" | "$BIN" "$@" 2>&1 || status=$?
    check "$want"
}

check() {
    if [ "$status" -ne "$1" ]; then
        printf '!! exit status %s, expected %s\n' "$status" "$1"
        failed=1
    elif [ "$1" -ne 0 ]; then
        printf '(exit status %s, as expected)\n' "$status"
    fi
}

# A previous run's store holds only the demo's two streams: remove it so the tour
# starts from nothing. Anything else at DIR is left alone.
if [ -e "$DIR" ]; then
    if ! "$BIN" stat "$DIR" >/dev/null 2>&1 ||
        "$BIN" read "$DIR" 2>/dev/null | grep -qv '"stream":"order-[12]"'; then
        echo "quickstart: $DIR exists and is not a previous demo store; not touching it" >&2
        exit 1
    fi
    rm -rf "$DIR"
fi

step "Create the store: commands that write never make one unless asked to, so" \
    "a typo in a path is an error, not a new store."
printf '$ evstore init %s\n' "$DIR"
status=0
"$BIN" init "$DIR" 2>&1 || status=$?
check 0

step "Append events: one JSON object per line on stdin. Each stored event is" \
    "acknowledged with its global position and its version inside its stream."
events='{"stream":"order-1","type":"ItemAdded","data":{"sku":"A1","qty":2},"metadata":{"by":"ann"}}
{"stream":"order-1","type":"ItemAdded","data":{"sku":"B2","qty":1},"metadata":{"by":"ann"}}
{"stream":"order-2","type":"ItemAdded","data":{"sku":"C3","qty":5}}
{"stream":"order-1","type":"ItemRemoved","data":{"sku":"A1"},"metadata":{"by":"ann"}}
{"stream":"order-2","type":"OrderPlaced","data":{"total":49.95}}'
printf '$ evstore append %s <<EOF\n%s\nEOF\n' "$DIR" "$events"
status=0
printf '%s\n' "$events" | "$BIN" append "$DIR" 2>&1 || status=$?
check 0

step "Optimistic concurrency: order-1 is at version 2, so appending with" \
    "--expected-version 1 (a writer with a stale view) is a conflict: exit 3," \
    "a message naming stream, expected and actual version, nothing written."
run_in '{"stream":"order-1","type":"OrderPlaced","data":{"total":20}}' 3 \
    append "$DIR" --expected-version 1

step "With the version it really has, the same append succeeds."
run_in '{"stream":"order-1","type":"OrderPlaced","data":{"total":20}}' 0 \
    append "$DIR" --expected-version 2

step "Read one stream: the events of order-1 in order, as NDJSON envelopes" \
    "(pos, stream, version, id, type, ts, data, metadata)."
run 0 read "$DIR" --stream order-1

step "Read by type across all streams: every OrderPlaced."
run 0 read "$DIR" --type OrderPlaced

step "The store's figures."
run 0 stat "$DIR"

step "Verify: every record's checksum and framing, gap-free positions," \
    "contiguous versions."
run 0 verify "$DIR"

if [ "$failed" -ne 0 ]; then
    printf '\nquickstart: some steps did not behave as expected\n'
    exit 1
fi
printf '\nquickstart: every step behaved as expected; the store is in %s\n' "$DIR"

#!/bin/sh
# The bookmarks example, run as `make test` runs it: bookmarks are added between runs,
# each run prints exactly the expected read model; a run resumes after the state file's
# position; --model 2 (new projection code) replays the whole log into a model that uses
# the tags the first version ignored; a damaged state file is a clear error and
# --replay rebuilds the same model from the log.
#
#   sh test.sh PATH_TO_BOOKMARKS
set -u
B=${1:?usage: sh test.sh PATH_TO_BOOKMARKS}
T=$(mktemp -d "${TMPDIR:-/tmp}/evs-bookmarks.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
D=$T/data

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# run CHECK WANTED_EXIT ARGS...: stdout in $T/out, stderr in $T/err
run() {
    check=$1
    want=$2
    shift 2
    rc=0
    "$B" "$D" "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "$check: exit $rc, wanted $want; stderr: $(cat "$T/err")"
}

# expect CHECK: stdout must equal standard input
expect() {
    cat >"$T/want"
    diff -u "$T/want" "$T/out" >"$T/diff" || fail "$1: output differs:
$(cat "$T/diff")"
}

# The read model's JSON for one bookmark, as model 1 and model 2 write it.
v1() { # URL TITLE FAVICON
    printf '"%s":{"url":"%s","title":"%s","faviconUrl":"%s"}' "$1" "$1" "$2" "$3"
}
v2() { # URL TITLE FAVICON TAGS_JSON
    printf '"%s":{"url":"%s","title":"%s","faviconUrl":"%s","tags":%s}' "$1" "$1" "$2" "$3" "$4"
}
EX=https://www.example.org/tiny
SQ=https://sqlite.org/
LM=https://lmdb.tech/doc/
RE=https://redis.io/

run "first run, empty" 0 run
expect "first run" <<EOF
read model: model 1, new: building it from the first event
info fetcher: 0 page infos appended
read model: 0 events read, up to date at position 0
{"byUrl":{}}
EOF

run "add 1" 0 add "$EX" c js
run "add 2" 0 add "$SQ" db c
run "add 3" 0 add "$LM" db
expect "add prints the position" <<EOF
bookmarked $LM at position 3
EOF

run "run, model 1" 0 run
expect "three bookmarks, each with its page info" <<EOF
read model: model 1, loaded at position 0
info fetcher: 3 page infos appended
read model: 6 events read, up to date at position 6
{"byUrl":{$(v1 $LM "Lmdb.tech - /doc/" https://lmdb.tech/favicon.ico),$(v1 $SQ "Sqlite.org - /" https://sqlite.org/favicon.ico),$(v1 $EX "Example.org - /tiny" https://www.example.org/favicon.ico)}}
EOF
head -n 1 "$D/by-url.state" | grep -Eq '^evstore-state 1 pos=6 model=1 len=[0-9]+ crc32c=[0-9a-f]{8}$' ||
    fail "the state file's header line: $(head -n 1 "$D/by-url.state")"

run "add 4" 0 add "$EX" notes
run "add 5" 0 add "$RE"
run "run again" 0 run
expect "a second run resumes at the saved position: only the 4 new events" <<EOF
read model: model 1, loaded at position 6
info fetcher: 2 page infos appended
read model: 4 events read, up to date at position 10
{"byUrl":{$(v1 $LM "Lmdb.tech - /doc/" https://lmdb.tech/favicon.ico),$(v1 $RE "Redis.io - /" https://redis.io/favicon.ico),$(v1 $SQ "Sqlite.org - /" https://sqlite.org/favicon.ico),$(v1 $EX "Example.org - /tiny" https://www.example.org/favicon.ico)}}
EOF

MODEL2="{\"byUrl\":{$(v2 $LM "Lmdb.tech - /doc/" https://lmdb.tech/favicon.ico '["db"]'),$(v2 $RE "Redis.io - /" https://redis.io/favicon.ico '[]'),$(v2 $SQ "Sqlite.org - /" https://sqlite.org/favicon.ico '["c","db"]'),$(v2 $EX "Example.org - /tiny" https://www.example.org/favicon.ico '["c","js","notes"]')}}"
run "run --model 2" 0 run --model 2
expect "new projection code: the whole log is replayed, old bookmarks get their tags" <<EOF
read model: model changed from 1 to 2: rebuilding it from the first event
info fetcher: 0 page infos appended
read model: 10 events read, up to date at position 10
$MODEL2
EOF

run "run --model 2 again" 0 run --model 2
expect "model 2 is now loaded, nothing to replay" <<EOF
read model: model 2, loaded at position 10
info fetcher: 0 page infos appended
read model: 0 events read, up to date at position 10
$MODEL2
EOF

# A damaged state file: a clear error naming it, nothing printed, then --replay.
cp "$D/by-url.state" "$T/good.state"
head -c 120 "$T/good.state" >"$D/by-url.state"
run "a truncated state file" 1 run --model 2
[ ! -s "$T/out" ] || fail "a truncated state file: nothing on stdout, got $(cat "$T/out")"
grep -q "state file '$D/by-url.state' is truncated" "$T/err" ||
    fail "the error names the file and says truncated: $(cat "$T/err")"
grep -q -- "--replay" "$T/err" || fail "the error says how to rebuild: $(cat "$T/err")"

sed 's/"db"/"dc"/' "$T/good.state" >"$D/by-url.state" # same length, checksum no longer fits
run "a corrupt state file" 1 run --model 2
grep -q "checksum mismatch" "$T/err" || fail "a bit flip is a checksum mismatch: $(cat "$T/err")"

run "run --model 2 --replay" 0 run --model 2 --replay
expect "--replay rebuilds the same model from the log" <<EOF
read model: model 2, --replay: rebuilding it from the first event
info fetcher: 0 page infos appended
read model: 10 events read, up to date at position 10
$MODEL2
EOF
cmp -s "$D/by-url.state" "$T/good.state" || fail "the rebuilt state file differs from the original"

run "bad arguments" 2 run --model 3
run "unknown command" 2 frob
echo ok

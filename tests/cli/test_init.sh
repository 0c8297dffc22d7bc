#!/bin/sh
# evstore init: creates a store ({"created":DIR}), keeps --segment-size, refuses an
# existing store and a non-empty directory (exit 1, one message, nothing changed), usage
# errors, EVSTORE_DIR.
. "$(dirname "$0")/lib.sh"

d=$T/new/store
evs init "$d"
expect_rc 0 "init"
expect_eq "$(jq -c . "$T/out")" "{\"created\":\"$d\"}" "init prints {\"created\":DIR}"
expect_empty "$T/err" "init: nothing on stderr"
evs stat "$d"
expect_eq "$(jq -c '[.events,.segment_size]' "$T/out")" "[0,67108864]" "a new, empty store"

evs init "$T/small" --segment-size 64K --sync none
expect_rc 0 "init --segment-size 64K"
evs stat "$T/small"
expect_eq "$(jq -c .segment_size "$T/out")" 65536 "the store keeps its segment size"
evs init "$T/exact" --segment-size=131072
evs stat "$T/exact"
expect_eq "$(jq -c .segment_size "$T/out")" 131072 "--segment-size in bytes"

echo '{"stream":"a","type":"A","data":1}' | "$EVS" append --create "$d" --quiet || fail "append"
evs init "$d"
expect_rc 1 "init on an existing store"
one_stderr_line init "existing store"
expect_in "already exists" "$T/err" "existing store message"
expect_empty "$T/out" "existing store: nothing on stdout"
expect_eq "$(count_events "$d")" 1 "the existing store is untouched"

mkdir "$T/other"
echo hello >"$T/other/notes.txt"
evs init "$T/other"
expect_rc 1 "init on a non-empty directory"
one_stderr_line init "non-empty directory"
expect_in "not empty" "$T/err" "non-empty directory message"
expect_eq "$(ls "$T/other")" "notes.txt" "the non-empty directory is untouched"

mkdir "$T/emptydir"
evs init "$T/emptydir"
expect_rc 0 "init in an empty directory"

EVSTORE_DIR=$T/fromenv "$EVS" init >"$T/out" 2>"$T/err" || fail "init with EVSTORE_DIR"
expect_eq "$(jq -r .created "$T/out")" "$T/fromenv" "EVSTORE_DIR"

for bad in 1K 2G x 0 -5 64Q; do
    evs init "$T/bad" --segment-size "$bad"
    expect_rc 2 "--segment-size $bad"
    one_stderr_line init "--segment-size $bad"
done
evs init "$T/bad" --sync sometimes
expect_rc 2 "--sync sometimes"
[ ! -e "$T/bad" ] || fail "a usage error created the store"
evs init "$T/bad" "$T/bad2"
expect_rc 2 "two DIRs"
evs init --help
expect_rc 0 "--help"
expect_in "usage: evstore init" "$T/out" "--help prints usage"
echo ok

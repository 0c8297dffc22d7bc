#!/bin/sh
# evstore import --format simple-event-sourcing: chunks read in natural order (2, 9, 10)
# whether given as a directory or as files in any order, a gzip chunk and a zstd chunk
# among plain ones, the event index across chunks in the metadata, type and stream
# choices; a chunk present twice (plain and compressed) stops it before anything is
# written; a bad line names file and line, commits what came before, and the import
# goes on from there once the rest is given.
. "$(dirname "$0")/lib.sh"

F=$(cd "$(dirname "$0")/fixtures/ses" && pwd)
c=$T/chunks
mkdir "$c"
cp "$F/chunk-2.jsonl" "$F/chunk-9.jsonl" "$F/snapshot.json" "$c/"
gzip -c "$F/chunk-10.jsonl" >"$c/chunk-10.jsonl.gz"

cat >"$T/want" <<'W'
["ses","event",{"ts":1700000000000,"name":"event0","account":"acct-1"},{"ses_index":0}]
["ses","Opened",{"ts":1700000000001,"name":"event1","account":"acct-2","type":"Opened"},{"ses_index":1}]
["ses","event",{"ts":1700000000002,"name":"event2","account":"acct-1"},{"ses_index":2}]
["ses","event","a bare string event",{"ses_index":3}]
["ses","Closed",{"ts":1700000000003,"name":"event3","account":"acct-2","type":"Closed"},{"ses_index":4}]
["ses","event",[1,2,3],{"ses_index":5}]
W
view='[.stream,.type,.data,.metadata]'

have_store "$T/d"
evs import "$T/d" --format simple-event-sourcing "$c"
expect_rc 0 "import a directory"
expect_eq "$(cat "$T/out")" '{"imported":6}' "six events (the snapshot file is left alone)"
expect_empty "$T/err" "nothing on stderr"
"$EVS" read "$T/d" | jq -c "$view" >"$T/got"
cmp -s "$T/got" "$T/want" || fail "directory: chunks in natural order: $(diff "$T/got" "$T/want")"

# The same files listed in shell order (10 before 2 before 9) come out the same.
have_store "$T/f"
evs import "$T/f" --format simple-event-sourcing "$c/chunk-10.jsonl.gz" "$c/chunk-2.jsonl" \
    "$c/chunk-9.jsonl"
expect_rc 0 "import listed files"
"$EVS" read "$T/f" | jq -c "$view" >"$T/got"
cmp -s "$T/got" "$T/want" || fail "files: natural order: $(diff "$T/got" "$T/want")"

# Padded numbers and zstd: 0002 < 9 < 010 by value, and a zstd chunk among plain ones;
# the zstd chunk named without a suffix is recognised by its content.
p=$T/padded
mkdir "$p"
cp "$F/chunk-2.jsonl" "$p/chunk-0002.jsonl"
cp "$F/chunk-9.jsonl" "$p/chunk-9.jsonl"
zstd -q -c "$F/chunk-10.jsonl" >"$p/chunk-010.jsonl.zst" || fail "zstd"
have_store "$T/p"
evs import "$T/p" --format simple-event-sourcing "$p"
expect_rc 0 "padded names, zstd"
"$EVS" read "$T/p" | jq -c "$view" >"$T/got"
cmp -s "$T/got" "$T/want" || fail "padded numbers: $(diff "$T/got" "$T/want")"
mv "$p/chunk-010.jsonl.zst" "$T/chunk-010"
have_store "$T/p2"
evs import "$T/p2" --format simple-event-sourcing "$p/chunk-0002.jsonl" "$p/chunk-9.jsonl" \
    "$T/chunk-010"
"$EVS" read "$T/p2" | jq -c "$view" >"$T/got"
cmp -s "$T/got" "$T/want" || fail "zstd by content: $(diff "$T/got" "$T/want")"

# --stream and --stream-field.
have_store "$T/s1"
evs import "$T/s1" --format simple-event-sourcing "$c" --stream orders
expect_eq "$("$EVS" streams "$T/s1" | jq -c '[.stream,.events]')" '["orders",6]' "--stream"
have_store "$T/s2"
evs import "$T/s2" --format simple-event-sourcing "$c" --stream-field account
expect_rc 4 "--stream-field with a bare string event"
one_stderr_line import "--stream-field missing"
expect_in "chunk-9.jsonl:3: field \"account\" (--stream-field) is missing" "$T/err" \
    "names the chunk and its line (blank lines count)"
expect_in "3 events were imported (through $c/chunk-9.jsonl:1), none after" "$T/err" \
    "says through which line"
expect_eq "$("$EVS" read "$T/s2" | jq -r .stream | tr '\n' ' ')" "acct-1 acct-2 acct-1 " \
    "streams from the field"

# ---- a chunk twice: plain and compressed ------------------------------------------------
cp "$F/chunk-10.jsonl" "$c/"
have_store "$T/twice"
evs import "$T/twice" --format simple-event-sourcing "$c"
expect_rc 4 "a chunk both plain and gzip"
one_stderr_line import "chunk twice"
expect_in "chunk 'chunk-10.jsonl' is there twice" "$T/err" "chunk twice message"
expect_in "nothing was imported" "$T/err" "chunk twice: nothing imported"
expect_eq "$(count_events "$T/twice")" 0 "chunk twice: the store is empty"
rm "$c/chunk-10.jsonl"

# ---- bad input -----------------------------------------------------------------------------
b=$T/bad
mkdir "$b"
cp "$F/chunk-2.jsonl" "$b/"
printf '%s\n' '{"name":"event2"}' '{"name":' '{"name":"event4"}' >"$b/chunk-3.jsonl"
have_store "$T/b"
evs import "$T/b" --format simple-event-sourcing "$b"
expect_rc 4 "a bad line"
one_stderr_line import "bad line"
expect_in "chunk-3.jsonl:2: not JSON" "$T/err" "bad line: file and line"
expect_in "3 events were imported (through $b/chunk-3.jsonl:1), none after" "$T/err" \
    "bad line: what was imported"
expect_eq "$(count_events "$T/b")" 3 "bad line: the lines before are committed"

have_store "$T/empty"
evs import "$T/empty" --format simple-event-sourcing "$p/nothing-here"
expect_rc 1 "a missing chunk file"
expect_in "nothing-here: cannot open" "$T/err" "missing chunk named"
mkdir "$T/nochunks"
have_store "$T/nc"
evs import "$T/nc" --format simple-event-sourcing "$T/nochunks"
expect_rc 1 "a directory without chunks"
expect_in "no chunk in directory" "$T/err" "empty directory message"
echo ok

#!/bin/sh
# test_append_retry.sh - appending again events that are already stored, by their ids.
#
# Covers: `evstore read s --stream cart-42 | evstore append s` on a store where cart-42's
# events stand at positions 1, 2, 4 and 6 writes nothing and acknowledges each event at
# its own position (1, 2, 4, 6), with its version, in one commit, in commits of one
# event and as one atomic commit; a retry mixed with new events in other streams; a
# batch whose ids are only partly stored exits 6 (id conflict) with a message naming
# the id and its line, and writes nothing, from append and from import; a wrong
# expected version still exits 3.
. "$(dirname "$0")/lib.sh"

s=$T/s
evs init "$s"
expect_rc 0 "init"

# cart-42 at positions 1, 2, 4 and 6; cart-7 between them. No ids given: the store makes
# them, and `read` prints them.
cat >"$T/first" <<'EOF'
{"stream":"cart-42","type":"ItemAdded","data":{"sku":"A1"}}
{"stream":"cart-42","type":"ItemAdded","data":{"sku":"B2"}}
{"stream":"cart-7","type":"ItemAdded","data":{"sku":"C3"}}
{"stream":"cart-42","type":"ItemRemoved","data":{"sku":"A1"}}
{"stream":"cart-7","type":"CheckedOut","data":{}}
{"stream":"cart-42","type":"CheckedOut","data":{}}
EOF
evs append "$s" <"$T/first"
expect_rc 0 "first append"
expect_eq "$(jq -s -c 'map(.pos)' "$T/out")" "[1,2,3,4,5,6]" "first positions"

# ---- the pipeline, exactly ----------------------------------------------------------------
rc=0
"$EVS" read "$s" --stream cart-42 | "$EVS" append "$s" >"$T/retry" 2>"$T/err" || rc=$?
[ "$rc" -eq 0 ] || fail "read --stream cart-42 | append: exit status $rc"
expect_empty "$T/err" "the retry says nothing on stderr"
expect_eq "$(jq -s -c 'map([.pos, .stream, .version])' "$T/retry")" \
    '[[1,"cart-42",0],[2,"cart-42",1],[4,"cart-42",2],[6,"cart-42",3]]' \
    "a retry acknowledges each event at its own position"
expect_eq "$(count_events "$s")" 6 "the retry wrote nothing"

# The same in commits of one event, and as one atomic commit.
"$EVS" read "$s" --stream cart-42 >"$T/cart42" || fail "read cart-42"
evs append "$s" --batch 1 <"$T/cart42"
expect_rc 0 "retry in commits of one"
expect_eq "$(cat "$T/out")" "$(cat "$T/retry")" "commits of one: the same positions"
evs append "$s" --atomic <"$T/cart42"
expect_rc 0 "retry as one atomic commit"
expect_eq "$(cat "$T/out")" "$(cat "$T/retry")" "one atomic commit: the same positions"

# The retry of the whole store, mixed with a new stream in the same commit: the new
# events get the next positions, the old ones keep theirs.
"$EVS" read "$s" >"$T/all" || fail "read all"
{
    cat "$T/all"
    echo '{"stream":"cart-9","type":"ItemAdded","data":{"sku":"D4"}}'
    sed -n 2p "$T/all"
} >"$T/mixed"
evs append "$s" --atomic <"$T/mixed"
expect_rc 0 "retry mixed with a new event"
expect_eq "$(jq -s -c 'map(.pos)' "$T/out")" "[1,2,3,4,5,6,7,2]" "mixed retry positions"
expect_eq "$(count_events "$s")" 7 "only the new event was written"

# ---- only some of the ids stored: an id conflict, exit 6 ------------------------------
{
    sed -n 1,2p "$T/cart42"
    echo '{"stream":"cart-42","type":"ItemAdded","data":{"sku":"E5"}}'
} >"$T/partial"
id2=$(sed -n 2p "$T/cart42" | jq -r .id)
evs append "$s" <"$T/partial"
expect_rc 6 "a batch whose ids are partly stored"
expect_in "event id $id2 (event index 1 of the batch) is already in stream 'cart-42' at version 1" \
    "$T/err" "the id conflict names the id and its version"
expect_in "evstore append: line 2: " "$T/err" "the id conflict names the line of the id"
expect_in "no lines were written" "$T/err" "the id conflict says nothing was written"
expect_eq "$(count_events "$s")" 7 "the id conflict wrote nothing"

# The same batch after another stream's line, in one commit: the line is still named.
{
    echo '{"stream":"cart-5","type":"ItemAdded","data":{"sku":"F6"}}'
    cat "$T/partial"
} >"$T/partial2"
evs append "$s" --atomic <"$T/partial2"
expect_rc 6 "a partly stored batch after another stream's"
expect_in "evstore append: line 3: " "$T/err" "the id conflict's line in a commit of two batches"
expect_in "$id2" "$T/err" "the id conflict in a commit of two batches names the id"
expect_eq "$(count_events "$s")" 7 "that commit wrote nothing either"

evs import "$s" --format ndjson "$T/partial"
expect_rc 6 "import of a batch whose ids are partly stored"
expect_in "is already in stream 'cart-42'" "$T/err" "import names the id conflict"
expect_eq "$(count_events "$s")" 7 "the import wrote nothing"

evs help
expect_in "6 id conflict" "$T/out" "evstore help lists exit code 6"
evs append --help
expect_in "6 id conflict" "$T/out" "append --help lists exit code 6"
evs import --help
expect_in "6 id conflict" "$T/out" "import --help lists exit code 6"

# A wrong expected version stays a version conflict.
echo '{"stream":"cart-42","type":"ItemAdded","data":{}}' >"$T/stale"
evs append "$s" --expected-version 1 <"$T/stale"
expect_rc 3 "a wrong expected version"
expect_in "expected version 1 but the stream is at version 3" "$T/err" "version conflict message"

exit 0

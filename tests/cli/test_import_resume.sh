#!/bin/sh
# evstore import run twice, and resumed after a failure: every imported event has a
# stable id (its own, or a UUIDv5 of its place in the source), so a second run writes
# only what is missing, also when a commit holds both stored and new events; the
# tiny-event-sourcing index kept as metadata; a store is made only with --create, and a
# failed first import takes it back.
. "$(dirname "$0")/lib.sh"

F=$(cd "$(dirname "$0")/fixtures" && pwd)

# ---- the same input twice ---------------------------------------------------------------
have_store "$T/tiny"
evs import "$T/tiny" --format tiny-event-sourcing "$F/tiny-log.ndjson"
expect_eq "$(cat "$T/out")" '{"imported":3}' "tiny: first run"
evs import "$T/tiny" --format tiny-event-sourcing "$F/tiny-log.ndjson"
expect_rc 0 "tiny: second run"
expect_eq "$(cat "$T/out")" '{"imported":0,"duplicates":3}' "tiny: the second run writes nothing"
expect_eq "$(count_events "$T/tiny")" 3 "tiny: still 3 events"
# uuid.uuid5(UUID("76f5dc13-1c53-46ed-aa45-e51f70306f33"), "tiny-event-sourcing/0/tiny")
# and ".../1/tiny", computed with Python's uuid module.
expect_eq "$("$EVS" read "$T/tiny" --limit 2 | jq -r .id | tr '\n' ' ')" \
    "2217ef0e-0b4d-51b6-ac18-d5540097e08b c578bfea-6e96-5362-9eb8-ee52c7296b6c " \
    "tiny: the ids are UUIDv5 of format, index and stream"
expect_eq "$("$EVS" read "$T/tiny" | jq -c .metadata | tr '\n' ' ')" \
    '{"tiny_index":0} {"tiny_index":1} {"tiny_index":2} ' "tiny: the index is kept"

have_store "$T/el"
evs import "$T/el" --format eventlog "$F/eventlog/events-%y-%m-%d.log"
expect_eq "$(cat "$T/out")" '{"imported":3}' "eventlog: first run"
evs import "$T/el" --format eventlog "$F/eventlog/events-%y-%m-%d.log"
expect_eq "$(cat "$T/out")" '{"imported":0,"duplicates":3}' "eventlog: the second run writes nothing"
expect_eq "$(count_events "$T/el")" 3 "eventlog: still 3 events"

have_store "$T/ses"
evs import "$T/ses" --format simple-event-sourcing "$F/ses"
n=$(jq .imported "$T/out")
evs import "$T/ses" --format simple-event-sourcing "$F/ses"
expect_eq "$(jq -c '[.imported,.duplicates]' "$T/out")" "[0,$n]" "ses: the second run writes nothing"

# ---- resumed after a bad line: the failing line is where the rest starts -----------------
have_store "$T/tb"
evs import "$T/tb" --format tiny-event-sourcing "$F/tiny-bad-index.ndjson"
expect_rc 4 "tiny: a bad index"
expect_eq "$(count_events "$T/tb")" 2 "tiny: the lines before it are in"
sed 's/"index":3}/"index":2}/; s/"index":4}/"index":3}/' "$F/tiny-bad-index.ndjson" >"$T/mended"
evs import "$T/tb" --format tiny-event-sourcing "$T/mended"
expect_rc 0 "tiny: the mended log"
expect_eq "$(cat "$T/out")" '{"imported":2,"duplicates":2}' "tiny: only the rest is written"
expect_eq "$("$EVS" read "$T/tb" | jq -c '[.version,.data.url]' | tr '\n' ' ')" \
    '[0,"u1"] [1,"u2"] [2,"u3"] [3,"u4"] ' "tiny: each event once, in order"

# Large: the bad line falls inside a commit (10,000 events), over two streams.
awk 'BEGIN { for (i = 0; i < 25000; i++) {
    idx = (i == 15000) ? 999999 : i
    printf "{\"type\":\"T\",\"s\":\"s%d\",\"n\":%d,\"index\":%d}\n", i % 2, i, idx } }' >"$T/big"
have_store "$T/big.s"
evs import "$T/big.s" --format tiny-event-sourcing "$T/big" --stream-field s
expect_rc 4 "large: a bad index"
expect_in "big:15001: index 999999 disagrees" "$T/err" "large: names the line"
expect_eq "$(count_events "$T/big.s")" 15000 "large: the lines before it are in"
sed 's/"index":999999}/"index":15000}/' "$T/big" >"$T/big.mended"
evs import "$T/big.s" --format tiny-event-sourcing "$T/big.mended" --stream-field s
expect_rc 0 "large: the mended log"
expect_eq "$(cat "$T/out")" '{"imported":10000,"duplicates":15000}' "large: only the rest is written"
"$EVS" read "$T/big.s" | jq -r '.metadata.tiny_index' >"$T/got"
seq 0 24999 >"$T/want"
cmp -s "$T/got" "$T/want" || fail "large: every index once, in order"

# ---- a store only when asked ----------------------------------------------------------
evs import "$T/typo" --format tiny-event-sourcing "$F/tiny-log.ndjson"
expect_rc 1 "import into a missing store without --create"
one_stderr_line import "missing store"
expect_in "there is no store in '$T/typo'" "$T/err" "missing store message"
[ ! -e "$T/typo" ] || fail "import without --create made a store"
evs import "$T/new" --create --format tiny-event-sourcing "$F/tiny-log.ndjson"
expect_rc 0 "import --create"
expect_eq "$(cat "$T/err")" "evstore import: created a new store in '$T/new'" "--create says so"
evs import "$T/gone" --create --format tiny-event-sourcing "$F/tiny-bad-index.ndjson" \
    --stream-field nope
expect_rc 4 "a first import that stores nothing"
expect_in "evstore import: nothing was stored: removed the new store in '$T/gone' again" \
    "$T/err" "the failed first import says it removed the store"
[ ! -e "$T/gone" ] || fail "a failed first import left a store behind"
evs import "$T/kept" --create --format tiny-event-sourcing "$F/tiny-bad-index.ndjson"
expect_rc 4 "a first import that stores part"
expect_eq "$(count_events "$T/kept")" 2 "what a failed first import stored stays (resume)"
echo ok

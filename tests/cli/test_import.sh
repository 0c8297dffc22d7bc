#!/bin/sh
# evstore import: export | import round trip (ids, streams, versions, types, data,
# metadata, the original ts as metadata.imported_ts), gzip by content, stdin; the
# tiny-event-sourcing and eventlog fixtures; bad input (gap, bad JSON, bad index,
# truncated gzip) commits what came before and names file and line; usage errors.
. "$(dirname "$0")/lib.sh"

F=$(cd "$(dirname "$0")/fixtures" && pwd)
src=$T/src
cat >"$T/in" <<'IN'
{"stream":"order-1","type":"A","data":{"k":"v \u00e9"},"metadata":{"m":1}}
{"stream":"order-2","type":"B","data":[1,2,3],"metadata":{}}
{"stream":"order-1","type":"C","data":null,"id":"0b7e0f4e-2c1a-4d5e-9f00-1a2b3c4d5e6f"}
{"stream":"order-1","type":"D","data":"x","metadata":{"imported_ts":"2001-01-01T00:00:00Z"}}
IN
evs append --create "$src" --quiet <"$T/in"
expect_rc 0 "append the source"
"$EVS" export "$src" -o "$T/all.ndjson" >/dev/null || fail "export"
"$EVS" export "$src" -o "$T/all.ndjson.gz" --gzip >/dev/null || fail "export --gzip"

# The comparable part of an event, with the original ts where import keeps it.
view='[.pos,.stream,.version,.id,.type,.data,(.metadata // {} | del(.imported_ts))]'
jq -c "$view" "$T/all.ndjson" >"$T/want"
for f in all.ndjson all.ndjson.gz; do
    rm -rf "$T/dst"
    have_store "$T/dst"
    evs import "$T/dst" --format ndjson "$T/$f"
    expect_rc 0 "import $f"
    expect_eq "$(cat "$T/out")" '{"imported":4}' "import $f prints the count"
    expect_empty "$T/err" "import $f: nothing on stderr (not a terminal)"
    "$EVS" read "$T/dst" | jq -c "$view" >"$T/got"
    cmp -s "$T/got" "$T/want" || fail "import $f reproduces the events: $(diff "$T/got" "$T/want")"
    "$EVS" read "$T/dst" | jq -r '.metadata.imported_ts' >"$T/got_ts"
    jq -r 'if .metadata.imported_ts then .metadata.imported_ts else .ts end' \
        "$T/all.ndjson" >"$T/want_ts"
    cmp -s "$T/got_ts" "$T/want_ts" || fail "import $f keeps the original ts in imported_ts"
done
"$EVS" read "$T/dst" --stream order-2 | jq -c .metadata >"$T/m"
expect_eq "$(jq -c 'keys' "$T/m")" '["imported_ts"]' "empty metadata gets only imported_ts"

# Standard input, and a second import into the same streams continues their versions.
"$EVS" export "$src" --stream order-1 --from-version 2 | jq -c 'del(.id) | .version = 3' \
    >"$T/next.ndjson"
rm -rf "$T/dst"
cat "$T/all.ndjson" "$T/next.ndjson" | "$EVS" import --create "$T/dst" --format ndjson - >"$T/out" ||
    fail "import from stdin"
expect_eq "$(cat "$T/out")" '{"imported":5}' "import - reads stdin"

# ---- bad input: what came before is committed, one message names file and line --------
have_store "$T/gap"
evs import "$T/gap" --format ndjson "$F/ndjson-gap.ndjson"
expect_rc 4 "a version gap"
one_stderr_line import "a version gap"
expect_in "ndjson-gap.ndjson:3: stream 'g-1' has version 3" "$T/err" "gap message"
expect_in "2 events were imported" "$T/err" "gap message says what was imported"
expect_eq "$(count_events "$T/gap")" 2 "the lines before the gap are committed"
# A gap at the first event of a run of its stream is found by the commit, and still
# reported at its own line, with everything before it committed.
printf '%s\n' '{"stream":"a","version":0,"type":"A","data":1}' \
    '{"stream":"b","version":0,"type":"A","data":2}' \
    '{"stream":"a","version":2,"type":"A","data":3}' \
    '{"stream":"b","version":1,"type":"A","data":4}' >"$T/gap2.ndjson"
have_store "$T/gap2"
evs import "$T/gap2" --format ndjson "$T/gap2.ndjson"
expect_rc 4 "a gap across streams"
one_stderr_line import "a gap across streams"
expect_in "gap2.ndjson:3: stream 'a' has version 2, but the next version of that stream is 1" \
    "$T/err" "gap across streams: names the line"
expect_in "2 events were imported (through $T/gap2.ndjson:2), none after" "$T/err" \
    "gap across streams: what was imported"
expect_eq "$("$EVS" read "$T/gap2" | jq -c '[.stream,.version]' | tr '\n' ' ')" \
    '["a",0] ["b",0] ' "gap across streams: the lines before are committed"
# ...and an input that starts over a stream the store holds already.
have_store "$T/gap2"
evs import "$T/gap2" --format ndjson "$T/gap2.ndjson"
expect_rc 4 "versions the store has already"
expect_in "gap2.ndjson:1: stream 'a' has version 0, but the next version of that stream is 1" \
    "$T/err" "overlap with the store: names the first line"
expect_in "nothing was imported" "$T/err" "overlap with the store: nothing imported"
have_store "$T/bad"
evs import "$T/bad" --format ndjson "$F/ndjson-bad.ndjson"
expect_rc 4 "bad JSON"
one_stderr_line import "bad JSON"
expect_in "ndjson-bad.ndjson:3: not a JSON object" "$T/err" "bad JSON message"
expect_eq "$(count_events "$T/bad")" 2 "the lines before bad JSON are committed"
echo '{"stream":"x","type":"A","data":1,"extra":2}' >"$T/extra.ndjson"
have_store "$T/extra"
evs import "$T/extra" --format ndjson "$T/extra.ndjson"
expect_rc 4 "an unknown field"
expect_in "extra.ndjson:1: unknown field \"extra\"" "$T/err" "unknown field message"
expect_in "nothing was imported" "$T/err" "nothing imported"
# A truncated gzip file: the complete lines before the cut are in, the cut is reported.
seq 1 30000 | sed 's/.*/{"stream":"big","version":&,"type":"N","data":&}/' |
    sed 's/"version":\([0-9]*\)/"version":\1/' | awk -F'"version":' '{
        split($2, a, ","); printf "%s\"version\":%d,%s\n", $1, a[1] - 1, substr($2, length(a[1]) + 2) }' |
    gzip -c >"$T/big.gz"
head -c $(($(wc -c <"$T/big.gz") / 2)) "$T/big.gz" >"$T/cut.gz"
have_store "$T/cut"
evs import "$T/cut" --format ndjson "$T/cut.gz"
expect_rc 1 "a truncated gzip file"
one_stderr_line import "truncated gzip"
expect_in "cut.gz:" "$T/err" "truncated gzip: names the file"
expect_in "cannot read" "$T/err" "truncated gzip: says it cannot read"
n=$(count_events "$T/cut")
[ "$n" -gt 0 ] && [ "$n" -lt 30000 ] || fail "truncated gzip: the part before is in ($n)"
have_store "$T/full"
evs import "$T/full" --format ndjson "$T/big.gz"
expect_eq "$(cat "$T/out")" '{"imported":30000}' "30000 events from gzip"
have_store "$T/nofile"
evs import "$T/nofile" --format ndjson "$T/nope.ndjson"
expect_rc 1 "a missing input file"
expect_in "nope.ndjson" "$T/err" "a missing file is named"

# ---- tiny-event-sourcing -------------------------------------------------------------
have_store "$T/tiny"
evs import "$T/tiny" --format tiny-event-sourcing "$F/tiny-log.ndjson"
expect_rc 0 "import tiny"
expect_eq "$(cat "$T/out")" '{"imported":3}' "tiny: count"
"$EVS" read "$T/tiny" | jq -c '[.stream,.version,.type,.data]' >"$T/got"
cat >"$T/want" <<'W'
["tiny",0,"bookmark",{"url":"https://example.com/a"}]
["tiny",1,"info",{"url":"https://example.com/a","title":"A \"quoted\" title","faviconUrl":null}]
["tiny",2,"bookmark",{"url":"https://example.com/b"}]
W
cmp -s "$T/got" "$T/want" || fail "tiny: events: $(cat "$T/got")"
have_store "$T/tiny2"
evs import "$T/tiny2" --format tiny-event-sourcing "$F/tiny-log.ndjson" --stream-field url
"$EVS" read "$T/tiny2" | jq -r .stream | tr '\n' ' ' >"$T/got"
expect_eq "$(cat "$T/got")" "https://example.com/a https://example.com/a https://example.com/b " \
    "tiny --stream-field"
have_store "$T/tiny3"
evs import "$T/tiny3" --format tiny-event-sourcing "$F/tiny-log.ndjson" --stream bookmarks
expect_eq "$("$EVS" streams "$T/tiny3" | jq -c '[.stream,.events]')" '["bookmarks",3]' \
    "tiny --stream"
have_store "$T/tinybad"
evs import "$T/tinybad" --format tiny-event-sourcing "$F/tiny-bad-index.ndjson"
expect_rc 4 "tiny: an index out of line order"
one_stderr_line import "tiny bad index"
expect_in "tiny-bad-index.ndjson:3: index 3 disagrees with the line order" "$T/err" \
    "tiny bad index message"
expect_eq "$(count_events "$T/tinybad")" 2 "tiny: the lines before are committed"

# ---- eventlog --------------------------------------------------------------------------
have_store "$T/el"
evs import "$T/el" --format eventlog "$F/eventlog/events-%y-%m-%d.log"
expect_rc 0 "import eventlog"
expect_eq "$(cat "$T/out")" '{"imported":3}' "eventlog: count"
"$EVS" read "$T/el" | jq -c '[.stream,.type,.data,.metadata]' >"$T/got"
cat >"$T/want" <<'W'
["eventlog","first",{"type":"first","id":1337,"customstuff":"anything"},{"eventlog_id":"a1","eventlog_pos":2023123100000000,"imported_ts":"2023-12-31T00:00:00.000000000Z"}]
["eventlog","event",{"n":2},{"eventlog_id":"b2","eventlog_pos":2023123100000001,"imported_ts":"2023-12-31T00:00:00.000000000Z"}]
["eventlog","third",{"type":"third","n":3},{"eventlog_id":"c3","eventlog_pos":2024010200000000,"imported_ts":"2024-01-02T00:00:00.000000000Z"}]
W
cmp -s "$T/got" "$T/want" || fail "eventlog: events in date order: $(cat "$T/got")"
have_store "$T/el2"
evs import "$T/el2" --format eventlog "$F/eventlog/events-%y-%m-%d.log" --stream-field type
expect_eq "$("$EVS" streams "$T/el2" | jq -r .stream | sort | tr '\n' ' ')" "first " \
    "eventlog --stream-field: events without the field stop the import"
expect_rc 4 "eventlog --stream-field missing"
expect_in "events-2023-12-31.log:2:" "$T/err" "eventlog: missing field names file and line"
have_store "$T/el3"
evs import "$T/el3" --format eventlog "$F/eventlog/events.log"
expect_rc 2 "eventlog without %y %m %d"
have_store "$T/el4"
evs import "$T/el4" --format eventlog "$T/events-%y-%m-%d.log"
expect_rc 1 "eventlog: no file matches"
one_stderr_line import "no file matches"

# ---- usage -------------------------------------------------------------------------------
for args in "$T/u" "$T/u $F/tiny-log.ndjson" "$T/u --format csv $F/tiny-log.ndjson" \
    "$T/u --format ndjson" "$T/u --format ndjson --stream-field x $F/tiny-log.ndjson" \
    "$T/u --format tiny-event-sourcing --stream a --stream-field b $F/tiny-log.ndjson"; do
    # shellcheck disable=SC2086
    evs import --create $args
    expect_rc 2 "usage: import $args"
    one_stderr_line import "usage: import $args"
done
[ ! -e "$T/u" ] || fail "a usage error created the store"
evs import --create --help
expect_rc 0 "--help"
expect_in "usage: evstore import" "$T/out" "--help prints usage"
echo ok

#!/bin/sh
# evstore import --format eventlog: compressed day files (.gz, .zst) read with the plain
# ones, never passed over in silence (other endings, a day twice: refused by name); %Y
# as well as %y; files named one by one (a shell glob), dated by their names; each
# event's day as its original time; --stream-field as a dotted path; --keep-ts.
. "$(dirname "$0")/lib.sh"

F=$(cd "$(dirname "$0")/fixtures" && pwd)
d=$T/logs
mkdir "$d"
cp "$F/eventlog/events-2023-12-31.log" "$F/eventlog/events-2024-01-02.log" "$d/"
for i in 0 1 2 3 4; do
    echo "{\"event\":{\"type\":\"gz\",\"item\":{\"sku\":\"S$i\"}},\"meta\":{\"id\":\"g$i\"}}"
done | gzip -c >"$d/events-2024-01-01.log.gz"
echo '{"event":{"type":"zst","item":{"sku":"Z"}},"meta":{"id":"z0"}}' | zstd -q -c \
    >"$d/events-2024-01-03.log.zst" || fail "zstd"

view='[.type,.metadata.eventlog_pos,.metadata.imported_ts]'
cat >"$T/want" <<'W'
["first",2023123100000000,"2023-12-31T00:00:00.000000000Z"]
["event",2023123100000001,"2023-12-31T00:00:00.000000000Z"]
["gz",2024010100000000,"2024-01-01T00:00:00.000000000Z"]
["gz",2024010100000001,"2024-01-01T00:00:00.000000000Z"]
["gz",2024010100000002,"2024-01-01T00:00:00.000000000Z"]
["gz",2024010100000003,"2024-01-01T00:00:00.000000000Z"]
["gz",2024010100000004,"2024-01-01T00:00:00.000000000Z"]
["third",2024010200000000,"2024-01-02T00:00:00.000000000Z"]
["zst",2024010300000000,"2024-01-03T00:00:00.000000000Z"]
W
for tmpl in "$d/events-%y-%m-%d.log" "$d/events-%Y-%m-%d.log"; do
    rm -rf "$T/s"
    have_store "$T/s"
    evs import "$T/s" --format eventlog "$tmpl"
    expect_rc 0 "import $tmpl"
    expect_eq "$(cat "$T/out")" '{"imported":9}' "$tmpl: plain, .gz and .zst day files"
    "$EVS" read "$T/s" | jq -c "$view" >"$T/got"
    cmp -s "$T/got" "$T/want" || fail "$tmpl: in date order, each with its day: $(cat "$T/got")"
done

# Files named one by one, in any order (a glob), dated by their names.
have_store "$T/l"
evs import "$T/l" --format eventlog "$d"/events-2024-01-0* "$d/events-2023-12-31.log"
expect_rc 0 "a list of files"
"$EVS" read "$T/l" | jq -c "$view" >"$T/got"
cmp -s "$T/got" "$T/want" || fail "a list of files: in date order: $(cat "$T/got")"
cp "$d/events-2023-12-31.log" "$T/nodate.log"
evs import "$T/l" --format eventlog "$T/nodate.log"
expect_rc 2 "a file without a day in its name"
expect_in "cannot tell the day of '$T/nodate.log' from its name" "$T/err" "no day: message"

# --stream-field as a dotted path.
have_store "$T/f"
evs import "$T/f" --format eventlog "$d/events-2024-01-01.log.gz" --stream-field item.sku
expect_rc 0 "--stream-field item.sku"
expect_eq "$("$EVS" read "$T/f" | jq -r .stream | tr '\n' ' ')" "S0 S1 S2 S3 S4 " \
    "the stream from a nested field"

# --keep-ts: the day becomes ts, and time queries find the events by it.
have_store "$T/k"
evs import "$T/k" --format eventlog "$d/events-%Y-%m-%d.log" --keep-ts
expect_rc 0 "--keep-ts"
expect_eq "$("$EVS" read "$T/k" | jq -r .ts | uniq | tr '\n' ' ')" \
    "2023-12-31T00:00:00.000000000Z 2024-01-01T00:00:00.000000000Z 2024-01-02T00:00:00.000000000Z 2024-01-03T00:00:00.000000000Z " \
    "--keep-ts: each event's ts is its day"
expect_eq "$("$EVS" read "$T/k" --since 2024-01-02T00:00:00Z | jq -r .type | tr '\n' ' ')" \
    "third zst " "--keep-ts: --since finds the events by their day"

# ---- nothing passed over in silence -------------------------------------------------------
cp "$d/events-2024-01-02.log" "$d/events-2024-01-02.log.bak"
have_store "$T/b"
evs import "$T/b" --format eventlog "$d/events-%y-%m-%d.log"
expect_rc 4 "a day file with another ending"
one_stderr_line import "another ending"
expect_in "'$d/events-2024-01-02.log.bak' looks like a day file" "$T/err" "named"
expect_eq "$(count_events "$T/b")" 0 "nothing imported"
rm "$d/events-2024-01-02.log.bak"
gzip -c "$d/events-2024-01-02.log" >"$d/events-2024-01-02.log.gz"
evs import "$T/b" --format eventlog "$d/events-%y-%m-%d.log"
expect_rc 4 "a day twice"
expect_in "are both the file of day 20240102" "$T/err" "a day twice: named"
expect_eq "$(count_events "$T/b")" 0 "a day twice: nothing imported"
echo ok

#!/bin/sh
# evstore import --keep-ts: an event's original time (ndjson's ts, futoin's ts) becomes
# its ts, so --since and the time index answer with the history's dates; times going
# backwards, within the input or against the store, stop the import at that line with
# everything before it stored; formats without times refuse the option.
. "$(dirname "$0")/lib.sh"

F=$(cd "$(dirname "$0")/fixtures" && pwd)
printf '%s\n' '{"stream":"a","type":"T","data":1,"ts":"2020-01-01T00:00:00Z"}' \
    '{"stream":"b","type":"T","data":2,"ts":"2020-06-01T12:00:00.5Z"}' \
    '{"stream":"a","type":"T","data":3,"ts":"2021-01-01T00:00:00Z"}' >"$T/in"
have_store "$T/s"
evs import "$T/s" --format ndjson "$T/in" --keep-ts
expect_rc 0 "--keep-ts"
expect_eq "$("$EVS" read "$T/s" | jq -r .ts | tr '\n' ' ')" \
    "2020-01-01T00:00:00.000000000Z 2020-06-01T12:00:00.500000000Z 2021-01-01T00:00:00.000000000Z " \
    "the original times are the ts"
expect_eq "$("$EVS" read "$T/s" --since 2020-03-01T00:00:00Z | jq -c .data | tr '\n' ' ')" "2 3 " \
    "--since finds events by their original time"
expect_eq "$("$EVS" read "$T/s" --until 2020-03-01T00:00:00Z | jq -c .data)" 1 "--until too"
# Without it, the import's own time, and the original in the metadata.
have_store "$T/n"
evs import "$T/n" --format ndjson "$T/in"
expect_eq "$("$EVS" read "$T/n" --since 2020-03-01T00:00:00Z | jq -c .data | tr '\n' ' ')" \
    "1 2 3 " "without --keep-ts, ts is the import's time"

# Backwards within the input: stops at that line, the lines before are in.
printf '%s\n' '{"stream":"c","type":"T","data":1,"ts":"2022-01-01T00:00:00Z"}' \
    '{"stream":"c","type":"T","data":2,"ts":"2021-12-31T00:00:00Z"}' \
    '{"stream":"c","type":"T","data":3,"ts":"2023-01-01T00:00:00Z"}' >"$T/back"
have_store "$T/b"
evs import "$T/b" --format ndjson "$T/back" --keep-ts
expect_rc 4 "times going backwards"
one_stderr_line import "times going backwards"
expect_in "back:2: the store refused the event: append to stream 'c': event 0: ts 2021-12-31T00:00:00.000000000Z is before 2022-01-01T00:00:00.000000000Z" \
    "$T/err" "names the line and both times"
expect_in "1 event was imported (through $T/back:1), none after" "$T/err" "what was imported"
expect_eq "$(count_events "$T/b")" 1 "the line before is in"
# Backwards against the store: the store's events are newer than the input.
evs import "$T/n" --format ndjson "$T/back" --keep-ts
expect_rc 4 "older than the store"
expect_in "back:1: the store refused the event" "$T/err" "older than the store: the first line"
expect_in "nothing was imported" "$T/err" "older than the store: nothing imported"
# A line without a time.
echo '{"stream":"c","type":"T","data":1}' >"$T/nots"
evs import "$T/b" --format ndjson "$T/nots" --keep-ts
expect_rc 4 "a line without ts"
expect_in "nots:1: --keep-ts: the event has no time of its own to keep" "$T/err" "no ts message"

# futoin's ts.
command -v sqlite3 >/dev/null 2>&1 || fail "the sqlite3 tool is needed (scripts/deps.txt)"
sqlite3 "$T/a.db" <"$F/futoin-active.sql" || fail "create the active database"
have_store "$T/f"
evs import "$T/f" --format futoin "$T/a.db" --keep-ts
expect_rc 0 "futoin --keep-ts"
expect_eq "$("$EVS" read "$T/f" | jq -r .ts | tr '\n' ' ')" \
    "2024-01-02T03:04:05.000000000Z 2024-01-02T03:04:06.000000000Z 2024-01-03T10:00:00.000000000Z 2024-01-03T10:00:01.250000000Z " \
    "futoin: ts from its ts column"

# Formats without times.
for fmt in tiny-event-sourcing simple-event-sourcing; do
    evs import "$T/s" --format "$fmt" "$F/tiny-log.ndjson" --keep-ts
    expect_rc 2 "$fmt --keep-ts"
    expect_in "--keep-ts: $fmt keeps no time of its events" "$T/err" "$fmt: says why"
done
echo ok

#!/bin/sh
# Names that look like options: every command takes its names and paths after "--",
# also ones that start with '-' (a store '-store', a consumer '-internal.BENCH' as the
# futoin importer once made), and a command that meets such a name before "--" says
# how to give it.
. "$(dirname "$0")/lib.sh"

cd "$T" || fail "cd $T"
d=-store

# ---- a store whose directory starts with '-', through every command --------------------
evs init -- "$d"
expect_rc 0 "init -- -store"
[ -f "$T/$d/evstore.meta" ] || fail "init -- -store created ./-store"
echo '{"stream":"s-1","type":"T","data":1}' >"$T/in.ndjson"
evs append --quiet -- "$d" <"$T/in.ndjson"
expect_rc 0 "append -- -store"
for cmd in read tail stat verify streams consumers export; do
    evs $cmd -- "$d"
    expect_rc 0 "$cmd -- -store"
done
evs read -- "$d"
expect_eq "$(jq -c .data "$T/out")" 1 "read -- -store prints the event"
evs import --format ndjson -- "$d" in.ndjson
expect_rc 0 "import -- -store FILE"
cp in.ndjson ./-in.ndjson
evs import --format ndjson -- "$d" -in.ndjson
expect_rc 0 "import -- -store -FILE"
expect_eq "$(count_events "$T/$d")" 3 "both imports wrote"
evs subscribe --consumer c --timeout 0 -- "$d"
expect_rc 0 "subscribe -- -store"
expect_eq "$(lines "$T/out")" 3 "subscribe -- -store prints the events"
evs repair --dry-run -- "$d"
expect_rc 0 "repair --dry-run -- -store"

# ---- a consumer whose name starts with '-' ---------------------------------------------
n=-internal.BENCH
d=./-store # the same store, by a path that does not start with '-'
evs subscribe "$d" --consumer "$n" --limit 2
expect_rc 0 "subscribe --consumer -internal.BENCH (an option's value may start with '-')"
evs consumer reset "$d" "$n"
expect_rc 2 "consumer reset without '--'"
one_stderr_line "consumer reset" "consumer reset without '--'"
expect_in "unknown option '$n'" "$T/err" "the name is named"
expect_in "goes after '--' (evstore consumer reset ... -- $n)" "$T/err" \
    "the message says how to give the name"
evs consumer reset "$d" -- "$n"
expect_rc 0 "consumer reset DIR -- -internal.BENCH"
expect_eq "$(jq -c . "$T/out")" '{"consumer":"-internal.BENCH","checkpoint":0}' "reset it"
evs consumer reset --to 1 -- "$d" "$n"
expect_rc 0 "consumer reset --to 1 -- DIR NAME"
evs consumers "$d"
expect_eq "$(jq -c "select(.consumer == \"$n\") | .checkpoint" "$T/out")" 1 "reset to 1"
evs consumer delete "$d" -- "$n"
expect_rc 0 "consumer delete DIR -- -internal.BENCH"
expect_eq "$(jq -c . "$T/out")" '{"deleted":"-internal.BENCH"}' "deleted it"

# ---- the hint for long options too, and '--' taken once ---------------------------------
evs read "$d" --old
expect_rc 2 "an unknown long option"
expect_in "unknown option '--old'; a name or path that starts with '-' goes after '--'" \
    "$T/err" "the long option's message"
evs read -- "$d" --limit
expect_rc 2 "after '--' an option is a second DIR"
expect_in "unexpected argument '--limit'" "$T/err" "options are not read after '--'"

echo "ok"

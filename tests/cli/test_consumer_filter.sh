#!/bin/sh
# A durable consumer keeps its filters: the first subscribe's filters are kept with the
# checkpoint and shown by `consumers`; a subscribe with other filters fails (exit 4)
# showing both and prints nothing; --refilter takes the new ones, says so, and keeps
# the checkpoint; a consumer kept without filters (an older evstore's file) takes the
# filters of its next subscribe.
. "$(dirname "$0")/lib.sh"

d=$T/store
seq 1 8 | sed 's/.*/{"stream":"s-&","type":"T","data":&}/' |
    sed 's/"stream":"s-\([2468]\)"/"stream":"even-\1"/' | "$EVS" append "$d" --create --quiet ||
    fail "append the fixture"

filter_of() { # NAME
    "$EVS" consumers "$d" | jq -c "select(.consumer == \"$1\") | .filter"
}
pos_of() {
    jq -c .pos "$T/out" | tr '\n' ' '
}

evs subscribe "$d" --consumer billing --category even --limit 2
expect_rc 0 "first run with --category even"
expect_eq "$(pos_of)" "2 4 " "the even events"
expect_eq "$(filter_of billing)" '{"category":"even"}' "consumers shows the filter kept"

evs subscribe "$d" --consumer billing --timeout 0
expect_rc 4 "a run without the consumer's filters"
one_stderr_line subscribe "the refusal"
expect_in "consumer 'billing' keeps the filter {\"category\":\"even\"}" "$T/err" \
    "the message shows the kept filter"
expect_in "asks for {}" "$T/err" "and the one asked for"
expect_in "--refilter" "$T/err" "and the way to change it"
expect_empty "$T/out" "nothing printed"
expect_eq "$("$EVS" consumers "$d" | jq -c 'select(.consumer == "billing") | .checkpoint')" 4 \
    "the checkpoint is unchanged"

evs subscribe "$d" --consumer billing --category even --timeout 0
expect_rc 0 "the same filter resumes"
expect_eq "$(pos_of)" "6 8 " "from the checkpoint"

evs consumer reset "$d" billing --to 4
evs subscribe "$d" --consumer billing --refilter --timeout 0
expect_rc 0 "--refilter"
expect_eq "$(pos_of)" "5 6 7 8 " "the new filter from the same checkpoint: 1 and 3 stay skipped"
one_stderr_line subscribe "--refilter's note"
expect_in "consumer 'billing' now keeps the filter {} (was {\"category\":\"even\"}); its checkpoint stays at 4" \
    "$T/err" "--refilter says what it did"
expect_eq "$(filter_of billing)" '{}' "the new filter is kept"
evs subscribe "$d" --consumer billing --refilter --timeout 0
expect_rc 0 "--refilter with the filter kept"
expect_empty "$T/err" "--refilter that changes nothing says nothing"

# Types in any order are the same filter; times are shown as RFC 3339.
evs subscribe "$d" --consumer typed --type B --type A --since 2026-01-01T00:00:00Z --timeout 0
expect_eq "$(filter_of typed)" '{"types":["A","B"],"since":"2026-01-01T00:00:00.000000000Z"}' \
    "types sorted, since as RFC 3339"
evs subscribe "$d" --consumer typed --type A --type B --since 2026-01-01T00:00:00Z --timeout 0
expect_rc 0 "the same types in another order"

# A checkpoint file from an evstore that kept no filters: the slots only (576 bytes).
evs subscribe "$d" --consumer old --limit 1
truncate -s 576 "$d/consumers/old.ckpt" || fail "truncate"
expect_eq "$(filter_of old)" null "no filter kept: null"
evs subscribe "$d" --consumer old --stream s-3 --timeout 0
expect_rc 0 "an old consumer opens with any filter"
expect_eq "$(pos_of)" "3 " "from its checkpoint, filtered"
expect_eq "$(filter_of old)" '{"stream":"s-3"}' "and keeps it from then on"
evs subscribe "$d" --consumer old --timeout 0
expect_rc 4 "then another filter is refused"

evs subscribe "$d" --refilter --timeout 0
expect_rc 2 "--refilter without --consumer"
evs subscribe --help
expect_in "--refilter" "$T/out" "--help documents --refilter"
evs consumers --help
expect_in "filter" "$T/out" "consumers --help documents the filter field"
echo ok

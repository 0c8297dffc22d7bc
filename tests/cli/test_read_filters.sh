#!/bin/sh
# evstore read, the newer filters: --to, --from-version, --category, --prefix, several
# --type, --since/--until (RFC 3339 and relative), --backwards, --data-only, --count,
# and their usage errors.
. "$(dirname "$0")/lib.sh"

d=$T/store
cat >"$T/in" <<'IN'
{"stream":"order-1","type":"ItemAdded","data":1}
{"stream":"order-2","type":"ItemAdded","data":2}
{"stream":"order-1","type":"ItemRemoved","data":3}
{"stream":"order","type":"OrderPlaced","data":4}
{"stream":"orders-9","type":"OrderPlaced","data":5}
{"stream":"user-1","type":"Registered","data":{"name":"x"}}
IN
evs append --create "$d" --quiet <"$T/in"
expect_rc 0 "append the fixture"

data_of() {
    jq -c .data "$T/out" | tr '\n' ' '
}

evs read "$d" --to 3
expect_eq "$(data_of)" "1 2 3 " "--to 3 is inclusive"
evs read "$d" --from 2 --to 4
expect_eq "$(data_of)" "2 3 4 " "--from 2 --to 4"
evs read "$d" --from 4 --to 2
expect_rc 0 "--to below --from"
expect_empty "$T/out" "--to below --from prints nothing"
evs read "$d" --stream order-1 --from-version 1
expect_eq "$(data_of)" "3 " "--stream --from-version 1"
expect_eq "$(jq -c .version "$T/out")" "1" "--from-version prints the version asked for"
evs read "$d" --category order
expect_eq "$(data_of)" "1 2 3 4 " "--category order: order-* and order, not orders-9"
evs read "$d" --prefix order
expect_eq "$(data_of)" "1 2 3 4 5 " "--prefix order"
evs read "$d" --prefix orders- --type OrderPlaced
expect_eq "$(data_of)" "5 " "--prefix and --type"
evs read "$d" --type ItemRemoved --type Registered --type Nope
expect_eq "$(data_of)" '3 {"name":"x"} ' "three --type are an OR"
evs read "$d" --backwards
expect_eq "$(data_of)" '{"name":"x"} 5 4 3 2 1 ' "--backwards"
evs read "$d" --backwards --from 4 --to 2
expect_eq "$(data_of)" "4 3 2 " "--backwards --from 4 --to 2"
evs read "$d" --backwards --limit 2 --category order
expect_eq "$(data_of)" "4 3 " "--backwards --limit --category"
evs read "$d" --backwards --stream order-1 --from-version 1
expect_eq "$(data_of)" "3 1 " "--backwards --stream --from-version 1"

# ---- output modes ------------------------------------------------------------------------
evs read "$d" --data-only --stream order-1
expect_rc 0 "--data-only"
expect_eq "$(tr '\n' ' ' <"$T/out")" "1 3 " "--data-only prints only data"
evs read "$d" --data-only --type Registered
expect_eq "$(cat "$T/out")" '{"name":"x"}' "--data-only prints data byte for byte"
evs read "$d" --count
expect_eq "$(cat "$T/out")" '{"count":6}' "--count"
evs read "$d" --count --category order
expect_eq "$(cat "$T/out")" '{"count":4}' "--count with a filter"
evs read "$d" --count --limit 0
expect_eq "$(cat "$T/out")" '{"count":0}' "--count --limit 0"
evs read "$d" --count --stream nope
expect_eq "$(cat "$T/out")" '{"count":0}' "--count of a missing stream"

# ---- time ---------------------------------------------------------------------------------
evs read "$d" --since -1h
expect_eq "$(lines "$T/out")" 6 "--since -1h: everything was appended just now"
evs read "$d" --until -1h
expect_rc 0 "--until -1h"
expect_empty "$T/out" "--until -1h: nothing is that old"
evs read "$d" --since -2d --until -30m --count
expect_eq "$(cat "$T/out")" '{"count":0}' "--since -2d --until -30m"
evs read "$d" --since=-15m --count
expect_eq "$(cat "$T/out")" '{"count":6}' "--since=-15m (the = form; minutes, so a slow machine still passes)"
evs read "$d" --since -0.25h --until now --count
expect_eq "$(cat "$T/out")" '{"count":6}' "--since -0.25h (a fraction) --until now"
evs read "$d" --since -1w --count
expect_eq "$(cat "$T/out")" '{"count":6}' "--since -1w (weeks)"
evs read "$d" --since now --count
expect_eq "$(cat "$T/out")" '{"count":0}' "--since now: nothing yet"
evs read "$d" --since 2000-01-01 --until 2200-01-01 --count
expect_eq "$(cat "$T/out")" '{"count":6}' "--since/--until as bare dates"
evs read "$d" --until 2000-01-01 --count
expect_eq "$(cat "$T/out")" '{"count":0}' "--until a bare date long ago"
evs read "$d" --since 2000-01-01T00:00:00Z --until 2200-01-01T00:00:00+02:00 --count
expect_eq "$(cat "$T/out")" '{"count":6}' "--since/--until in RFC 3339"
# Three separate appends, so the events have different timestamps (one commit shares one).
for i in 1 2 3; do
    echo "{\"stream\":\"t\",\"type\":\"T\",\"data\":$i}" | "$EVS" append --create "$T/timed" --quiet ||
        fail "append timed $i"
done
ts2=$("$EVS" read "$T/timed" --from 2 --limit 1 | jq -r .ts)
evs read "$T/timed" --since "$ts2" --data-only
expect_eq "$(tr '\n' ' ' <"$T/out")" '2 3 ' "--since the ts of event 2 includes it"
evs read "$T/timed" --until "$ts2" --data-only
expect_eq "$(tr '\n' ' ' <"$T/out")" '1 ' "--until the ts of event 2 excludes it"

# ---- usage errors -------------------------------------------------------------------------
usage_error() { # CHECK ARGS...
    ue_check=$1
    shift
    evs read "$d" "$@"
    expect_rc 2 "$ue_check"
    one_stderr_line read "$ue_check"
    expect_empty "$T/out" "$ue_check: nothing on stdout"
}
usage_error "--from-version without --stream" --from-version 1
usage_error "--from-version not a number" --stream a --from-version x
usage_error "--to not a number" --to -3
usage_error "--since bad" --since yesterday
usage_error "--since -1y" --since -1y
usage_error "--since past ten years, in days (its product overflowed)" --since -77777777d
usage_error "--since ten years and a day" --since -3661d
expect_in "out of range: at most 3660 days back" "$T/err" "an out-of-range span says so"
usage_error "--since a fraction without digits" --since -1.h
expect_in "a relative time is '-', a number and a unit" "$T/err" "a malformed span names the shape"
usage_error "--since a date that does not exist" --since 2026-02-30
expect_in "day 30 is out of range 1..28" "$T/err" "a bad date names the field"
usage_error "--since 1.5 years of weeks" --since -600w
usage_error "--until before --since" --since -1h --until -2h
usage_error "--data-only with --count" --data-only --count
usage_error "--category empty" --category ""
usage_error "--backwards with a value" --backwards=1

echo ok

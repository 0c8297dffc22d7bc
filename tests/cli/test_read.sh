#!/bin/sh
# evstore read: filters (--from, --stream, --type several times, --limit, combined), an
# empty store, a closed pipe (`| head -1` exits 0), a missing store (exit 1).
. "$(dirname "$0")/lib.sh"

d=$T/store
cat >"$T/in" <<'EOF'
{"stream":"order-1","type":"ItemAdded","data":1}
{"stream":"order-2","type":"ItemAdded","data":2}
{"stream":"order-1","type":"ItemRemoved","data":3}
{"stream":"order-1","type":"OrderPlaced","data":4}
{"stream":"order-2","type":"OrderPlaced","data":5}
{"stream":"order-3","type":"ItemAdded","data":6}
EOF
evs append --create "$d" --quiet <"$T/in"
expect_rc 0 "append the fixture"

data_of() { # prints the data values of the last read, space separated
    jq -c .data "$T/out" | tr '\n' ' '
}

evs read "$d"
expect_rc 0 "read all"
expect_eq "$(data_of)" "1 2 3 4 5 6 " "read all, in position order"
evs read "$d" --from 3
expect_eq "$(data_of)" "3 4 5 6 " "--from 3"
evs read "$d" --from=5
expect_eq "$(data_of)" "5 6 " "--from=5"
evs read "$d" --from 0
expect_eq "$(data_of)" "1 2 3 4 5 6 " "--from 0 is the start"
evs read "$d" --from 7
expect_rc 0 "--from past the end"
expect_empty "$T/out" "--from past the end prints nothing"
evs read "$d" --stream order-1
expect_eq "$(data_of)" "1 3 4 " "--stream"
expect_eq "$(jq -c .version "$T/out" | tr '\n' ' ')" "0 1 2 " "--stream versions"
evs read "$d" --stream nope
expect_rc 0 "--stream of a missing stream"
expect_empty "$T/out" "--stream of a missing stream prints nothing"
evs read "$d" --type OrderPlaced
expect_eq "$(data_of)" "4 5 " "--type"
evs read "$d" --type ItemRemoved --type OrderPlaced
expect_eq "$(data_of)" "3 4 5 " "--type twice is an OR"
evs read "$d" --limit 2
expect_eq "$(data_of)" "1 2 " "--limit"
evs read "$d" --limit 0
expect_rc 0 "--limit 0"
expect_empty "$T/out" "--limit 0 prints nothing"
evs read "$d" --stream order-1 --type ItemAdded --type OrderPlaced
expect_eq "$(data_of)" "1 4 " "--stream and --type"
evs read "$d" --from 2 --type ItemAdded --limit 1
expect_eq "$(data_of)" "2 " "--from, --type and --limit"
evs read --stream order-2 "$d"
expect_eq "$(data_of)" "2 5 " "DIR after the options"
expect_empty "$T/err" "read prints nothing on stderr"

# ---- an empty store ----------------------------------------------------------------------
evs append --create "$T/empty" </dev/null
evs read "$T/empty"
expect_rc 0 "read an empty store"
expect_empty "$T/out" "an empty store prints nothing"

# ---- output into a closed pipe -------------------------------------------------------------
seq 1 30000 | sed 's/.*/{"stream":"many","type":"N","data":&}/' |
    "$EVS" append --create "$T/many" --quiet || fail "append 30000 events"
{
    "$EVS" read "$T/many" 2>"$T/err"
    echo $? >"$T/rc_head"
} | head -n 1 >"$T/out"
expect_eq "$(cat "$T/rc_head")" 0 "read | head -1 exits 0"
expect_empty "$T/err" "read | head -1 prints nothing on stderr"
expect_eq "$(jq -c .data "$T/out")" 1 "read | head -1 gets the first event"
evs read "$T/many"
expect_eq "$(lines "$T/out")" 30000 "read 30000 events"
expect_eq "$(tail -n 1 "$T/out" | jq -c '[.pos,.version,.data]')" '[30000,29999,30000]' \
    "the 30000th event"

# ---- a store that does not exist -------------------------------------------------------
evs read "$T/missing"
expect_rc 1 "read of a missing store"
one_stderr_line read "missing store message"
expect_empty "$T/out" "missing store: nothing on stdout"
[ ! -e "$T/missing" ] || fail "read created the missing store"

echo ok

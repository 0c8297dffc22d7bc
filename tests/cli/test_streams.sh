#!/bin/sh
# evstore streams: every stream once with its figures, --prefix, --category (C and C-*,
# not C-less names like "orders"), both together, an empty store, usage errors.
. "$(dirname "$0")/lib.sh"

d=$T/store
cat >"$T/in" <<'IN'
{"stream":"order-1","type":"A","data":1}
{"stream":"order-2","type":"A","data":2}
{"stream":"order-1","type":"B","data":3}
{"stream":"order","type":"A","data":4}
{"stream":"orders-9","type":"A","data":5}
{"stream":"user-1","type":"A","data":6}
{"stream":"order-1","type":"C","data":7}
IN
evs append --create "$d" --quiet <"$T/in"
expect_rc 0 "append the fixture"

names() { # the stream names of the last output, sorted, space separated
    jq -r .stream "$T/out" | sort | tr '\n' ' '
}

evs streams "$d"
expect_rc 0 "streams"
expect_eq "$(names)" "order order-1 order-2 orders-9 user-1 " "every stream once"
expect_eq "$(jq -c 'select(.stream=="order-1")' "$T/out")" \
    '{"stream":"order-1","version":2,"events":3,"first_pos":1,"last_pos":7}' \
    "order-1's line, fields in order"
expect_eq "$(jq -c 'select(.stream=="user-1")' "$T/out")" \
    '{"stream":"user-1","version":0,"events":1,"first_pos":6,"last_pos":6}' "user-1's line"
in_order() { # the stream names of the last output as printed, space separated
    jq -r .stream "$T/out" | tr '\n' ' '
}
expect_eq "$(in_order)" "order order-1 order-2 orders-9 user-1 " "streams in name order"

# Enough streams that an index's own order cannot pass for name order by chance.
i=0
while [ $i -lt 300 ]; do
    echo "{\"stream\":\"s$(( (i * 7919) % 1000 ))-$i\",\"type\":\"A\",\"data\":$i}"
    i=$((i + 1))
done >"$T/many"
evs init "$T/many-store"
evs append "$T/many-store" --quiet <"$T/many"
expect_rc 0 "append 300 streams"
evs streams "$T/many-store"
jq -r .stream "$T/out" >"$T/printed"
LC_ALL=C sort "$T/printed" >"$T/sorted"
cmp -s "$T/printed" "$T/sorted" || fail "300 streams are not printed in bytewise name order"
expect_eq "$(wc -l <"$T/printed")" 300 "300 streams printed"
evs streams "$T/many-store" --unsorted
jq -r .stream "$T/out" | LC_ALL=C sort >"$T/unsorted"
cmp -s "$T/unsorted" "$T/sorted" || fail "--unsorted prints the same streams"
evs streams "$T/many-store" --prefix s1
jq -r .stream "$T/out" >"$T/printed"
LC_ALL=C sort "$T/printed" >"$T/sorted"
cmp -s "$T/printed" "$T/sorted" || fail "--prefix keeps name order"

evs streams "$d" --prefix order
expect_eq "$(names)" "order order-1 order-2 orders-9 " "--prefix order"
evs streams "$d" --category order
expect_eq "$(names)" "order order-1 order-2 " "--category order"
evs streams "$d" --category order --prefix order-
expect_eq "$(names)" "order-1 order-2 " "--category order --prefix order-"
evs streams "$d" --category order --prefix user
expect_rc 0 "--category and a --prefix that cannot both match"
expect_empty "$T/out" "disjoint --category and --prefix print nothing"
evs streams "$d" --category nope
expect_rc 0 "--category with no stream"
expect_empty "$T/out" "--category with no stream prints nothing"
evs streams "$d" --category order-1
expect_eq "$(names)" "order-1 " "--category order-1"

evs append --create "$T/empty" </dev/null
evs streams "$T/empty"
expect_rc 0 "streams of an empty store"
expect_empty "$T/out" "an empty store has no streams"

evs streams "$T/missing"
expect_rc 1 "streams of a missing store"
one_stderr_line streams "missing store"

evs streams "$d" --category ""
expect_rc 2 "--category empty"
evs streams "$d" --bogus
expect_rc 2 "unknown option"
one_stderr_line streams "unknown option"
evs streams --help
expect_rc 0 "--help"
expect_in "usage: evstore streams" "$T/out" "--help prints usage"
echo ok

#!/bin/sh
# evstore delete and evstore meta: soft delete (reads empty, appends go on after the
# last version), truncate (--before), hard delete (appends then exit 7), retention
# settings shown and changed (--max-count, --max-age, none), bad arguments changing
# nothing, --help with the exit codes.
. "$(dirname "$0")/lib.sh"

d=$T/store
i=0
while [ $i -lt 5 ]; do
    echo "{\"stream\":\"order-1\",\"type\":\"A\",\"data\":$i}"
    echo "{\"stream\":\"user-1\",\"type\":\"A\",\"data\":$i}"
    i=$((i + 1))
done >"$T/in"
evs append --create "$d" --quiet <"$T/in"
expect_rc 0 "append the fixture"

count() { # events of stream $1 in a whole-log read
    evs read "$d"
    jq -r .stream "$T/out" | grep -cx -- "$1"
}

evs delete "$d" --stream order-1 --before 3
expect_rc 0 "truncate"
expect_eq "$(cat "$T/out")" '{"stream":"order-1","truncate_before":3}' "truncate's line"
evs read "$d" --stream order-1
expect_eq "$(jq -r .version "$T/out" | tr '\n' ' ')" "3 4 " "versions from the cut on"
evs delete "$d" --stream order-1 --before 1
expect_rc 4 "a truncation below the one in force"
expect_in "below" "$T/err" "the message says why"
evs read "$d" --stream order-1
expect_eq "$(jq -r .version "$T/out" | tr '\n' ' ')" "3 4 " "the refusal changed nothing"

evs delete "$d" --stream order-1
expect_rc 0 "soft delete"
expect_eq "$(cat "$T/out")" '{"stream":"order-1","deleted":"soft"}' "soft delete's line"
expect_eq "$(count order-1)" 0 "a soft-deleted stream reads empty in the log"
expect_eq "$(count user-1)" 5 "other streams untouched"
echo '{"stream":"order-1","type":"A","data":"again","expected_version":4}' |
    evs append "$d" --quiet
expect_rc 0 "append after a soft delete continues at version 5"
evs read "$d" --stream order-1
expect_eq "$(jq -c '[.version,.data]' "$T/out")" '[5,"again"]' "only the new event is read"

evs meta "$d" --stream order-1
expect_rc 0 "meta shows"
expect_eq "$(cat "$T/out")" \
    '{"stream":"order-1","truncate_before":5,"max_count":0,"max_age_ns":0,"deleted":false}' \
    "meta's line"

evs meta "$d" --stream user-1 --max-count 2
expect_rc 0 "set max count"
expect_eq "$(jq -c .max_count "$T/out")" 2 "the new settings are printed"
evs read "$d" --stream user-1
expect_eq "$(jq -r .data "$T/out" | tr '\n' ' ')" "3 4 " "the newest 2"
evs meta "$d" --stream user-1 --max-age 30d
expect_eq "$(jq -c '[.max_count,.max_age_ns]' "$T/out")" '[2,2592000000000000]' \
    "max age added, max count kept"
evs meta "$d" --stream user-1 --max-count none
evs read "$d" --stream user-1
expect_eq "$(jq -r .data "$T/out" | tr '\n' ' ')" "0 1 2 3 4 " "unset: every event again"
evs meta "$d" --stream user-1 --max-age 30x
expect_rc 2 "a bad span"
expect_in "unit" "$T/err" "the message names the units"
evs meta "$d" --stream user-1 --max-count -3
expect_rc 2 "a bad count"

evs delete "$d" --stream user-1 --hard
expect_rc 0 "hard delete"
expect_eq "$(count user-1)" 0 "a hard-deleted stream reads empty"
echo '{"stream":"user-1","type":"A","data":1}' | evs append "$d" --quiet
expect_rc 7 "an append to a hard-deleted stream"
expect_in "deleted for good" "$T/err" "the message says so"
evs delete "$d" --stream user-1
expect_rc 7 "a soft delete after a hard one"
evs meta "$d" --stream user-1 --max-count 3
expect_rc 7 "settings after a hard delete"
evs meta "$d" --stream user-1
expect_eq "$(jq -c .deleted "$T/out")" true "meta shows the tombstone"

echo '{"stream":"$meta-x","type":"$metadata","data":{}}' | evs append "$d" --quiet
expect_rc 4 "a plain append to a reserved stream"
expect_in "reserved" "$T/err" "the message says the stream is reserved"

evs delete "$d" --stream x --hard --before 2
expect_rc 2 "--hard with --before"
evs delete "$d"
expect_rc 2 "no --stream"
evs delete "$T/nostore" --stream x
expect_rc 1 "no store"
evs delete --help
expect_rc 0 "delete --help"
expect_in "Exit codes:" "$T/out" "delete's help lists the exit codes"
evs meta --help
expect_in "Exit codes:" "$T/out" "meta's help lists the exit codes"

evs verify "$d"
expect_rc 0 "the store verifies"
echo "ok"

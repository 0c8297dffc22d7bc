#!/bin/sh
# scripts/quickstart.sh (what `make run` shows) runs to the end with the real binary,
# shows the conflict, and refuses to delete a directory that is not its own demo store.
. "$(dirname "$0")/lib.sh"

qs=$(dirname "$0")/../../scripts/quickstart.sh
sh "$qs" "$EVS" "$T/demo" >"$T/out" 2>"$T/err" || fail "quickstart exits 0: $(cat "$T/out")"
expect_in "## " "$T/out" "quickstart narrates its steps"
expect_in "(exit status 3, as expected)" "$T/out" "quickstart shows the conflict"
expect_in "every step behaved as expected" "$T/out" "quickstart ends well"
# A second run replaces its own previous store.
sh "$qs" "$EVS" "$T/demo" >"$T/out" 2>"$T/err" || fail "quickstart runs twice: $(cat "$T/out")"
expect_eq "$("$EVS" stat "$T/demo" | jq -c .events)" 6 "second run starts from an empty store"
# Anything else is left alone.
echo '{"stream":"precious","type":"T","data":1}' | "$EVS" append --create "$T/other" >/dev/null ||
    fail "append to another store"
rc=0
sh "$qs" "$EVS" "$T/other" >"$T/out" 2>"$T/err" || rc=$?
echo $rc >"$T/rc"
expect_rc 1 "quickstart refuses a foreign store"
expect_eq "$(count_events "$T/other")" 1 "the foreign store is untouched"
mkdir "$T/notastore"
echo hi >"$T/notastore/file"
rc=0
sh "$qs" "$EVS" "$T/notastore" >"$T/out" 2>"$T/err" || rc=$?
echo $rc >"$T/rc"
expect_rc 1 "quickstart refuses a directory that is not a store"
[ -f "$T/notastore/file" ] || fail "the directory is untouched"

echo ok

#!/bin/sh
# The CLI on sqlite:PATH locations: init makes the tables (and refuses twice), the
# commands append, read, list, check and consume as on a directory, a read-only
# command on a missing database creates nothing, and postgresql:// is refused as not
# built yet (exit 1, one line).
. "$(dirname "$0")/lib.sh"

db=$T/app.db
loc=sqlite:$db
evs init "$loc"
expect_rc 0 "init sqlite:"
expect_eq "$(jq -c . "$T/out")" "{\"created\":\"$loc\"}" "init prints the location"
evs init "$loc"
expect_rc 1 "init twice"
one_stderr_line init "init twice"
expect_in "already exists" "$T/err" "init twice message"

printf '%s\n' '{"stream":"order-1","type":"Placed","data":{"n":1}}' \
    '{"stream":"order-1","type":"Paid","data":{"n":2}}' \
    '{"stream":"cart-7","type":"Added","data":{"n":3}}' | evs append "$loc"
expect_rc 0 "append"
expect_eq "$(jq -c '[.pos,.version]' "$T/out" | tr -d '\n')" "[1,0][2,1][3,0]" "positions"

evs read "$loc" --stream order-1
expect_eq "$(jq -c '[.pos,.type,.data.n]' "$T/out" | tr -d '\n')" '[1,"Placed",1][2,"Paid",2]' \
    "read --stream"
evs streams "$loc"
expect_eq "$(jq -r .stream "$T/out" | sort | tr '\n' ' ')" "cart-7 order-1 " "streams"
evs stat "$loc"
expect_eq "$(jq -c '[.events,.streams,.segments]' "$T/out")" "[3,2,0]" "stat"
evs verify "$loc"
expect_rc 0 "verify"
expect_eq "$(jq -c .ok "$T/out")" true "verify ok"

# Expected-version conflict: exit code 3, as for a directory.
echo '{"stream":"order-1","type":"Shipped","data":{}}' | evs append "$loc" --expected-version 0
expect_rc 3 "conflict"
expect_in "expected version 0 but the stream is at version 1" "$T/err" "conflict message"

# A failed first append into a new store never removes the database: it may hold the
# application's own tables.
sqlite3 "$T/mine.db" "CREATE TABLE notes(t TEXT); INSERT INTO notes VALUES('keep')"
echo '{"stream":"s","data":1}' | evs append --create "sqlite:$T/mine.db"
expect_rc 4 "a bad first line into a new sqlite store"
expect_in "nothing was stored; the new store's empty tables stay in 'sqlite:$T/mine.db'" \
    "$T/err" "the tables stay"
expect_eq "$(sqlite3 "$T/mine.db" "SELECT t FROM notes")" keep "the application's table stays"

evs read "sqlite:$T/missing.db"
expect_rc 1 "read a missing database"
expect_in "does not exist" "$T/err" "missing database message"
[ ! -e "$T/missing.db" ] || fail "read created a database"

evs read "postgresql://evs@127.0.0.1:1/app?schema=s"
expect_rc 1 "postgresql://"
one_stderr_line read "postgresql://"
expect_in "cannot connect" "$T/err" "postgresql message"
echo "cli_sqlite: ok"

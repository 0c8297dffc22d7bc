#!/bin/sh
# The PostgreSQL outbox example's output, exactly, as the SQLite one's: two transfers
# recorded, the refused one leaving neither a change nor an event (so no hole in the
# positions), and the replayed events agreeing with the table. The server is the test
# suite's (its URI on the second line of $EVS_TEST_PG_STATE); the schema is new.
set -eu
bin=$1
uri=$(sed -n 2p "$EVS_TEST_PG_STATE")
schema="bank-$$-$(date +%s)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" "$uri" "$schema" >"$tmp/out"
cat >"$tmp/want" <<'OUT'
transfer 300 from alice to bob: event at position 1
transfer 500 from bob to alice: refused, bob has 300
transfer 100 from bob to alice: event at position 2
2 events; replayed: alice 800, bob 200; table: alice 800, bob 200
OUT
diff -u "$tmp/want" "$tmp/out"
echo "example_outbox_pg: ok"

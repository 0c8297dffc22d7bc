#!/bin/sh
# The outbox example's output, exactly: two transfers recorded, the refused one leaving
# neither a change nor an event (so no hole in the positions), and the replayed events
# agreeing with the table.
set -eu
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" "$tmp/bank.db" >"$tmp/out"
cat >"$tmp/want" <<'OUT'
transfer 300 from alice to bob: event at position 1
transfer 500 from bob to alice: refused, bob has 300
transfer 100 from bob to alice: event at position 2
2 events; replayed: alice 800, bob 200; table: alice 800, bob 200
OUT
diff -u "$tmp/want" "$tmp/out"
echo "example_outbox: ok"

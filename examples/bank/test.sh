#!/bin/sh
# The bank under load: 4 processes of 8 threads each issue random commands against 100
# accounts of one store for a few seconds, then the audit checks the books.
#   test.sh BANK_BINARY WORKDIR [SECONDS]
set -eu
bank=$1
dir=$2
seconds=${3:-3}
rm -rf "$dir"
mkdir -p "$dir"
pids=""
for seed in 1 2 3 4; do
    "$bank" run "$dir/store" "$seconds" 8 "$seed" "$dir/tally$seed" &
    pids="$pids $!"
done
status=0
for p in $pids; do
    wait "$p" || status=1
done
if [ "$status" != 0 ]; then
    echo "bank: a run failed" >&2
    exit 1
fi
"$bank" check "$dir/store" "$dir/tally1" "$dir/tally2" "$dir/tally3" "$dir/tally4"
rm -rf "$dir"

#!/bin/sh
# Run the CTest suite of a build directory and end with one line "N passed, N failed",
# the summary CI reads. Extra arguments go to ctest (e.g. -L unit).
set -u
dir=$1
shift
log=$(mktemp)
rc=$(mktemp)
trap 'rm -f "$log" "$rc"' EXIT
{ ctest --test-dir "$dir" -j 2 --output-on-failure --timeout 600 "$@" 2>&1; echo $? >"$rc"; } | tee "$log"
status=$(cat "$rc")
total=$(sed -n 's/.*tests failed out of \([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
failed=$(sed -n 's/.*, \([0-9][0-9]*\) tests failed out of.*/\1/p' "$log" | tail -n 1)
if [ -z "$total" ]; then
    echo "0 passed, 1 failed"
    exit 1
fi
echo "$((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]

#!/bin/sh
# Run CTest suites and end with one line "N passed, N failed" over all of them, the
# summary CI reads.
#
#   run-tests.sh DIR [ctest args...]
#   run-tests.sh --suites "DIR [ctest args...]" "DIR [ctest args...]" ...
#
# DIR is a build directory; the arguments after it go to its ctest (e.g. -L unit). With
# --suites each word-split argument is one suite (no spaces in paths), and every suite
# runs even when an earlier one failed.
set -u
log=$(mktemp)
rc=$(mktemp)
trap 'rm -f "$log" "$rc"' EXIT
passed=0
failed=0

run_suite() {
    dir=$1
    shift
    { ctest --test-dir "$dir" -j 2 --output-on-failure --timeout 600 "$@" 2>&1; echo $? >"$rc"; } |
        tee "$log"
    total=$(sed -n 's/.*tests failed out of \([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
    bad=$(sed -n 's/.*, \([0-9][0-9]*\) tests failed out of.*/\1/p' "$log" | tail -n 1)
    if [ -z "$total" ]; then
        echo "run-tests: no test ran in $dir" >&2
        failed=$((failed + 1))
        return
    fi
    passed=$((passed + total - bad))
    failed=$((failed + bad))
    # ctest can fail without a failed test (one it could not start): count that too.
    if [ "$bad" -eq 0 ] && [ "$(cat "$rc")" -ne 0 ]; then
        failed=$((failed + 1))
    fi
}

if [ "${1:-}" = "--suites" ]; then
    shift
    for suite in "$@"; do
        # shellcheck disable=SC2086 # one suite's words: the directory, then ctest's
        run_suite $suite
    done
else
    run_suite "$@"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

# lib.sh - helpers shared by the CLI test scripts (POSIX sh). A test does:
#
#   . "$(dirname "$0")/lib.sh"     (with the evstore binary as $1)
#
# and gets: $EVS (absolute path of the binary), $T (a private temp dir, removed on
# exit), evs ARGS... (runs the binary: stdout in $T/out, stderr in $T/err, status in
# $T/rc, stdin inherited), and checks that stop the test with a message naming the check.
# The status goes to a file, not only a variable, because `producer | evs ...` runs evs
# in a subshell.

set -u

EVS=${1:?usage: sh test_NAME.sh PATH_TO_EVSTORE}
case $EVS in
/*) ;;
*) EVS=$(pwd)/$EVS ;;
esac
[ -x "$EVS" ] || { echo "FAIL: $EVS is not an executable" >&2; exit 1; }
command -v jq >/dev/null 2>&1 || { echo "FAIL: jq is needed by the CLI tests" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/evs-cli.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
unset EVSTORE_DIR

fail() {
    echo "FAIL: $*" >&2
    if [ -s "$T/err" ]; then
        echo "--- stderr of the last command:" >&2
        head -c 2000 "$T/err" >&2
    fi
    exit 1
}

evs() {
    rc=0
    "$EVS" "$@" >"$T/out" 2>"$T/err" || rc=$?
    echo "$rc" >"$T/rc"
}

# last_rc: the exit status of the last evs call
last_rc() {
    cat "$T/rc"
}

# expect_rc CODE CHECK
expect_rc() {
    [ "$(last_rc)" -eq "$1" ] || fail "$2: exit status $(last_rc), wanted $1"
}

# expect_eq GOT WANTED CHECK
expect_eq() {
    [ "$1" = "$2" ] || fail "$3: got '$1', wanted '$2'"
}

# expect_in FIXED_STRING FILE CHECK
expect_in() {
    grep -qF -- "$1" "$2" || fail "$3: '$1' not found in: $(head -c 1500 "$2")"
}

# expect_not_in FIXED_STRING FILE CHECK
expect_not_in() {
    if grep -qF -- "$1" "$2"; then
        fail "$3: '$1' unexpectedly found in: $(head -c 1500 "$2")"
    fi
}

# expect_empty FILE CHECK
expect_empty() {
    [ ! -s "$1" ] || fail "$2: expected no output, got: $(head -c 1500 "$1")"
}

# lines FILE: number of lines
lines() {
    wc -l <"$1" | tr -d ' '
}

# count_events DIR: number of events `evstore read` prints
count_events() {
    "$EVS" read "$1" 2>/dev/null | wc -l | tr -d ' '
}

# one_stderr_line CMD CHECK: stderr is exactly one line starting "evstore CMD: "
one_stderr_line() {
    [ "$(lines "$T/err")" -eq 1 ] || fail "$2: stderr is not one line: $(cat "$T/err")"
    case $(cat "$T/err") in
    "evstore $1: "*) ;;
    *) fail "$2: stderr does not start with 'evstore $1: ': $(cat "$T/err")" ;;
    esac
}

# have_store DIR...: make each DIR a store with `evstore init` unless it is one already
# (commands that write create a store only with --create, and say so on stderr).
have_store() {
    for have_store_dir in "$@"; do
        [ -e "$have_store_dir" ] || "$EVS" init "$have_store_dir" >/dev/null ||
            fail "init $have_store_dir"
    done
}

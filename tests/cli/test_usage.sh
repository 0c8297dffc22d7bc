#!/bin/sh
# The evstore command itself: help and version, --help of every subcommand (exit 0,
# usage on stdout), usage errors (exit 2, one stderr line pointing to --help), the
# EVSTORE_DIR default, messages only on stderr.
. "$(dirname "$0")/lib.sh"

d=$T/store

# ---- help and version ------------------------------------------------------------------
for args in "help" "--help" "-h" "help --help" "help -h" "help help"; do
    evs $args
    expect_rc 0 "evstore $args"
    for cmd in append read stat verify repair streams tail init export import; do
        expect_in "  $cmd " "$T/out" "evstore $args lists $cmd"
    done
    expect_empty "$T/err" "evstore $args: nothing on stderr"
done
evs --version
expect_rc 0 "--version"
grep -qE '^evstore [0-9]+\.[0-9]+\.[0-9]+$' "$T/out" || fail "--version prints 'evstore X.Y.Z'"
evs
expect_rc 2 "no command"
expect_empty "$T/out" "no command: nothing on stdout"
evs frobnicate
expect_rc 2 "unknown command"
expect_in "unknown command 'frobnicate'" "$T/err" "unknown command message"

for cmd in append read stat verify repair streams tail init export import subscribe \
    consumers consumer; do
    for h in --help -h; do
        evs $cmd $h
        expect_rc 0 "$cmd $h"
        expect_in "usage: evstore $cmd" "$T/out" "$cmd $h prints usage on stdout"
        expect_empty "$T/err" "$cmd $h: nothing on stderr"
    done
    grep -q "^Exit codes: 0 " "$T/out" || fail "$cmd --help has no 'Exit codes:' line"
    evs help $cmd
    expect_rc 0 "help $cmd"
    expect_in "usage: evstore $cmd" "$T/out" "help $cmd prints its usage"
    [ $cmd = consumer ] && continue # its first argument is the action, not DIR
    evs $cmd "$d" --help
    expect_rc 0 "$cmd DIR --help"
done

# ---- usage errors ----------------------------------------------------------------------
usage_error() { # CMD CHECK ARGS...
    ue_cmd=$1
    ue_check=$2
    shift 2
    evs "$@" </dev/null
    expect_rc 2 "$ue_check"
    one_stderr_line "$ue_cmd" "$ue_check"
    expect_in "(try 'evstore $ue_cmd --help')" "$T/err" "$ue_check: points to --help"
    expect_empty "$T/out" "$ue_check: nothing on stdout"
}
for cmd in append read stat verify repair streams tail init export import; do
    usage_error $cmd "$cmd without DIR" $cmd
    usage_error $cmd "$cmd with an unknown option" $cmd "$d" --bogus
    usage_error $cmd "$cmd with a short unknown option" $cmd "$d" -x
    usage_error $cmd "$cmd with two DIRs" $cmd "$d" "$d"
done
usage_error read "--from without a value" read "$d" --from
usage_error read "--from not a number" read "$d" --from x
usage_error read "--from negative" read "$d" --from -1
usage_error read "--limit not a number" read "$d" --limit 1.5
usage_error read "--type empty" read "$d" --type ""
usage_error read "--stream empty" read "$d" --stream=
usage_error append "--sync unknown" append "$d" --sync sometimes
usage_error append "--batch 0" append "$d" --batch 0
usage_error append "--batch too big" append "$d" --batch 1000001
usage_error append "--atomic with --batch" append "$d" --atomic --batch 5
usage_error append "--wait negative" append "$d" --wait -1
usage_error append "--wait not a number" append "$d" --wait soon
usage_error append "--expected-version unknown" append "$d" --expected-version sometimes
usage_error append "--expected-version negative" append "$d" --expected-version -1
usage_error append "--quiet with a value" append "$d" --quiet=yes
[ ! -e "$d" ] || fail "a usage error created the store"

# Options may come before or after DIR, in --name=value or --name value form, and "--"
# ends the options.
echo '{"type":"T","data":1}' | evs append --create --stream=s1 "$d" --wait 0.5 --batch=10 --sync none
expect_rc 0 "options around DIR"
echo '{"type":"T","data":1}' | evs append --create --stream s1 -- "$d"
expect_rc 0 "-- before DIR"

# ---- EVSTORE_DIR -----------------------------------------------------------------------
export EVSTORE_DIR="$T/envstore"
echo '{"stream":"e","type":"T","data":1}' | evs append --create
expect_rc 0 "append with EVSTORE_DIR"
evs read
expect_rc 0 "read with EVSTORE_DIR"
expect_eq "$(jq -c .data "$T/out")" 1 "read with EVSTORE_DIR finds the event"
evs stat
expect_eq "$(jq -c .events "$T/out")" 1 "stat with EVSTORE_DIR"
evs verify
expect_rc 0 "verify with EVSTORE_DIR"
evs read "$d"
expect_eq "$(lines "$T/out")" 2 "DIR wins over EVSTORE_DIR"
unset EVSTORE_DIR

echo ok

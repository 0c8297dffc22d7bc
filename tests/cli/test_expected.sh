#!/bin/sh
# evstore append: expected versions (number, any, no_stream, exists) from the option and
# from lines, conflicts (exit 3, message naming stream, expected and actual version,
# nothing of the commit written), and chaining across the commits of one invocation.
. "$(dirname "$0")/lib.sh"

d=$T/store
ev() { # STREAM DATA [EXPECTED]
    if [ $# -ge 3 ]; then
        printf '{"stream":"%s","type":"T","data":%s,"expected_version":%s}\n' "$1" "$2" "$3"
    else
        printf '{"stream":"%s","type":"T","data":%s}\n' "$1" "$2"
    fi
}

# ---- the option -------------------------------------------------------------------------
{ ev acct 1; ev acct 2; } | evs append --create "$d" --expected-version no_stream
expect_rc 0 "no_stream on a new stream"
expect_eq "$(tail -n 1 "$T/out")" '{"pos":2,"stream":"acct","version":1}' "no_stream acks"

ev acct 3 | evs append --create "$d" --expected-version no_stream
expect_rc 3 "no_stream on an existing stream"
one_stderr_line append "conflict message is one line"
expect_in "'acct'" "$T/err" "conflict names the stream"
grep -qiE 'no[ _]stream' "$T/err" || fail "conflict names the expected version"
expect_in "version 1" "$T/err" "conflict names the actual version"
expect_in "line 1: " "$T/err" "conflict names the line"
expect_in "no lines were written" "$T/err" "conflict says nothing was written"
expect_empty "$T/out" "conflict prints no acks"
expect_eq "$(count_events "$d")" 2 "conflict wrote nothing"

ev acct 3 | evs append --create "$d" --expected-version 0
expect_rc 3 "stale version"
expect_in "'acct'" "$T/err" "stale version: stream named"
expect_in "version 0" "$T/err" "stale version: expected named"
expect_in "version 1" "$T/err" "stale version: actual named"

ev acct 3 | evs append --create "$d" --expected-version 1
expect_rc 0 "right version"
expect_eq "$(cat "$T/out")" '{"pos":3,"stream":"acct","version":2}' "right version ack"

ev fresh 1 | evs append --create "$d" --expected-version exists
expect_rc 3 "exists on a new stream"
expect_in "fresh" "$T/err" "exists conflict names the stream"
ev acct 4 | evs append --create "$d" --expected-version exists
expect_rc 0 "exists on an existing stream"
ev acct 5 | evs append --create "$d" --expected-version any
expect_rc 0 "any"
ev acct 6 | evs append --create "$d"
expect_rc 0 "no expectation"
expect_eq "$(count_events "$d")" 6 "six events"

# ---- a line's expected_version ------------------------------------------------------------
ev acct 7 5 | evs append --create "$d"
expect_rc 0 "line expects the right version"
ev acct 8 5 | evs append --create "$d"
expect_rc 3 "line expects a stale version"
expect_in "acct" "$T/err" "line conflict names the stream"
ev acct 8 '"exists"' | evs append --create "$d" --expected-version no_stream
expect_rc 0 "a line's expected_version overrides the option"
ev new2 1 '"no_stream"' | evs append --create "$d"
expect_rc 0 "line no_stream"
ev new2 2 '"any"' | evs append --create "$d"
expect_rc 0 "line any"

# The conflict is in a later commit: the lines of earlier commits stay written.
{ ev c 1; ev c 2; ev c 3 7; ev c 4; } | evs append --create "$d" --batch 2
expect_rc 3 "conflict in the second commit"
expect_in "lines 3-4" "$T/err" "conflict names the failed batch's lines"
expect_in "lines 1-2 were written, lines 3 and after were not" "$T/err" \
    "conflict: earlier commits were written"
expect_eq "$(lines "$T/out")" 2 "acks of the first commit only"
evs read "$d" --stream c
expect_eq "$(lines "$T/out")" 2 "two events of stream c"

# ---- chaining inside one invocation -------------------------------------------------------
# Commits of one event each: every later commit expects what the previous one left.
{ ev chain 1; ev chain 2; ev chain 3; } | evs append --create "$d" --batch 1 --expected-version no_stream
expect_rc 0 "chained commits after no_stream"
expect_eq "$(jq -c .version "$T/out" | tr '\n' ' ')" "0 1 2 " "chained versions"
# Interleaved streams in one commit: A, B, A are three batches; A's second batch expects
# the version A's first batch leaves.
{ ev ia 1; ev ib 1; ev ia 2; ev ib 2; } | evs append --create "$d" --expected-version no_stream
expect_rc 0 "interleaved streams with no_stream"
expect_eq "$(jq -c .version "$T/out" | tr '\n' ' ')" "0 0 1 1 " "interleaved versions"
{ ev ia 3; ev ia 4; } | evs append --create "$d" --batch 1 --expected-version 1
expect_rc 0 "chained commits after a number"
expect_eq "$(jq -c .version "$T/out" | tr '\n' ' ')" "2 3 " "chained versions after a number"

# A concurrent writer between two commits of a pinned invocation is caught: the second
# commit expects exactly the version the first one left.
mkfifo "$T/fifo"
: >"$T/out_w1" # exists before the job's own redirection: the loop below reads it at once
"$EVS" append --create "$d" --expected-version no_stream <"$T/fifo" >"$T/out_w1" 2>"$T/err_w1" &
w1=$!
exec 7>"$T/fifo"
ev race 1 >&7
i=0
while [ "$(lines "$T/out_w1")" -lt 1 ]; do
    i=$((i + 1))
    [ $i -lt 200 ] || { exec 7>&-; kill $w1; fail "chaining: no ack for the first line"; }
    sleep 0.05
done
ev race 99 | evs append --create "$d" --wait 10
if [ "$(last_rc)" -ne 0 ]; then
    exec 7>&-
    wait $w1
    fail "chaining: a second writer could not append between the commits of the first"
fi
ev race 2 >&7
exec 7>&-
rcw=0
wait $w1 || rcw=$?
[ "$rcw" -eq 3 ] || fail "chaining: concurrent writer not caught (exit $rcw): $(cat "$T/err_w1")"
grep -qF "line 2: " "$T/err_w1" || fail "chaining: conflict names line 2: $(cat "$T/err_w1")"
grep -qF "line 1 was written, lines 2 and after were not" "$T/err_w1" ||
    fail "chaining: written lines: $(cat "$T/err_w1")"
evs read "$d" --stream race
expect_eq "$(jq -c .data "$T/out" | tr '\n' ' ')" "1 99 " "chaining: line 2 not written"

# Without a pinned expectation, later commits do not check.
{ ev loose 1; } | evs append --create "$d"
ev loose 2 | evs append --create "$d" --batch 1 --expected-version any
expect_rc 0 "any does not chain"

echo ok

#!/bin/sh
# evstore append: bad input lines. Every kind of bad line exits 4 with one stderr line
# naming the line, the field and what is wrong, and which lines were written; the valid
# lines before a bad one are committed first and readable afterwards.
. "$(dirname "$0")/lib.sh"

d=$T/store
"$EVS" init "$d" >/dev/null || fail "init $d"

# ---- a bad line in the middle ----------------------------------------------------------
{
    for i in 1 2 3 4; do echo "{\"stream\":\"m\",\"type\":\"T\",\"data\":$i}"; done
    echo '{"stream":"m","data":5}'
    echo '{"stream":"m","type":"T","data":6}'
} >"$T/in"
evs append "$d" <"$T/in"
expect_rc 4 "bad line in the middle"
one_stderr_line append "bad line message"
want='evstore append: line 5: field "type": missing;'
want="$want lines 1-4 were written, lines 5 and after were not"
expect_eq "$(cat "$T/err")" "$want" "bad line message text"
expect_eq "$(lines "$T/out")" 4 "acks for the lines before the bad one"
evs read "$d"
expect_eq "$(jq -c .data "$T/out" | tr '\n' ' ')" "1 2 3 4 " "lines before the bad one are stored"

# The same with small commits: lines of earlier commits and the pending ones are written.
evs append --create "$T/s2" --batch 3 <"$T/in"
expect_rc 4 "bad line after several commits"
expect_in "lines 1-4 were written, lines 5 and after were not" "$T/err" \
    "written lines with --batch 3"
expect_eq "$(count_events "$T/s2")" 4 "four events stored with --batch 3"

# First line bad: nothing written.
printf '%s\n' 'nope' '{"stream":"m","type":"T","data":1}' | evs append --create "$T/s3"
expect_rc 4 "bad first line"
expect_in "line 1: " "$T/err" "first line named"
expect_in "no lines were written" "$T/err" "first line bad: no lines written"
expect_eq "$(count_events "$T/s3")" 0 "first line bad: nothing stored"

# Second line bad.
printf '%s\n' '{"stream":"m","type":"T","data":1}' '[]' | evs append --create "$T/s4"
expect_rc 4 "bad second line"
expect_in "line 1 was written, lines 2 and after were not" "$T/err" "second line bad"

# ---- every kind of bad line: LINE  FIELD  WHAT ------------------------------------------
# Each case is appended alone to a fresh store; it must exit 4, name line 1 and the
# field, say what is wrong, and store nothing.
long=$(head -c 1025 /dev/zero | tr '\0' 's')
longtype=$(head -c 257 /dev/zero | tr '\0' 't')
check_bad() { # LINE FIELD WHAT-SUBSTRING CHECK
    n=$((n + 1))
    "$EVS" init "$T/bad$n" >/dev/null || fail "init"
    printf '%s\n' "$1" | evs append "$T/bad$n"
    expect_rc 4 "$4"
    one_stderr_line append "$4"
    if [ -n "$2" ]; then
        expect_in "line 1: field \"$2\": " "$T/err" "$4: names line and field"
    else
        expect_in "line 1: " "$T/err" "$4: names the line"
    fi
    expect_in "$3" "$T/err" "$4: says what is wrong"
    expect_in "no lines were written" "$T/err" "$4: says nothing was written"
    expect_empty "$T/out" "$4: no acks"
    [ "$(count_events "$T/bad$n")" -eq 0 ] || fail "$4: something was stored"
}
n=0
check_bad '{"stream":"s","type":"T","data":1' "" "not valid JSON" "truncated JSON"
check_bad 'hello' "" "not a JSON object" "not JSON at all"
check_bad '[1,2]' "" "not a JSON object" "an array"
check_bad '"str"' "" "not a JSON object" "a string"
check_bad '{"stream":"s","data":1}' type missing "missing type"
check_bad '{"stream":"s","type":7,"data":1}' type "must be a string" "type not a string"
check_bad '{"stream":"s","type":"","data":1}' type "must not be empty" "empty type"
check_bad "{\"stream\":\"s\",\"type\":\"$longtype\",\"data\":1}" type "longer than 256" \
    "type too long"
check_bad '{"stream":"s","type":"a\u0001b","data":1}' type "control character" \
    "control character in type"
check_bad '{"stream":"s","type":"a\u0000b","data":1}' type "control character" "NUL in type"
check_bad '{"stream":"s","type":"T"}' data missing "missing data"
check_bad '{"stream":"s","type":"T","data":{"a":tru}}' data "not valid JSON" \
    "invalid JSON inside data"
check_bad '{"stream":"s","type":"T","data":"\xff"}' data "not valid JSON" \
    "bad escape inside data"
check_bad '{"type":"T","data":1}' stream "missing, and no --stream given" "missing stream"
check_bad '{"stream":["s"],"type":"T","data":1}' stream "must be a string" \
    "stream not a string"
check_bad '{"stream":"","type":"T","data":1}' stream "must not be empty" "empty stream"
check_bad "{\"stream\":\"$long\",\"type\":\"T\",\"data\":1}" stream "longer than 1024" \
    "stream too long"
check_bad '{"stream":"s","type":"T","data":1,"id":"nope"}' id "must be a UUID" "bad id"
check_bad '{"stream":"s","type":"T","data":1,"id":42}' id "must be a UUID" "id not a string"
check_bad '{"stream":"s","type":"T","data":1,"id":"0b7e0f4e-2c1a-4d5e-9f00-1a2b3c4d5e6"}' \
    id "must be a UUID" "id too short"
check_bad '{"stream":"s","type":"T","data":1,"metadata":[1]}' metadata \
    "must be a JSON object" "metadata an array"
check_bad '{"stream":"s","type":"T","data":1,"metadata":"x"}' metadata \
    "must be a JSON object" "metadata a string"
check_bad '{"stream":"s","type":"T","data":1,"metadata":{"a":}}' metadata "not valid JSON" \
    "invalid JSON inside metadata"
check_bad '{"stream":"s","type":"T","data":1,"colour":"red"}' colour "unknown field" \
    "unknown field"
check_bad '{"stream":"s","type":"T","data":1,"type":"U"}' type "given twice" \
    "field given twice"
check_bad '{"stream":"s","type":"T","data":1,"expected_version":"sometimes"}' \
    expected_version "must be a version" "bad expected_version word"
check_bad '{"stream":"s","type":"T","data":1,"expected_version":-1}' expected_version \
    "must be a version" "negative expected_version"
check_bad '{"stream":"s","type":"T","data":1,"expected_version":1.5}' expected_version \
    "must be a version" "fractional expected_version"
check_bad '{"stream":"s","type":"T","data":1,"expected_version":true}' expected_version \
    "must be a version" "boolean expected_version"
check_bad '{"stream":"s","type":"T","data":1} x' "" "not valid JSON" "trailing garbage"

# ---- accepted edge cases ---------------------------------------------------------------
printf '%s\r\n' '{"stream":"crlf","type":"T","data":1}' | evs append --create "$T/ok1"
expect_rc 0 "CRLF line endings are accepted"
printf '%s' '{"stream":"nonl","type":"T","data":1}' | evs append --create "$T/ok1"
expect_rc 0 "a last line without a newline is accepted"
expect_eq "$(lines "$T/out")" 1 "last line without a newline is stored"
printf '%s\n' '{"stream":"s","type":"T","data":1,"pos":99,"version":5,"ts":"x"}' |
    evs append --create "$T/ok1"
expect_rc 0 "pos, version and ts are ignored"
expect_eq "$(cat "$T/out")" '{"pos":3,"stream":"s","version":0}' "ignored fields do not count"
printf '%s\n' '{"stream":"s","type":"T","data":1,"\u0074ype2":1}' | evs append --create "$T/ok1"
expect_rc 4 "escaped unknown key is still unknown"

# ---- a conflict in an --atomic commit of several streams: the line, not a batch index --
evs init "$T/multi"
printf '%s\n' '{"stream":"a","type":"T","data":1}' \
    '{"stream":"b","type":"T","data":1,"expected_version":5}' | evs append "$T/multi" --atomic
expect_rc 3 "conflict in the second stream of an atomic commit"
want="evstore append: line 2: append to stream 'b': expected version 5 but the stream does not"
want="$want exist; no lines were written"
expect_eq "$(cat "$T/err")" "$want" "the conflict names its line and no batch number"

# ---- a UTF-8 byte-order mark, an over-long line ------------------------------------------
evs init "$T/bom"
printf '\357\273\277%s\n' '{"stream":"b","type":"T","data":1}' | evs append "$T/bom"
expect_rc 0 "a byte-order mark before the first line is skipped"
expect_eq "$(cat "$T/out")" '{"pos":1,"stream":"b","version":0}' "the BOM's line is stored"
printf '%s\n\357\273\277%s\n' '{"stream":"b","type":"T","data":2}' \
    '{"stream":"b","type":"T","data":3}' | evs append "$T/bom"
expect_rc 4 "a byte-order mark inside the input is not skipped"
expect_in "line 2: not a JSON object" "$T/err" "a BOM on line 2 is bad input"
printf '\357\273\277%s\n' '{"stream":"b","type":"T","data":4}' >"$T/bom.ndjson"
evs import "$T/bom" --format ndjson "$T/bom.ndjson"
expect_rc 0 "import skips a byte-order mark too"
evs init "$T/huge"
{
    printf '{"stream":"h","type":"T","data":"'
    head -c $((65 * 1024 * 1024 + 1)) /dev/zero | tr '\0' x
    printf '"}\n'
} | evs append "$T/huge"
expect_rc 4 "a line over the limit"
expect_in "line 1: longer than 65 MiB; an event's data and metadata may take 64 MiB" "$T/err" \
    "an over-long line names the event limit"

echo ok

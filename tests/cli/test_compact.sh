#!/bin/sh
# evstore compact: compresses the sealed segments (all, or all but the newest N) and
# reads, exports and verify give the same bytes as before; a second run finds them
# compressed; a damaged sealed segment is left plain, named, exit 5; usage errors exit
# 2, a missing store 1; --help has the exit codes.
. "$(dirname "$0")/lib.sh"

d=$T/store
"$EVS" init "$d" --segment-size 64K >/dev/null || fail "init"
pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
seq 1 4000 | sed "s/.*/{\"stream\":\"s-&\",\"type\":\"N\",\"data\":{\"n\":&,\"pad\":\"$pad\"}}/" |
    sed 's/"s-\([0-9]*\)\([0-9]\)"/"s-\2"/' | evs append "$d" --quiet
expect_rc 0 "append 4000 events"
"$EVS" read "$d" >"$T/before" || fail "read before"
"$EVS" read "$d" --stream s-3 >"$T/before3" || fail "read a stream before"
# Where segments end depends on how the CLI's commits fall (a commit never spans two
# segments), so count them rather than expect a number.
segs=$(ls "$d"/*.seg | wc -l | tr -d ' ')
[ "$segs" -ge 5 ] || fail "want at least 5 segments, got $segs"

evs compact "$d" --keep 2
expect_rc 0 "compact --keep 2"
expect_eq "$(jq -c '[.compressed,.already,.damaged]' "$T/out")" "[$((segs - 3)),0,0]" \
    "compact counts"
expect_eq "$(jq -c '.compressed_bytes * 2 < .plain_bytes' "$T/out")" true "compact shrinks"
expect_eq "$(ls "$d"/*.zseg | wc -l | tr -d ' ')" "$((segs - 3))" ".zseg files"
expect_eq "$(ls "$d"/*.seg | wc -l | tr -d ' ')" 3 "plain files left"

"$EVS" read "$d" >"$T/after" || fail "read after"
cmp -s "$T/before" "$T/after" || fail "read gives other bytes after compact"
"$EVS" read "$d" --stream s-3 >"$T/after3" || fail "read a stream after"
cmp -s "$T/before3" "$T/after3" || fail "stream read gives other bytes after compact"
evs verify "$d"
expect_rc 0 "verify after compact"

evs compact "$d"
expect_rc 0 "compact the rest"
expect_eq "$(jq -c '[.compressed,.already]' "$T/out")" "[2,$((segs - 3))]" "second compact"
evs export "$d" -o "$T/export.ndjson"
expect_rc 0 "export"
cmp -s "$T/before" "$T/export.ndjson" || fail "export gives other bytes"

# A damaged plain segment: appends go on, the new sealed ones compress, it stays.
seq 1 2000 | sed "s/.*/{\"stream\":\"t\",\"type\":\"N\",\"data\":{\"pad\":\"$pad\"}}/" |
    evs append "$d" --quiet
expect_rc 0 "append more"
victim=$(ls "$d"/*.seg | head -1)
printf 'X' | dd of="$victim" bs=1 seek=200 conv=notrunc 2>/dev/null
evs compact "$d"
expect_rc 5 "compact with a damaged segment"
expect_in "$(basename "$victim")" "$T/err" "compact names the damaged segment"
expect_eq "$(jq -c '.damaged' "$T/out")" 1 "one damaged"
[ -f "$victim" ] || fail "the damaged segment was removed"

evs compact "$T/none"
expect_rc 1 "compact of a missing store"
one_stderr_line compact "compact of a missing store"
expect_in "no store in" "$T/err" "compact of a missing store says so"
evs compact "$d" --keep x
expect_rc 2 "bad --keep"
one_stderr_line compact "bad --keep"
evs compact --help
expect_rc 0 "compact --help"
expect_in "Exit codes:" "$T/out" "compact --help has the exit codes"
echo ok

# test_damaged_event.sh - one damaged event costs that event, not the log, for readers.
#
# A 22-event store in three streams (event i in stream s<i mod 3>) gets one byte of the
# event at position 4 (stream s1, version 1) changed. Streams whose events are all intact
# are read whole, as before; a read that reaches the damaged event fails naming the
# file, the byte offset and the position; `streams` still counts the damaged version and
# the next append to its stream gets the version after it; verify reports the damage.
# A damaged event that is the only one of its stream is not dropped from the stream
# table: reading the stream fails naming it. Damage to the event's stream name, link or
# position fields (whose stream it was cannot be told): with the stream index the
# closing writer left, reads of other streams go on and a read of its stream fails
# naming it; without the index, the table cannot be rebuilt past it and every stream
# read fails, naming it, never cutting the stream table short.
. "$(dirname "$0")/lib.sh"

# make_store DIR [STREAM_OF_4]: 22 events, event i in s<i mod 3> (event 4 in
# STREAM_OF_4 when given)
make_store() {
    i=1
    while [ $i -le 22 ]; do
        s=s$((i % 3))
        [ $i -eq 4 ] && [ -n "${2:-}" ] && s=$2
        echo "{\"stream\":\"$s\",\"type\":\"T\",\"data\":{\"i\":$i}}"
        i=$((i + 1))
    done | "$EVS" append --create "$1" --quiet 2>/dev/null || fail "appending to $1"
}
# rec_off DIR POS: byte offset of the record at POS in the (only) segment
rec_off() {
    od -An -tu4 -j $((($2 - 1) * 4)) -N4 "$1"/00000000000000000001.idx | tr -d ' '
}
# put DIR OFFSET BYTE: overwrite one byte of the segment
put() {
    printf "$3" | dd of="$1"/00000000000000000001.seg bs=1 seek="$2" conv=notrunc 2>/dev/null ||
        fail "dd into the segment"
}

# ---- a byte of the event's data ---------------------------------------------------------
d=$T/data
make_store "$d"
for s in s0 s2; do
    "$EVS" read "$d" --stream $s >"$T/before-$s" || fail "read $s before the damage"
done
rec=$(rec_off "$d" 4)
len=$(od -An -tu4 -j $((rec + 4)) -N4 "$d"/00000000000000000001.seg | tr -d ' ')
put "$d" $((rec + len - 3)) 'X' # inside the data, before its closing braces

for s in s0 s2; do
    evs read "$d" --stream $s
    expect_rc 0 "read of intact stream $s past the damaged event"
    cmp -s "$T/out" "$T/before-$s" || fail "stream $s read after the damage differs"
done
evs read "$d" --stream s1
expect_rc 5 "read of the stream holding the damaged event"
expect_in "00000000000000000001.seg" "$T/err" "the stream read names the file"
expect_in "byte $rec " "$T/err" "the stream read names the byte offset"
expect_in "position 4" "$T/err" "the stream read names the position"
evs read "$d"
expect_rc 5 "read of the whole log reaches the damaged event"
expect_in "byte $rec " "$T/err" "the log read names the byte offset"
expect_in "position 4" "$T/err" "the log read names the position"
expect_eq "$(lines "$T/out")" 3 "the log read hands out the events before the damage"
evs streams "$d"
expect_rc 0 "streams of a store with a damaged event"
expect_eq "$(jq -c 'select(.stream=="s1") | [.version,.events]' "$T/out")" '[7,8]' \
    "streams counts the damaged version"
echo '{"stream":"s1","type":"T","data":{}}' | evs append "$d"
expect_rc 0 "append to the stream of the damaged event"
expect_eq "$(jq -c '[.pos,.version]' "$T/out")" '[23,8]' "the next version follows the damaged one"
echo '{"stream":"s2","type":"T","data":{}}' | evs append "$d"
expect_rc 0 "append to another stream"
evs verify "$d"
expect_rc 5 "verify reports the damaged event"
expect_in "byte $rec" "$T/err" "verify names the byte offset"

# ---- the only event of its stream --------------------------------------------------------
d=$T/solo
make_store "$d" solo
rec=$(rec_off "$d" 4)
len=$(od -An -tu4 -j $((rec + 4)) -N4 "$d"/00000000000000000001.seg | tr -d ' ')
put "$d" $((rec + len - 3)) 'X'
evs read "$d" --stream solo
expect_rc 5 "read of a stream whose only event is damaged"
expect_in "position 4" "$T/err" "the read names the damaged event"
evs streams "$d"
expect_eq "$(jq -c 'select(.stream=="solo") | [.version,.first_pos]' "$T/out")" '[0,4]' \
    "the stream table keeps the damaged stream"
echo '{"stream":"solo","type":"T","data":{},"expected_version":0}' | evs append "$d"
expect_rc 0 "append after a damaged only event, expecting its version"
expect_eq "$(jq -c .version "$T/out")" 1 "the append gets version 1"
evs read "$d" --stream s0
expect_rc 0 "other streams stay readable"

# ---- the stream name's hash: whose event it was cannot be told -----------------------
d=$T/header
make_store "$d"
rec=$(rec_off "$d" 4)
put "$d" $((rec + 56)) '\377'
evs read "$d" --stream s0
expect_rc 0 "with the stream index, a read of another stream"
evs read "$d" --stream s1
expect_rc 5 "with the stream index, a read of the damaged event's stream"
expect_in "position 4" "$T/err" "that read names the position"
rm -rf "$d/stream-index"
evs read "$d" --stream s0
expect_rc 5 "a stream read when the damaged event's stream cannot be told"
expect_in "byte $rec " "$T/err" "that read names the byte offset"
expect_in "position 4" "$T/err" "that read names the position"

# ---- the position field: it is not taken for the end of the log --------------------------
d=$T/position
make_store "$d"
rec=$(rec_off "$d" 4)
put "$d" $((rec + 14)) '\177'
rm -rf "$d/stream-index"
evs streams "$d"
expect_rc 5 "streams when the damaged event's position is damaged"
expect_in "position 4" "$T/err" "the damaged position is named as the one expected"

echo ok

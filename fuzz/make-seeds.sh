#!/bin/sh
# make-seeds.sh - regenerate the seed inputs of the fuzz corpora from real stores
# written by the evstore CLI. Seeds are committed; run this only when the segment
# format changes. New inputs found by fuzzing (make fuzz) sit beside the seeds.
#
#   fuzz/make-seeds.sh path/to/evstore
#
# fuzz_segment inputs are one flags byte (see fuzz_segment.c) + segment bytes.
set -eu
cli=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seg=$here/corpus/fuzz_segment
rec=$here/corpus/fuzz_record
mkdir -p "$seg" "$rec"

# A small store: three streams, single events and a batch, metadata, a given id.
"$cli" init "$tmp/small" >/dev/null
"$cli" append "$tmp/small" --batch 1 >/dev/null <<'NDJSON'
{"stream":"acct-1","type":"Opened","data":{"owner":"ann","limit":100}}
{"stream":"acct-2","type":"Opened","data":{"owner":"bob"},"metadata":{"actor":"ann"}}
{"stream":"acct-1","type":"Deposited","data":{"amount":12.5},"id":"7d444840-9dc0-11d1-b245-5ffdce74fad2"}
{"stream":"order","type":"Placed","data":[1,2,3]}
NDJSON
"$cli" append "$tmp/small" --atomic >/dev/null <<'NDJSON'
{"stream":"acct-1","type":"Withdrawn","data":{"amount":3}}
{"stream":"acct-1","type":"Withdrawn","data":{"amount":4}}
{"stream":"acct-2","type":"Closed","data":null,"metadata":{"reason":"\u00e9t\u00e9"}}
NDJSON
s1=$tmp/small/00000000000000000001.seg
for flags in 00 01 03 08 13; do
    { printf "\\$(printf %03o 0x$flags)"; cat "$s1"; } >"$seg/small-$flags"
done
# small-00's header names the store that wrote it, not the fuzz template's: with 0x10
# this reproduces the foreign-store-id recovery bug (see fuzz_segment.c).
{ printf '\020'; cat "$s1"; } >"$seg/foreign-store-id"
# The header alone, and the log cut inside its last record.
{ printf '\000'; head -c 64 "$s1"; } >"$seg/header-only"
size=$(wc -c <"$s1")
{ printf '\023'; head -c $((size - 20)) "$s1"; } >"$seg/torn-tail"

# Two segments: a 64 KiB segment size and enough events to roll once; the input is the
# two files back to back (flag 0x04 splits them again).
"$cli" init "$tmp/two" --segment-size 64K >/dev/null
pad=$(head -c 3000 /dev/zero | tr '\0' 'x')
i=0
while [ $i -lt 24 ]; do
    echo "{\"stream\":\"big-$((i % 3))\",\"type\":\"Filled\",\"data\":{\"i\":$i,\"pad\":\"$pad\"}}"
    i=$((i + 1))
done | "$cli" append "$tmp/two" --batch 1 >/dev/null
segs=$(ls "$tmp/two"/*.seg)
{ printf '\025'; cat $segs; } >"$seg/two-segments"

# Single records for fuzz_record: every record of the small store's segment.
off=64
n=0
while [ $off -lt "$size" ]; do
    len=$(od -An -tu4 -j $((off + 4)) -N4 "$s1" | tr -d ' ')
    dd if="$s1" of="$rec/record-$n" bs=1 skip=$off count="$len" 2>/dev/null
    off=$((off + (len + 7) / 8 * 8))
    n=$((n + 1))
done
# A record whose frame is whole but whose position is 0 (REC_BADVAL without the
# checksum check, REC_BADCRC with it): the decoder's last status, which the harness
# once did not know.
len=$(wc -c <"$rec/record-1")
{ head -c 8 "$rec/record-1"; head -c 8 /dev/zero; tail -c $((len - 16)) "$rec/record-1"; } \
    >"$rec/badval-pos-zero"
echo "seeds written: $(ls "$seg" | wc -l) segment, $((n + 1)) record"

# The cache targets (fuzz_cache_*.c) build their own store; a seed is a flags byte and
# bytes XORed over the real cache file (flag 0x04; 0x20 cuts the file at their length),
# so zeros give the real file back and a few set bits small lies in it.
# seed TARGET NAME FLAGS ZEROS [BYTE...]: FLAGS then ZEROS zero bytes then BYTEs (octal).
seed() {
    d=$here/corpus/$1
    mkdir -p "$d"
    { printf "\\$3"; head -c "$4" /dev/zero; shift 4; for b in "$@"; do printf "\\$b"; done; } \
        >"$d/$name"
}
for t in fuzz_cache_idx fuzz_cache_sdx; do
    name=real-seg0 seed $t x 004 0
    name=real-seg1 seed $t x 005 0
    name=real-seg2 seed $t x 006 0
    name=real-readonly seed $t x 014 0
    name=empty seed $t x 000 0
    name=cut-empty seed $t x 044 0
    name=cut-100 seed $t x 044 100
    name=cut-40-seg1 seed $t x 045 40
    name=cut-100-readonly seed $t x 054 100
    name=flip-64 seed $t x 004 64 001
done
name=lie-entry seed fuzz_cache_sdx x 024 70 001           # 0x10: checksums fixed
name=lie-entry-seg1 seed fuzz_cache_sdx x 025 200 377
t=fuzz_cache_snap
name=real seed $t x 004 0
name=real-readonly seed $t x 014 0
name=empty seed $t x 000 0
name=header-only seed $t x 044 64
name=flip seed $t x 004 70 001
name=lie-slots seed $t x 024 40 001                     # the slot count, checksums fixed
name=lie-name-off seed $t x 024 72 377 377              # slot 0's name offset
name=lie-slot-version seed $t x 024 104 001             # slot 0's last version
t=fuzz_cache_head
name=real seed $t x 004 0
name=real-readonly seed $t x 014 0
name=empty seed $t x 000 0
name=empty-readonly seed $t x 010 0
name=other-boot seed $t x 004 24 001
name=cut-100 seed $t x 044 100
name=identity-pos seed $t x 024 48 005                  # 0x10: this store, this boot
name=identity-end seed $t x 024 64 200
name=identity-odd-seq-readonly seed $t x 034 40 001
t=fuzz_cache_ckpt
name=real seed $t x 004 0
name=empty seed $t x 000 0
name=cut-60 seed $t x 044 60
name=flip-pos seed $t x 004 16 001
name=lie-pos seed $t x 014 16 377                       # 0x08: slot checksums fixed
name=lie-negative seed $t x 014 23 200
name=lie-seq seed $t x 014 8 002
echo "cache seeds written"

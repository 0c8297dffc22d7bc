#!/bin/sh
# export --zstd | import: the round trip reproduces ids, streams, versions, types, data,
# metadata and positions exactly, and the original timestamps as metadata.imported_ts;
# zstd (and gzip) input is recognised by its magic bytes whatever its name, through a
# pipe too; concatenated frames are read on; a cut frame, bytes after the last frame,
# an unreadable file each stop with a message naming file and line; the progress bar
# shows on a terminal only.
. "$(dirname "$0")/lib.sh"

src=$T/src
{
    echo '{"stream":"order-1","type":"Placed","data":{"sku":"A1","note":"caf\u00e9 \"q\""},"metadata":{"actor":"ann"}}'
    echo '{"stream":"order-2","type":"Placed","data":[1,2,3],"id":"0b7e0f4e-2c1a-4d5e-9f00-1a2b3c4d5e6f"}'
    echo '{"stream":"order-1","type":"Paid","data":12.5,"metadata":{}}'
    echo '{"stream":"order-1","type":"Shipped","data":null,"metadata":{"imported_ts":"2001-01-01T00:00:00Z","k":[true]}}'
} | "$EVS" append --create "$src" --quiet --batch 1 || fail "append the source"
seq 1 3000 | sed 's/.*/{"stream":"bulk-&","type":"N","data":{"n":&}}/' |
    "$EVS" append --create "$src" --quiet || fail "append bulk"

"$EVS" read "$src" >"$T/read.ndjson" || fail "read the source"
evs export "$src" --zstd -o "$T/all.zst"
expect_rc 0 "export --zstd -o"
expect_eq "$(jq -c .exported "$T/out")" 3004 "export --zstd counts"

# Everything but ts and pos as it was; ts in imported_ts (unless the event had one).
view='[.pos,.stream,.version,.id,.type,.data,(.metadata // {} | del(.imported_ts))]'
jq -c "$view" "$T/read.ndjson" >"$T/want"
jq -r 'if .metadata.imported_ts then .metadata.imported_ts else .ts end' "$T/read.ndjson" \
    >"$T/want_ts"
check_copy() { # STORE WHAT
    "$EVS" read "$1" >"$T/copy.ndjson" || fail "$2: read the copy"
    jq -c "$view" "$T/copy.ndjson" >"$T/got"
    cmp -s "$T/got" "$T/want" || fail "$2: events differ: $(diff "$T/got" "$T/want" | head -5)"
    jq -r '.metadata.imported_ts' "$T/copy.ndjson" >"$T/got_ts"
    cmp -s "$T/got_ts" "$T/want_ts" || fail "$2: timestamps differ"
    # Metadata that had no imported_ts gets only that key more, in front.
    jq -c 'select(.stream == "order-1" and .version == 0) | .metadata' "$T/copy.ndjson" >"$T/m"
    expect_eq "$(jq -c 'keys_unsorted' "$T/m")" '["imported_ts","actor"]' "$2: metadata keys"
}

have_store "$T/c1"
evs import "$T/c1" --format ndjson "$T/all.zst"
expect_rc 0 "import a .zst file"
expect_eq "$(cat "$T/out")" '{"imported":3004}' "import .zst counts"
expect_empty "$T/err" "import .zst: nothing on stderr"
check_copy "$T/c1" "file"

# A pipe, and a file whose name says nothing: told by the magic bytes.
"$EVS" export "$src" --zstd | "$EVS" import --create "$T/c2" --format ndjson - >"$T/out" ||
    fail "export --zstd | import -"
check_copy "$T/c2" "pipe"
cp "$T/all.zst" "$T/backup.ndjson"
have_store "$T/c3"
evs import "$T/c3" --format ndjson "$T/backup.ndjson"
check_copy "$T/c3" "zstd named .ndjson"
"$EVS" export "$src" --gzip -o "$T/gz.data" >/dev/null || fail "export --gzip"
have_store "$T/c4"
evs import "$T/c4" --format ndjson "$T/gz.data"
check_copy "$T/c4" "gzip named .data"

# Two frames back to back are one input (zstd -d reads them so too).
"$EVS" export "$src" --zstd --to 2 >"$T/a.zst" || fail "first part"
"$EVS" export "$src" --zstd --from 3 >"$T/b.zst" || fail "second part"
cat "$T/a.zst" "$T/b.zst" >"$T/ab.zst"
have_store "$T/c5"
evs import "$T/c5" --format ndjson "$T/ab.zst"
expect_rc 0 "concatenated frames"
check_copy "$T/c5" "two frames"

# ---- damaged input ----------------------------------------------------------------------
size=$(wc -c <"$T/all.zst")
head -c $((size - 5)) "$T/all.zst" >"$T/cut.zst"
have_store "$T/d1"
evs import "$T/d1" --format ndjson "$T/cut.zst"
expect_rc 1 "a cut zstd file"
one_stderr_line import "cut zstd"
expect_in "cut.zst:" "$T/err" "cut zstd: names the file"
expect_in "cannot read: the zstd data is cut short" "$T/err" "cut zstd: says why"
n=$(count_events "$T/d1")
[ "$n" -gt 0 ] && [ "$n" -lt 3004 ] || fail "cut zstd: the lines before the cut are in ($n)"
expect_in "$n events were imported (through $T/cut.zst:$n), none after" "$T/err" \
    "cut zstd: says through which line"

{ cat "$T/all.zst"; echo "trailing junk"; } >"$T/junk.zst"
have_store "$T/d2"
evs import "$T/d2" --format ndjson "$T/junk.zst"
expect_rc 1 "bytes after the last frame"
expect_in "junk.zst:3005: cannot read: bytes after the end of the zstd data are not zstd" \
    "$T/err" "trailing junk named after the last line"
expect_eq "$(count_events "$T/d2")" 3004 "every complete line before the junk is in"

have_store "$T/d3"
evs import "$T/d3" --format ndjson "$T/all.zst" "$T"
expect_rc 1 "a directory as input"
expect_in "$T: cannot read: Is a directory; 3004 events were imported (through $T/all.zst:3004)" \
    "$T/err" "an unreadable input after a good one: named, the good one committed"
expect_eq "$(count_events "$T/d3")" 3004 "the input before the unreadable one is in"

# ---- progress: on a terminal only -----------------------------------------------------------
have_store "$T/q1"
evs import "$T/q1" --format ndjson "$T/all.zst"
expect_empty "$T/err" "no progress when stderr is not a terminal"
if command -v script >/dev/null 2>&1; then
    # script(1) runs the command on a pseudo-terminal: now the bar is drawn, then cleared.
    script -qec "'$EVS' import --create '$T/q2' --format ndjson '$T/all.zst'" /dev/null >"$T/tty" 2>&1 ||
        fail "import on a terminal"
    grep -q "import: 100% \[#" "$T/tty" || fail "progress bar on a terminal: $(cat -v "$T/tty")"
    grep -q '"imported":3004' "$T/tty" || fail "the result after the progress bar"
    script -qec "cat '$T/all.zst' | '$EVS' import --create '$T/q3' --format ndjson -" /dev/null \
        >"$T/tty" 2>&1 || fail "import from a pipe on a terminal"
    grep -q "import: 3004 events, .* MiB read" "$T/tty" ||
        fail "progress counts when the size is unknown: $(cat -v "$T/tty")"
else
    echo "skipped: progress on a terminal (no script(1) here)"
fi
echo ok

#!/bin/sh
# evstore export: stdout equals `read` byte for byte (also with filters), --gzip and
# --zstd to stdout and to a file (checked with the gzip and zstd tools), -o replaces atomically (no temp file left, a failed export
# leaves the old file), {"exported":N,"file":F}, a closed pipe, usage errors.
. "$(dirname "$0")/lib.sh"

d=$T/store
cat >"$T/in" <<'IN'
{"stream":"order-1","type":"A","data":{"k":"v \u00e9 \"q\""},"metadata":{"m":1}}
{"stream":"order-2","type":"B","data":[1,2,3]}
{"stream":"user-1","type":"A","data":null}
IN
evs append --create "$d" --quiet <"$T/in"
expect_rc 0 "append the fixture"
"$EVS" read "$d" >"$T/read.ndjson" || fail "read"

evs export "$d"
expect_rc 0 "export to stdout"
cmp -s "$T/out" "$T/read.ndjson" || fail "export prints exactly what read prints"
"$EVS" read "$d" --category order --backwards >"$T/read2" || fail "read with filters"
evs export "$d" --category order --backwards
cmp -s "$T/out" "$T/read2" || fail "export takes read's filters"

evs export "$d" --gzip
expect_rc 0 "export --gzip to stdout"
gzip -dc <"$T/out" >"$T/unz" || fail "export --gzip writes gzip"
cmp -s "$T/unz" "$T/read.ndjson" || fail "export --gzip decompresses to read's output"

evs export "$d" --zstd
expect_rc 0 "export --zstd to stdout"
zstd -q -d -c <"$T/out" >"$T/unz" || fail "export --zstd writes zstd"
cmp -s "$T/unz" "$T/read.ndjson" || fail "export --zstd decompresses to read's output"
evs export "$d" --zstd -o "$T/x.zst" --type A
expect_eq "$(jq -c .exported "$T/out")" 2 "--zstd -o with a filter: count"
"$EVS" read "$d" --type A >"$T/readA" || fail "read --type A"
zstd -q -d -c "$T/x.zst" | cmp -s - "$T/readA" || fail "--zstd -o with a filter: content"
zstd -q -t "$T/x.zst" || fail "zstd -t accepts the file (frame and checksum)"

evs export "$d" -o "$T/x.ndjson"
expect_rc 0 "export -o"
expect_eq "$(jq -c . "$T/out")" "{\"exported\":3,\"file\":\"$T/x.ndjson\"}" "-o prints a summary"
cmp -s "$T/x.ndjson" "$T/read.ndjson" || fail "export -o writes read's output"
evs export "$d" --output="$T/x.gz" --gzip --type A
expect_eq "$(jq -c .exported "$T/out")" 2 "--gzip -o with a filter: count"
"$EVS" read "$d" --type A >"$T/read3" || fail "read --type A"
gzip -dc "$T/x.gz" | cmp -s - "$T/read3" || fail "--gzip -o with a filter: content"
[ -z "$(find "$T" -maxdepth 1 -name '*.tmp.*')" ] || fail "no temporary file is left"

# A failed export keeps the previous file and leaves no temporary file behind.
echo previous >"$T/keep.ndjson"
evs export "$T/missing" -o "$T/keep.ndjson"
expect_rc 1 "export of a missing store"
one_stderr_line export "missing store"
expect_eq "$(cat "$T/keep.ndjson")" previous "a failed export leaves the old file"
mkdir "$T/ro"
chmod 500 "$T/ro"
if [ "$(id -u)" -ne 0 ]; then
    evs export "$d" -o "$T/ro/x"
    expect_rc 1 "export into a read-only directory"
    one_stderr_line export "read-only directory"
fi
evs export "$d" -o "$T/nodir/x"
expect_rc 1 "export into a missing directory"
one_stderr_line export "missing directory"
expect_in "$T/nodir/x" "$T/err" "the message names the file"

# A closed pipe ends it quietly.
seq 1 20000 | sed 's/.*/{"stream":"many","type":"N","data":&}/' |
    "$EVS" append --create "$T/many" --quiet || fail "append many"
{
    "$EVS" export "$T/many" 2>"$T/err"
    echo $? >"$T/rc_head"
} | head -n 1 >/dev/null
expect_eq "$(cat "$T/rc_head")" 0 "export | head -1 exits 0"
expect_empty "$T/err" "export | head -1: nothing on stderr"

# SIGKILLed in the middle of writing its file, export -o leaves nothing in the
# directory: the file has no name until it is complete (the old export stays).
# The store is large enough that the export takes a good part of a second.
"$EVS" init "$T/big" >/dev/null || fail "init the big store"
seq 1 60000 | sed 's/.*/{"stream":"big","type":"N","data":"&-'"$(printf '%090d' 0)"'"}/' |
    "$EVS" append "$T/big" --quiet --sync none || fail "append the big store"
mkdir "$T/killed"
echo previous >"$T/killed/x.gz"
"$EVS" export "$T/big" --gzip -o "$T/killed/x.gz" 2>"$T/err" &
pid=$!
writing=false
for _ in $(seq 1 500); do
    # The export is under way once it holds a descriptor on a file of that directory.
    if ls -l "/proc/$pid/fd" 2>/dev/null | grep -q -- "-> $T/killed/"; then
        writing=true
        break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
[ "$writing" = true ] || fail "export -o never seen writing its file (finished too soon?)"
expect_eq "$(ls "$T/killed")" x.gz "a killed export -o leaves no temporary file"
expect_eq "$(cat "$T/killed/x.gz")" previous "a killed export -o leaves the old file"

evs export "$d" -o ""
expect_rc 2 "-o empty"
evs export "$d" --gzip=1
expect_rc 2 "--gzip with a value"
evs export "$d" --gzip --zstd
expect_rc 2 "--gzip and --zstd"
one_stderr_line export "--gzip and --zstd"
evs export "$d" --from-version 2
expect_rc 2 "--from-version without --stream"
evs export --help
expect_rc 0 "--help"
expect_in "usage: evstore export" "$T/out" "--help prints usage"
echo ok

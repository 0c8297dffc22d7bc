#!/bin/sh
# evstore backup: the backup reads back exactly as the store did, its JSON line counts
# the segments, a second run is incremental (prev_pos, kept), --copy links nothing,
# --help names the exit codes, and bad destinations (a file, a folder of other files, a
# missing DEST) are refused with exit 4 or 2, changing nothing. --to-stdout writes a tar
# that extracts to a store reading back the same.
. "$(dirname "$0")/lib.sh"

d=$T/store
evs init "$d" --segment-size 64K
expect_rc 0 "init"
seq 1 1500 | sed 's/.*/{"stream":"s-&","type":"N","data":{"n":&,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}/' |
    evs append "$d" --quiet --batch 1 --sync none
expect_rc 0 "append 1500 events"

evs backup "$d" "$T/bk"
expect_rc 0 "backup"
expect_eq "$(jq -r .pos "$T/out")" 1500 "backup position"
expect_eq "$(jq -r .prev_pos "$T/out")" 0 "no earlier backup"
expect_eq "$(jq -r .events_verified "$T/out")" 1500 "events verified"
segs=$(jq -r .segments "$T/out")
[ "$segs" -ge 3 ] || fail "a few segments expected, got $segs"
[ "$(jq -r .linked "$T/out")" -ge 1 ] || fail "sealed segments hard-linked on one file system"
"$EVS" read "$d" >"$T/store.ndjson" || fail "read the store"
"$EVS" read "$T/bk" >"$T/bk.ndjson" || fail "read the backup"
cmp -s "$T/store.ndjson" "$T/bk.ndjson" || fail "the backup reads back differently"
expect_in "evstore-backup 1 pos=1500 " "$T/bk/backup" "backup file"
evs verify "$T/bk"
expect_rc 0 "verify the backup"

seq 1501 2500 | sed 's/.*/{"stream":"s-&","type":"N","data":{"n":&}}/' |
    evs append "$d" --quiet --batch 1 --sync none
evs backup "$d" "$T/bk" --copy
expect_rc 0 "incremental backup"
expect_eq "$(jq -r .pos "$T/out")" 2500 "second position"
expect_eq "$(jq -r .prev_pos "$T/out")" 1500 "earlier position"
expect_eq "$(jq -r .linked "$T/out")" 0 "--copy links nothing"
[ "$(jq -r .kept "$T/out")" -ge 2 ] || fail "sealed segments of the earlier backup kept"
"$EVS" read "$d" >"$T/store.ndjson" || fail "read the store"
"$EVS" read "$T/bk" >"$T/bk.ndjson" || fail "read the backup"
cmp -s "$T/store.ndjson" "$T/bk.ndjson" || fail "the incremental backup reads back differently"

"$EVS" backup "$d" --to-stdout >"$T/bk.tar" 2>"$T/err" || fail "backup --to-stdout"
mkdir "$T/untar"
tar -xf "$T/bk.tar" -C "$T/untar" || fail "the tar stream extracts"
"$EVS" read "$T/untar/store" >"$T/untar.ndjson" || fail "read the extracted backup"
cmp -s "$T/store.ndjson" "$T/untar.ndjson" || fail "the tar backup reads back differently"
expect_in "evstore-backup 1 pos=2500 " "$T/untar/store/backup" "the tar holds the backup file"
expect_eq "$(ls -a "$T" | grep -c evstore-tar)" 0 "the temporary backup is removed"

evs backup --help
expect_rc 0 "--help"
expect_in "Exit codes:" "$T/out" "help names the exit codes"

echo "precious" >"$T/afile"
evs backup "$d" "$T/afile"
expect_rc 4 "DEST is a file"
expect_in "is not a directory" "$T/err" "message"
expect_eq "$(cat "$T/afile")" "precious" "the file is untouched"

mkdir "$T/photos" && echo "cat" >"$T/photos/cat.jpg"
evs backup "$d" "$T/photos"
expect_rc 4 "DEST holds other files"
expect_in "not empty and holds no backup" "$T/err" "message"
expect_eq "$(ls "$T/photos")" "cat.jpg" "the folder is untouched"

evs backup "$d"
expect_rc 2 "DEST missing"
echo "ok"

#!/bin/sh
# test_env_errors.sh - what the environment can do wrong, through the real binary: a
# full disk under stdout, a reader that goes away, a directory that is not a store (or
# not there, or a file), an unreadable import input, a store of a newer format version. Each must end with one clear line
# on stderr and the documented exit code, and change nothing.
. "$(dirname "$0")/lib.sh"

d="$T/store"
evs init "$d"
i=0
while [ $i -lt 3000 ]; do
    echo "{\"stream\":\"s-$((i % 7))\",\"type\":\"T\",\"data\":{\"i\":$i}}"
    i=$((i + 1))
done >"$T/in.ndjson"
evs append --create "$d" --quiet <"$T/in.ndjson"
expect_rc 0 "setup"

# A full disk under stdout (/dev/full fails every write with ENOSPC).
if [ -w /dev/full ]; then
    for cmd in "read" "export" "stat" "streams" "tail -n 5" "consumers"; do
        rc=0
        # shellcheck disable=SC2086 # the command and its options
        "$EVS" $cmd "$d" >/dev/full 2>"$T/err" || rc=$?
        name=${cmd%% *}
        [ "$name" = consumers ] && [ $rc -eq 0 ] && continue # prints nothing: no consumers
        expect_eq "$rc" 1 "$cmd > /dev/full: exit status"
        one_stderr_line "$name" "$cmd > /dev/full"
        expect_in "No space left on device" "$T/err" "$cmd > /dev/full says the disk is full"
    done
else
    echo "skipped: /dev/full is not writable here" >&2
fi

# A reader that goes away: exit 0, nothing on stderr, the store untouched.
for cmd in read export; do
    rc=0
    { "$EVS" $cmd "$d" 2>"$T/err" || echo $? >"$T/rc_pipe"; } | head -n 1 >"$T/out"
    [ -f "$T/rc_pipe" ] && rc=$(cat "$T/rc_pipe")
    rm -f "$T/rc_pipe"
    expect_eq "$rc" 0 "$cmd | head -1: exit status"
    expect_empty "$T/err" "$cmd | head -1: nothing on stderr"
    expect_eq "$(lines "$T/out")" 1 "$cmd | head -1: one line"
done
expect_eq "$(count_events "$d")" 3000 "the store is whole after the broken pipes"

# Not a store: an empty directory, one holding other files, none at all, a file.
mkdir "$T/empty" "$T/other"
echo hello >"$T/other/notes.txt"
for target in "$T/empty" "$T/other" "$T/missing" "$T/in.ndjson"; do
    for cmd in read stat verify streams; do
        evs $cmd "$target"
        expect_rc 1 "$cmd on '$target': exit status"
        one_stderr_line "$cmd" "$cmd on '$target'"
        expect_in "no evstore store at '$target'" "$T/err" "$cmd on '$target' names it"
    done
done
[ ! -e "$T/missing" ] || fail "reading a missing store created it"
[ "$(ls "$T/other")" = "notes.txt" ] || fail "reading a non-store changed it: $(ls "$T/other")"
[ -z "$(ls "$T/empty")" ] || fail "reading an empty directory wrote into it: $(ls "$T/empty")"

# Appending needs an existing store or an empty directory: a directory of other files is
# refused, not turned into a store.
echo '{"stream":"a","type":"T","data":{}}' | evs append --create "$T/other"
expect_rc 1 "append into a non-store directory"
one_stderr_line append "append into a non-store directory"
[ "$(ls "$T/other")" = "notes.txt" ] || fail "append changed a non-store directory: $(ls "$T/other")"

# Unreadable import inputs: a directory, a missing file. Nothing is imported.
evs import --create "$d" --format ndjson "$T/empty"
expect_rc 1 "import of a directory"
one_stderr_line import "import of a directory"
expect_in "$T/empty" "$T/err" "import of a directory names it"
evs import --create "$d" --format ndjson "$T/nothing.ndjson"
expect_rc 1 "import of a missing file"
one_stderr_line import "import of a missing file"
expect_in "$T/nothing.ndjson" "$T/err" "import of a missing file names it"
expect_eq "$(count_events "$d")" 3000 "failed imports wrote nothing"

# A store of a newer format version (fixtures/newer-format: an evstore.meta of format
# version 2 with a valid checksum): every command refuses it and changes nothing.
cp -r "$(dirname "$0")/fixtures/newer-format" "$T/newer"
for cmd in read stat verify streams tail append repair; do
    echo '{"stream":"a","type":"T","data":{}}' | evs $cmd "$T/newer"
    expect_rc 1 "$cmd on a newer format version"
    one_stderr_line "$cmd" "$cmd on a newer format version"
    expect_in "store format version 2 is newer than this evstore supports" "$T/err" \
        "$cmd says the format is newer"
done
[ "$(ls "$T/newer")" = "evstore.meta" ] || fail "a newer store was changed: $(ls "$T/newer")"
cmp -s "$T/newer/evstore.meta" "$(dirname "$0")/fixtures/newer-format/evstore.meta" ||
    fail "a newer store's meta file was changed"

echo "ok: environment errors"

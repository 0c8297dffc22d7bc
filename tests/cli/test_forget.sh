#!/bin/sh
# evstore forget: append takes the subject from metadata.subject, the data is not in the
# log in clear, forget makes every read and export show the erased marker while the
# other fields stay, import of an export keeps subjects; bad input.
. "$(dirname "$0")/lib.sh"

d=$T/store
evs init "$d"
expect_rc 0 "init"
cat >"$T/in.ndjson" <<'NDJSON'
{"stream":"user-1","type":"Registered","data":{"email":"ann@example.org"},"metadata":{"subject":"ann"}}
{"stream":"user-2","type":"Registered","data":{"email":"bob@example.org"},"metadata":{"subject":"bob"}}
{"stream":"user-1","type":"Renamed","data":{"name":"Ann Secret"},"metadata":{"subject":"ann","actor":"x"}}
{"stream":"audit","type":"Logged","data":{"n":1}}
NDJSON
evs append "$d" <"$T/in.ndjson"
expect_rc 0 "append with subjects"
if grep -q "Ann Secret" "$d"/*.seg; then fail "the data of a subject's event is in the log in clear"; fi
grep -q '"n":1' "$d"/*.seg || fail "the data of an event without a subject is in the log"
evs read "$d"
expect_in '"name":"Ann Secret"' "$T/out" "read decrypts"

evs forget "$d" ann
expect_rc 0 "forget ann"
expect_eq "$(cat "$T/out")" '{"forgotten":"ann","keys":1}' "forget prints what it did"
evs read "$d"
expect_eq "$(jq -c 'select(.stream=="user-1") | .data' "$T/out" | sort -u)" '{"$erased":true}' \
    "ann's events read as erased"
expect_eq "$(jq -r 'select(.stream=="user-1") | .type' "$T/out" | tr '\n' ' ')" \
    "Registered Renamed " "their types stay"
expect_eq "$(jq -c 'select(.pos==3) | .metadata' "$T/out")" '{"subject":"ann","actor":"x"}' \
    "their metadata stays"
expect_eq "$(jq -c 'select(.stream=="user-2") | .data' "$T/out")" '{"email":"bob@example.org"}' \
    "bob's event is intact"
evs read "$d" --stream user-1 --backwards
expect_eq "$(jq -c .data "$T/out" | sort -u)" '{"$erased":true}' "erased in a stream read too"
evs export "$d" -o "$T/export.ndjson"
expect_rc 0 "export"
expect_eq "$(grep -c '"\$erased":true' "$T/export.ndjson")" 2 "export shows the marker"
evs verify "$d"
expect_rc 0 "verify after forget"
evs subscribe "$d" --timeout 0
expect_eq "$(grep -c '"\$erased":true' "$T/out")" 2 "a subscription shows the marker"

# Forgetting again, or a subject never used: exit 1, nothing changed.
cp "$d/keys" "$T/keys.before"
evs forget "$d" ann
expect_rc 1 "forget ann again"
expect_in "forgotten already" "$T/err" "says why"
evs forget "$d" nobody
expect_rc 1 "forget an unknown subject"
cmp -s "$d/keys" "$T/keys.before" || fail "a failed forget changed the key file"
evs forget "$d" "$(printf 'a\tb')"
expect_rc 4 "a subject with a control character"
evs forget "$d"
expect_rc 2 "no subject"
evs forget "$T/none" ann
expect_rc 1 "no store"
[ ! -e "$T/none" ] || fail "forget created a store"

# A bad subject in append is invalid input; nothing is written.
echo '{"stream":"s","type":"T","data":1,"metadata":{"subject":7}}' >"$T/bad.ndjson"
evs append "$d" <"$T/bad.ndjson"
expect_rc 4 "append with a subject that is not a string"
expect_in "metadata.subject" "$T/err" "names the field"

# The key file damaged: reads of encrypted events fail with exit 5, naming the file.
cp "$d/keys" "$T/keys.good"
printf 'X' | dd of="$d/keys" bs=1 seek=100 conv=notrunc 2>/dev/null
evs read "$d" --stream user-2
expect_rc 5 "read with a damaged key file"
expect_in "keys" "$T/err" "names the key file"
cp "$T/keys.good" "$d/keys"
evs read "$d" --stream user-2
expect_rc 0 "the good key file restored"

evs forget --help
expect_rc 0 "forget --help"
expect_in "Exit codes:" "$T/out" "forget --help lists the exit codes"
evs help
expect_in "forget" "$T/out" "evstore help lists forget"
echo "ok"

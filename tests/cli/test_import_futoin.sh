#!/bin/sh
# evstore import --format futoin: futoin-eventstream's SQLite databases (made here from
# hand-written SQL with the sqlite3 tool). Queue and warehouse merged by id (an id in
# both counted once), type/data/metadata of each event, consumers checkpointed at the
# positions of the events futoin delivered to them (also in a store that held events
# before), --stream and --stream-field, the database opened read-only; every error path
# (missing table, missing column, not a database, a missing file, bad JSON in data, a bad
# ts, rows that disagree, a consumer the store has already) names the file and row id
# and leaves no half-made consumer.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null 2>&1 || fail "the sqlite3 tool is needed (scripts/deps.txt)"
F=$(cd "$(dirname "$0")/fixtures" && pwd)
act=$T/active.db
dwh=$T/warehouse.db
sqlite3 "$act" <"$F/futoin-active.sql" || fail "create the active database"
sqlite3 "$dwh" <"$F/futoin-warehouse.sql" || fail "create the warehouse"
chmod 444 "$act" "$dwh"
sum_before=$(cat "$act" "$dwh" | cksum)

# ---- events, merged by id --------------------------------------------------------------
have_store "$T/s"
evs import "$T/s" --format futoin "$act" "$dwh"
expect_rc 0 "import queue and warehouse"
expect_empty "$T/err" "nothing on stderr"
expect_eq "$(jq -c '[.imported,.merged]' "$T/out")" '[7,2]' "7 events, ids 3 and 4 merged"
"$EVS" read "$T/s" | jq -c '[.pos,.stream,.version,.type,.data,.metadata]' >"$T/got"
cat >"$T/want" <<'W'
[1,"futoin",0,"INT_EVENT",123,{"futoin_id":1,"imported_ts":"2024-01-01T00:00:00.000000000Z"}]
[2,"futoin",1,"STR_EVENT","Some Str",{"futoin_id":2,"imported_ts":"2024-01-01T00:00:01.000000000Z"}]
[3,"futoin",2,"USR_ADD",{"user":"ann","email":"ann@example.com"},{"futoin_id":3,"imported_ts":"2024-01-02T03:04:05.000000000Z"}]
[4,"futoin",3,"DEPOSIT",{"user":"ann","amount":12.5},{"futoin_id":4,"imported_ts":"2024-01-02T03:04:06.000000000Z"}]
[5,"futoin",4,"USR_MOD",{"user":"bob","name":"Bob"},{"futoin_id":5,"imported_ts":"2024-01-03T03:00:00.000000000Z"}]
[6,"futoin",5,"XFER",{"user":"bob","to":"ann","amount":5},{"futoin_id":6,"imported_ts":"2024-01-03T10:00:00.000000000Z"}]
[7,"futoin",6,"NULL_EVENT",null,{"futoin_id":7,"imported_ts":"2024-01-03T10:00:01.250000000Z"}]
W
cmp -s "$T/got" "$T/want" || fail "futoin events in id order: $(diff "$T/got" "$T/want")"
# The data is stored byte for byte, as futoin wrote it.
"$EVS" export "$T/s" --type DEPOSIT | grep -qF '"data":{"user":"ann","amount":12.5}' ||
    fail "data kept byte for byte"

# ---- consumers -------------------------------------------------------------------------
jq -c '.consumers[]' "$T/out" >"$T/got"
cat >"$T/want" <<'W'
{"consumer":"3.Fresh","ident":"3:Fresh","checkpoint":0}
{"consumer":"1.Security","ident":"1:Security","checkpoint":4}
{"consumer":"2.AntiFraud","ident":"2:AntiFraud","checkpoint":5}
{"consumer":"archiver","ident":"archiver","checkpoint":7}
W
cmp -s "$T/got" "$T/want" || fail "consumers and checkpoints in the result: $(cat "$T/got")"
"$EVS" consumers "$T/s" | jq -c '[.consumer,.checkpoint]' >"$T/got"
printf '%s\n' '["1.Security",4]' '["2.AntiFraud",5]' '["3.Fresh",0]' '["archiver",7]' >"$T/want"
cmp -s "$T/got" "$T/want" || fail "durable consumers in the store: $(cat "$T/got")"
# A consumer resumes with the first event futoin had not delivered to it.
evs subscribe "$T/s" --consumer 1.Security --timeout 0
expect_eq "$(jq -c '.metadata.futoin_id' "$T/out" | tr '\n' ' ')" "5 6 7 " \
    "1:Security resumes after id 4"
# futoin kept no filter: the first subscribe with one chooses it, and it is kept.
evs subscribe "$T/s" --consumer 2.AntiFraud --type AFT --timeout 0
expect_rc 0 "an imported consumer takes the filter of its first subscribe"
expect_eq "$("$EVS" consumers "$T/s" | jq -c 'select(.consumer == "2.AntiFraud") | .filter')" \
    '{"types":["AFT"]}' "the adopted filter is kept"
evs subscribe "$T/s" --consumer 2.AntiFraud --timeout 0
expect_rc 4 "then another filter is refused"

# The databases were only read.
expect_eq "$(cat "$act" "$dwh" | cksum)" "$sum_before" "the databases are unchanged"
[ ! -e "$act-journal" ] && [ ! -e "$act-wal" ] || fail "no journal left beside the database"

# In a store that held events already, "nothing delivered" means "start at the first
# imported event", and every checkpoint moves with the positions.
printf '%s\n' '{"stream":"x","type":"Old","data":1}' '{"stream":"x","type":"Old","data":2}' |
    "$EVS" append --create "$T/s2" --quiet || fail "append to s2"
have_store "$T/s2"
evs import "$T/s2" --format futoin "$dwh" "$act" --stream bank
expect_rc 0 "import into a store with events"
expect_eq "$(jq -c '[.consumers[].checkpoint]' "$T/out")" '[2,6,7,9]' "checkpoints after 2 events"
expect_eq "$("$EVS" streams "$T/s2" | jq -c '[.stream,.events]' | sort | tr '\n' ' ')" \
    '["bank",7] ["x",2] ' "--stream bank"

# --stream-field: a field of the data; an event without it stops the import there.
have_store "$T/s3"
evs import "$T/s3" --format futoin "$act" --stream-field user
expect_rc 4 "--stream-field with an event lacking it"
one_stderr_line import "--stream-field missing"
expect_in "active.db, row id 7: evt_queue: field \"data.user\" (--stream-field) is missing" \
    "$T/err" "names file, row id, table and field"
expect_in "3 events were imported (through $act, row id 6), none after" "$T/err" \
    "says through which row"
expect_eq "$("$EVS" read "$T/s3" | jq -r .stream | tr '\n' ' ')" "ann ann bob " \
    "streams from the data"
"$EVS" consumers "$T/s3" >"$T/cons"
expect_empty "$T/cons" "a failed import creates no consumer"

# On a terminal the bar counts rows; never when stderr is a file.
if command -v script >/dev/null 2>&1; then
    script -qec "'$EVS' import --create '$T/tty' --format futoin '$act' '$dwh'" /dev/null >"$T/tty.out" 2>&1 ||
        fail "import on a terminal"
    grep -q "import: 100% \[#*\] 7 events, 9/9 rows" "$T/tty.out" ||
        fail "progress in rows on a terminal: $(cat -v "$T/tty.out")"
else
    echo "skipped: progress on a terminal (no script(1) here)"
fi

# ---- errors ----------------------------------------------------------------------------
sqlite3 "$T/other.db" "CREATE TABLE something (x)" || fail "create other.db"
have_store "$T/e1"
evs import "$T/e1" --format futoin "$T/other.db"
expect_rc 4 "no event table"
one_stderr_line import "no event table"
expect_in "other.db: no table evt_queue or evt_history" "$T/err" "missing table message"
expect_in "nothing was imported" "$T/err" "missing table: nothing imported"

sqlite3 "$T/nots.db" "CREATE TABLE evt_queue (id INTEGER PRIMARY KEY, type TEXT, data TEXT)" ||
    fail "create nots.db"
have_store "$T/e2"
evs import "$T/e2" --format futoin "$T/nots.db"
expect_rc 1 "a missing column"
expect_in "nots.db: table evt_queue: no such column: ts" "$T/err" "missing column message"

echo "not a database" >"$T/text.db"
have_store "$T/e3"
evs import "$T/e3" --format futoin "$T/text.db"
expect_rc 1 "not a database"
expect_in "text.db: cannot read: file is not a database" "$T/err" "not a database message"

have_store "$T/e4"
evs import "$T/e4" --format futoin "$T/missing.db"
expect_rc 1 "a missing file"
expect_in "missing.db: cannot open" "$T/err" "missing file message"
[ ! -e "$T/missing.db" ] || fail "read-only open created the file"

cp "$act" "$T/bad.db"
chmod 644 "$T/bad.db"
sqlite3 "$T/bad.db" "INSERT INTO evt_queue VALUES (8, 'X', '{\"a\":', '2024-01-04 00:00:00');
    INSERT INTO evt_queue VALUES (9, 'X', '1', '2024-01-04 00:00:00')" || fail "bad.db"
have_store "$T/e5"
evs import "$T/e5" --format futoin "$T/bad.db"
expect_rc 4 "bad JSON in data"
one_stderr_line import "bad JSON"
expect_in "bad.db, row id 8: evt_queue: data is not JSON" "$T/err" "bad JSON names file and row id"
expect_in "4 events were imported (through $T/bad.db, row id 7), none after" "$T/err" \
    "bad JSON: what was imported"
expect_eq "$(count_events "$T/e5")" 4 "the rows before are committed"
"$EVS" consumers "$T/e5" >"$T/cons"
expect_empty "$T/cons" "no consumer after a failed import"

cp "$act" "$T/badts.db"
chmod 644 "$T/badts.db"
sqlite3 "$T/badts.db" "UPDATE evt_queue SET ts = 'yesterday' WHERE id = 6" || fail "badts.db"
have_store "$T/e6"
evs import "$T/e6" --format futoin "$T/badts.db"
expect_rc 4 "a bad ts"
expect_in "badts.db, row id 6: evt_queue: ts 'yesterday' is not a time" "$T/err" "bad ts message"

cp "$dwh" "$T/other-dwh.db"
chmod 644 "$T/other-dwh.db"
sqlite3 "$T/other-dwh.db" "UPDATE evt_history SET type = 'USR_DEL' WHERE id = 4" || fail "dwh"
have_store "$T/e7"
evs import "$T/e7" --format futoin "$T/other-dwh.db" "$act"
expect_rc 4 "rows of one id that disagree"
expect_in "row id 4: id 4 is in evt_history and in evt_queue ($act) with a different type" \
    "$T/err" "disagreeing rows message"
expect_eq "$(count_events "$T/e7")" 3 "the ids before are committed"

# A consumer the store has already is left where it is (an import run again must not
# move it back), and listed as kept.
"$EVS" init "$T/e8" >/dev/null || fail "init e8"
"$EVS" subscribe "$T/e8" --consumer archiver --timeout 0 >/dev/null || fail "make consumer"
evs import "$T/e8" --format futoin "$act"
expect_rc 0 "a consumer that exists already"
expect_eq "$(jq -c '.consumers[] | select(.consumer == "archiver")' "$T/out")" \
    '{"consumer":"archiver","ident":"archiver","checkpoint":0,"kept":true}' \
    "the existing consumer is kept, with its own checkpoint"
expect_eq "$("$EVS" consumers "$T/e8" | jq -c 'select(.consumer == "archiver") | .checkpoint')" 0 \
    "the existing consumer did not move"

# ---- run again: nothing twice ------------------------------------------------------------
evs import "$T/s" --format futoin "$act" "$dwh"
expect_rc 0 "the same import again"
expect_eq "$(jq -c '[.imported,.duplicates]' "$T/out")" '[0,7]' "a second run writes nothing"
expect_eq "$(jq -c '[.consumers[].kept]' "$T/out")" '[true,true,true,true]' \
    "a second run keeps the consumers it made"
expect_eq "$(count_events "$T/s")" 7 "still 7 events"
"$EVS" read "$T/s" --limit 1 | jq -r .id >"$T/id"
expect_eq "$(cat "$T/id")" "$(python3 -c 'import uuid; print(uuid.uuid5(uuid.UUID("76f5dc13-1c53-46ed-aa45-e51f70306f33"), "futoin/1"))' 2>/dev/null || cat "$T/id")" \
    "the id is the UUIDv5 of futoin/<id>"
# The rest of an import that stopped: run it again once the row is mended.
cp "$T/bad.db" "$T/mended.db"
chmod 644 "$T/mended.db"
sqlite3 "$T/mended.db" "UPDATE evt_queue SET data = '{\"a\":1}' WHERE id = 8" || fail "mend"
evs import "$T/e5" --format futoin "$T/mended.db"
expect_rc 0 "the mended import"
expect_eq "$(jq -c '[.imported,.duplicates]' "$T/out")" '[2,4]' "only the rest is written"
expect_eq "$("$EVS" read "$T/e5" | jq -c .metadata.futoin_id | tr '\n' ' ')" "3 4 6 7 8 9 " \
    "each event once, in id order"

# ---- consumer names never start with '-' (commands would take them for options) -----------
cp "$act" "$T/dash.db"
chmod 644 "$T/dash.db"
sqlite3 "$T/dash.db" "INSERT INTO evt_consumers VALUES (9, 6, '2024-01-01 00:00:00',
    '2024-01-01 00:00:00', '-internal:BENCH')" || fail "dash.db"
have_store "$T/e10"
evs import "$T/e10" --format futoin "$T/dash.db"
expect_rc 0 "a consumer ident starting with '-'"
expect_eq "$(jq -c '.consumers[] | select(.ident == "-internal:BENCH") | .consumer' "$T/out")" \
    '"_internal.BENCH"' "a leading '-' becomes '_'"
"$EVS" consumers "$T/e10" | jq -r .consumer | grep -q '^-' && fail "a consumer name starts with '-'"

sqlite3 "$T/clash.db" "CREATE TABLE evt_queue (id INTEGER PRIMARY KEY, type TEXT, data TEXT, ts);
    CREATE TABLE evt_consumers (ident TEXT, last_evt_id INTEGER);
    INSERT INTO evt_consumers VALUES ('1:A', 0), ('1.A', 0)" || fail "clash.db"
have_store "$T/e9"
evs import "$T/e9" --format futoin "$T/clash.db"
expect_rc 4 "two idents, one name"
expect_in "would both become evstore consumer '1.A'" "$T/err" "clash message"
echo ok

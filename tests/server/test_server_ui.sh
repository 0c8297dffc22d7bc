#!/bin/sh
# The web UI in a real browser: Debian's Chromium, headless, driven through
# chromium-driver by test_server_ui.py (python3-selenium), against a real `evstore
# serve` on 127.0.0.1 that this script starts, fills and stops. Screenshots of each
# view go to $EVS_UI_SHOTS (the build directory). Exit 77 (skipped) only when the
# browser cannot start; a missing package is a failure: `make test` installs them.
. "$(dirname "$0")/lib_server.sh"

PY=/usr/bin/python3
for need in "$PY" /usr/bin/chromium /usr/bin/chromedriver; do
    [ -x "$need" ] || fail "$need is missing: scripts/deps.txt lists chromium, chromium-driver and python3-selenium"
done
"$PY" -c 'import selenium' 2>/dev/null || fail "python3-selenium is missing (scripts/deps.txt)"

ROOT=$T/root
mkdir "$ROOT"
"$EVS" tenant create "$ROOT" acme >/dev/null || fail "tenant create"
"$EVS" tenant create "$ROOT" zeta >/dev/null || fail "tenant create"
FULL=$(token acme read,append,consume,admin svc)
READ=$(token acme read viewer)
OP=$(token '*' admin)
start_server --root "$ROOT"

# The store the test browses: three order streams, one customer stream, in this order.
AUTH=$FULL
J='Content-Type: application/json'
put() {
    req POST "/v1/t/acme/streams/$1" -H "$J" --data "$2"
    expect_status 201 "fill: append to $1"
}
put order-1 '[{"type":"Placed","data":{"sku":"A1","qty":2}},{"type":"Paid","data":{"amount":19.90}}]'
put order-2 '[{"type":"Placed","data":{"sku":"B7","qty":1}},{"type":"Shipped","data":{"carrier":"post"},"metadata":{"by":"ops"}}]'
put customer-1 '[{"type":"Registered","data":{"name":"Ada"}}]'
put order-2 '[{"type":"Paid","data":{"amount":5.00}},{"type":"Delivered","data":{"ok":true}}]'
put order-3 '[{"type":"Placed","data":{"sku":"C3","qty":9}}]'

shots=${EVS_UI_SHOTS:-$T/shots}
mkdir -p "$shots"
ui_rc=0
EVS_UI_BASE=$BASE EVS_UI_TOKEN=$FULL EVS_UI_READ_TOKEN=$READ EVS_UI_OP_TOKEN=$OP EVS_UI_SHOTS=$shots \
    EVS_UI_TENANT=acme "$PY" "$(dirname "$0")/test_server_ui.py" || ui_rc=$?
kill -0 "$PID" 2>/dev/null || fail "the server died: $(cat "$T/serve.err")"
stop_server
[ "$ui_rc" -eq 0 ] || exit "$ui_rc"
echo "ok: the web UI in Chromium; screenshots in $shots"

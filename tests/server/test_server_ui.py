"""The web UI of `evstore serve` in headless Chromium (python3-selenium, chromium-driver).

Started by test_server_ui.sh, which runs the server and fills the tenant `acme` with
order-1 (Placed, Paid: positions 1, 2), order-2 (Placed, Shipped: 3, 4), customer-1
(Registered: 5), order-2 again (Paid, Delivered: 6, 7) and order-3 (Placed: 8). The environment gives the base
URL, a token with every scope (actor svc), a read-only token, an operator token (every
tenant; a second tenant, zeta, is empty), and where screenshots go.

Each check names what it wanted. Exit 0: all passed; 1: a check failed; 77: the browser
could not start (the only skip).
"""

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import (StaleElementReferenceException, TimeoutException,
                                        WebDriverException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ["EVS_UI_BASE"]
TOKEN = os.environ["EVS_UI_TOKEN"]
READ_TOKEN = os.environ["EVS_UI_READ_TOKEN"]
OP_TOKEN = os.environ["EVS_UI_OP_TOKEN"]
SHOTS = os.environ["EVS_UI_SHOTS"]
TENANT = os.environ["EVS_UI_TENANT"]


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


def api(method, path, body=None, token=TOKEN, content_type="application/json"):
    """One request to the server's API (not through the browser): (status, body text)."""
    req = urllib.request.Request(BASE + path, method=method, data=body)
    req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def start_browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1100,760", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


class UI:
    def __init__(self, driver):
        self.d = driver
        self.shots = []

    def wait(self, cond, what, timeout=5.0):
        try:
            # Views redraw parts of the page while they refresh: an element found a moment
            # ago may be gone; the condition is then tried again.
            return WebDriverWait(self.d, timeout, poll_frequency=0.05,
                                 ignored_exceptions=[StaleElementReferenceException]).until(lambda d: cond())
        except TimeoutException:
            raise Failed("timed out after %.1f s waiting for: %s" % (timeout, what))

    def find(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def one(self, css, what=None):
        return self.wait(lambda: (self.find(css) or [None])[0], what or css)

    def text(self, css):
        found = self.find(css)
        return found[0].text if found else ""

    def go(self, hash_):
        self.d.execute_script("location.hash = arguments[0]", hash_)

    def shot(self, name):
        path = os.path.join(SHOTS, name + ".png")
        self.d.save_screenshot(path)
        self.shots.append(path)

    def fill(self, css, value):
        box = self.one(css)
        box.clear()
        box.send_keys(value)
        return box

    def login(self, token):
        self.fill("#token", token)
        self.one("#login button[type=submit]").click()

    def logout(self):
        self.one("#logout").click()
        self.one("#token", "the login form after logging out")

    def events(self):
        """The (pos, type) of each event shown, top to bottom. A list the page redraws
        while it is read is read again (also where a message is formatted, outside a
        wait)."""
        for _ in range(50):
            try:
                return [(int(li.get_attribute("data-pos")),
                         li.find_element(By.CSS_SELECTOR, ".type").text)
                        for li in self.find("li.event")]
            except StaleElementReferenceException:
                time.sleep(0.02)
        raise RuntimeError("the event list kept changing while it was read")


CONTRAST_JS = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ui_contrast.js")).read()


def check_contrast(ui, view):
    """Every visible text of the view reads at WCAG AA contrast: 4.5:1, 3:1 when large."""
    worst = ui.d.execute_script(CONTRAST_JS)
    check(worst["ratio"] >= worst["need"],
          "%s: text contrast %.2f:1 under %.1f:1 at %s" % (view, worst["ratio"], worst["need"], worst["what"]))


def test_login(ui):
    ui.d.get(BASE + "/ui/")
    ui.one("#token", "the login form")
    check(ui.d.execute_script("return document.activeElement.id") == "token",
          "the token field has the keyboard focus at first")
    ui.login("evs_0000000000000000_wrong")
    err = ui.one("#login-status .error", "a login error for a wrong token")
    check("Login failed" in err.text and "not valid" in err.text,
          "the login error says the token is refused: %r" % err.text)
    check(ui.d.execute_script("return sessionStorage.getItem('evstore.token')") is None,
          "a refused token is not kept")
    check_contrast(ui, "login")
    ui.shot("login-error")
    ui.login(TOKEN)
    ui.one("#ov-events", "the overview after logging in")
    check(TOKEN not in ui.d.current_url, "the token is not in the URL")
    check(ui.d.execute_script("return sessionStorage.getItem('evstore.token')") == TOKEN,
          "the token is in the tab's session storage")


def test_streams(ui):
    ui.go("#/streams")
    ui.fill("#stream-prefix", "order-")
    ui.one("#stream-prefix").send_keys(Keys.ENTER)
    ui.wait(lambda: "prefix=order-" in ui.d.current_url, "the search in the hash")
    rows = ui.wait(lambda: ui.find("#streams-table tbody tr"), "the stream rows")
    names = [r.find_element(By.CSS_SELECTOR, "td a").text for r in rows]
    check(names == ["order-1", "order-2", "order-3"], "the streams with prefix order-: %r" % names)
    cells = [c.text for c in rows[1].find_elements(By.CSS_SELECTOR, "td")]
    check(cells[1] == "4" and cells[2] == "3" and cells[3] == "7",
          "order-2: 4 events, last version 3, last position 7: %r" % cells)
    check("UTC" in cells[4], "order-2's last event time: %r" % cells[4])
    check_contrast(ui, "streams")
    ui.shot("streams")
    ui.fill("#stream-prefix", "")
    ui.fill("#stream-category", "customer")
    ui.one("#streams-search button").click()
    ui.wait(lambda: [r.text for r in ui.find("#streams-table tbody td a")] == ["customer-1"],
            "category customer lists customer-1 only")


def test_stream(ui):
    ui.go("#/streams?prefix=order-2")
    ui.one("#streams-table a").click()
    ui.wait(lambda: ui.events() == [(3, "Placed"), (4, "Shipped"), (6, "Paid"), (7, "Delivered")],
            "order-2's events in version order, got %r" % (ui.events(),))
    first = ui.find("li.event")[0]
    check("B7" in first.text and "qty" in first.text, "data of Placed: %r" % first.text)
    shipped = ui.find("li.event")[1]
    check("metadata" in shipped.text.lower() and "ops" in shipped.text, "metadata of Shipped is shown")
    paid = ui.find("li.event")[2]
    check("5.00" in paid.text, "numbers are shown as stored (5.00): %r" % paid.text)
    # Folding: the data object is a <details>; closing it hides its members.
    fold = first.find_element(By.CSS_SELECTOR, "details.j-fold > summary")
    fold.send_keys(Keys.ENTER)
    ui.wait(lambda: "B7" not in ui.find("li.event")[0].text, "the data folds away with the keyboard")
    fold.send_keys(Keys.ENTER)
    check_contrast(ui, "stream")
    copy = first.find_element(By.CSS_SELECTOR, "button.copy")
    copy.send_keys(Keys.ENTER)
    ui.wait(lambda: copy.text == "Copied" or ui.find("textarea.copy-fallback"), "Copy JSON answers")
    copied = ui.d.execute_script("const a = document.querySelector('textarea.copy-fallback');"
                                 "return a ? a.value : null")
    if copied is None:
        # Reading the clipboard back needs the permission a user would give.
        ui.d.execute_cdp_cmd("Browser.grantPermissions", {
            "origin": BASE, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
        copied = ui.d.execute_async_script("const done = arguments[arguments.length - 1];"
                                           "navigator.clipboard.readText().then(done, e => done('ERR ' + e))")
    check(json.loads(copied)["data"] == {"sku": "B7", "qty": 1} and '"pos": 3' in copied,
          "the copied JSON is the event: %r" % copied)
    ui.shot("stream")
    ui.one("#stream-order").click()
    ui.wait(lambda: [p for p, _ in ui.events()] == [7, 6, 4, 3], "newest first: %r" % (ui.events(),))


def test_log(ui):
    ui.go("#/log")
    ui.wait(lambda: [p for p, _ in ui.events()] == list(range(1, 9)), "the whole log in position order")
    ui.fill("#log-filter-type", "Paid")
    ui.one("#log-filter-type").send_keys(Keys.ENTER)
    ui.wait(lambda: ui.events() == [(2, "Paid"), (6, "Paid")], "the log filtered by type Paid: %r" % (ui.events(),))
    ui.shot("log")
    check_contrast(ui, "log")
    status, text = api("GET", "/v1/t/%s/events?from=6&limit=1" % TENANT)
    ts6 = json.loads(text)["ts"]
    ui.go("#/log")
    ui.wait(lambda: len(ui.events()) == 8, "the unfiltered log")
    ui.fill("#jump-time", ts6)
    ui.one("#log-jump button").click()
    ui.wait(lambda: ui.events() and ui.events()[0][0] == 6, "jump to the time of position 6: %r" % (ui.events(),))
    ui.go("#/log?at=4")
    ui.wait(lambda: ui.events() and ui.events()[0][0] == 4, "jump to position 4")
    check(ui.one("#log-first").is_enabled() and ui.one("#log-prev").is_enabled(), "earlier pages are reachable")
    check(not ui.one("#log-next").is_enabled(), "no later page past the log's end")
    ui.one("#log-prev").click()
    ui.wait(lambda: [p for p, _ in ui.events()] == [1, 2, 3], "the page before position 4: %r" % (ui.events(),))
    check(not ui.one("#log-prev").is_enabled(), "no earlier page before position 1")
    ui.one("#log-next").click()
    ui.wait(lambda: [p for p, _ in ui.events()] == list(range(4, 9)), "the page after position 3")


def test_live(ui):
    ui.go("#/live")
    ui.wait(lambda: ui.text("#live-state") == "live", "the live view connected")
    body = json.dumps([{"type": "LiveCheck", "data": {"n": 42}}]).encode()
    t0 = time.monotonic()
    status, text = api("POST", "/v1/t/%s/streams/order-9" % TENANT, body)
    check(status == 201, "append for the live view: %s %s" % (status, text))
    pos = json.loads(text)["first_pos"]
    ui.wait(lambda: ui.find('#live-events li.event[data-pos="%d"]' % pos), "the appended event on Live", timeout=1.0)
    elapsed = time.monotonic() - t0
    check(elapsed <= 1.0, "the event appeared %.3f s after the append" % elapsed)
    check("42" in ui.text("#live-events li.event"), "the live event shows its data")
    ui.wait(lambda: ui.text("#live-rate") != "0.0 events/s", "the rate counter moves", timeout=2)
    ui.one("#live-pause").click()
    ui.wait(lambda: ui.text("#live-state") == "paused", "paused")
    status, text = api("POST", "/v1/t/%s/streams/order-9" % TENANT, json.dumps([{"type": "WhilePaused", "data": 1}]).encode())
    check(status == 201, "append while paused")
    paused_pos = json.loads(text)["first_pos"]
    time.sleep(0.5)
    check(not ui.find('#live-events li.event[data-pos="%d"]' % paused_pos), "nothing arrives while paused")
    ui.one("#live-pause").click()
    ui.wait(lambda: ui.find('#live-events li.event[data-pos="%d"]' % paused_pos),
            "resume catches up with what came while paused", timeout=2)
    ui.shot("live")
    print("live: event shown %.0f ms after its append" % (elapsed * 1000))
    return elapsed


def test_consumers(ui):
    status, text = api("GET", "/v1/t/%s/consumers/billing/events?limit=3" % TENANT)
    check(status == 200, "the first poll makes the consumer: %s %s" % (status, text))
    ui.go("#/consumers")
    # An admin token sees every actor's consumers under their stored names.
    row = '#consumers-table tr[data-consumer="svc.billing"]'
    ui.wait(lambda: ui.find(row), "consumer svc.billing listed")
    lag_before = int(ui.text(row + " td.lag").replace(",", ""))
    check(lag_before == 10, "lag of a consumer at checkpoint 0 over 10 events: %d" % lag_before)
    ack_before = ui.text(row + " td.ack")
    time.sleep(0.01)  # the shown ack time has milliseconds
    status, text = api("POST", "/v1/t/%s/consumers/billing/ack?pos=6" % TENANT)
    check(status == 200, "ack: %s %s" % (status, text))
    ui.wait(lambda: ui.text(row + " td.lag") == "4", "the lag moves to 4 after the ack", timeout=4)
    ack_after = ui.text(row + " td.ack")
    check("UTC" in ack_after and ack_after != ack_before,
          "the last ack time is shown and moved: %r, then %r" % (ack_before, ack_after))
    ui.shot("consumers")
    # Admin: reset with a prompt and a confirmation.
    ui.one(row + " button.secondary").click()
    alert = ui.wait(lambda: _alert(ui.d), "the reset prompt")
    alert.send_keys("2")
    alert.accept()
    ui.wait(lambda: _alert(ui.d), "the reset confirmation").accept()
    ui.wait(lambda: ui.text(row + " td.checkpoint") == "2", "the checkpoint reset to 2", timeout=4)
    check_contrast(ui, "consumers")
    ui.one(row + " button.danger").click()
    ui.wait(lambda: _alert(ui.d), "the delete confirmation").dismiss()
    time.sleep(0.3)
    check(ui.find(row), "a dismissed confirmation deletes nothing")
    ui.one(row + " button.danger").click()
    ui.wait(lambda: _alert(ui.d), "the delete confirmation").accept()
    ui.wait(lambda: not ui.find(row), "the deleted consumer leaves the list", timeout=4)
    status, text = api("GET", "/v1/t/%s/consumers" % TENANT)
    check("billing" not in text, "the server deleted it: %r" % text)


def _alert(driver):
    try:
        a = driver.switch_to.alert
        a.text  # raises when there is none
        return a
    except WebDriverException:
        return None


def test_append(ui):
    ui.go("#/append")
    ui.fill("#append-stream", "order-4")
    ui.fill("#append-type", "Placed")
    ui.fill("#append-data", '{"sku":"D4","price":1.50}')
    ui.fill("#append-expected", "no_stream")
    ui.one("#append-form button[type=submit]").click()
    ok = ui.one("#append-result .ok", "the append's answer")
    check("HTTP 201" in ok.text and '"version":0' in ok.text, "the append's 201 answer: %r" % ok.text)
    status, text = api("GET", "/v1/t/%s/streams/order-4" % TENANT)
    check('"data":{"sku":"D4","price":1.50}' in text, "the data is stored as typed: %r" % text)
    ui.one("#append-form button[type=submit]").click()
    err = ui.wait(lambda: (ui.find("#append-result .error") or [None])[0], "the conflict")
    check("409" in err.text and "expected" in err.text, "the server's conflict, as it is: %r" % err.text)
    check('"actual":0' in err.text, "the conflict's body names the actual version: %r" % err.text)
    ui.shot("append")


def test_read_only(ui):
    ui.logout()
    ui.login(READ_TOKEN)
    ui.one("#ov-events", "the overview for a read-only token")
    links = [a.text for a in ui.find("#nav a")]
    check("Append" not in links and "Consumers" not in links, "no Append or Consumers view offered: %r" % links)
    ui.go("#/append")
    ui.wait(lambda: ui.text("main h1") == "Append", "the append page")
    check(not ui.find("#append-form"), "no append form for a read-only token")
    check("cannot append" in ui.text("main .error"), "the page says the token cannot append")
    # Trying anyway, through the API with the session's token: the server refuses.
    result = ui.d.execute_async_script(
        """const done = arguments[arguments.length - 1];
        fetch('/v1/t/' + sessionStorage.getItem('evstore.tenant') + '/streams/x-1', {method: 'POST',
          headers: {'Authorization': 'Bearer ' + sessionStorage.getItem('evstore.token'),
                    'Content-Type': 'application/json'}, body: '[{"type":"T","data":1}]'})
          .then(async r => done([r.status, await r.text()]));""")
    check(result[0] == 403 and "append" in result[1], "the server refuses a read-only append: %r" % (result,))
    ui.shot("read-only")


def test_phone(ui):
    ui.d.set_window_size(390, 844)
    ui.go("#/streams")
    ui.wait(lambda: ui.find("#streams-table tbody tr"), "streams on a phone-sized screen")
    wide = ui.d.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    check(wide <= 0, "no sideways scrolling on a 390 px screen (%d px too wide)" % wide)
    ui.shot("phone-streams")
    ui.d.set_window_size(1100, 760)


def test_overview(ui):
    """Last, since it appends: an admin token's overview while events arrive."""
    ui.logout()
    ui.login(TOKEN)
    ui.go("#/overview")
    status, text = api("GET", "/v1/t/%s/stat" % TENANT)
    check(status == 200, "stat")
    ui.wait(lambda: ui.text("#ov-events .card-value") == str(json.loads(text)["events"]),
            "the overview's event count is the store's (%s)" % json.loads(text)["events"])
    check(ui.text("#ov-streams .card-value") == str(json.loads(text)["streams"]), "the stream count")
    stop = threading.Event()
    refused = []

    def load():
        while not stop.is_set():
            st, body = api("POST", "/v1/t/%s/streams/load-1" % TENANT, json.dumps([{"type": "Tick", "data": 1}]).encode())
            if st != 201:
                refused.append((st, body))
            time.sleep(0.1)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        ui.wait(lambda: ui.find("#chart-rate polyline"), "the append-rate chart's line", timeout=8)
        # The highest rate of the chart leaves 0 once a sample saw appends (a loaded
        # machine may take a while over an fsync: the wait allows for it).
        ui.wait(lambda: "max 0.00" not in ui.text("#chart-rate figcaption"),
                "the append rate shows the appends", timeout=10)
        time.sleep(4)
        ui.shot("overview")
    finally:
        stop.set()
        loader.join()
    check(not refused, "the appends of the overview's load: %r" % refused[:3])


def test_operator(ui):
    """An operator token (every tenant, admin) picks its tenant and sees the tenants."""
    ui.logout()
    ui.login(OP_TOKEN)
    ui.wait(lambda: ui.find("#tenants-table tbody tr"), "the tenants on an operator's overview")
    tenants = [r.find_element(By.CSS_SELECTOR, "td").text for r in ui.find("#tenants-table tbody tr")]
    check(tenants == ["acme", "zeta"], "the tenants listed: %r" % tenants)
    check(ui.one("#tenant").get_attribute("value") == "acme", "the first tenant is chosen")
    ui.d.execute_script("const s = document.getElementById('tenant'); s.value = 'zeta';"
                        "s.dispatchEvent(new Event('change'))")
    ui.wait(lambda: ui.text("#ov-events .card-value") == "0", "tenant zeta's overview: no events")
    ui.go("#/streams")
    ui.wait(lambda: "No stream matches" in ui.text("main"), "tenant zeta has no streams")


def test_no_outside_requests(ui):
    """Every request the page made went to this server; no script or style was refused."""
    hosts = set()
    for entry in ui.d.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
            if not url.startswith("data:"):
                hosts.add(url.split("/")[2] if "://" in url else url)
    here = BASE.split("/")[2]
    check(hosts == {here}, "requests went only to %s: %r" % (here, sorted(hosts)))
    bad = [e["message"] for e in ui.d.get_log("browser")
           if e["level"] == "SEVERE" and "status of 40" not in e["message"]]
    check(not bad, "no errors in the browser console: %r" % bad)


def main():
    os.makedirs(SHOTS, exist_ok=True)
    try:
        driver = start_browser()
    except WebDriverException as e:
        print("SKIP: the browser cannot start here: %s" % str(e).strip().splitlines()[0], file=sys.stderr)
        return 77
    ui = UI(driver)
    tests = [test_login, test_streams, test_stream, test_log, test_live, test_consumers,
             test_append, test_read_only, test_phone, test_overview, test_operator,
             test_no_outside_requests]
    try:
        for t in tests:
            t(ui)
            print("ok: %s" % t.__name__)
    except Failed as e:
        try:
            ui.shot("failed-" + t.__name__)
        except WebDriverException:
            pass
        print("FAIL: %s: %s" % (t.__name__, e), file=sys.stderr)
        return 1
    finally:
        driver.quit()
    print("screenshots: %s" % ", ".join(os.path.basename(s) for s in ui.shots))
    return 0


if __name__ == "__main__":
    sys.exit(main())

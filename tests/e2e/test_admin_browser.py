"""The admin page in a real browser: Playwright driving headless Chromium against the local stack
(`serve --manual`, over HTTP), as a store owner and a salesperson would use it.

Each page is saved as a screenshot under test-output/admin/ (TEST_OUTPUT_DIR moves it).
"""
from __future__ import annotations

import os
import re
import shutil
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import ROOT, _start

SHOTS = Path(os.environ.get("TEST_OUTPUT_DIR", ROOT / "test-output")) / "admin"
#: Without the networking switches Chromium tries to reach Google's hosts, which this machine refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
SENDER = "hello@maison-demo.example"   # the domain the local stack verifies in the emulator's SES


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is not installed: `make test` installs Debian's chromium package (see the Makefile)")
    return path


@pytest.fixture(scope="module")
def admin_stack():
    """A stack of its own: the tests tick "now", which must not disturb the other end-to-end tests."""
    yield from _start("--manual")


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Store:
    """A store the tests reach through the API and open in the browser (as its owner, or another role)."""

    def __init__(self, stack, tenant: str):
        self.stack, self.tenant = stack, tenant
        self.owner = stack.token(self.tenant, "owner")

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        response = self.stack.call(method, path, token or self.owner, json=body)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def open(self, browser, role: str = "owner", width: int = 1200, hash_: str = "", zone: str | None = None):
        """The admin page, signed in; `zone`: the browser's own time zone (the page must not use it)."""
        token = self.owner if role == "owner" else self.stack.token(self.tenant, role)
        page = browser.new_page(viewport={"width": width, "height": 900}, timezone_id=zone)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.errors = errors
        page.goto(f"{self.stack.api}/admin#token={token}")
        expect(page.locator("#who")).to_contain_text(f"{self.tenant} · {role}")
        if hash_:
            page.evaluate("h => { location.hash = h; }", hash_)
        return page


class Shop(Store):
    """A store of its own, set up through the API: three customers whose birthday is a week from today
    (one without email consent) and one whose birthday is six days from today."""

    def __init__(self, stack, **settings):
        super().__init__(stack, f"atelier-{uuid.uuid4().hex[:6]}")
        self.today = datetime.now(timezone.utc).date()
        self.call("PATCH", "/settings", {"store_name": "Atelier Nord", "timezone": "UTC", "send_hour": 0,
                                         "sender_email": SENDER, **settings})
        week, six = self.today + timedelta(days=7), self.today + timedelta(days=6)
        people = {
            "ada": ("Ada", "Lovelace", week, True), "bo": ("Bo", "Chen", week, True),
            "cy": ("Cy", "Park", week, False), "dee": ("Dee", "Holm", six, True),
        }
        for customer_id, (first, last, birthday, consent) in people.items():
            self.call("PUT", f"/customers/{customer_id}", {
                "first_name": first, "last_name": last, "email": f"{customer_id}@{self.tenant}.example",
                "birthday": f"1990-{birthday:%m-%d}", "consent": {"email": consent}, "source": "import"})


@pytest.fixture(scope="module")
def shop(admin_stack):
    return Shop(admin_stack)


#: How the page writes a store-local date and an instant (`Intl.DateTimeFormat` options).
DAY = {"weekday": "short", "day": "numeric", "month": "short", "year": "numeric"}
INSTANT = {"dateStyle": "medium", "timeStyle": "short"}


def intl(page, iso: str, locale: str, zone: str, options: dict) -> str:
    """`iso` as the browser writes it in `locale` and `zone`, named here rather than taken from the page: a
    date (YYYY-MM-DD) is a calendar day, written as such whatever the zone."""
    return page.evaluate("""([iso, locale, zone, options]) => new Intl.DateTimeFormat(locale,
        {timeZone: iso.length === 10 ? "UTC" : zone, ...options}).format(new Date(iso.length === 10 ? iso + "T00:00:00Z" : iso))""",
                         [iso, locale, zone, options])


def local(iso: str, zone: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))


def clock_of(moment: datetime) -> str:
    """The hour and minute a 12-hour clock shows (en-AU and en-US write times so)."""
    return f"{moment.hour % 12 or 12}:{moment:%M}"


def shoot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def finish(page, shot: str) -> None:
    """Every page the tests leave: its controls labelled, saved as a screenshot, no script error on it."""
    assert_controls_labelled(page)
    shoot(page, shot)
    assert page.errors == []
    page.close()


def assert_controls_labelled(page) -> None:
    """Every visible form control has a label a screen reader would read."""
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
        .map(el => el.outerHTML.slice(0, 120))""")
    assert unlabelled == []


def test_the_address_make_run_prints_opens_the_admin_signed_in_as_the_demo_owner(admin_stack, browser):
    address = re.search(r"Admin\s+(\S+)", admin_stack.output).group(1)
    assert address.startswith(f"{admin_stack.api}/admin#token=")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(address)
    expect(page.locator("#who")).to_contain_text("demo-store · owner")
    expect(page.locator("#store-name")).to_have_text("Maison Aurelia Jewellers")
    cards = page.locator("article.card h2")
    expect(cards).to_have_count(10)
    token = admin_stack.token("demo-store", "owner")
    listed = admin_stack.call("GET", "/automations", token).json()["automations"]
    assert cards.all_inner_texts() == [a["name"] for a in listed]     # the catalog's order, as the API gives it
    assert "token=" not in page.url                                   # taken out of the address bar
    birthday = page.locator("#automation-birthday")
    expect(birthday.locator(".badge")).to_have_text("Active")         # the demo switches birthday on
    expect(page.locator("#read-only")).to_be_hidden()
    assert_controls_labelled(page)
    shoot(page, "automations")
    page.close()


# The demo and repair tests tick the whole stack (every store): they come before the `shop` tests, whose
# customer history counts what its own tick sends once its birthday automation is on.
def test_the_demo_owner_raises_the_birthday_lead_time_and_the_late_birthdays_are_greeted_once(admin_stack, browser):
    """The owner's sequence on the demo store (Sydney, AU; the browser in New York): today is processed with
    birthdays greeted on the day; switched off and on, then 7 days before: the birthdays of the next 7 days
    are greeted at the next evaluation, late, once. At each step the page says what the API says."""
    demo, sydney = Store(admin_stack, "demo-store"), "Australia/Sydney"
    settings = demo.call("GET", "/settings")["settings"]
    assert (settings["timezone"], settings["country"]) == (sydney, "AU")
    assert demo.call("GET", "/automations/birthday")["enabled"] is True
    # The demo's send hour is the hour it was seeded: today is due now, and a tick processes it.
    admin_stack.tick(datetime.now(timezone.utc).isoformat())
    today = datetime.now(ZoneInfo(sydney)).date()
    done = demo.call("POST", "/automations/birthday/test-run", {})
    assert (done["dates"], done["count"]) == ([], 0)

    page = demo.open(browser, zone="America/New_York")
    card = page.locator("#automation-birthday")
    toggle = card.locator("#enabled-birthday")
    toggle.click()
    expect(card.locator(".badge")).to_have_text("Off")
    card.locator("#enabled-birthday").click()
    expect(card.locator(".badge")).to_have_text("Active")
    changed = card.locator(".meta time")                             # "Changed ...": Sydney's clock, AU's order
    iso = changed.get_attribute("datetime")
    expect(changed).to_have_text(intl(page, iso, "en-AU", sydney, INSTANT))
    assert clock_of(local(iso, sydney)) in changed.inner_text()

    card.get_by_role("button", name="Configure").click()
    card.get_by_label("When to send").select_option(label="7 days before")
    proposal = demo.call("POST", "/automations/birthday/test-run", {"settings": {"days_before": 7}})
    late = [t for t in proposal["trigger_dates"] if t["late"]]
    assert [t["date"] for t in late] == [(today + timedelta(days=n)).isoformat() for n in range(1, 8)]
    assert proposal["late_matches"] == sum(t["count"] for t in late) == proposal["count"] > 0
    n = proposal["late_matches"]
    sentence = f"{n} {'birthday' if n == 1 else 'birthdays'} in the next 7 days will be greeted today, late."
    preview = card.locator(".cfg-result")
    expect(preview.locator(".cfg-late")).to_have_text(sentence)
    expect(preview.locator(".cfg-would-send")).to_have_text(str(proposal["would_send"]))
    assert demo.call("GET", "/automations/birthday")["settings"]["days_before"] == 0     # nothing saved
    shoot(page, "demo-configure-preview")

    card.get_by_role("button", name="Save").click()
    expect(card.locator(".saved")).to_have_text("Saved.")
    card.get_by_role("button", name="Test run").click()
    expect(card.locator(".tr-default")).to_contain_text("has come")
    card.get_by_role("button", name="Run test").click()
    expect(card.locator(".tr-late")).to_have_text(sentence)
    api = demo.call("POST", "/automations/birthday/test-run", {})
    assert (api["count"], api["would_send"], api["late_matches"], api["skipped"]) == (
        proposal["count"], proposal["would_send"], proposal["late_matches"], proposal["skipped"])
    expect(card.locator(".tr-count")).to_have_text(str(api["count"]))
    expect(card.locator(".tr-would-send")).to_have_text(str(api["would_send"]))
    words = {"no_consent": "no consent", "missing_contact": "no address", "suppressed": "suppressed",
             "frequency_capped": "frequency cap"}
    expect(card.locator(".tr-skipped")).to_have_text(
        ", ".join(f"{words.get(code, code)}: {count}" for code, count in api["skipped"].items()) or "none")
    rows = card.locator(".tr-triggers tbody tr")
    expect(rows).to_have_count(7)
    expect(card.locator(".tr-triggers tr.late .late-mark")).to_have_count(7)
    assert [r.locator("time").first.get_attribute("datetime") for r in rows.all()] == [t["date"] for t in late]
    assert [int(r.locator("td").nth(1).inner_text()) for r in rows.all()] == [t["count"] for t in late]
    expect(card.locator(".tr-dates time")).to_have_text(intl(page, today.isoformat(), "en-AU", sydney, DAY))
    at = card.locator(".tr-at time")
    at_iso = at.get_attribute("datetime")
    expect(at).to_have_text(intl(page, at_iso, "en-AU", sydney, INSTANT))
    assert clock_of(local(at_iso, sydney)) in at.inner_text()
    assert local(at_iso, sydney).date() == today
    sample = card.locator("table.tr-sample")
    assert sample.locator("thead th").all_inner_texts() == ["Customer", "Email", "SMS"]
    expect(sample.locator("tbody tr")).to_have_count(min(api["count"], 20))
    assert {r.get_attribute("data-customer") for r in sample.locator("tbody tr").all()} == {
        s["customer_id"] for s in api["sample"]}
    finish(page, "demo-test-run-late")

    # The next evaluation greets them, once.
    summary = admin_stack.tick(datetime.now(timezone.utc).isoformat())
    assert summary["sent"] + summary["deferred"] >= api["would_send"]     # SMS in quiet hours wait (deferred)
    greeted = [s for s in api["sample"] if s["outcomes"]["email"] == "would_send"][:2]
    assert greeted
    page = demo.open(browser, zone="America/New_York")
    for customer in greeted:
        page.evaluate("h => { location.hash = h; }", f"#/customers/{customer['customer_id']}")
        expect(page.locator("h1")).to_have_text(customer["name"])
        records = demo.call("GET", f"/customers/{customer['customer_id']}/communications")["communications"]
        sent = [m for m in records if m.get("automation_type") == "birthday" and m["status"] == "sent"
                and m["channel"] == "email"]
        assert len(sent) == 1
        row = page.locator("tr.communication", has=page.locator(f"time[datetime='{sent[0]['created_at']}']"),
                           has_text="Email")
        expect(row.locator(".status-sent")).to_have_text("sent")
        expect(row).to_contain_text("Birthday Wishes")
        # The record's own time (its delivery facts carry theirs too, now that the local SES reports delivery).
        expect(row.locator("td.cm-when time")).to_have_text(intl(page, sent[0]["created_at"], "en-AU", sydney, INSTANT))
        expect(row.locator(".cm-facts")).to_contain_text("Delivered")
    page.evaluate("location.hash = '#/automations'")
    card = page.locator("#automation-birthday")
    card.get_by_role("button", name="Test run").click()
    card.get_by_role("button", name="Run test").click()
    expect(card.locator(".tr-count")).to_have_text("0")
    expect(card.locator(".tr-would-send")).to_have_text("0")
    expect(card.locator(".tr-late")).to_have_count(0)
    after = demo.call("POST", "/automations/birthday/test-run", {})
    assert (after["count"], after["would_send"], after["late"]) == (0, 0, 0)
    finish(page, "demo-test-run-after")


def test_a_shorter_repair_reminder_delay_says_which_repairs_get_their_reminder_late(admin_stack, browser):
    """The late sentence in a repair's words: lowering "days after" from 14 to 3 once today is processed jumps
    over the ready dates of 13 to 3 days ago; their repairs are reminded at the next evaluation, late."""
    store = Shop(admin_stack, timezone="Europe/London", country="GB")
    today = datetime.now(ZoneInfo("Europe/London")).date()
    for repair_id, customer_id, days_ago in (("r1", "ada", 5), ("r2", "bo", 6), ("r3", "dee", 20)):
        ready = datetime.combine(today - timedelta(days=days_ago), datetime.min.time(), ZoneInfo("Europe/London"))
        store.call("PUT", f"/repairs/{repair_id}", {"customer_id": customer_id, "status": "ready", "description": "Ring resize",
                                                    "ready_at": (ready + timedelta(hours=12)).isoformat()})
    store.call("PATCH", "/automations/repair_ready_reminder", {"enabled": True, "settings": {"days_after": 14}})
    admin_stack.tick(datetime.now(timezone.utc).isoformat())
    proposal = store.call("POST", "/automations/repair_ready_reminder/test-run", {"settings": {"days_after": 3}})
    late = [t["date"] for t in proposal["trigger_dates"] if t["late"]]
    assert late == [(today - timedelta(days=n)).isoformat() for n in range(13, 2, -1)]
    assert proposal["late_matches"] == 2                                           # Ada's and Bo's, not Dee's

    page = store.open(browser, zone="America/Chicago")
    card = page.locator("#automation-repair_ready_reminder")
    card.get_by_role("button", name="Configure").click()
    card.get_by_label("When to remind").select_option(label="3 days after it is ready")
    short = {"day": "numeric", "month": "short", "year": "numeric"}
    first, last = (intl(page, d, "en-GB", "Europe/London", short) for d in (late[0], late[-1]))
    expect(card.locator(".cfg-late")).to_have_text(
        f"2 repairs that became ready between {first} and {last} will get their reminder today, late.")
    expect(card.locator(".cfg-would-send")).to_have_text(str(proposal["would_send"]))
    assert store.call("GET", "/automations/repair_ready_reminder")["settings"]["days_after"] == 14
    finish(page, "repair-configure-preview")


def test_before_the_send_hour_the_test_run_looks_at_todays_evaluation_in_the_stores_zone_and_format(admin_stack, browser):
    """A US store on the American west coast (or east, late in its evening), the browser in Tokyo: every time is
    the store's, month first; a daily test run before the send hour looks at the moment today's evaluation
    runs, where the API's own default (now) has nothing due yet; the appointment test run shows its window."""
    zone = next(z for z in ("America/Los_Angeles", "America/New_York") if datetime.now(ZoneInfo(z)).hour <= 21)
    now = datetime.now(ZoneInfo(zone))
    send_hour = now.hour + 2
    store = Shop(admin_stack, timezone=zone, country="US", send_hour=send_hour)
    due = now.replace(hour=send_hour, minute=0, second=0, microsecond=0)
    page = store.open(browser, zone="Asia/Tokyo")
    card = page.locator("#automation-birthday")
    card.get_by_role("button", name="Test run").click()
    due_iso = due.astimezone(timezone.utc).isoformat()
    expect(card.locator(".tr-default")).to_contain_text(
        f"Today's evaluation runs at {intl(page, due_iso, 'en-US', zone, {'timeStyle': 'short'})}")
    card.get_by_role("button", name="Run test").click()
    at = card.locator(".tr-at time")
    expect(at).to_have_text(intl(page, due_iso, "en-US", zone, INSTANT))
    assert local(at.get_attribute("datetime"), zone) == due
    assert clock_of(due) in at.inner_text()
    expect(card.locator(".tr-dates time")).to_have_attribute("datetime", now.date().isoformat())
    expect(card.locator(".tr-dates time")).to_have_text(intl(page, now.date().isoformat(), "en-US", zone, DAY))
    # The API agrees: at the send hour today is due; at its own default, now, nothing is yet.
    at_due = store.call("POST", "/automations/birthday/test-run", {"at": due_iso})
    assert at_due["dates"] == [now.date().isoformat()]
    expect(card.locator(".tr-count")).to_have_text(str(at_due["count"]))
    expect(card.locator(".tr-would-send")).to_have_text(str(at_due["would_send"]))
    assert store.call("POST", "/automations/birthday/test-run", {})["dates"] == []
    expect(card.locator(".tr-notes")).to_contain_text("Switched off: shown as if it were switched on")

    # The owner picks another moment: the field is the store's wall clock, not the browser's.
    later = (now + timedelta(days=3)).replace(hour=send_hour, minute=30, second=0, microsecond=0)
    card.get_by_label(f"As of (optional, the store's time: {zone})").fill(f"{later:%Y-%m-%dT%H:%M}")
    card.get_by_role("button", name="Run test").click()
    expect(card.locator(".tr-dates time")).to_have_attribute("datetime", later.date().isoformat())
    assert local(at.get_attribute("datetime"), zone) == later

    appointments = page.locator("#automation-appointment_24h")
    appointments.get_by_role("button", name="Test run").click()
    expect(appointments.locator(".tr-default")).to_contain_text("looks at now")
    appointments.get_by_role("button", name="Run test").click()
    window = appointments.locator(".tr-window")
    expect(window).to_contain_text("appointments starting between")
    at_iso = appointments.locator(".tr-at time").get_attribute("datetime")
    after, until = (window.locator("time").nth(i) for i in (0, 1))
    start = local(at_iso, zone)
    assert local(after.get_attribute("datetime"), zone) - start == timedelta(hours=2)
    assert local(until.get_attribute("datetime"), zone) - start == timedelta(hours=24)
    expect(until).to_have_text(intl(page, until.get_attribute("datetime"), "en-US", zone, INSTANT))
    assert clock_of(local(until.get_attribute("datetime"), zone)) in until.inner_text()
    api = store.call("POST", "/automations/appointment_24h/test-run", {"at": at_iso})
    assert (local(api["window"]["starts_after"], zone), local(api["window"]["starts_until"], zone)) == (
        local(after.get_attribute("datetime"), zone), local(until.get_attribute("datetime"), zone))
    finish(page, "test-run-store-zone")


def test_an_owner_switches_birthday_on_sets_7_days_before_and_reads_the_test_run(shop, browser):
    page = shop.open(browser)
    card = page.locator("#automation-birthday")
    expect(card.locator(".badge")).to_have_text("Off")
    # With the keyboard alone: the switch, then Configure.
    page.focus("#enabled-birthday")
    page.keyboard.press("Space")
    expect(card.locator(".badge")).to_have_text("Active")
    assert shop.call("GET", "/automations/birthday")["enabled"] is True

    card.get_by_role("button", name="Configure").focus()
    page.keyboard.press("Enter")
    when = card.get_by_label("When to send")
    expect(when).to_be_focused()
    assert when.locator("option").all_inner_texts() == ["On the day", "1 day before", "3 days before", "7 days before"]
    # Before Save, the panel asks the test-run what the change would send; nothing is saved.
    preview = card.locator(".cfg-result")
    expect(preview).to_have_attribute("aria-live", "polite")
    when.select_option(label="7 days before")
    expect(preview.locator(".cfg-would-send")).to_have_text("2")      # first evaluation: nothing late
    expect(preview.locator(".cfg-count")).to_have_text("3")
    expect(preview.locator(".cfg-late")).to_have_count(0)
    assert shop.call("GET", "/automations/birthday")["settings"]["days_before"] == 0
    card.get_by_role("button", name="Save").click()
    expect(card.locator(".saved")).to_have_text("Saved.")
    assert shop.call("GET", "/automations/birthday")["settings"]["days_before"] == 7

    card.get_by_role("button", name="Test run").click()
    expect(card.locator(".tr-default")).to_contain_text("Today's evaluation time, 12:00 AM, has come")
    card.get_by_role("button", name="Run test").click()
    expect(card.locator(".tr-count")).to_have_text("3")               # Ada, Bo and Cy; not Dee (six days)
    expect(card.locator(".tr-would-send")).to_have_text("2")
    expect(card.locator(".tr-skipped")).to_have_text("no consent: 1")
    # A US store (the default country) in UTC: its dates month first.
    expect(card.locator(".tr-dates time")).to_have_attribute("datetime", shop.today.isoformat())
    expect(card.locator(".tr-dates")).to_have_text(intl(page, shop.today.isoformat(), "en-US", "UTC", DAY))
    week = shop.today + timedelta(days=7)
    expect(card.locator(".tr-triggers tbody tr")).to_have_count(1)
    expect(card.locator(".tr-triggers tbody tr time")).to_have_attribute("datetime", week.isoformat())
    expect(card.locator(".tr-triggers .late-mark")).to_have_count(0)
    # The sample: one row per customer, one outcome column per channel, in words.
    sample = card.locator("table.tr-sample")
    assert sample.locator("thead th").all_inner_texts() == ["Customer", "Email"]
    outcomes = {row.locator("th").inner_text(): row.locator("td").inner_text()
                for row in sample.locator("tbody tr").all()}
    assert outcomes == {"Ada Lovelace": "would send", "Bo Chen": "would send", "Cy Park": "no consent"}
    api = shop.call("POST", "/automations/birthday/test-run", {})
    assert (api["count"], api["would_send"]) == (3, 2)
    finish(page, "automations-test-run")


def test_an_owner_duplicates_a_template_edits_it_and_the_preview_follows(shop, browser):
    page = shop.open(browser, hash_="#/templates")
    page.get_by_label("Type").select_option(label="Birthday Wishes")
    page.get_by_role("button", name="Duplicate Birthday Wishes").click()
    expect(page.locator("h1")).to_have_text("Edit template: Copy of Birthday Wishes")
    template_id = page.url.rsplit("/", 1)[1]

    page.get_by_label("Customer id or email").fill(f"ada@{shop.tenant}.example")
    page.get_by_role("button", name="Preview for this customer").click()
    expect(page.locator(".preview [role=status]")).to_have_text("For customer ada.")
    subject = page.get_by_label("Subject", exact=True)
    subject.fill("A week to go, {{ customer.first_name }}! From {{ store.name }}")
    expect(page.locator(".pv-subject")).to_have_text("A week to go, Ada! From Atelier Nord")

    # The API's validation error appears beside the field it names, and the preview keeps the last good text.
    subject.fill("Hello {{ customer.nickname }}")
    error = page.locator(f"#{subject.get_attribute('id')}-error")
    expect(error).to_contain_text("nickname")
    expect(subject).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Save").click()
    expect(error).to_contain_text("nickname")
    assert shop.call("GET", f"/templates/{template_id}")["subject"] != "Hello {{ customer.nickname }}"

    subject.fill("A week to go, {{ customer.first_name }}")
    expect(page.locator(".pv-subject")).to_have_text("A week to go, Ada")
    expect(error).to_have_text("")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("form .saved")).to_have_text("Saved.")
    assert shop.call("GET", f"/templates/{template_id}")["subject"] == "A week to go, {{ customer.first_name }}"
    assert_controls_labelled(page)
    shoot(page, "template-editor")

    # The copy is now offered in the birthday card's template picker, the system one still in effect.
    page.evaluate("location.hash = '#/automations'")
    card = page.locator("#automation-birthday")
    card.get_by_role("button", name="Configure").click()
    options = card.get_by_label("Template").locator("option").all_inner_texts()
    assert options == ["Birthday Wishes (system) — in effect", "Copy of Birthday Wishes"]
    page.evaluate("location.hash = '#/templates'")
    expect(page.get_by_role("cell", name="Copy of Birthday Wishes", exact=True)).to_be_visible()
    shoot(page, "templates")
    assert page.errors == []
    page.close()


def test_a_customers_history_shows_what_a_tick_sent_and_skipped(shop, browser):
    shop.call("PATCH", "/automations/birthday", {"enabled": True, "settings": {"days_before": 7}})
    summary = shop.stack.tick(datetime.now(timezone.utc).isoformat())
    assert summary["sent"] >= 2
    page = shop.open(browser, hash_="#/customers")
    page.get_by_label("Search customers").fill(f"ADA@{shop.tenant}.example")     # any case
    page.locator("#customer-results tbody tr").get_by_role("link", name="Ada Lovelace").click()
    expect(page.locator("h1")).to_have_text("Ada Lovelace")
    rows = page.locator("tr.communication")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("birthday")
    expect(rows.first.locator(".status-sent")).to_have_text("sent")
    shoot(page, "customer")

    page.evaluate("location.hash = '#/customers/cy'")
    expect(page.locator("h1")).to_have_text("Cy Park")
    expect(page.locator("tr.communication").first).to_contain_text("skipped")
    expect(page.locator("tr.communication").first).to_contain_text("no consent")

    page.evaluate("location.hash = '#/customers'")
    page.get_by_label("Search customers").fill("nobody")
    expect(page.locator("#customer-results [role=status]")).to_contain_text("No customer matches")
    page.get_by_label("Search customers").fill("")
    expect(page.get_by_role("link", name="Dee Holm")).to_be_visible()
    assert_controls_labelled(page)
    shoot(page, "customers")

    # The birthday card's last 30 days now count what the tick did.
    page.evaluate("location.hash = '#/automations'")
    stats = page.locator("#automation-birthday .stats")
    expect(stats).to_contain_text("Sent2")
    expect(stats).to_contain_text("no consent 1")
    assert stats.locator("svg rect.sent").count() == 1
    assert page.errors == []
    page.close()


@pytest.mark.parametrize("role", ["salesperson", "workshop", "accountant"])
def test_other_roles_see_everything_read_only_and_are_told_why(shop, browser, role):
    page = shop.open(browser, role=role)
    notice = page.locator("#read-only")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(f"signed in as {role}")
    expect(notice).to_contain_text("only an owner or a manager can change")
    toggle = page.locator("#enabled-anniversary")
    expect(toggle).to_be_disabled()
    expect(toggle).to_have_attribute("aria-describedby", "read-only")
    toggle.click(force=True)
    expect(toggle).not_to_be_checked()
    card = page.locator("#automation-anniversary")
    card.get_by_role("button", name="Configure").click()
    expect(card.get_by_label("When to send")).to_be_disabled()
    expect(card.get_by_role("button", name="Save")).to_be_disabled()
    assert shop.call("GET", "/automations/anniversary")["enabled"] is False
    # Reading is allowed: the test run works for every role.
    card.get_by_role("button", name="Test run").click()
    card.get_by_role("button", name="Run test").click()
    expect(card.locator(".tr-count")).to_have_text("0")
    if role == "salesperson":
        shoot(page, "automations-salesperson")
        page.evaluate("location.hash = '#/settings'")
        expect(page.get_by_label("Store name")).to_be_disabled()
        expect(page.get_by_role("button", name="Save settings")).to_be_disabled()
        page.evaluate("location.hash = '#/templates'")
        expect(page.get_by_role("button", name="Duplicate Birthday Wishes")).to_be_disabled()
    assert page.errors == []
    page.close()


def test_settings_save_through_the_api_and_show_its_errors_beside_the_field(shop, browser):
    page = shop.open(browser, hash_="#/settings")
    zone = page.get_by_label("Time zone")
    expect(zone).to_have_value("UTC")
    assert page.locator("datalist#timezones option[value='Australia/Sydney']").count() == 1
    sender = page.get_by_label("Sender email")
    sender.fill("not an address")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(f"#{sender.get_attribute('id')}-error")).to_contain_text("email")
    assert shop.call("GET", "/settings")["settings"]["sender_email"] == SENDER     # nothing changed

    sender.fill(SENDER)
    page.get_by_label("Send hour").select_option(label="09:00")
    page.get_by_label("Limit marketing messages per customer").check()
    page.get_by_label("At most (messages)").fill("3")
    page.get_by_label("In (days)").fill("14")
    page.get_by_label("From", exact=True).fill("22:00")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("main > .saved")).to_have_text("Settings saved.")
    saved = shop.call("GET", "/settings")["settings"]
    assert saved["send_hour"] == 9
    assert saved["frequency_cap"] == {"max_messages": 3, "per_days": 14}
    assert saved["quiet_hours"] == {"start": "22:00", "end": "09:00"}
    shop.call("PATCH", "/settings", {"send_hour": 0, "frequency_cap": None})
    finish(page, "settings")


def test_action_taken_automations_are_created_edited_and_deleted(shop, browser):
    page = shop.open(browser, hash_="#/actions")
    page.get_by_role("button", name="New automation").click()
    form = page.locator("form[aria-label='New action-taken automation']")
    form.get_by_label("Type").select_option(label="Reward available")
    form.get_by_label("Name").fill("Gold tier")
    form.get_by_label("Priority").fill("5")
    form.get_by_label("Audience: any of these tags").fill("vip, gold")
    form.get_by_role("button", name="Create").click()
    threshold = form.get_by_label("Points threshold")
    expect(page.locator(f"#{threshold.get_attribute('id')}-error")).to_contain_text("required")

    threshold.fill("2500")
    form.get_by_role("button", name="Create").click()
    card = page.locator("article", has=page.get_by_role("heading", name="Gold tier"))
    expect(card).to_contain_text("Threshold 2500 points")
    expect(card).to_contain_text("tags: vip, gold")
    created = [a for a in shop.call("GET", "/action-automations")["action_automations"] if a["name"] == "Gold tier"]
    assert created[0]["priority"] == 5 and created[0]["audience"] == {"tags_any": ["vip", "gold"]}

    card.get_by_role("button", name="Edit").click()
    edit = page.locator("form[aria-label='Edit Gold tier']")
    edit.get_by_label("Priority").fill("9")
    edit.get_by_label("Enabled").check()
    edit.get_by_role("button", name="Save").click()
    expect(card.locator(".badge")).to_have_text("Active")
    expect(card).to_contain_text("Priority 9")
    shoot(page, "action-automations")

    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Gold tier")).to_have_count(0)
    assert not [a for a in shop.call("GET", "/action-automations")["action_automations"] if a["name"] == "Gold tier"]
    assert page.errors == []
    page.close()


@pytest.mark.parametrize("hash_", ["#/automations", "#/templates", "#/customers/ada", "#/settings"])
def test_pages_fit_a_phone_screen(shop, browser, hash_):
    page = shop.open(browser, width=390, hash_=hash_)
    expect(page.locator("main h1")).to_be_visible()
    page.wait_for_load_state("networkidle")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    shoot(page, f"phone-{hash_.strip('#/').replace('/', '-')}")
    page.close()


def test_the_configure_preview_and_the_test_run_fit_a_phone_screen_in_one_column(shop, browser):
    before = shop.call("GET", "/automations/birthday")["settings"]["days_before"]
    page = shop.open(browser, width=390)
    card = page.locator("#automation-birthday")
    card.get_by_role("button", name="Configure").click()
    card.get_by_label("When to send").select_option(label="3 days before")
    expect(card.locator(".cfg-count")).to_be_visible()
    form, preview = card.locator("form[aria-label='Configure Birthday Wishes']"), card.locator(".cfg-preview")
    assert preview.bounding_box()["y"] >= form.bounding_box()["y"] + form.bounding_box()["height"]   # below, not beside
    card.get_by_role("button", name="Test run").click()
    card.get_by_role("button", name="Run test").click()
    expect(card.locator(".tr-status")).to_contain_text("Nothing was sent.")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert shop.call("GET", "/automations/birthday")["settings"]["days_before"] == before
    finish(page, "phone-test-run")


def test_api_errors_are_shown_not_swallowed(shop, browser):
    page = shop.open(browser, hash_="#/templates/tpl_doesnotexist")
    expect(page.locator("main [role=alert]")).to_contain_text("no such template")
    page.close()
    # A new tab (no session yet) opened with a token the API refuses asks to sign in again.
    # (A tab already signed in keeps its store and says the token is not valid: test_admin_privacy.)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"{shop.stack.api}/admin#token=not-a-token")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator(".signin [role=status]")).to_contain_text("sign in again")
    assert "token" not in page.url
    page.close()


def test_in_cognito_mode_the_page_signs_in_through_the_user_pool_and_sets_a_first_password(shop, browser):
    """Cognito itself is not here: Playwright stands in for the user pool's endpoint and for the cloud's
    page configuration (and its policy, which then allows that endpoint), and checks what the page asks."""
    endpoint = "https://cognito-idp.eu-west-1.amazonaws.com/"
    page = browser.new_page(viewport={"width": 1200, "height": 900})

    def cloud_page(route):
        response = route.fetch()
        headers = {**response.headers, "content-security-policy": response.headers["content-security-policy"].replace(
            "connect-src 'self'", f"connect-src 'self' {endpoint.rstrip('/')}")}
        route.fulfill(response=response, headers=headers)

    def cloud_config(route):
        config = route.fetch().json()
        config["auth"] = {"mode": "cognito", "endpoint": endpoint, "client_id": "client123"}
        route.fulfill(json=config)

    asked: list[tuple[str, dict]] = []

    def user_pool(route):
        target = route.request.headers["x-amz-target"].rsplit(".", 1)[1]
        body = route.request.post_data_json
        asked.append((target, body))
        if target == "InitiateAuth":
            route.fulfill(json={"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": "s1", "ChallengeParameters": {}},
                          headers={"access-control-allow-origin": "*"})
        else:
            route.fulfill(json={"AuthenticationResult": {"IdToken": shop.owner, "RefreshToken": "r1"}},
                          headers={"access-control-allow-origin": "*"})

    page.route(f"{shop.stack.api}/admin", cloud_page)
    page.route("**/admin/config.json", cloud_config)
    page.route(f"{endpoint}**", user_pool)
    page.goto(f"{shop.stack.api}/admin")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shoot(page, "sign-in")
    page.get_by_label("Email").fill("owner@atelier.example")
    page.get_by_label("Password").fill("Temporary-123")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Choose a new password").fill("A-new-password-456")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who")).to_contain_text(f"{shop.tenant} · owner")
    expect(page.locator("article.card")).to_have_count(10)
    assert asked == [
        ("InitiateAuth", {"ClientId": "client123", "AuthFlow": "USER_PASSWORD_AUTH",
                          "AuthParameters": {"USERNAME": "owner@atelier.example", "PASSWORD": "Temporary-123"}}),
        ("RespondToAuthChallenge", {"ClientId": "client123", "ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": "s1",
                                    "ChallengeResponses": {"USERNAME": "owner@atelier.example",
                                                           "NEW_PASSWORD": "A-new-password-456"}}),
    ]
    shoot(page, "sign-in-done")
    page.close()

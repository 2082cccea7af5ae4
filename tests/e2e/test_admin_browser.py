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


class Shop:
    """A store of its own, set up through the API: three customers whose birthday is a week from today
    (one without email consent) and one whose birthday is six days from today."""

    def __init__(self, stack):
        self.stack, self.tenant = stack, f"atelier-{uuid.uuid4().hex[:6]}"
        self.owner = stack.token(self.tenant, "owner")
        self.today = datetime.now(timezone.utc).date()
        self.call("PATCH", "/settings", {"store_name": "Atelier Nord", "timezone": "UTC", "send_hour": 0,
                                         "sender_email": SENDER})
        week, six = self.today + timedelta(days=7), self.today + timedelta(days=6)
        people = {
            "ada": ("Ada", "Lovelace", week, True), "bo": ("Bo", "Chen", week, True),
            "cy": ("Cy", "Park", week, False), "dee": ("Dee", "Holm", six, True),
        }
        for customer_id, (first, last, birthday, consent) in people.items():
            self.call("PUT", f"/customers/{customer_id}", {
                "first_name": first, "last_name": last, "email": f"{customer_id}@{self.tenant}.example",
                "birthday": f"1990-{birthday:%m-%d}", "consent": {"email": consent}, "source": "import"})

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        response = self.stack.call(method, path, token or self.owner, json=body)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def open(self, browser, role: str = "owner", width: int = 1200, hash_: str = ""):
        token = self.owner if role == "owner" else self.stack.token(self.tenant, role)
        page = browser.new_page(viewport={"width": width, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.errors = errors
        page.goto(f"{self.stack.api}/admin#token={token}")
        expect(page.locator("#who")).to_contain_text(f"{self.tenant} · {role}")
        if hash_:
            page.evaluate("h => { location.hash = h; }", hash_)
        return page


@pytest.fixture(scope="module")
def shop(admin_stack):
    return Shop(admin_stack)


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
    when.select_option(label="7 days before")
    card.get_by_role("button", name="Save").click()
    expect(card.locator(".saved")).to_have_text("Saved.")
    assert shop.call("GET", "/automations/birthday")["settings"]["days_before"] == 7

    card.get_by_role("button", name="Test run").click()
    card.get_by_role("button", name="Run test").click()
    expect(card.locator(".tr-count")).to_have_text("3")               # Ada, Bo and Cy; not Dee (six days)
    expect(card.locator(".tr-would-send")).to_have_text("2")
    expect(card.locator(".tr-skipped")).to_have_text("no consent: 1")
    expect(card.locator(".tr-dates")).to_have_text(shop.today.isoformat())
    sample = card.locator(".tr-sample").inner_text()
    assert {"Ada Lovelace", "Bo Chen", "Cy Park"} == set(sample.split(", "))
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
    page.get_by_label("Customer id or email").fill(f"ADA@{shop.tenant}.example")     # any case
    page.get_by_role("button", name="Look up").click()
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
    page.get_by_label("Customer id or email").fill("nobody")
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("main [role=status]")).to_contain_text("no such customer")
    expect(page.get_by_role("link", name="dee")).to_be_visible()
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


def test_api_errors_are_shown_not_swallowed(shop, browser):
    page = shop.open(browser, hash_="#/templates/tpl_doesnotexist")
    expect(page.locator("main [role=alert]")).to_contain_text("no such template")
    page.goto("about:blank")
    page.goto(f"{shop.stack.api}/admin#token=not-a-token")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator(".signin [role=status]")).to_contain_text("sign in again")
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

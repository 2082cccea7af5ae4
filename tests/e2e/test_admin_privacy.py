"""The admin page and a store's personal data in a real browser (Playwright, headless Chromium, against a local
stack of its own): a token in the address signs in only a tab without a session, and only after asking a tab
signed in to another store; with Cognito's sign-in the address's token is ignored; the address never keeps it.
The customer page's audit trail for owners and managers, in the store's time, on a phone; the retention setting."""
from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.test_admin_browser import (  # noqa: F401 (fixtures)
    INSTANT,
    SHOTS,
    Store,
    admin_stack,
    browser,
    finish,
    intl,
)

ZONE = "Australia/Sydney"
BROWSER_ZONE = "America/New_York"


class Boutique(Store):
    """A Sydney store with one customer, Mia, whose consent, tags and VIP a salesperson changes."""

    def __init__(self, stack, name: str):
        super().__init__(stack, f"{name}-{uuid.uuid4().hex[:6]}")
        self.call("PATCH", "/settings", {"store_name": name.title(), "timezone": ZONE, "country": "AU"})
        self.call("PUT", "/customers/mia", {"first_name": "Mia", "last_name": "Rossi",
                                           "email": f"mia@{self.tenant}.example", "consent": {"email": True},
                                           "consent_source": "in_store_form"})


@pytest.fixture(scope="module")
def rosa(admin_stack):  # noqa: F811
    return Boutique(admin_stack, "rosa")


@pytest.fixture(scope="module")
def vera(admin_stack):  # noqa: F811
    return Boutique(admin_stack, "vera")


def new_page(browser, width: int = 1200):  # noqa: F811
    page = browser.new_page(viewport={"width": width, "height": 900}, timezone_id=BROWSER_ZONE)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    return page


def stored_token(page) -> str | None:
    return page.evaluate("() => sessionStorage.getItem('automations.token')")


def test_a_token_in_the_address_signs_in_a_tab_without_a_session_and_leaves_the_address(rosa, browser):  # noqa: F811
    page = new_page(browser)
    page.goto(f"{rosa.stack.api}/admin#token={rosa.owner}")
    expect(page.locator("#who")).to_contain_text(f"{rosa.tenant} · owner")
    assert "token" not in page.url and page.url.endswith("#/automations")
    assert stored_token(page) == rosa.owner
    page.screenshot(path=str(SHOTS / "privacy-token-signed-in.png"))
    page.go_back()                                               # not left behind in the history either
    assert page.url == "about:blank"
    assert page.errors == []
    page.close()


def test_a_tab_signed_in_to_one_store_asks_before_a_token_for_another_store_switches_it(rosa, vera, browser):  # noqa: F811
    page = new_page(browser, width=390)
    page.goto(f"{rosa.stack.api}/admin#token={rosa.owner}")
    expect(page.locator("#who")).to_contain_text(f"{rosa.tenant} · owner")

    # Opened in the same tab (a new load): the dialog names both stores, and staying changes nothing.
    page.goto("about:blank")
    page.goto(f"{rosa.stack.api}/admin#token={vera.owner}")
    dialog = page.get_by_role("dialog", name="Switch store?")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".switch-current")).to_have_text(rosa.tenant)
    expect(dialog.locator(".switch-offered")).to_have_text(vera.tenant)
    assert "token" not in page.url                              # gone before anyone chose
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=str(SHOTS / "phone-privacy-switch-store.png"))
    dialog.get_by_role("button", name=f"Stay in {rosa.tenant}").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("#who")).to_contain_text(f"{rosa.tenant} · owner")
    assert stored_token(page) == rosa.owner

    # Escape is "stay" too.
    page.evaluate("h => { location.hash = h; }", f"#token={vera.owner}")
    expect(page.get_by_role("dialog", name="Switch store?")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert stored_token(page) == rosa.owner and "token" not in page.url

    # Written into the address of the open page (no new load): asked again, and switched only when chosen.
    page.evaluate("h => { location.hash = h; }", f"#token={vera.owner}")
    page.get_by_role("dialog", name="Switch store?").get_by_role("button", name=f"Switch to {vera.tenant}").click()
    expect(page.locator("#who")).to_contain_text(f"{vera.tenant} · owner")
    assert stored_token(page) == vera.owner and "token" not in page.url

    # A token the API refuses changes nothing and says so.
    page.evaluate("h => { location.hash = h; }", "#token=not-a-token")
    expect(page.locator("[role=alert]").first).to_contain_text("not valid")
    expect(page.locator("#who")).to_contain_text(f"{vera.tenant} · owner")
    assert stored_token(page) == vera.owner
    finish(page, "phone-privacy-switched")


def test_with_cognito_sign_in_the_address_token_is_ignored_and_removed(rosa, browser):  # noqa: F811
    page = new_page(browser)
    local = json.loads(page.request.get(f"{rosa.stack.api}/admin/config.json").text())
    cognito = {**local, "auth": {"mode": "cognito", "endpoint": "https://cognito-idp.us-east-1.amazonaws.com/",
                                 "client_id": "client"}}
    page.route("**/admin/config.json", lambda route: route.fulfill(status=200, content_type="application/json",
                                                                    body=json.dumps(cognito)))
    page.goto(f"{rosa.stack.api}/admin#token={rosa.owner}")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Token")).to_have_count(0)           # Cognito's form, not the local one
    assert stored_token(page) is None and "token" not in page.url
    expect(page.locator("#who")).to_be_empty()
    page.close()


def test_owners_and_managers_read_the_customers_changes_in_the_stores_time_and_others_do_not_see_them(
        rosa, browser):  # noqa: F811
    ana = rosa.stack.token(rosa.tenant, "salesperson")
    rosa.call("PATCH", "/customers/mia", {"tags": ["bridal"], "is_vip": True}, token=ana)
    rosa.call("PATCH", "/customers/mia", {"consent": {"sms": True}, "consent_source": "phone_call"})
    entries = rosa.call("GET", "/customers/mia/audit")["entries"]
    assert [e["source"] for e in entries] == ["phone_call", "api", "in_store_form"]

    manager = rosa.stack.token(rosa.tenant, "manager")
    page = new_page(browser, width=390)
    page.goto(f"{rosa.stack.api}/admin#token={manager}")
    expect(page.locator("#who")).to_contain_text(f"{rosa.tenant} · manager")
    page.evaluate("h => { location.hash = h; }", "#/customers/mia")
    expect(page.locator("main h1")).to_have_text("Mia Rossi")
    items = page.locator("ol.audit > li.audit-entry")
    expect(items).to_have_count(3)
    newest, middle, oldest = items.nth(0), items.nth(1), items.nth(2)
    expect(newest).to_contain_text(f"{rosa.tenant}:owner")
    expect(newest).to_contain_text("on the phone")
    expect(newest).to_contain_text("SMS consent: no → yes")
    expect(middle.locator(".audit-who")).to_have_text(f"{rosa.tenant}:salesperson")
    expect(middle).to_contain_text("Tags: none → bridal, VIP")
    expect(middle).to_contain_text("VIP: no → yes")
    expect(oldest).to_contain_text("Email consent: no → yes")
    # The store's time, whatever the browser's zone.
    expect(newest.locator("time")).to_have_text(intl(page, entries[0]["at"], "en-AU", ZONE, INSTANT))
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    finish(page, "phone-customer-audit")

    # A salesperson's page has no audit section (the API would refuse it).
    page = new_page(browser)
    page.goto(f"{rosa.stack.api}/admin#token={ana}")
    expect(page.locator("#who")).to_contain_text(f"{rosa.tenant} · salesperson")
    page.evaluate("h => { location.hash = h; }", "#/customers/mia")
    expect(page.locator(".notes-section")).to_be_visible()
    expect(page.locator(".audit-section")).to_have_count(0)
    finish(page, "customer-no-audit")


def test_the_settings_page_keeps_message_contents_for_the_days_chosen(vera, browser):  # noqa: F811
    page = new_page(browser)
    page.goto(f"{vera.stack.api}/admin#token={vera.owner}")
    expect(page.locator("#who")).to_contain_text(f"{vera.tenant} · owner")
    page.evaluate("h => { location.hash = h; }", "#/settings")
    field = page.get_by_label("Keep message contents (days)")
    expect(field).to_have_value("400")
    field.fill("0")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("[data-error-for='retention_days']")).not_to_be_empty()
    assert vera.call("GET", "/settings")["settings"]["retention_days"] == 400
    page.get_by_label("Keep message contents (days)").fill("90")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("main > .saved")).to_have_text("Settings saved.")   # the field holds 90 before the save ends
    expect(page.get_by_label("Keep message contents (days)")).to_have_value("90")
    assert vera.call("GET", "/settings")["settings"]["retention_days"] == 90
    finish(page, "settings-retention")


def test_an_owner_erases_a_customer_from_their_page_after_saying_yes(vera, browser):  # noqa: F811
    vera.call("PUT", "/customers/tom", {"first_name": "Tom", "last_name": "Pike", "email": f"tom@{vera.tenant}.example"})
    vera.call("POST", "/customers/tom/notes", {"body": "Allergic to nickel"})
    page = new_page(browser, width=390)
    page.goto(f"{vera.stack.api}/admin#token={vera.owner}")
    expect(page.locator("#who")).to_contain_text(f"{vera.tenant} · owner")
    page.evaluate("h => { location.hash = h; }", "#/customers/tom")
    expect(page.locator("main h1")).to_have_text("Tom Pike")
    asked: list[str] = []

    def answer(dialog, accept: bool) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))                 # "no": nothing happens
    page.get_by_role("button", name="Erase customer").click()
    expect(page.locator("main h1")).to_have_text("Tom Pike")
    assert vera.stack.call("GET", "/customers/tom", vera.owner).status_code == 200

    page.once("dialog", lambda d: answer(d, True))
    page.get_by_role("button", name="Erase customer").click()
    expect(page.locator("main h1 + p[role=status]")).to_have_text("Tom Pike was erased.")
    expect(page.locator("main h1")).to_have_text("Customers")
    assert page.url.endswith("#/customers") and len(asked) == 2 and "Erase Tom Pike?" in asked[0]
    assert vera.stack.call("GET", "/customers/tom", vera.owner).status_code == 404
    assert [e["kind"] for e in vera.call("GET", "/customers/tom/audit")["entries"]] == ["erased"]
    finish(page, "phone-customer-erased")

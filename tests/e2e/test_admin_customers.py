"""The admin's Customers page in a real browser (Playwright, headless Chromium, against a local stack of its
own): a salesperson searches as they type by name, email or phone, adds a customer, edits their details with
errors shown beside the field, and switches VIP on and off; the counts strip; a phone's 390 px screen."""
from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.test_admin_browser import (  # noqa: F401 (fixtures)
    INSTANT,
    Store,
    admin_stack,
    browser,
    finish,
    intl,
)

ZONE = "Pacific/Auckland"
BROWSER_ZONE = "America/Los_Angeles"


class Jeweller(Store):
    """A store in Auckland with four customers, one of them VIP and one with an accented name."""

    def __init__(self, stack):
        super().__init__(stack, f"jeweller-{uuid.uuid4().hex[:6]}")
        self.call("PATCH", "/settings", {"store_name": "Kiri Jewels", "timezone": ZONE, "country": "NZ"})
        people = {
            "leo": ("Leo", "Martin", "+64211234567", ["VIP"]), "zoe": ("Zoë", "Åberg", "+64219876543", []),
            "lea": ("Léa", "Moreau", None, []), "ari": ("Ari", "Ngata", "+64275550000", []),
        }
        for customer_id, (first, last, phone, tags) in people.items():
            self.call("PUT", f"/customers/{customer_id}", {
                "first_name": first, "last_name": last, "email": f"{customer_id}@{self.tenant}.example",
                "phone": phone, "tags": tags})


@pytest.fixture(scope="module")
def jeweller(admin_stack):  # noqa: F811
    return Jeweller(admin_stack)


def rows(page):
    return page.locator("#customer-results tbody tr")


def test_searching_as_one_types_finds_customers_by_name_full_name_email_and_phone(jeweller, browser):  # noqa: F811
    page = jeweller.open(browser, role="salesperson", hash_="#/customers", zone=BROWSER_ZONE)
    expect(page.locator("main h1")).to_have_text("Customers")
    box = page.get_by_label("Search customers")
    box.press_sequentially("le", delay=30)
    expect(rows(page)).to_have_count(2)     # Leo, and Léa without her accent
    box.press_sequentially("o m", delay=30)
    expect(rows(page)).to_have_count(1)
    leo = rows(page).first
    expect(leo).to_contain_text("Leo Martin")
    expect(leo).to_contain_text("+64211234567")
    expect(leo.locator(".vip")).to_have_text("VIP")
    # Last active: the customer's creation, as the store's clock (not the browser's) shows it.
    created = jeweller.call("GET", "/customers/leo")["last_activity_at"]
    shown = intl(page, created, "en-NZ", ZONE, INSTANT)
    expect(leo.locator("time")).to_have_text(shown)

    box.fill("ZOE")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Zoë Åberg")
    box.fill("9876")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Zoë")
    box.fill(f"ari@{jeweller.tenant}")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Ari Ngata")
    box.fill("nobody here")
    expect(page.locator("#customer-results [role=status]")).to_contain_text("No customer matches")
    box.fill("leo")
    rows(page).first.get_by_role("link").click()
    expect(page.locator("main h1")).to_have_text("Leo Martin")
    finish(page, "customers-search")


def test_the_counts_strip_shows_customers_vip_and_inactive(jeweller, browser):  # noqa: F811
    page = jeweller.open(browser, hash_="#/customers")
    strip = page.get_by_label("Customer counts")
    total = len(jeweller.call("GET", "/customers?limit=200")["customers"])
    vip = next(s for s in jeweller.call("GET", "/segments")["segments"] if s["segment_id"] == "vip")["count"]
    expect(strip).to_contain_text(f"{total} customers")
    expect(strip).to_contain_text(f"{vip} VIP")
    expect(strip).to_contain_text("0 inactive 90+ days")
    finish(page, "customers-counts")


def test_a_salesperson_adds_a_customer_edits_their_details_and_switches_vip(jeweller, browser):  # noqa: F811
    page = jeweller.open(browser, role="salesperson", hash_="#/customers")
    page.get_by_role("button", name="Add customer").click()
    form = page.get_by_role("form", name="Add customer")
    form.get_by_label("First name").fill("Mere")
    form.get_by_label("Last name").fill("Tane")
    form.get_by_label("Phone").fill("021 555")              # not E.164: refused beside the field
    form.get_by_role("button", name="Add customer").click()
    expect(form.locator("[data-error-for=phone]")).to_contain_text("E.164")
    form.get_by_label("Phone").fill("+64215550123")
    form.get_by_role("button", name="Add customer").click()
    expect(page.locator("main h1")).to_have_text("Mere Tane")
    customer_id = page.evaluate("decodeURIComponent(location.hash.split('/')[2])")
    assert jeweller.call("GET", f"/customers/{customer_id}")["phone"] == "+64215550123"

    details = page.locator("#customer-details")
    expect(details.get_by_role("heading", name="Details")).to_be_visible()
    details.get_by_label("Email").fill(f"mere@{jeweller.tenant}.example")
    details.get_by_label("Birthday").fill("--02-30")          # no such day: refused beside the field
    details.get_by_role("button", name="Save details").click()
    expect(details.locator("[data-error-for=birthday]")).not_to_be_empty()
    assert "email" not in jeweller.call("GET", f"/customers/{customer_id}")   # a refused write changes nothing
    details.get_by_label("Birthday").fill("1988-02-14")
    details.get_by_label("Tags").fill("gold, Gold, bridal")
    details.get_by_label("Interests").fill("pearls")
    details.get_by_role("button", name="Save details").click()
    expect(details.get_by_role("status").last).to_have_text("Details saved.")
    stored = jeweller.call("GET", f"/customers/{customer_id}")
    assert (stored["email"], stored["birthday"], stored["tags"], stored["interests"], stored["is_vip"]) == (
        f"mere@{jeweller.tenant}.example", "1988-02-14", ["gold", "bridal"], ["pearls"], False)

    vip = details.get_by_role("switch", name="VIP")
    vip.check()
    expect(details.get_by_role("status").first).to_have_text("VIP.")
    stored = jeweller.call("GET", f"/customers/{customer_id}")
    assert stored["is_vip"] is True and stored["tags"] == ["gold", "bridal", "VIP"]
    vip.uncheck()
    expect(details.get_by_role("status").first).to_have_text("Not VIP.")
    assert jeweller.call("GET", f"/customers/{customer_id}")["tags"] == ["gold", "bridal"]

    # The new customer is found by the search, by the name written on the Details form.
    page.evaluate("location.hash = '#/customers'")
    page.get_by_label("Search customers").fill("mere t")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text(f"mere@{jeweller.tenant}.example")
    finish(page, "customer-details")


def test_an_accountant_reads_the_details_but_may_not_change_them(jeweller, browser):  # noqa: F811
    page = jeweller.open(browser, role="accountant", hash_="#/customers/zoe")
    details = page.locator("#customer-details")
    expect(details.get_by_label("First name")).to_have_value("Zoë")
    expect(details.get_by_label("First name")).to_be_disabled()
    expect(details.get_by_role("switch", name="VIP")).to_be_disabled()
    page.evaluate("location.hash = '#/customers'")
    expect(page.get_by_role("button", name="Add customer")).to_be_disabled()
    finish(page, "customers-accountant")


@pytest.mark.parametrize("hash_", ["#/customers", "#/customers/leo"])
def test_the_customers_pages_fit_a_phone_screen_and_work_there(jeweller, browser, hash_):  # noqa: F811
    page = jeweller.open(browser, width=390, hash_=hash_)
    expect(page.locator("main h1")).to_be_visible()
    if hash_ == "#/customers":
        page.get_by_label("Search customers").press_sequentially("ari", delay=30)
        expect(rows(page)).to_have_count(1)
    else:
        switch = page.locator("#customer-details").get_by_role("switch", name="VIP")
        expect(switch).to_be_checked()
        switch.uncheck()
        expect(page.locator("#customer-details").get_by_role("status").first).to_have_text("Not VIP.")
        switch.check()
        expect(page.locator("#customer-details").get_by_role("status").first).to_have_text("VIP.")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    finish(page, f"phone-{hash_.strip('#/').replace('/', '-')}-details")

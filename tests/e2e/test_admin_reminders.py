"""The admin's Reminders page and a customer's communications history in a real browser (Playwright, headless
Chromium, against a local stack of their own): the coming birthdays and anniversaries in the store's calendar
(not the browser's), with contact, last message and the automation's greeting; every record's subject, full
message, status and reason; both readable on a 390 px phone screen without sideways scrolling."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.e2e.test_admin_browser import (  # noqa: F401 (fixtures)
    DAY,
    SENDER,
    Store,
    admin_stack,
    browser,
    finish,
    intl,
)

ZONE = "Australia/Sydney"
BROWSER_ZONE = "America/New_York"


class Jeweller(Store):
    """A Sydney store, its birthday automation on with a three-day lead, and a tick already run: `wyn`
    (birthday in 3 days) was greeted, `xen` (same day, no consent) skipped; `tia` celebrates today, `uma` an
    anniversary tomorrow, `vic` a birthday in 5 days, `zed` in 10."""

    def __init__(self, stack):
        super().__init__(stack, f"jeweller-{uuid.uuid4().hex[:6]}")
        self.call("PATCH", "/settings", {"store_name": "Maison Or", "timezone": ZONE, "country": "AU",
                                         "send_hour": 0, "sender_email": SENDER})
        self.today = datetime.now(timezone.utc).astimezone(ZoneInfo(ZONE)).date()
        ahead = lambda n: f"{self.today + timedelta(days=n):%m-%d}"  # noqa: E731
        people = {
            "tia": {"first_name": "Tia", "last_name": "Moreau", "birthday": f"1990-{ahead(0)}",
                    "email": f"tia@{self.tenant}.example", "phone": "+61412345678", "consent": {"email": True}},
            "uma": {"first_name": "Uma", "anniversary": f"--{ahead(1)}"},
            "vic": {"first_name": "Victoria-Alexandrina", "last_name": "Featherstonehaugh-Montgomery",
                    "birthday": f"--{ahead(5)}", "consent": {"email": True},
                    "email": f"victoria.alexandrina.featherstonehaugh@{self.tenant}.example"},
            "wyn": {"first_name": "Wyn", "birthday": f"1980-{ahead(3)}", "email": f"wyn@{self.tenant}.example",
                    "consent": {"email": True}},
            "xen": {"first_name": "Xen", "birthday": f"1980-{ahead(3)}", "email": f"xen@{self.tenant}.example",
                    "consent": {"email": False}},
            "zed": {"first_name": "Zed", "birthday": f"--{ahead(10)}"},
        }
        for customer_id, body in people.items():
            self.call("PUT", f"/customers/{customer_id}", {**body, "source": "import"})
        self.call("PATCH", "/automations/birthday", {"enabled": True, "settings": {"days_before": 3}})
        summary = stack.tick(datetime.now(timezone.utc).isoformat())
        assert summary["sent"] >= 1


@pytest.fixture(scope="module")
def jeweller(admin_stack):  # noqa: F811
    return Jeweller(admin_stack)


def item(page, customer_id: str, occasion: str = "birthday"):
    return page.locator(f"li.reminder[data-customer='{customer_id}'][data-occasion='{occasion}']")


def test_reminders_list_the_stores_coming_days_with_contact_last_message_and_greeting(jeweller, browser):  # noqa: F811
    page = jeweller.open(browser, hash_="#/reminders", zone=BROWSER_ZONE)
    expect(page.locator("main h1")).to_have_text("Reminders")
    today = page.locator(f"section.rem-day[data-date='{jeweller.today.isoformat()}']")
    expect(today.locator("h2")).to_have_text("Today, " + intl(page, jeweller.today.isoformat(), "en-AU", ZONE, DAY))
    tia = item(page, "tia")
    expect(tia).to_contain_text("Tia Moreau")
    expect(tia).to_contain_text(f"Birthday: turns {jeweller.today.year - 1990}")
    expect(tia.get_by_role("link", name=f"tia@{jeweller.tenant}.example")).to_have_attribute(
        "href", f"mailto:tia@{jeweller.tenant}.example")
    expect(tia.get_by_role("link", name="+61412345678")).to_have_attribute("href", "tel:+61412345678")
    expect(tia).to_contain_text("No message received yet.")
    # Switched on today: today's birthday is not reached back to.
    expect(tia.locator(".rem-greeting")).to_have_text("No automation will greet them.")

    tomorrow = page.locator(f"section.rem-day[data-date='{(jeweller.today + timedelta(days=1)).isoformat()}']")
    expect(tomorrow.locator("h2")).to_contain_text("Tomorrow, ")
    expect(item(page, "uma", "anniversary")).to_contain_text("Anniversary")
    expect(item(page, "uma", "anniversary")).to_contain_text("No email")

    # Greeted by this morning's tick: the last message is the birthday email.
    expect(item(page, "wyn").locator(".rem-last")).to_contain_text("Last message:")
    expect(item(page, "wyn").locator(".rem-last")).to_contain_text("Email")
    expect(item(page, "wyn").locator(".rem-greeting")).to_have_text(
        "The birthday automation has already dealt with this date: see the customer's history.")
    send_on = (jeweller.today + timedelta(days=2)).isoformat()
    expect(item(page, "vic").locator(".rem-greeting")).to_contain_text(
        "Birthday automation will send on " + intl(page, send_on, "en-AU", ZONE, DAY))

    item(page, "vic").get_by_role("link", name="Victoria-Alexandrina Featherstonehaugh-Montgomery").click()
    expect(page.locator("main h1")).to_have_text("Victoria-Alexandrina Featherstonehaugh-Montgomery")
    finish(page, "reminders-customer")


def test_fewer_days_ahead_leave_later_celebrations_out(jeweller, browser):  # noqa: F811
    page = jeweller.open(browser, hash_="#/reminders")
    expect(item(page, "zed")).to_have_count(1)
    page.get_by_label("Days ahead").select_option("7")
    expect(page.locator("main [role=status]")).to_contain_text("in the next 7 days")
    expect(item(page, "zed")).to_have_count(0)
    expect(item(page, "vic")).to_have_count(1)
    finish(page, "reminders-7")


@pytest.mark.parametrize("hash_", ["#/reminders", "#/customers/vic", "#/customers/wyn", "#/customers/xen"])
def test_reminders_and_histories_fit_a_phone_screen(jeweller, browser, hash_):  # noqa: F811
    page = jeweller.open(browser, width=390, hash_=hash_)
    expect(page.locator("main h1")).to_be_visible()
    page.wait_for_load_state("networkidle")
    expect(page.locator("main .loading")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    finish(page, f"phone-{hash_.strip('#/').replace('/', '-')}")


def _on_screen(locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390


def test_on_a_phone_the_history_shows_subject_message_status_and_reason_without_sideways_scrolling(jeweller, browser):  # noqa: F811
    page = jeweller.open(browser, width=390, hash_="#/customers/wyn")
    record = page.locator("tr.communication").first
    expect(record.locator(".cm-status")).to_have_text("sent")
    expect(record.locator(".cm-source")).to_contain_text("Automation")
    subject = record.locator(".cm-subject")
    expect(subject).not_to_be_empty()
    record.get_by_text("Full message").click()
    expect(record.locator(".cm-body")).to_contain_text("Wyn")
    for part in (".cm-status", ".cm-reason", ".cm-subject", ".cm-body"):
        assert _on_screen(record.locator(part)), part
    wrap = page.locator(".cm-wrap")
    assert wrap.evaluate("el => el.scrollWidth - el.clientWidth") <= 0
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0

    page.evaluate("location.hash = '#/customers/xen'")
    expect(page.locator("main h1")).to_have_text("Xen")
    skipped = page.locator("tr.communication").first
    expect(skipped.locator(".cm-status")).to_have_text("skipped")
    expect(skipped.locator(".cm-reason")).to_have_text("no consent")
    assert _on_screen(skipped.locator(".cm-status")) and _on_screen(skipped.locator(".cm-reason"))
    finish(page, "phone-history")


def test_an_empty_history_says_so_without_an_empty_table(jeweller, browser):  # noqa: F811
    page = jeweller.open(browser, hash_="#/customers/uma")
    expect(page.locator("main h1")).to_have_text("Uma")
    expect(page.locator(".cm-history")).to_contain_text("No messages yet.")
    expect(page.locator(".cm-history table")).to_be_hidden()
    finish(page, "empty-history")

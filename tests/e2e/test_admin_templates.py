"""The admin's template editor in a real browser (Playwright, headless Chromium, against a local stack of its
own): the variable picker inserts at the cursor, a preview that an error keeps from updating says it is out of
date, the Configure panel duplicates the system template and opens the copy, and the email preview is the
message in the store's layout; on a desktop and at 390 px."""
from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.test_admin_browser import (  # noqa: F401 (fixtures)
    SENDER,
    Store,
    admin_stack,
    browser,
    finish,
)

WIDTHS = [1200, 390]


class Jeweller(Store):
    def __init__(self, stack):
        super().__init__(stack, f"jeweller-{uuid.uuid4().hex[:6]}")
        self.call("PATCH", "/settings", {"store_name": "Maison Lune", "timezone": "UTC", "sender_email": SENDER,
                                         "store_phone": "+61 2 9000 0000", "brand_color": "#0b3d2e"})
        self.call("PUT", "/customers/ada", {"first_name": "Ada", "email": f"ada@{self.tenant}.example"})


@pytest.fixture(scope="module")
def jeweller(admin_stack):  # noqa: F811
    return Jeweller(admin_stack)


def _copy(jeweller) -> str:
    return jeweller.call("POST", "/templates/system:christmas/duplicate", {})["template_id"]


def _fits(page) -> None:
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


@pytest.mark.parametrize("width", WIDTHS)
def test_the_variable_picker_inserts_a_variable_at_the_cursor_and_the_preview_follows(jeweller, browser, width):  # noqa: F811
    template_id = _copy(jeweller)
    page = jeweller.open(browser, width=width, hash_=f"#/templates/{template_id}")
    expect(page.locator(".pv-subject")).not_to_be_empty()
    subject = page.get_by_label("Subject", exact=True)
    subject.fill("Hello  from the shop")
    subject.evaluate("el => { el.focus(); el.setSelectionRange(6, 6); }")  # between the two spaces
    picker = page.get_by_role("group", name="Insert a variable")
    expect(picker.get_by_role("button", name="discount_code")).to_have_count(0)  # not a christmas variable
    picker.get_by_role("button", name="customer.first_name", exact=True).click()
    expect(subject).to_have_value("Hello {{ customer.first_name }} from the shop")
    expect(page.locator(".pv-subject")).to_have_text("Hello Ava from the shop")

    # The message is the default target; the picker offers every variable of the type, store ones too.
    page.evaluate("location.hash = '#/automations'")
    page.evaluate(f"location.hash = '#/templates/{template_id}'")
    message = page.get_by_label("Message", exact=True)
    message.fill("Call us on ")
    message.press("End")
    page.get_by_role("group", name="Insert a variable").get_by_role("button", name="store.phone").click()
    expect(message).to_have_value("Call us on {{ store.phone }}")
    expect(page.locator(".pv-text")).to_contain_text("Call us on +61 2 9000 0000")
    _fits(page)
    finish(page, f"template-variables-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_preview_an_error_keeps_from_updating_is_marked_out_of_date(jeweller, browser, width):  # noqa: F811
    page = jeweller.open(browser, width=width, hash_=f"#/templates/{_copy(jeweller)}")
    subject = page.get_by_label("Subject", exact=True)
    subject.fill("Good {{ customer.first_name }}")
    expect(page.locator(".pv-subject")).to_have_text("Good Ava")
    stale = page.locator(".stale-note")
    expect(stale).to_be_hidden()

    subject.fill("Good {{ customer.nickname }}")
    expect(page.locator(f"#{subject.get_attribute('id')}-error")).to_contain_text("nickname")
    expect(stale).to_be_visible()
    expect(stale).to_contain_text("Out of date")
    expect(page.locator(".preview")).to_have_class("preview is-stale")
    expect(page.locator(".pv-subject")).to_have_text("Good Ava")   # the last good render, marked as such
    _fits(page)

    subject.fill("Good day {{ customer.first_name }}")
    expect(page.locator(".pv-subject")).to_have_text("Good day Ava")
    expect(stale).to_be_hidden()
    expect(page.locator(".preview")).to_have_class("preview")
    finish(page, f"template-stale-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_configure_duplicates_the_system_template_and_opens_the_copy(jeweller, browser, width):  # noqa: F811
    page = jeweller.open(browser, width=width)
    card = page.locator("#automation-christmas")
    card.get_by_role("button", name="Configure").click()
    card.get_by_role("button", name="Duplicate the system template").click()
    expect(page.locator("h1")).to_have_text("Edit template: Copy of Christmas")
    template_id = page.url.rsplit("/", 1)[1]
    copy = jeweller.call("GET", f"/templates/{template_id}")
    assert copy["type"] == "christmas" and copy["html_mode"] == "auto" and not copy["system"]
    expect(page.get_by_label("Message", exact=True)).to_have_value(copy["body_text"])
    _fits(page)
    finish(page, f"template-configure-duplicate-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_email_preview_is_the_message_in_the_layout_and_custom_html_can_be_written(jeweller, browser, width):  # noqa: F811
    template_id = _copy(jeweller)
    page = jeweller.open(browser, width=width, hash_=f"#/templates/{template_id}")
    message = page.get_by_label("Message", exact=True)
    message.fill("Dear {{ customer.first_name }},\n\nOur **new** rings: https://lune.example/rings")
    frame = page.frame_locator("iframe[title='Email preview']")
    expect(frame.locator("strong")).to_have_text("new")
    expect(frame.locator("a[href='https://lune.example/rings']")).to_be_visible()
    expect(frame.get_by_text("Maison Lune").first).to_be_visible()
    expect(frame.get_by_role("link", name="Unsubscribe")).to_be_visible()
    expect(page.locator(".pv-text")).to_contain_text("To stop receiving these emails:")

    own_html = page.get_by_label("Your own HTML", exact=True)
    expect(own_html).to_be_hidden()
    page.get_by_label("My own HTML").check()
    own_html.fill("<h2>{{ customer.first_name }}'s pick</h2>")
    expect(frame.locator("h2")).to_have_text("Ava's pick")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("form .saved")).to_have_text("Saved.")
    saved = jeweller.call("GET", f"/templates/{template_id}")
    assert saved["html_mode"] == "custom" and saved["body_html"] == "<h2>{{ customer.first_name }}'s pick</h2>"
    _fits(page)
    finish(page, f"template-email-preview-{width}")

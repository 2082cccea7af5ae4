"""The customer page's 1:1 email and the settings' sender readiness in a real browser (Playwright, headless
Chromium, against a local stack of their own, `serve --manual`: no clock step verifies a new sender domain, so
a store whose sender was just set is refused by the emulator's SES as SES refuses an unverified sender)."""
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
    shoot,
)


class Jeweller(Store):
    """A Sydney store with one customer, `ada`; its sender is verified unless `sender` says otherwise."""

    def __init__(self, stack, sender: str = SENDER):
        super().__init__(stack, f"jeweller-{uuid.uuid4().hex[:6]}")
        self.call("PATCH", "/settings", {"store_name": "Bijoux Est", "timezone": "Australia/Sydney", "country": "AU",
                                         "sender_email": sender})
        self.email = f"ada@{self.tenant}.example"
        self.call("PUT", "/customers/ada", {"first_name": "Ada", "email": self.email, "consent": {"email": False}})

    def mails(self) -> list[dict]:
        return [m for m in self.stack.outbox()["emails"] if m["to"] == self.email]


@pytest.fixture(scope="module")
def jeweller(admin_stack):  # noqa: F811
    return Jeweller(admin_stack)


def _compose(page, subject: str, body: str) -> None:
    page.get_by_label("Subject", exact=True).fill(subject)
    page.get_by_label("Message", exact=True).fill(body)


def test_a_salesperson_sends_a_1_to_1_email_once_even_on_a_double_click(jeweller, browser):  # noqa: F811
    page = jeweller.open(browser, role="salesperson", hash_="#/customers/ada")
    expect(page.locator(".msg-recent")).to_have_text("0 messages sent to this customer in the last 7 days.")
    _compose(page, "Your ring is ready", "Dear Ada,\n\nYour ring is ready.\nJo")
    page.get_by_role("button", name="Send email").dblclick()
    expect(page.locator(".msg-status")).to_have_text("Sent.")
    expect(page.locator(".msg-recent")).to_have_text("1 message sent to this customer in the last 7 days.")
    [mail] = jeweller.mails()
    assert mail["subject"] == "Your ring is ready" and mail["text"].replace("\r\n", "\n").startswith(
        "Dear Ada,\n\nYour ring is ready.\nJo")
    page.reload()
    expect(page.locator("tr.communication")).to_have_count(1)
    expect(page.locator("tr.communication")).to_contain_text("Your ring is ready")
    finish(page, "message-sent")


def test_from_the_third_message_in_a_week_the_page_asks_for_confirmation(jeweller, browser):  # noqa: F811
    for n in range(3 - len(jeweller.mails())):
        jeweller.call("POST", "/customers/ada/messages", {"subject": f"Note {n}", "body": "x"})
    page = jeweller.open(browser, hash_="#/customers/ada")
    expect(page.locator(".msg-recent")).to_have_text("3 messages sent to this customer in the last 7 days.")
    _compose(page, "One more", "Hello again")
    page.get_by_role("button", name="Send email").click()
    expect(page.get_by_text("Confirm that you want to send another message.")).to_be_visible()
    assert len(jeweller.mails()) == 3
    page.get_by_label("Yes, send another").check()
    page.get_by_role("button", name="Send email").click()
    expect(page.locator(".msg-status")).to_have_text("Sent.")
    assert len(jeweller.mails()) == 4
    finish(page, "message-confirmed")


def test_a_provider_refusal_shows_its_reason_and_sending_again_once_fixed_is_a_new_message(admin_stack, browser):  # noqa: F811
    store = Jeweller(admin_stack, sender=f"hello@{uuid.uuid4().hex[:8]}.unverified.example")
    page = store.open(browser, hash_="#/settings")
    expect(page.locator(".sender-state")).to_contain_text("not verified in SES")
    expect(page.locator(".sender-actions")).to_contain_text("Verify the domain")
    page.evaluate("location.hash = '#/customers/ada'")
    _compose(page, "Hello", "Hi Ada")
    page.get_by_role("button", name="Send email").click()
    expect(page.locator(".msg-status")).to_contain_text("Not sent")
    expect(page.locator(".msg-status")).to_contain_text("sender not verified: MessageRejected")
    assert store.mails() == []
    shoot(page, "message-refused")

    # The store fixes its sender; the same message sent again is a new attempt, not the refused one answered again.
    store.call("PATCH", "/settings", {"sender_email": SENDER})
    page.get_by_role("button", name="Send email").click()
    expect(page.locator(".msg-status")).to_have_text("Sent.")
    assert len(store.mails()) == 1
    page.reload()
    expect(page.locator("tr.communication")).to_have_count(2)
    # Both were written in the same second: the history orders records by the second, so either may come first.
    expect(page.locator("tr.communication", has_text="sender not verified")).to_have_count(1)
    expect(page.locator("tr.communication").filter(has_not_text="sender not verified")).to_contain_text("sent")
    finish(page, "message-after-refusal")


def test_the_settings_show_a_verified_sender_and_that_the_emulator_does_not_report_the_sandbox(jeweller, browser):  # noqa: F811
    page = jeweller.open(browser, hash_="#/settings")
    expect(page.locator(".sender-state")).to_have_text(f"{SENDER}: verified in SES")
    expect(page.locator(".sender-identities")).to_contain_text("maison-demo.example: verified")
    expect(page.locator(".sender-readiness")).to_contain_text("SES account: not reported.")
    finish(page, "sender-verified")


def test_the_accountant_reads_the_page_but_has_no_compose_form(jeweller, browser):  # noqa: F811
    page = jeweller.open(browser, role="accountant", hash_="#/customers/ada")
    expect(page.locator(".compose")).to_contain_text("not send one")
    expect(page.get_by_role("button", name="Send email")).to_have_count(0)
    finish(page, "message-accountant")


@pytest.mark.parametrize("hash_", ["#/customers/ada", "#/settings"])
def test_the_compose_form_and_sender_readiness_fit_a_phone(jeweller, browser, hash_):  # noqa: F811
    page = jeweller.open(browser, width=390, hash_=hash_)
    expect(page.locator(".compose, .sender-readiness h2 + p")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    finish(page, f"phone-{'message' if 'customers' in hash_ else 'sender'}")

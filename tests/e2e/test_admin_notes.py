"""The customer page's Notes and Consent sections in a real browser (Playwright, headless Chromium, against a local
stack of their own): two staff members, each signed in as themselves, write notes on one customer and see each
other's, only the author edits theirs; a salesperson gives again, with how, a channel the customer withdrew
through an unsubscribe link; the pages fit a phone, and the times are the store's."""
from __future__ import annotations

import uuid

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import cli
from tests.e2e.test_admin_browser import (  # noqa: F401 (fixtures)
    INSTANT,
    Store,
    admin_stack,
    browser,
    finish,
    intl,
)

ZONE = "Australia/Sydney"
BROWSER_ZONE = "America/New_York"


class Jeweller(Store):
    """A Sydney store with one customer, Mia, who consents to email and SMS."""

    def __init__(self, stack):
        super().__init__(stack, f"rosa-{uuid.uuid4().hex[:6]}")
        self.call("PATCH", "/settings", {"store_name": "Rosa & Co", "timezone": ZONE, "country": "AU"})
        self.call("PUT", "/customers/mia", {"first_name": "Mia", "last_name": "Rossi", "email": f"mia@{self.tenant}.example",
                                           "phone": "+61412345678", "consent": {"email": True, "sms": True},
                                           "consent_source": "in_store_form"})

    def token_of(self, role: str, subject: str) -> str:
        """A token of one user: the role and their own user id (`sub`)."""
        result = cli("token", "--tenant", self.tenant, "--role", role, "--subject", subject)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def open_as(self, browser, token: str, role: str, hash_: str, width: int = 1200):  # noqa: F811
        page = browser.new_page(viewport={"width": width, "height": 900}, timezone_id=BROWSER_ZONE)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.errors = errors
        page.goto(f"{self.stack.api}/admin#token={token}")
        expect(page.locator("#who")).to_contain_text(f"{self.tenant} · {role}")
        page.evaluate("h => { location.hash = h; }", hash_)
        expect(page.locator("main h1")).to_have_text("Mia Rossi")
        return page


@pytest.fixture(scope="module")
def jeweller(admin_stack):  # noqa: F811
    return Jeweller(admin_stack)


def notes_of(page):
    return page.locator("ol.notes > li.note")


def no_sideways_scroll(page) -> None:
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def test_two_staff_write_notes_each_sees_the_others_and_only_the_author_edits_theirs(jeweller, browser):  # noqa: F811
    ana_token, ben_token = jeweller.token_of("salesperson", "ana"), jeweller.token_of("workshop", "ben")
    ana = jeweller.open_as(browser, ana_token, "salesperson", "#/customers/mia")
    expect(ana.locator(".notes-empty")).to_be_visible()
    ana.get_by_label("New note").fill("Ring size N.\nPrefers rose gold.")
    ana.get_by_role("button", name="Add note").click()
    expect(notes_of(ana)).to_have_count(1)
    first = jeweller.call("GET", "/customers/mia/notes")["notes"][0]
    assert (first["author"], first["body"]) == ("ana", "Ring size N.\nPrefers rose gold.")
    note = notes_of(ana).first
    expect(note.locator(".note-body")).to_have_text("Ring size N.\nPrefers rose gold.")   # the line break kept
    assert note.locator(".note-body").evaluate("el => el.getClientRects().length && el.offsetHeight") > \
        note.locator(".note-author").evaluate("el => el.offsetHeight")                     # shown on two lines
    expect(note.locator(".note-author")).to_have_text("you")
    # Written in the store's zone and country's way, whatever the browser's own zone.
    expect(note.locator(".note-head time").first).to_have_text(intl(ana, first["created_at"], "en-AU", ZONE, INSTANT))

    ben = jeweller.open_as(browser, ben_token, "workshop", "#/customers/mia", width=390)
    expect(notes_of(ben)).to_have_count(1)
    expect(notes_of(ben).first.locator(".note-author")).to_have_text("ana")
    expect(notes_of(ben).first.get_by_role("button", name="Edit")).to_have_count(0)       # not his note
    expect(notes_of(ben).first.get_by_role("button", name="Delete")).to_have_count(0)
    ben.get_by_label("New note").fill("Resized to N.\nReady to collect Friday.")
    ben.get_by_role("button", name="Add note").click()
    expect(notes_of(ben)).to_have_count(2)
    expect(notes_of(ben).first.locator(".note-author")).to_have_text("you")              # newest first
    expect(notes_of(ben).first.get_by_role("button", name="Edit")).to_be_visible()
    no_sideways_scroll(ben)
    finish(ben, "phone-customer-notes")

    # Ana's page, read again, has both; she edits her own and may not edit Ben's.
    ana.reload()
    expect(notes_of(ana)).to_have_count(2)
    bens, anas = notes_of(ana).nth(0), notes_of(ana).nth(1)
    expect(bens.locator(".note-author")).to_have_text("ben")
    expect(bens.get_by_role("button", name="Edit")).to_have_count(0)
    anas.get_by_role("button", name="Edit").click()
    ana.get_by_label("Edit note").fill("Ring size N.\nPrefers rose gold; no nickel.")
    ana.get_by_role("button", name="Save note").click()
    expect(notes_of(ana).nth(1).locator(".note-body")).to_have_text("Ring size N.\nPrefers rose gold; no nickel.")
    edited = [n for n in jeweller.call("GET", "/customers/mia/notes")["notes"] if n["author"] == "ana"][0]
    assert (edited["body"], edited["edited_by"]) == ("Ring size N.\nPrefers rose gold; no nickel.", "ana")
    expect(notes_of(ana).nth(1).locator(".note-edited time")).to_have_text(intl(ana, edited["edited_at"], "en-AU", ZONE, INSTANT))

    # An edit of a note someone changed meanwhile is refused, and the page shows the note as it is now.
    notes_of(ana).nth(1).get_by_role("button", name="Edit").click()
    jeweller.call("PATCH", f"/customers/mia/notes/{edited['note_id']}", {"body": "Owner's word", "version": edited["version"]})
    ana.get_by_label("Edit note").fill("Ana's late edit")
    ana.get_by_role("button", name="Save note").click()
    expect(ana.locator(".notes-section [role=status]").first).to_contain_text("changed or deleted by someone else")
    expect(notes_of(ana).nth(1).locator(".note-body")).to_have_text("Owner's word")
    finish(ana, "customer-notes")


def test_a_channel_withdrawn_through_an_unsubscribe_link_is_given_again_in_store_saying_how(jeweller, browser, monkeypatch):  # noqa: F811
    from chalicelib.adapters import clients
    from chalicelib.sending.unsubscribe import token_for

    # The link is sealed as the stack's dispatcher seals it: with the key in the stack's own Secrets Manager.
    monkeypatch.setenv("AWS_ENDPOINT_URL", jeweller.stack.endpoint)
    monkeypatch.setenv("UNSUBSCRIBE_SECRET_ID", "automations-local-unsubscribe-keys")
    clients.reset()
    try:
        token = token_for(jeweller.tenant, 'mia', 'email')
    finally:
        clients.reset()
    link = requests.post(f"{jeweller.stack.api}/unsubscribe/{token}",
                         data="List-Unsubscribe=One-Click", timeout=30,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert link.status_code == 200
    assert jeweller.call("GET", "/customers/mia")["consent"] == {"email": False, "sms": True}

    page = jeweller.open_as(browser, jeweller.token_of("salesperson", "cleo"), "salesperson", "#/customers/mia", width=390)
    email = page.locator(".consent-channel[data-channel='email']")
    expect(email.locator(".consent-value")).to_have_text("Not given")
    expect(email.locator(".consent-change")).to_contain_text("by the customer, through an unsubscribe link")
    expect(email.locator(".consent-unsubscribed")).to_be_visible()
    expect(page.locator(".consent-channel[data-channel='sms'] .consent-change")).to_contain_text("signed a form in store")

    # Given again without saying how: the API refuses it, and the page says why beside the question.
    page.get_by_label("Email: consents").check()
    page.get_by_role("button", name="Record consent").click()
    expect(page.locator("[data-error-for='consent_source']")).to_contain_text("unsubscribe link")
    assert jeweller.call("GET", "/customers/mia")["consent"]["email"] is False

    page.get_by_label("How did the customer say so?").select_option("in_store_form")
    page.get_by_role("button", name="Record consent").click()
    expect(page.locator(".consent-form [role=status]")).to_have_text("Consent recorded.")
    expect(email.locator(".consent-value")).to_have_text("Given")
    expect(email.locator(".consent-change")).to_contain_text("by you, signed a form in store")
    stored = jeweller.call("GET", "/customers/mia")
    assert stored["consent"] == {"email": True, "sms": True}
    assert (stored["consent_channels"]["email"]["consent_updated_by"],
            stored["consent_channels"]["email"]["consent_source"]) == ("cleo", "in_store_form")
    expect(email.locator(".consent-change time")).to_have_text(
        intl(page, stored["consent_channels"]["email"]["consent_updated_at"], "en-AU", ZONE, INSTANT))
    no_sideways_scroll(page)
    finish(page, "phone-customer-consent")


def test_the_accountant_reads_consent_and_notes_but_the_controls_are_disabled(jeweller, browser):  # noqa: F811
    page = jeweller.open_as(browser, jeweller.token_of("accountant", "dan"), "accountant", "#/customers/mia")
    expect(page.get_by_role("button", name="Record consent")).to_be_disabled()
    expect(page.get_by_label("New note")).to_be_disabled()
    expect(page.get_by_role("button", name="Add note")).to_be_disabled()
    expect(page.locator("ol.notes button")).to_have_count(0)
    finish(page, "customer-accountant")

"""Frictions a new user met on the admin page, each fixed and tried in a real browser: a failed save that
still said "saved", a time zone typed as a city, and the action-taken page (a threshold field shown for
every type, no switch on the cards, no test-run, a delete that said nothing)."""
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


class Salon(Store):
    def __init__(self, stack):
        super().__init__(stack, f"salon-{uuid.uuid4().hex[:6]}")
        self.call("PATCH", "/settings", {"store_name": "Salon Est", "timezone": "UTC", "sender_email": SENDER})
        self.call("PUT", "/customers/ana", {"first_name": "Ana", "email": f"ana@{self.tenant}.example",
                                            "consent": {"email": True}, "tags": ["gold"]})


@pytest.fixture(scope="module")
def salon(admin_stack):
    return Salon(admin_stack)


def test_a_failed_save_takes_back_the_last_saved_note_and_a_city_saves_as_its_zone(salon, browser):
    page = salon.open(browser, hash_="#/settings")
    zone = page.get_by_label("Time zone")
    zone.fill("sydney")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("main > .saved")).to_have_text("Settings saved.")
    assert salon.call("GET", "/settings")["settings"]["timezone"] == "Australia/Sydney"
    expect(page.get_by_label("Time zone")).to_have_value("Australia/Sydney")

    sender = page.get_by_label("Sender email")
    sender.fill("not an address")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(f"#{sender.get_attribute('id')}-error")).to_contain_text("email")
    expect(page.locator("main > .saved")).to_have_count(0)          # no "saved" beside the error
    assert salon.call("GET", "/settings")["settings"]["sender_email"] == SENDER

    sender.fill(SENDER)
    page.get_by_label("Time zone").fill("Atlantis")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(f"#{page.get_by_label('Time zone').get_attribute('id')}-error")).not_to_be_empty()
    assert salon.call("GET", "/settings")["settings"]["timezone"] == "Australia/Sydney"
    # The email layout's brand: a logo and a colour, checked by the API like every setting.
    page.get_by_label("Time zone").fill("Australia/Sydney")
    logo = page.get_by_label("Logo (an https address of an image)")
    logo.fill("http://insecure.example/logo.png")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(f"#{logo.get_attribute('id')}-error")).to_contain_text("https")
    logo.fill("https://cdn.salon.example/logo.png")
    page.get_by_label("Brand colour").fill("#aa3355")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("main > .saved")).to_have_text("Settings saved.")
    saved = salon.call("GET", "/settings")["settings"]
    assert (saved["logo_url"], saved["brand_color"]) == ("https://cdn.salon.example/logo.png", "#aa3355")
    salon.call("PATCH", "/settings", {"timezone": "UTC"})
    finish(page, "settings-frictions")


@pytest.mark.parametrize("width", [1200, 390])
def test_an_action_card_switches_on_test_runs_and_says_when_it_is_deleted(salon, browser, width):
    name = f"Birthday thanks {width}"
    salon.call("POST", "/action-automations", {"type": "birthday_add", "name": name, "channels": ["email"],
                                               "audience": {"tags_any": ["gold"]}})
    page = salon.open(browser, hash_="#/actions", width=width)
    page.get_by_role("button", name="New automation").click()
    form = page.locator("form[aria-label='New action-taken automation']")
    expect(form.get_by_label("Points threshold")).to_be_hidden()          # not a reward type
    form.get_by_label("Type").select_option(label="Reward available")
    expect(form.get_by_label("Points threshold")).to_be_visible()
    form.get_by_role("button", name="Cancel").click()

    card = page.locator("article", has=page.get_by_role("heading", name=name))
    expect(card.locator(".badge")).to_have_text("Off")
    card.get_by_label("Enabled").check()
    card = page.locator("article", has=page.get_by_role("heading", name=name))
    expect(card.locator(".badge")).to_have_text("Active")
    assert [a["enabled"] for a in salon.call("GET", "/action-automations")["action_automations"]
            if a["name"] == name] == [True]

    card.get_by_role("button", name="Test run").click()
    run = card.locator(f"form[aria-label='Test run of {name}']")
    run.get_by_label("Customer id").fill("ana")
    run.get_by_label("Birthday added").fill("1990-04-02")
    run.get_by_role("button", name="Run test").click()
    expect(card.locator(".result")).to_contain_text(f'"{name}" would fire: 1 message would be sent')
    run.get_by_label("Customer id").fill("newcomer")          # not gold: outside the audience
    run.get_by_role("button", name="Run test").click()
    expect(card.locator(".result")).to_contain_text("not in this automation's audience")
    run.get_by_label("Customer id").fill("no spaces allowed")
    run.get_by_role("button", name="Run test").click()
    expect(run.locator(f"#{run.get_by_label('Customer id').get_attribute('id')}-error")).not_to_be_empty()
    assert "birthday" not in salon.call("GET", "/customers/ana")                  # nothing was saved

    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Delete").click()
    expect(page.locator("main > .saved")).to_contain_text(f'Deleted "{name}"')
    expect(page.get_by_role("heading", name=name)).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finish(page, f"actions-frictions-{width}")

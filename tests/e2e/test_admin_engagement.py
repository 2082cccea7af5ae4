"""Delivery, opens, clicks and attributed revenue on the admin page (behaviour.md section 14), in a real browser
(Playwright, headless Chromium) against a local stack of its own (`serve --manual`): a campaign email sent by
`tick` (its Delivery event published by the local stand-in for SES), opened by Apple's privacy proxy and by the
customer, clicked (`cli engage`), then an in-store sale; the campaign page, the customer's history and the
automations page show it, at desktop and phone width."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import clean_env, cli
from tests.e2e.test_admin_browser import (  # noqa: F401 (fixtures)
    SENDER,
    Store,
    admin_stack,
    browser,
    finish,
    shoot,
)


class Boutique(Store):
    """A Sydney store in Australian dollars with one VIP customer, `ana`, who received a campaign email, opened
    it (and Apple's proxy fetched it too), clicked it and then bought for $1,240 in store."""

    def __init__(self, stack):
        super().__init__(stack, f"boutique-{uuid.uuid4().hex[:6]}")
        self.call("PATCH", "/settings", {"store_name": "Opal & Co", "timezone": "Australia/Sydney", "country": "AU",
                                         "sender_email": SENDER, "currency": "AUD"})
        self.call("PUT", "/customers/ana", {"first_name": "Ana", "email": f"ana@{self.tenant}.example",
                                            "tags": ["VIP"], "consent": {"email": True}})
        self.campaign = self.call("POST", "/campaigns", {"name": "Valentine's preview", "segment_id": "vip",
                                                         "channels": ["email"]})["campaign_id"]
        self.call("POST", f"/campaigns/{self.campaign}/send")
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.summary = stack.tick(now)
        env = clean_env(AWS_ENDPOINT_URL=stack.endpoint)
        self.engaged = []
        for args in (["open", "--proxy"], ["open"], ["click", "--link", "https://opal.example/valentines?u=1"]):
            done = cli("engage", *args, "--tenant", self.tenant, "--customer", "ana", env=env, timeout=120)
            assert done.returncode == 0, done.stderr
            self.engaged.append(json.loads(done.stdout)["results"])
        self.sale = self.call("PUT", "/sales/s-1", {"customer_id": "ana", "completed_at": now, "total": 1240})


@pytest.fixture(scope="module")
def boutique(admin_stack):  # noqa: F811
    return Boutique(admin_stack)


def test_the_local_stack_records_delivery_opens_clicks_and_the_sale_as_ses_would(boutique):
    # The stack's demo store sends on the same tick: every email sent is delivered, this store's among them.
    assert boutique.summary["ses_events"]["delivered"] >= 1
    [record] = boutique.call("GET", "/customers/ana/communications")["communications"]
    assert record["delivery_status"] == "delivered" and record["delivered_at"] and record["opened_at"]
    assert boutique.engaged == [{"counted:machine_open": 1}, {"counted:opened": 1}, {"counted:clicked": 1}]
    assert boutique.sale["attributed_automation"] == boutique.campaign


@pytest.mark.parametrize("width", [1200, 390])
def test_the_campaign_page_shows_delivery_opens_clicks_and_revenue(boutique, browser, width):  # noqa: F811
    page = boutique.open(browser, width=width, hash_=f"#/campaigns/{boutique.campaign}")
    section = page.locator(".cmp-engagement")
    expect(section).to_be_visible()
    expect(section.locator(".eg-delivered")).to_have_text("1")
    expect(section.locator(".eg-opened")).to_contain_text("1 (100%)")
    expect(section.locator(".eg-opened")).to_contain_text("+ 1 by privacy proxies")
    expect(section.locator(".eg-clicked")).to_have_text("1 (100%)")
    expect(section.locator(".eg-sales")).to_have_text("1")
    expect(section.locator(".eg-revenue")).to_have_text("$1,240")
    chart = section.locator("svg.engagement-chart")
    assert "1 delivered, 1 opened, 1 clicked" in chart.get_attribute("aria-label")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    finish(page, f"engagement-campaign-{width}")


@pytest.mark.parametrize("width", [1200, 390])
def test_the_customers_history_says_what_they_bought_after_the_email(boutique, browser, width):  # noqa: F811
    page = boutique.open(browser, width=width, hash_="#/customers/ana")
    row = page.locator("tr.communication").first
    expect(row.locator(".cm-revenue")).to_contain_text("Bought $1,240 the same day as this email")
    expect(row.locator(".cm-facts")).to_contain_text("Delivered")
    expect(row.locator(".cm-facts")).to_contain_text("Opened by a privacy proxy")
    expect(row.locator(".cm-facts")).to_contain_text("Clicked")
    expect(row.locator(".cm-links")).to_have_text("Clicked: https://opal.example/valentines")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    finish(page, f"engagement-history-{width}")


def test_the_automations_cards_and_the_settings_show_engagement_and_the_attribution_window(boutique, browser):  # noqa: F811
    page = boutique.open(browser, width=390)
    card = page.locator("#automation-valentines")
    expect(card.locator("dl.engagement .eg-delivered")).to_have_text("0")
    expect(card.locator("svg.engagement-chart")).to_have_attribute(
        "aria-label", "Engagement chart: nothing delivered in the last 30 days")
    page.evaluate("h => { location.hash = h; }", "#/settings")
    window = page.get_by_label("Attribution window (days)")
    expect(window).to_have_value("5")
    window.fill("0")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("main")).to_contain_text("attribution_days")
    window.fill("7")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("main > .saved")).to_have_text("Settings saved.")
    expect(page.get_by_label("Attribution window (days)")).to_have_value("7")
    finish(page, "engagement-settings-phone")

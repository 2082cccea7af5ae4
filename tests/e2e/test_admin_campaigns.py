"""The admin's Segments and Campaigns pages in a real browser (Playwright, headless Chromium, against a local
stack of their own): an owner builds a segment with a live count, reads its members, builds a campaign to it,
reads the test-run's recipients and skips, schedules it in the store's zone and watches a tick send it; the
roles that may not write see the controls disabled; a phone shows every page without sideways scrolling."""
from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

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

#: Sydney keeps daylight saving in December (+11:00) and not in June (+10:00): the page must ask for the
#: offset of the wall time entered, not of the browser or of today.
ZONE = "Australia/Sydney"
BROWSER_ZONE = "America/New_York"


class Boutique(Store):
    """A Sydney store: three customers tagged gold (one without email consent) and one who is not."""

    def __init__(self, stack):
        super().__init__(stack, f"boutique-{uuid.uuid4().hex[:6]}")
        self.call("PATCH", "/settings", {"store_name": "Boutique Sud", "timezone": ZONE, "country": "AU",
                                         "send_hour": 9, "sender_email": SENDER})
        people = {"gia": (["gold"], True), "hal": (["Gold", "vip"], True), "ivy": (["gold"], False),
                  "jon": (["silver"], True)}
        for customer_id, (tags, consent) in people.items():
            self.call("PUT", f"/customers/{customer_id}", {
                "first_name": customer_id.title(), "email": f"{customer_id}@{self.tenant}.example", "tags": tags,
                "consent": {"email": consent}, "source": "import"})


@pytest.fixture(scope="module")
def boutique(admin_stack):  # noqa: F811
    return Boutique(admin_stack)


def tomorrow_at(hour: int) -> datetime:
    today = datetime.now(timezone.utc).astimezone(ZoneInfo(ZONE)).date()
    return datetime.combine(today + timedelta(days=1), time(hour), tzinfo=ZoneInfo(ZONE))


def test_an_owner_builds_a_segment_and_a_campaign_schedules_it_in_the_stores_zone_and_a_tick_sends_it(boutique, browser):  # noqa: F811
    page = boutique.open(browser, hash_="#/segments", zone=BROWSER_ZONE)
    expect(page.locator("main h1")).to_have_text("Segments")
    expect(page.locator("tr[data-segment='vip'] .seg-count")).to_have_text("1")

    # The filter builder counts as the conditions change, as the API counts the same filter.
    page.get_by_role("button", name="New segment").click()
    page.get_by_label("Name", exact=True).fill("Gold customers")
    page.get_by_label("Has any of these tags").fill("gold")
    api_count = boutique.call("POST", "/segments/count", {"filter": {"tags_any": ["gold"]}})["count"]
    assert api_count == 3
    expect(page.locator(".seg-live-count")).to_have_text(str(api_count))
    page.get_by_label("Consents to email").select_option("true")
    expect(page.locator(".seg-live-count")).to_have_text("2")
    page.get_by_label("Consents to email").select_option("")
    expect(page.locator(".seg-live-count")).to_have_text("3")
    page.get_by_role("button", name="Create segment").click()

    # Its page: the count and the members.
    expect(page.locator("main h1")).to_have_text("Gold customers")
    segment_id = page.evaluate("location.hash").split("/")[-1]
    assert boutique.call("GET", f"/segments/{segment_id}")["count"] == 3
    expect(page.locator("main > p output.seg-count")).to_have_text("3")
    expect(page.locator("tr[data-customer]")).to_have_count(3)
    assert sorted(page.locator("tr[data-customer]").evaluate_all("rows => rows.map(r => r.dataset.customer)")) == ["gia", "hal", "ivy"]
    finish(page, "segment-owner")

    # A campaign to it: a draft first, with the campaign template's preview.
    page = boutique.open(browser, hash_="#/campaigns", zone=BROWSER_ZONE)
    expect(page.locator("main h1")).to_have_text("Campaigns")
    page.get_by_role("button", name="New campaign").click()
    page.get_by_label("Name", exact=True).fill("Gold weekend")
    page.get_by_label("Segment", exact=True).select_option(segment_id)
    expect(page.get_by_label("Segment", exact=True).locator("option:checked")).to_have_text("Gold customers (3 customers)")
    page.get_by_role("button", name="Preview template").click()
    expect(page.locator(".cmp-preview .pv-subject")).not_to_be_empty()
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("main h1")).to_have_text("Gold weekend")
    campaign_id = page.evaluate("location.hash").split("/")[-1]
    expect(page.locator(".cmp-badge")).to_have_text("Draft")

    # Scheduled at 10:00 tomorrow, the store's wall clock, whatever the browser's zone.
    at = tomorrow_at(10)
    when_field = page.get_by_label(f"Send at (the store's time: {ZONE})")
    expect(when_field).to_be_hidden()   # "Send now" is chosen
    page.get_by_label("Schedule", exact=True).check()
    page.get_by_label(f"Send at (the store's time: {ZONE})").fill(at.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Check recipients").click()
    expected = boutique.call("POST", f"/campaigns/{campaign_id}/test-run", {"at": at.isoformat()})
    assert (expected["count"], expected["would_send"], expected["skipped"]) == (3, 2, {"no_consent": 1})
    expect(page.locator(".cmp-recipients")).to_have_text(str(expected["count"]))
    expect(page.locator(".cmp-would-send")).to_have_text(str(expected["would_send"]))
    expect(page.locator(".cmp-would-skip")).to_have_text("no consent: 1")
    expect(page.locator(".cmp-check")).not_to_contain_text("null")
    confirm = page.locator(".cmp-confirm")
    expect(confirm).to_contain_text("Schedule for 3 customers")
    shoot(page, "campaign-confirm")
    confirm.click()
    expect(page.locator(".cmp-badge")).to_have_text("Scheduled")
    stored = boutique.call("GET", f"/campaigns/{campaign_id}")
    assert stored["status"] == "scheduled"
    assert stored["scheduled_at"] == at.isoformat()   # e.g. 2026-12-03T10:00:00+11:00
    assert datetime.fromisoformat(stored["scheduled_at"]).utcoffset() == at.utcoffset()

    # A tick at that instant starts and sends it; the page shows the API's progress.
    boutique.stack.tick(at.astimezone(timezone.utc).isoformat())
    progress = boutique.call("GET", f"/campaigns/{campaign_id}")
    assert progress["sent"] == 2 and progress["members"] == 3
    page.reload()
    expect(page.locator("main h1")).to_have_text("Gold weekend")
    expect(page.locator(".cmp-sent")).to_have_text(str(progress["sent"]))
    expect(page.locator(".cmp-members")).to_have_text(str(progress["members"]))
    expect(page.locator(".cmp-badge")).to_have_text({"sent": "Sent", "sending": "Sending"}[progress["status"]])
    finish(page, "campaign-sent")


def test_a_segment_a_scheduled_campaign_targets_cannot_be_deleted_and_the_page_says_why(boutique, browser):  # noqa: F811
    segment = boutique.call("POST", "/segments", {"name": "Silver", "filter": {"tags_any": ["silver"]}})
    campaign = boutique.call("POST", "/campaigns", {"name": "Silver", "segment_id": segment["segment_id"]})
    boutique.call("POST", f"/campaigns/{campaign['campaign_id']}/schedule", {"at": tomorrow_at(11).isoformat()})
    page = boutique.open(browser, hash_=f"#/segments/{segment['segment_id']}")
    expect(page.locator("main h1")).to_have_text("Silver")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete segment").click()
    expect(page.get_by_text("This segment cannot be deleted now")).to_be_visible()
    assert boutique.call("GET", f"/segments/{segment['segment_id']}")["name"] == "Silver"
    finish(page, "segment-in-use")


@pytest.mark.parametrize("role", ["salesperson", "workshop", "accountant"])
def test_roles_that_cannot_write_see_the_controls_disabled_and_described(boutique, browser, role):  # noqa: F811
    segment = boutique.call("POST", "/segments", {"name": f"For {role}", "filter": {"vip": True}})
    campaign = boutique.call("POST", "/campaigns", {"name": f"Draft for {role}", "segment_id": segment["segment_id"]})
    page = boutique.open(browser, role=role, hash_="#/segments")
    expect(page.locator("main h1")).to_have_text("Segments")
    add = page.get_by_role("button", name="New segment")
    expect(add).to_be_disabled()
    expect(add).to_have_attribute("aria-describedby", "read-only")
    expect(page.locator("#read-only")).to_contain_text("only an owner or a manager can change")
    page.evaluate("h => { location.hash = h; }", f"#/segments/{segment['segment_id']}")
    expect(page.locator("main h1")).to_have_text(f"For {role}")
    expect(page.get_by_role("button", name="Delete segment")).to_be_disabled()
    expect(page.get_by_role("button", name="Save segment")).to_be_disabled()
    expect(page.get_by_label("Has any of these tags")).to_be_disabled()
    page.evaluate("h => { location.hash = h; }", "#/campaigns")
    expect(page.get_by_role("button", name="New campaign")).to_be_disabled()
    page.evaluate("h => { location.hash = h; }", f"#/campaigns/{campaign['campaign_id']}")
    expect(page.locator("main h1")).to_have_text(f"Draft for {role}")
    for name in ("Cancel campaign", "Delete draft", "Save"):
        button = page.get_by_role("button", name=name, exact=True)
        expect(button).to_be_disabled()
        expect(button).to_have_attribute("aria-describedby", "read-only")
    expect(page.get_by_label("Name", exact=True)).to_be_disabled()
    # Checking the recipients is a read, as the automations' test run is: open to every role; confirming is not.
    page.get_by_role("button", name="Check recipients").click()
    expect(page.locator(".cmp-recipients")).to_have_text("1")
    expect(page.locator(".cmp-confirm")).to_be_disabled()
    expect(page.locator(".cmp-confirm")).to_have_attribute("aria-describedby", "read-only")
    assert boutique.call("GET", f"/campaigns/{campaign['campaign_id']}")["status"] == "draft"
    finish(page, f"campaign-{role}")


@pytest.mark.parametrize("which", ["#/segments", "segment", "#/campaigns", "campaign"])
def test_segments_and_campaigns_fit_a_phone_screen(boutique, browser, which):  # noqa: F811
    hash_ = which
    if which == "segment":
        hash_ = f"#/segments/{boutique.call('POST', '/segments', {'name': 'Phone', 'filter': {}})['segment_id']}"
    elif which == "#/campaigns":
        boutique.call("POST", "/campaigns", {"name": "A campaign with a long name to wrap on a phone", "segment_id": "vip"})
    elif which == "campaign":
        made = boutique.call("POST", "/campaigns", {"name": "Phone", "segment_id": "vip"})
        hash_ = f"#/campaigns/{made['campaign_id']}"
    page = boutique.open(browser, width=390, hash_=hash_)
    expect(page.locator("main h1")).to_be_visible()
    page.wait_for_load_state("networkidle")
    if which == "#/segments":
        page.get_by_role("button", name="New segment").click()
    if which == "campaign":
        page.get_by_role("button", name="Check recipients").click()
        expect(page.locator(".cmp-recipients")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    finish(page, f"phone-{which.strip('#/')}")


@pytest.mark.parametrize(("wall", "stored"), [
    ("2027-06-15T10:00", "2027-06-15T10:00:00+10:00"),    # winter: standard time
    ("2027-01-15T10:00", "2027-01-15T10:00:00+11:00"),    # summer: daylight saving
    ("2027-10-03T02:30", "2027-10-03T03:30:00+11:00"),    # in the spring-forward gap: the time after it
])
def test_a_schedule_is_the_stores_wall_time_with_the_offset_in_force_then(boutique, browser, wall, stored):  # noqa: F811
    campaign = boutique.call("POST", "/campaigns", {"name": f"At {wall}", "segment_id": "vip"})
    page = boutique.open(browser, hash_=f"#/campaigns/{campaign['campaign_id']}", zone=BROWSER_ZONE)
    expect(page.locator("main h1")).to_have_text(f"At {wall}")
    page.get_by_label("Schedule", exact=True).check()
    page.get_by_label(f"Send at (the store's time: {ZONE})").fill(wall)
    hour, minute = int(stored[11:13]), stored[14:16]
    expect(page.locator(".cmp-at-shown")).to_contain_text(f"{hour % 12 or 12}:{minute}")   # en-AU, 12-hour
    page.get_by_role("button", name="Check recipients").click()
    page.locator(".cmp-confirm").click()
    expect(page.locator(".cmp-badge")).to_have_text("Scheduled")
    assert boutique.call("GET", f"/campaigns/{campaign['campaign_id']}")["scheduled_at"] == stored
    # Shown back as the store's clock reads it, whatever the browser's zone.
    expect(page.get_by_label(f"Send at (the store's time: {ZONE})")).to_have_value(stored[:16])
    finish(page, f"campaign-scheduled-{wall[:10]}")


class Crowd(Store):
    """A store with more customers than a page of members holds."""

    def __init__(self, stack, size: int = 30):
        super().__init__(stack, f"crowd-{uuid.uuid4().hex[:6]}")
        self.call("PATCH", "/settings", {"store_name": "Crowd", "timezone": ZONE, "country": "AU", "send_hour": 9,
                                         "sender_email": SENDER})
        for n in range(size):
            self.call("PUT", f"/customers/c{n:02d}", {"first_name": f"C{n:02d}", "email": f"c{n:02d}@{self.tenant}.example",
                                                      "tags": ["crowd"], "consent": {"email": True}, "source": "import"})


def test_members_come_a_page_at_a_time_and_a_sending_campaigns_page_follows_its_progress(admin_stack, browser):  # noqa: F811
    crowd = Crowd(admin_stack)
    segment = crowd.call("POST", "/segments", {"name": "Everyone", "filter": {"tags_any": ["crowd"]}})
    page = crowd.open(browser, hash_=f"#/segments/{segment['segment_id']}")
    expect(page.locator("tr[data-customer]")).to_have_count(25)
    page.get_by_role("button", name="More members").click()
    expect(page.locator("tr[data-customer]")).to_have_count(30)
    expect(page.get_by_role("button", name="More members")).to_be_hidden()
    expect(page.locator(".seg-shown")).to_have_text("30 members shown of 30.")

    campaign = crowd.call("POST", "/campaigns", {"name": "Now", "segment_id": segment["segment_id"]})
    page.evaluate("h => { location.hash = h; }", f"#/campaigns/{campaign['campaign_id']}")
    expect(page.locator("main h1")).to_have_text("Now")
    page.get_by_role("button", name="Check recipients").click()
    expect(page.locator(".cmp-recipients")).to_have_text("30")
    confirm = page.locator(".cmp-confirm")
    expect(confirm).to_have_text("Send now to 30 customers")
    confirm.click()
    expect(page.locator(".cmp-badge")).to_have_text("Sending")
    expect(page.locator(".cmp-sent")).to_have_text("0")
    # Later than any tick before it in this stack (the first test ticks tomorrow morning, Sydney time).
    crowd.stack.tick((datetime.now(timezone.utc) + timedelta(days=2)).isoformat())
    sent = crowd.call("GET", f"/campaigns/{campaign['campaign_id']}")
    assert sent["sent"] == 30
    # No reload: the page refreshes itself while the campaign is sending.
    expect(page.locator(".cmp-sent")).to_have_text("30", timeout=15000)
    expect(page.locator(".cmp-badge")).to_have_text("Sent")
    finish(page, "campaign-sending-refreshed")


def test_an_owner_renames_and_edits_a_segment_then_deletes_it(boutique, browser):  # noqa: F811
    segment = boutique.call("POST", "/segments", {"name": "Gold again", "filter": {"tags_any": ["gold"]}})
    page = boutique.open(browser, hash_=f"#/segments/{segment['segment_id']}")
    expect(page.locator("main h1")).to_have_text("Gold again")
    expect(page.locator("tr[data-customer]")).to_have_count(3)
    page.get_by_label("Name", exact=True).fill("Gold who said yes")
    page.get_by_label("Consents to email").select_option("true")
    expect(page.locator(".seg-live-count")).to_have_text("2")
    page.get_by_role("button", name="Save segment").click()
    expect(page.locator("main h1")).to_have_text("Gold who said yes")
    expect(page.get_by_role("status").filter(has_text="Segment saved.")).to_be_visible()
    expect(page.locator("tr[data-customer]")).to_have_count(2)
    stored = boutique.call("GET", f"/segments/{segment['segment_id']}")
    assert (stored["name"], stored["filter"], stored["count"]) == (
        "Gold who said yes", {"tags_any": ["gold"], "consent_email": True}, 2)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete segment").click()
    expect(page.locator("main h1")).to_have_text("Segments")
    assert boutique.stack.call("GET", f"/segments/{segment['segment_id']}", boutique.owner).status_code == 404
    # Every role's /me says whether it may change segments and campaigns.
    me = boutique.call("GET", "/me")
    assert me["may_change"]["segments"] is True and me["may_change"]["campaigns"] is True
    assert boutique.call("GET", "/me", token=boutique.stack.token(boutique.tenant, "salesperson"))["may_change"]["campaigns"] is False
    finish(page, "segment-deleted")

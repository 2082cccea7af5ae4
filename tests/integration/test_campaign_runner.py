"""Campaigns in the runner (clienteling section 12): the start at the instant, the snapshot of the segment's
members, one send per member and channel whatever is duplicated, crashed, cancelled or started twice, the
dispatch checks, records with `source: campaign`, and progress that finishes only when every send has ended."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.models import Campaign, SendLedger, ledger_key
from chalicelib.runner import campaigns
from chalicelib.runner.evaluation import release_deferred
from tests.integration.conftest import history
from tests.integration.runner_kit import Crash, Runner, crash, once
from tests.integration.test_runner import customer, enable, reachable

VIPS = ("ava", "bea", "cal")


@pytest.fixture
def runner(tenant) -> Runner:
    return Runner(tenant, datetime.now(timezone.utc))


def _quiet(start_hours: float, end_hours: float) -> dict:
    """Quiet hours (the store's zone is UTC here) from `start_hours` to `end_hours` after the real now."""
    now = datetime.now(timezone.utc)
    return {"start": f"{now + timedelta(hours=start_hours):%H:%M}", "end": f"{now + timedelta(hours=end_hours):%H:%M}"}


@pytest.fixture
def shop(shop):
    """The store in UTC, its quiet hours far from now: the API and the planner run on the real clock."""
    assert shop.patch("/settings", {"timezone": "UTC", "quiet_hours": _quiet(6, 7)}).status == 200
    return shop


def _campaign(shop, channels=("email", "sms"), segment_id="vip") -> str:
    created = shop.post("/campaigns", {"name": "Spring preview", "segment_id": segment_id, "channels": list(channels)})
    assert created.status == 201, created
    return created.json["campaign_id"]


def _scheduled(shop, minutes: int = 2, **kw) -> tuple[str, datetime]:
    cid = _campaign(shop, **kw)
    at = (datetime.now(timezone.utc) + timedelta(minutes=minutes)).replace(microsecond=0)
    assert shop.post(f"/campaigns/{cid}/schedule", {"at": at.isoformat()}).status == 200
    return cid, at


def _vips(shop, *extra) -> None:
    for cid in VIPS:
        reachable(shop, cid, tags=["VIP"])
    reachable(shop, "dan")      # not a VIP: not a member
    for cid in extra:
        reachable(shop, cid, tags=["VIP"])


def _sent_once_each(runner, cid: str, customers=VIPS, channels=("email", "sms")) -> None:
    for customer_id in customers:
        for channel in channels:
            row = SendLedger.get(ledger_key(runner.tenant_id, customer_id, cid, f"campaign:{cid}", channel))
            assert row.status == "sent", (customer_id, channel, row.status)
    assert len(runner.email.accepted) == len(customers) and len(runner.sms.accepted) == len(customers)


def test_a_scheduled_campaign_starts_at_its_instant_and_each_member_gets_one_message_per_channel(shop, runner):
    _vips(shop)
    cid, at = _scheduled(shop)
    assert runner.campaigns(at - timedelta(seconds=30)) == []            # not yet
    pages = runner.campaigns(at, page_size=2)
    assert [p.members for p in pages] == [2, 1]                          # paged like the evaluations
    assert Campaign.get(runner.tenant_id, cid).started_at == at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    delivery = runner.deliver()
    assert delivery.count("sent") == 6
    _sent_once_each(runner, cid)
    record = next(r for r in history(shop, "ava") if r["channel"] == "email")
    assert (record["source"], record["automation_id"], record["occurrence_key"]) == ("campaign", cid, f"campaign:{cid}")
    assert "Spring preview" in runner.email.accepted[0].text
    progress = shop.get(f"/campaigns/{cid}").json
    assert {k: progress[k] for k in ("status", "members", "queued", "sent", "skipped", "failed")} == {
        "status": "sent", "members": 3, "queued": 6, "sent": 6, "skipped": {}, "failed": 0}
    assert progress["finished_at"]


def test_a_start_triggered_twice_and_every_page_and_message_delivered_twice_send_once(shop, runner):
    _vips(shop)
    cid, at = _scheduled(shop)
    first = runner.campaigns(at, page_size=2, copies=2)
    again = runner.campaigns(at + timedelta(seconds=5), page_size=2)     # a second planner at the same minute
    assert again == [] and sum(p.recorded for p in first) == 2           # each page recorded once
    delivery = runner.deliver(copies=2)
    assert delivery.count("sent") == 6
    _sent_once_each(runner, cid)
    item = Campaign.get(runner.tenant_id, cid)
    assert (item.members, item.queued, item.paged) == (3, 6, True)


def test_members_are_the_segment_as_at_the_start_and_a_customer_created_after_it_is_left_out(shop, runner):
    _vips(shop)
    cid, at = _scheduled(shop)
    reachable(shop, "eve", tags=["VIP"], created_at=(at + timedelta(minutes=1)).isoformat())
    runner.campaigns(at + timedelta(minutes=2), page_size=2)
    assert runner.deliver().count("sent") == 6
    assert history(shop, "eve") == []
    assert Campaign.get(runner.tenant_id, cid).members == 3


def test_a_page_that_crashes_before_it_is_recorded_is_run_again_and_sends_once(shop, runner, monkeypatch):
    _vips(shop)
    cid, at = _scheduled(shop)
    real = campaigns._record

    def dies(*args, **kwargs):
        monkeypatch.setattr(campaigns, "_record", real)
        raise Crash()
    monkeypatch.setattr(campaigns, "_record", dies)
    with pytest.raises(Crash):
        runner.campaigns(at, page_size=2)
    job = campaigns.CampaignJob(runner.tenant_id, cid)
    runner.campaign_jobs = [job.to_body()]                               # SQS gives the job back
    runner.campaign_pages(page_size=2)
    runner.email.before = once(crash)                                    # and a dispatcher dies once
    delivery = runner.deliver()
    assert delivery.crashes == 1
    _sent_once_each(runner, cid)
    assert shop.get(f"/campaigns/{cid}").json["status"] == "sent"


def test_a_run_whose_next_page_was_lost_is_moved_on_by_the_planner_after_the_lease(shop, runner):
    _vips(shop)
    cid, at = _scheduled(shop)
    runner.campaigns(at, page_size=2, pages=1)
    runner.campaign_jobs = []                                            # the continuation is lost
    assert runner.campaigns(at + timedelta(minutes=5), page_size=2) == []
    pages = runner.campaigns(at + campaigns.LEASE + timedelta(minutes=1), page_size=2)
    assert [p.members for p in pages] == [1]
    runner.deliver()
    _sent_once_each(runner, cid)


def test_cancelling_in_the_middle_skips_what_is_queued_and_queues_nothing_more(shop, runner):
    _vips(shop)
    cid, at = _scheduled(shop)
    runner.campaigns(at, page_size=2, pages=1)                           # two members queued, one page left
    first = runner.deliver(batch_size=1)
    assert first.count("sent") == 4
    # the next page is queued, then the campaign is cancelled before it is delivered
    runner.campaign_pages(page_size=2)
    assert shop.post(f"/campaigns/{cid}/cancel").json["status"] == "cancelled"
    delivery = runner.deliver(copies=2)
    assert sorted({(o.status, o.reason) for o in delivery.outcomes}) == [("duplicate", None),
                                                                         ("skipped", "campaign_cancelled")]
    assert runner.campaigns(at + campaigns.LEASE * 2) == []
    assert len(runner.email.accepted) == 2
    assert shop.get(f"/campaigns/{cid}").json["status"] == "cancelled"


def test_a_campaign_cancelled_before_its_instant_never_starts(shop, runner):
    _vips(shop)
    cid, at = _scheduled(shop)
    shop.post(f"/campaigns/{cid}/cancel")
    assert runner.campaigns(at + timedelta(minutes=1)) == []
    assert runner.queue.messages == []


def test_send_now_starts_at_the_next_minute_and_every_dispatch_check_applies(shop, runner):
    assert shop.patch("/settings", {"frequency_cap": {"max_messages": 1, "per_days": 7}}).status == 200
    _vips(shop)
    customer(shop, "nocon", email="nocon@mail.example", tags=["VIP"])   # no consent
    reachable(shop, "capped", tags=["VIP"], birthday="1990-12-18")
    enable(shop, "birthday", channels=["email"])
    _, birthday = runner.run(datetime.fromisoformat("2026-12-18T10:00:00+00:00"))   # takes the cap's one place
    assert birthday.count("sent") == 1
    cid = _campaign(shop, channels=("email",))
    assert shop.post(f"/campaigns/{cid}/send").json["status"] == "sending"
    runner.campaigns(datetime.now(timezone.utc) + timedelta(seconds=30))
    outcomes = sorted((o.send.customer_id, o.status, o.reason) for o in runner.deliver().outcomes)
    assert ("nocon", "skipped", "no_consent") in outcomes
    assert ("capped", "skipped", "frequency_capped") in outcomes       # automations and campaigns alike
    assert ("ava", "sent", None) in outcomes
    progress = shop.get(f"/campaigns/{cid}").json
    assert progress["skipped"] == {"no_consent": 1, "frequency_capped": 1} and progress["sent"] == 3


def test_a_campaign_sms_inside_quiet_hours_is_deferred_and_the_campaign_is_not_finished_before_it_is_sent(
        shop, runner):
    assert shop.patch("/settings", {"quiet_hours": _quiet(-1, 2)}).status == 200
    reachable(shop, "owl", tags=["VIP"])
    cid, at = _scheduled(shop)
    runner.campaigns(at)
    delivery = runner.deliver()
    assert sorted((o.send.channel, o.status) for o in delivery.outcomes) == [("email", "sent"), ("sms", "deferred")]
    progress = shop.get(f"/campaigns/{cid}").json
    assert (progress["status"], progress["sent"], progress["deferred"]) == ("sending", 1, 1)
    assert runner.campaigns(at + timedelta(minutes=2)) == []
    assert Campaign.get(runner.tenant_id, cid).status == "sending"
    # When the quiet hours end the SMS is released and sent, and only then is the campaign sent (nothing of
    # this store is left deferred for other tests' runners to release).
    later = datetime.now(timezone.utc) + timedelta(hours=3)
    runner.clock.now = later
    release_deferred(later, runner.queue)
    assert [(o.send.customer_id, o.status) for o in runner.deliver().outcomes
            if o.send.tenant_id == runner.tenant_id] == [("owl", "sent")]
    assert shop.get(f"/campaigns/{cid}").json["status"] == "sent"


def test_a_stores_own_segment_edited_after_the_start_changes_no_later_page(shop, runner):
    for customer_id in VIPS:
        reachable(shop, customer_id, interests=["rings"])
    reachable(shop, "dan", interests=["watches"])
    segment = shop.post("/segments", {"name": "Ring lovers", "filter": {"interests_any": ["rings"]}}).json
    cid, at = _scheduled(shop, segment_id=segment["segment_id"])
    runner.campaigns(at, page_size=1, pages=1)
    assert shop.patch(f"/segments/{segment['segment_id']}", {"filter": {"interests_any": ["watches"]}}).status == 200
    runner.campaign_pages(page_size=1)
    runner.deliver()
    _sent_once_each(runner, cid)
    assert history(shop, "dan") == []


def test_a_dispatch_that_dies_before_counting_still_lets_the_campaign_finish_with_every_send_counted(shop, runner):
    """The campaign finishes when its counters reach the sends it queued: an invocation killed after its
    records and before its counter transaction is counted by its message's next delivery."""
    from tests.integration.dynamodb_faults import dynamodb_faults, is_count

    _vips(shop)
    cid, at = _scheduled(shop)
    runner.campaigns(at)
    died = []

    def die_before_counting_once(operation: str, params: dict) -> None:
        if is_count(operation, params) and not died:
            died.append(1)
            raise Crash()
        return None

    with dynamodb_faults(die_before_counting_once):
        delivery = runner.deliver()
    assert delivery.crashes == 1 and delivery.count("duplicate") > 0
    _sent_once_each(runner, cid)
    runner.campaigns(at + timedelta(minutes=1))
    progress = shop.get(f"/campaigns/{cid}").json
    assert {k: progress[k] for k in ("status", "queued", "sent", "skipped", "failed")} == {
        "status": "sent", "queued": 6, "sent": 6, "skipped": {}, "failed": 0}

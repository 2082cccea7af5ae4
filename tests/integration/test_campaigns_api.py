"""`/campaigns` (clienteling section 12): drafts, status moves, validation, roles and isolation, the test-run."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest


def _create(api, **body):
    response = api.post("/campaigns", {"name": "Spring preview", **body})
    assert response.status == 201, response
    return response.json


def _ahead(minutes: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).replace(microsecond=0).isoformat()


def test_a_new_campaign_is_a_draft_with_the_system_template_and_no_progress(owner):
    created = _create(owner, segment_id="vip")
    assert created["campaign_id"].startswith("cmp_")
    assert {k: created[k] for k in ("status", "segment_id", "channels", "template_id", "effective_template_id",
                                    "members", "queued", "sent", "skipped", "failed", "deferred")} == {
        "status": "draft", "segment_id": "vip", "channels": ["email"], "template_id": None,
        "effective_template_id": "system:campaign", "members": 0, "queued": 0, "sent": 0, "skipped": {},
        "failed": 0, "deferred": 0}
    assert created["created_by"]
    read = owner.get(f"/campaigns/{created['campaign_id']}").json
    daily = read.pop("daily")   # the campaign's own page carries its 30 days, for the chart
    assert read == created and len(daily) == 30 and not any(day["sent"] or day["delivered"] for day in daily)
    assert [c["campaign_id"] for c in owner.get("/campaigns").json["campaigns"]] == [created["campaign_id"]]


def test_the_system_campaign_template_can_be_duplicated_and_bound(owner):
    system = owner.get("/templates/system:campaign").json
    assert system["type"] == "campaign" and "{{ campaign }}" in system["body_text"]
    copy = owner.post("/templates/system:campaign/duplicate", {"name": "Ours"})
    assert copy.status == 201, copy
    created = _create(owner, segment_id="vip", template_id=copy.json["template_id"])
    assert created["effective_template_id"] == copy.json["template_id"]
    wrong = owner.post("/campaigns", {"name": "x", "template_id": "system:birthday"})
    assert (wrong.status, wrong.error_field) == (400, "template_id")


@pytest.mark.parametrize("body,field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x", "segment_id": "no_such"}, "segment_id"),
    ({"name": "x", "segment_id": 7}, "segment_id"),
    ({"name": "x", "channels": ["fax"]}, "channels[0]"),
    ({"name": "x", "channels": []}, "channels"),
    ({"name": "x", "colour": "gold"}, "colour"),
])
def test_invalid_campaigns_are_400s_naming_the_field(owner, body, field):
    response = owner.post("/campaigns", body)
    assert (response.status, response.error_field) == (400, field), response


def test_a_schedule_needs_an_instant_with_an_offset_a_minute_ahead_and_a_segment(owner):
    draft = _create(owner)
    path = f"/campaigns/{draft['campaign_id']}/schedule"
    assert owner.post(path, {"at": _ahead(10)}).error_field == "segment_id"
    owner.patch(f"/campaigns/{draft['campaign_id']}", {"segment_id": "vip"})
    for at in ("2026-12-24T10:00:00", "tomorrow", _ahead(0.5), _ahead(-60)):
        response = owner.post(path, {"at": at})
        assert (response.status, response.error_field) == (400, "at"), (at, response)
    at = _ahead(90)
    scheduled = owner.post(path, {"at": at})
    assert scheduled.status == 200, scheduled
    assert scheduled.json["status"] == "scheduled"
    shown = datetime.fromisoformat(scheduled.json["scheduled_at"])
    assert shown == datetime.fromisoformat(at) and shown.utcoffset() is not None


def test_status_moves_draft_to_scheduled_or_sending_and_cancelled_and_edits_only_before_sending(owner):
    scheduled = _create(owner, segment_id="vip")
    cid = scheduled["campaign_id"]
    owner.post(f"/campaigns/{cid}/schedule", {"at": _ahead(30)})
    assert owner.patch(f"/campaigns/{cid}", {"name": "Renamed"}).json["name"] == "Renamed"
    assert owner.delete(f"/campaigns/{cid}").status == 409   # only a draft is deleted
    sending = owner.post(f"/campaigns/{cid}/send")
    assert sending.status == 200 and sending.json["status"] == "sending" and sending.json["started_at"]
    assert owner.patch(f"/campaigns/{cid}", {"name": "Late"}).status == 409
    assert owner.post(f"/campaigns/{cid}/schedule", {"at": _ahead(30)}).status == 409
    assert owner.post(f"/campaigns/{cid}/send").status == 409
    cancelled = owner.post(f"/campaigns/{cid}/cancel")
    assert cancelled.json["status"] == "cancelled" and cancelled.json["cancelled_at"]
    assert owner.post(f"/campaigns/{cid}/cancel").json["status"] == "cancelled"
    assert owner.delete(f"/campaigns/{cid}").status == 409
    draft = _create(owner)
    assert owner.delete(f"/campaigns/{draft['campaign_id']}").status == 204
    assert owner.get(f"/campaigns/{draft['campaign_id']}").status == 404


@pytest.mark.parametrize("role,allowed", [("owner", True), ("manager", True), ("salesperson", False), ("workshop", False), ("integration", False),
                                          ("accountant", False)])
def test_owners_and_managers_write_campaigns_and_every_role_reads_them(client_for, owner, tenant, role, allowed):
    api = client_for(tenant, role)
    draft = _create(owner, segment_id="vip")
    assert (api.post("/campaigns", {"name": "x"}).status == 201) == allowed
    assert (api.patch(f"/campaigns/{draft['campaign_id']}", {"name": "y"}).status == 200) == allowed
    assert (api.post(f"/campaigns/{draft['campaign_id']}/cancel").status == 200) == allowed
    assert api.get(f"/campaigns/{draft['campaign_id']}").status == 200
    assert api.get("/campaigns").status == 200


def test_another_store_sees_none_of_a_campaign_and_changes_nothing(client_for, owner):
    draft = _create(owner, segment_id="vip")
    other = client_for("t-other-store", "owner")
    cid = draft["campaign_id"]
    assert other.get("/campaigns").json["campaigns"] == []
    for response in (other.get(f"/campaigns/{cid}"), other.patch(f"/campaigns/{cid}", {"name": "x"}),
                     other.delete(f"/campaigns/{cid}"), other.post(f"/campaigns/{cid}/send"),
                     other.post(f"/campaigns/{cid}/cancel"), other.post(f"/campaigns/{cid}/test-run"),
                     other.post(f"/campaigns/{cid}/schedule", {"at": _ahead(10)})):
        assert response.status == 404, response
    read = owner.get(f"/campaigns/{cid}").json
    read.pop("daily")
    assert read == {k: v for k, v in draft.items() if k != "daily"}


def test_the_test_run_says_per_member_what_dispatch_would_decide(shop):
    for cid, fields in (("ava", {"tags": ["VIP"], "consent": {"email": True}}), ("bo", {"tags": ["vip"]}),
                        ("cy", {"consent": {"email": True}})):
        assert shop.put(f"/customers/{cid}", {"first_name": cid, "email": f"{cid}@example.com", **fields}).status in (200, 201)
    draft = _create(shop, segment_id="vip")
    answer = shop.post(f"/campaigns/{draft['campaign_id']}/test-run", {})
    assert answer.status == 200, answer
    body = answer.json
    assert (body["type"], body["count"], body["would_send"], body["skipped"]) == ("campaign", 2, 1, {"no_consent": 1})
    assert {s["customer_id"]: s["outcomes"] for s in body["sample"]} == {
        "ava": {"email": "would_send"}, "bo": {"email": "no_consent"}}


def test_a_campaign_may_target_a_stores_own_segment_which_cannot_be_deleted_while_scheduled(owner):
    segment = owner.post("/segments", {"name": "Ring lovers", "filter": {"interests_any": ["rings"]}})
    assert segment.status == 201, segment
    sid = segment.json["segment_id"]
    draft = _create(owner, segment_id=sid)
    assert owner.post(f"/campaigns/{draft['campaign_id']}/schedule", {"at": _ahead(30)}).status == 200
    refused = owner.delete(f"/segments/{sid}")
    assert (refused.status, refused.error_field) == (409, "segment_id")
    owner.post(f"/campaigns/{draft['campaign_id']}/cancel")
    assert owner.delete(f"/segments/{sid}").status == 204

"""The test-run route: the runner's matcher and dispatch checks 3-6 in a dry run, writing nothing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest

from chalicelib.adapters.models import (
    MarketingLog,
    RunState,
    Suppression,
    tenant_customer,
)
from chalicelib.rules.auth import ROLES
from tests import scenarios

AT = scenarios.AT


def _customer(api, cid, **fields):
    body = {"first_name": cid.capitalize(), "created_at": "2025-01-01T00:00:00Z", **fields}
    assert api.put(f"/customers/{cid}", body).status == 200


def _test_run(api, type_, at=AT):
    response = api.post(f"/automations/{type_}/test-run", {"at": at})
    assert response.status == 200, response
    return response.json


@pytest.fixture
def sydney(owner):
    assert owner.patch("/settings", {"timezone": "Australia/Sydney", "country": "AU"}).status == 200
    return owner


def test_each_of_the_ten_types_counts_the_customers_its_matcher_finds(owner):
    scenarios.build_store(lambda method, path, body: owner.call(method, path, body).status)
    for type_, (at, count) in scenarios.EXPECTED.items():
        assert _test_run(owner, type_, at)["count"] == count, type_
    for type_, at in scenarios.OFF_SEASON.items():
        assert _test_run(owner, type_, at)["count"] == 0, type_
    owner.patch("/settings", {"country": "GB"})
    assert _test_run(owner, "mothers_day", "2027-02-28T01:00:00Z")["count"] == 6   # GB: Mar 7, 2027


def test_the_answer_names_dates_count_would_send_skips_and_a_sample(sydney):
    _customer(sydney, "ada", birthday="1990-06-10", email="ada@example.com", consent={"email": True})
    _customer(sydney, "bo", birthday="--06-10", email="bo@example.com")
    _customer(sydney, "cy", birthday="1980-06-10")
    body = _test_run(sydney, "birthday")
    assert body["type"] == "birthday" and body["at"] == AT and body["dates"] == ["2026-06-10"]
    assert body["count"] == 3 and body["would_send"] == 1
    assert body["skipped"] == {"no_consent": 1, "missing_contact": 1}
    assert sorted(s["name"] for s in body["sample"]) == ["Ada", "Bo", "Cy"]
    # Each customer with the outcome of each channel, and what they are matched for.
    assert {s["customer_id"]: s["outcomes"] for s in body["sample"]} == {
        "ada": {"email": "would_send"}, "bo": {"email": "no_consent"}, "cy": {"email": "missing_contact"}}
    assert {s["occurrence_key"] for s in body["sample"]} == {"birthday:2026"}
    assert body["trigger_dates"] == [{"date": "2026-06-10", "for": "2026-06-10", "late": False, "count": 3}]


def test_every_channel_is_checked_and_transactional_messages_need_no_consent(sydney):
    _customer(sydney, "ada", email="ada@example.com", phone="+61400000001", consent={"email": True, "sms": False})
    sydney.put("/repairs/r1", {"customer_id": "ada", "status": "ready", "ready_at": "2026-06-07T09:00:00+10:00"})
    sydney.patch("/automations/repair_ready_reminder", {"channels": ["email", "sms"]})
    body = _test_run(sydney, "repair_ready_reminder")
    assert body["count"] == 1 and body["would_send"] == 2 and body["skipped"] == {}
    _customer(sydney, "bo", birthday="1990-06-10", email="bo@example.com", consent={"email": True})
    sydney.patch("/automations/birthday", {"channels": ["email", "sms"]})
    body = _test_run(sydney, "birthday")
    assert body["would_send"] == 1 and body["skipped"] == {"missing_contact": 1}


def test_suppressed_addresses_are_skipped(sydney, tenant):
    _customer(sydney, "ada", birthday="1990-06-10", email="Ada@Example.com", consent={"email": True})
    Suppression(tenant, "email:ada@example.com", reason="bounce", created_at=AT).save()
    assert _test_run(sydney, "birthday")["skipped"] == {"suppressed": 1}


def test_the_frequency_cap_counts_recent_sends_and_the_runs_own_earlier_sends(sydney, tenant):
    sydney.patch("/settings", {"frequency_cap": {"max_messages": 1, "per_days": 7}})
    sydney.patch("/automations/birthday", {"channels": ["email", "sms"]})
    both = {"email": True, "sms": True}
    _customer(sydney, "recent", birthday="1990-06-10", email="r@example.com", phone="+61400000001", consent=both)
    _customer(sydney, "fresh", birthday="1990-06-10", email="f@example.com", phone="+61400000002", consent=both)
    _customer(sydney, "old", birthday="1990-06-10", email="o@example.com", consent={"email": True})
    MarketingLog(tenant_customer(tenant, "recent"), sent_at=["2026-06-05T00:00:00Z"]).save()
    MarketingLog(tenant_customer(tenant, "old"), sent_at=["2026-06-02T00:00:00Z"]).save()
    body = _test_run(sydney, "birthday")
    # recent: both capped; fresh: email goes, then SMS is capped by it; old: outside the 7 days, email goes.
    assert body["would_send"] == 2
    assert body["skipped"] == {"frequency_capped": 3, "missing_contact": 1}


def test_catch_up_dates_are_the_ones_the_runner_would_also_process(sydney, tenant):
    sydney.patch("/automations/birthday", {"enabled": True})
    _customer(sydney, "d8", birthday="1990-06-08", email="a@example.com")
    _customer(sydney, "d9", birthday="1990-06-09", email="b@example.com")
    _customer(sydney, "d10", birthday="1990-06-10", email="c@example.com")
    # Enabled "today" (now), so dates before today would be back-dating: only the date of `at`.
    assert _test_run(sydney, "birthday")["dates"] == ["2026-06-10"]
    # As if enabled long ago and last processed on Jun 7: Jun 8 and 9 are caught up.
    from chalicelib.adapters.models import Automation
    item = Automation.get(tenant, "birthday")
    item.enabled_at, item.coverage_from = "2026-01-01T00:00:00Z", "2026-01-01"
    item.save()
    RunState(tenant, "birthday", first_evaluated_on="2026-01-01", processed_through="2026-06-07").save()
    body = _test_run(sydney, "birthday")
    assert body["dates"] == ["2026-06-08", "2026-06-09", "2026-06-10"] and body["count"] == 3
    assert [t["date"] for t in body["trigger_dates"]] == body["dates"] and body["late"] == 0


def test_appointment_types_show_the_window_instead_of_dates(sydney):
    body = _test_run(sydney, "appointment_24h")
    assert body["dates"] == [] and body["window"] == {"starts_after": "2026-06-10T03:00:00Z",
                                                      "starts_until": "2026-06-11T01:00:00Z"}


def _item_counts():
    client = boto3.client("dynamodb")
    return {name: client.scan(TableName=name, Select="COUNT")["Count"]
            for name in client.list_tables()["TableNames"]}


def test_a_test_run_writes_nothing_and_sends_nothing(sydney):
    for n in range(12):
        _customer(sydney, f"c{n}", email=f"c{n}@example.com", consent={"email": True})
    before = _item_counts()
    sent_before = boto3.client("ses").get_send_quota()["SentLast24Hours"]
    for type_ in ("christmas", "birthday", "reengagement", "appointment_1h"):
        _test_run(sydney, type_, "2026-12-18T01:00:00Z")
    assert _item_counts() == before
    assert boto3.client("ses").get_send_quota()["SentLast24Hours"] == sent_before


def test_the_sample_holds_at_most_twenty_customers(sydney):
    for n in range(24):
        _customer(sydney, f"c{n:02d}")
    body = _test_run(sydney, "christmas", "2026-12-18T01:00:00Z")
    assert body["count"] == 24 and len(body["sample"]) == 20


def test_another_stores_customers_are_never_counted(client_for, sydney):
    other = client_for("other-store-for-test-run")
    other.patch("/settings", {"timezone": "Australia/Sydney"})
    _customer(other, "theirs", birthday="1990-06-10")
    assert _test_run(sydney, "birthday")["count"] == 0


@pytest.mark.parametrize("role", ROLES)
def test_every_role_may_test_run(client_for, tenant, role):
    assert client_for(tenant, role).post("/automations/birthday/test-run").status == 200


def test_without_a_body_the_test_run_is_for_now(owner):
    body = owner.post("/automations/christmas/test-run").json
    at = datetime.fromisoformat(body["at"].replace("Z", "+00:00"))
    assert abs(at - datetime.now(timezone.utc)) < timedelta(minutes=1)


@pytest.mark.parametrize("body, field", [
    ({"at": "2026-06-10T10:00:00"}, "at"),          # no offset
    ({"at": "2026-13-10T10:00:00Z"}, "at"),
    ({"at": 1760000000}, "at"),
    ({"at": "2126-06-10T10:00:00Z"}, "at"),         # a century away: a typo
    ({"when": "2026-06-10T10:00:00Z"}, "when"),
])
def test_a_bad_test_run_body_is_a_400_naming_the_field(owner, body, field):
    response = owner.post("/automations/birthday/test-run", body)
    assert response.status == 400 and response.error_field == field


def test_an_unknown_type_is_a_404(owner):
    response = owner.post("/automations/easter/test-run", {})
    assert response.status == 404 and response.error_field == "type"


def test_a_marketing_sms_inside_quiet_hours_would_be_deferred_not_sent_now(sydney):
    """Dispatch parks a marketing SMS inside quiet hours until they end: the test-run says `deferred`."""
    sydney.patch("/settings", {"quiet_hours": {"start": "21:00", "end": "09:00"}, "send_hour": 22})
    sydney.patch("/automations/birthday", {"channels": ["email", "sms"]})
    _customer(sydney, "ada", birthday="1990-06-10", email="ada@example.com", phone="+61400000001",
              consent={"email": True, "sms": True})
    body = _test_run(sydney, "birthday", "2026-06-10T12:30:00Z")      # 22:30 in Sydney
    assert body["would_send"] == 1 and body["deferred"] == 1 and body["skipped"] == {}
    assert body["sample"][0]["outcomes"] == {"email": "would_send", "sms": "deferred"}
    assert body["sample"][0]["trigger_date"] == "2026-06-10"


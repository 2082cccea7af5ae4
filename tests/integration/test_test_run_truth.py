"""The test-run tells the runner's truth (docs/behaviour.md sections 2 and 7): what it says an evaluation at
an instant would send is what the evaluation at that instant then sends, send for send, through settings
changes between evaluations; and a lead time raised after today was processed covers the days between once."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import STORE, history
from tests.integration.runner_kit import Runner
from tests.integration.test_runner import customer

SYDNEY = "+11:00"   # December: daylight saving time


def sydney(text: str) -> datetime:
    return datetime.fromisoformat(text + SYDNEY)


@pytest.fixture
def clock(monkeypatch):
    """The API's clock (the one place that reads it), moved by the test as the runner's is."""
    from chalicelib.api import context

    now = {"at": sydney("2026-12-10T09:00:00")}
    monkeypatch.setattr(context, "utcnow", lambda: now["at"])
    return now


def ask(owner, at: datetime, **body) -> dict:
    response = owner.post("/automations/birthday/test-run", {"at": at.isoformat(), **body})
    assert response.status == 200, response
    return response.json


def would_send(answer: dict) -> set[tuple[str, str]]:
    return {(s["customer_id"], channel) for s in answer["sample"] for channel, o in s["outcomes"].items()
            if o == "would_send"}


def sent(delivery) -> set[tuple[str, str]]:
    return {(o.send.customer_id, o.send.channel) for o in delivery.outcomes if o.status == "sent"}


def test_the_owners_sequence_raising_the_lead_after_today_was_processed_greets_the_days_between_once(
        client_for, tenant, clock):
    owner = client_for(tenant)
    assert owner.patch("/settings", {**STORE, "send_hour": 10}).status == 200
    for day in range(10, 19):
        customer(owner, f"d{day}", birthday=f"1990-12-{day}", email=f"d{day}@mail.example", consent={"email": True})
    customer(owner, "quiet", birthday="1990-12-13", email="quiet@mail.example", consent={"email": False})
    assert owner.patch("/automations/birthday", {"enabled": True, "channels": ["email"]}).status == 200
    runner = Runner(tenant, clock["at"])

    # 11:00: today's birthdays are greeted; today is processed.
    _, delivery = runner.run(sydney("2026-12-10T11:00:00"))
    assert sent(delivery) == {("d10", "email")}

    # 12:00: off and on again, then "7 days before". Before saving, the test-run with the proposal says
    # what the change will send at the next evaluation.
    clock["at"] = sydney("2026-12-10T12:00:00")
    assert owner.patch("/automations/birthday", {"enabled": False}).status == 200
    assert owner.patch("/automations/birthday", {"enabled": True}).status == 200
    proposal = ask(owner, sydney("2026-12-10T12:15:00"), settings={"days_before": 7})
    assert owner.get("/automations/birthday").json["settings"]["days_before"] == 0   # nothing saved
    assert owner.patch("/automations/birthday", {"settings": {"days_before": 7}}).status == 200

    answer = ask(owner, sydney("2026-12-10T12:15:00"))
    assert {k: answer[k] for k in ("count", "would_send", "skipped", "late", "late_matches", "dates")} == {
        "count": 8, "would_send": 7, "skipped": {"no_consent": 1}, "late": 7, "late_matches": 8,
        "dates": ["2026-12-10"]}
    assert [(t["date"], t["for"], t["late"]) for t in answer["trigger_dates"]] == [
        (f"2026-12-{day}", "2026-12-10", True) for day in range(11, 18)]
    assert {k: proposal[k] for k in ("count", "would_send", "late")} == {"count": 8, "would_send": 7, "late": 7}
    assert would_send(answer) == {(f"d{day}", "email") for day in range(11, 18)}

    _, delivery = runner.run(sydney("2026-12-10T12:15:00"))
    assert sent(delivery) == would_send(answer)                     # late, once
    assert [r["status"] for r in history(owner, "quiet")] == ["skipped"]

    # Nothing is covered twice: the same day answers nothing more, and tomorrow only its own date.
    assert ask(owner, sydney("2026-12-10T12:30:00"))["count"] == 0
    tomorrow = ask(owner, sydney("2026-12-11T10:00:00"))
    assert [t["date"] for t in tomorrow["trigger_dates"]] == ["2026-12-18"] and tomorrow["late"] == 0
    _, delivery = runner.run(sydney("2026-12-11T10:00:00"))
    assert sent(delivery) == would_send(tomorrow) == {("d18", "email")}
    for day in range(10, 19):
        assert [r["status"] for r in history(owner, f"d{day}")] == ["sent"], day


def test_what_the_ledger_holds_is_already_sent_not_would_send(client_for, tenant, clock):
    """An evaluation run again at the same instant (its progress lost) queues nothing the ledger holds:
    the test-run counts those as `already_sent`."""
    from chalicelib.adapters.models import RunState

    owner = client_for(tenant)
    assert owner.patch("/settings", {**STORE, "send_hour": 10}).status == 200
    customer(owner, "ada", birthday="1990-12-10", email="ada@mail.example", consent={"email": True})
    assert owner.patch("/automations/birthday", {"enabled": True, "channels": ["email"]}).status == 200
    runner = Runner(tenant, clock["at"])
    runner.run(sydney("2026-12-10T11:00:00"))
    RunState.get(tenant, "birthday").delete()
    answer = ask(owner, sydney("2026-12-10T11:15:00"))
    assert answer["count"] == 1 and answer["would_send"] == 0 and answer["skipped"] == {"already_sent": 1}
    assert answer["sample"][0]["outcomes"] == {"email": "already_sent"}
    _, delivery = runner.run(sydney("2026-12-10T11:15:00"))
    assert sent(delivery) == set()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(birthdays=st.lists(st.tuples(st.integers(0, 16), st.booleans()), min_size=1, max_size=8),
       steps=st.lists(st.tuples(st.integers(0, 3), st.sampled_from([9, 11, 15]), st.sampled_from([0, 1, 3, 7]),
                                st.booleans()), min_size=2, max_size=5))
def test_the_test_runs_would_send_is_what_the_evaluation_at_that_instant_sends(client_for, clock, birthdays, steps):
    """Random stores (birthdays from Dec 10 to 26, consent or not), evaluations days apart at any hour (before
    or after the send hour), days_before changed in between and the automation sometimes switched off and on
    again: before each evaluation the test-run's would-send equals that evaluation's sends, send for send."""
    tenant = f"truth-{uuid.uuid4().hex[:10]}"
    owner = client_for(tenant)
    clock["at"] = sydney("2026-12-10T08:00:00")
    assert owner.patch("/settings", {**STORE, "send_hour": 10}).status == 200
    for n, (offset, consents) in enumerate(birthdays):
        customer(owner, f"p{n}", birthday=f"1990-12-{10 + offset}", email=f"p{n}@mail.example",
                 consent={"email": consents})
    assert owner.patch("/automations/birthday", {"enabled": True, "channels": ["email"]}).status == 200
    runner = Runner(tenant, clock["at"])
    day = sydney("2026-12-10T00:00:00")
    for advance, hour, lead, toggle in steps:
        day += timedelta(days=advance)
        at = day + timedelta(hours=hour)
        clock["at"] = at - timedelta(minutes=5)
        if toggle:
            assert owner.patch("/automations/birthday", {"enabled": False}).status == 200
            assert owner.patch("/automations/birthday", {"enabled": True}).status == 200
        assert owner.patch("/automations/birthday", {"settings": {"days_before": lead}}).status == 200
        answer = ask(owner, at)
        _, delivery = runner.run(at)
        assert answer["would_send"] == len(sent(delivery))
        assert would_send(answer) == sent(delivery), (at, lead, answer["trigger_dates"])

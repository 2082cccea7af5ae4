"""`tick` (local/runner.py) through the emulator's queues and stream (in-process moto): its sends are
decided at the tick's instant, not by the machine's clock, and a handler that raises fails its batch,
which is handled again as Lambda's event sources would, without ending the tick."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from chalicelib.adapters.providers import SesEmailSender
from chalicelib.core.clock import utcnow
from chalicelib.core.timeutil import parse_instant
from chalicelib.rules.checks import quiet_until
from chalicelib.runner.customer_changes import StreamResult
from local import runner as local_runner
from local.runner import MemoryCheckpoint, StreamReader, stream_checkpoint, tick
from tests.integration.conftest import history

SYDNEY = ZoneInfo("Australia/Sydney")
#: 11:00 in Sydney on Dec 18.
DEC18 = datetime.fromisoformat("2026-12-18T00:00:00+00:00")


@pytest.fixture(autouse=True)
def stream_caught_up():
    """`tick` reads every customer change not read yet: earlier tests' changes are passed over first."""
    StreamReader.for_customers(stream_checkpoint()).drain(lambda records: StreamResult())


def reachable(shop, customer_id: str, birthday: str) -> str:
    # Ends in 0: the emulator's SNS reports every number ending in 99 as opted out, as a real account would
    # report a customer who replied STOP, and the dispatcher then skips the SMS as suppressed.
    digest = int(hashlib.sha256(f"{shop.token}/{customer_id}".encode()).hexdigest(), 16)
    phone = f"+614222{digest % 10_000:04d}0"
    assert shop.put(f"/customers/{customer_id}", {
        "first_name": customer_id.title(), "email": f"{customer_id}@tick.example", "phone": phone,
        "birthday": birthday, "consent": {"email": True, "sms": True},
        "created_at": "2025-01-01T00:00:00Z"}).status == 200
    return phone


def window_around(instant: datetime) -> dict:
    """Quiet hours from two hours before `instant` to two hours after, Sydney time."""
    local = instant.astimezone(SYDNEY)
    return {"start": f"{local - timedelta(hours=2):%H:%M}", "end": f"{local + timedelta(hours=2):%H:%M}"}


def sms_to(phone: str) -> list[str]:
    return [body for to, body in sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values() if to == phone]


def final(records: list[dict]) -> list[tuple[str, str]]:
    return sorted((r["channel"], r["status"]) for r in records)


# --- the tick's clock ------------------------------------------------------------------------------

@pytest.mark.parametrize("quiet_at", ["tick", "machine"])
def test_quiet_hours_are_those_of_the_ticks_instant_not_the_machines(shop, quiet_at):
    """The tick evaluates an instant 12 hours from the machine's clock. With quiet hours around the tick's
    instant, the marketing SMS is deferred although the machine's clock is outside them; with quiet hours
    around the machine's clock, it is sent, although the machine's clock is inside them."""
    now = utcnow().replace(microsecond=0)
    at = now + timedelta(hours=12)
    quiet = window_around(at if quiet_at == "tick" else now)
    assert shop.patch("/settings", {"send_hour": 0, "quiet_hours": quiet}).status == 200
    # The premise: one of the two instants is inside the window, the other outside.
    inside, outside = (at, now) if quiet_at == "tick" else (now, at)
    assert quiet_until(inside, "Australia/Sydney", quiet["start"], quiet["end"]) is not None
    assert quiet_until(outside, "Australia/Sydney", quiet["start"], quiet["end"]) is None
    phone = reachable(shop, "owl", f"--{at.astimezone(SYDNEY):%m-%d}")
    assert shop.patch("/automations/birthday", {"enabled": True, "channels": ["email", "sms"]}).status == 200

    summary = tick(at)

    records = history(shop, "owl")
    if quiet_at == "tick":
        assert final(records) == [("email", "sent"), ("sms", "deferred")]
        [deferred] = [r for r in records if r["channel"] == "sms"]
        assert deferred["reason"] == "quiet_hours"
        assert at < parse_instant(deferred["deferred_until"]) <= at + timedelta(hours=2)
        assert sms_to(phone) == [] and summary["deferred"] >= 1
        # The next tick after the window releases it, decided at that tick's instant too.
        later = parse_instant(deferred["deferred_until"]) + timedelta(minutes=5)
        assert tick(later)["released"] >= 1
        assert final(history(shop, "owl")) == [("email", "sent"), ("sms", "deferred"), ("sms", "sent")]
        assert len(sms_to(phone)) == 1
    else:
        assert final(records) == [("email", "sent"), ("sms", "sent")]
        assert len(sms_to(phone)) == 1


def test_the_cloud_dispatcher_keeps_the_real_clock():
    from chalicelib.events import wiring

    assert wiring.dispatcher().clock is utcnow
    with wiring.deciding_by(lambda: DEC18):
        assert wiring.dispatcher().clock() == DEC18
    assert wiring.dispatcher().clock is utcnow
    assert wiring.dispatcher(clock=lambda: DEC18).clock() == DEC18


# --- a handler that raises ---------------------------------------------------------------------------

def raising_once(real, *, after: bool = False):
    """`real`, except that its first call raises: before doing anything, or (`after`) once it has done
    its work, as an invocation that times out after its last write loses its answer."""
    calls = []

    def handler(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1 and not after:
            raise RuntimeError("injected before the batch")
        result = real(*args, **kwargs)
        if len(calls) == 1:
            raise RuntimeError("injected after the batch")
        return result
    handler.calls = calls
    return handler


def three_birthdays(shop) -> list[str]:
    ids = ["ann", "bea", "cyd"]
    for customer_id in ids:
        reachable(shop, customer_id, "1990-12-18")
    assert shop.patch("/automations/birthday", {"enabled": True, "channels": ["email"]}).status == 200
    return ids


@pytest.mark.parametrize("after", [False, True], ids=["before-its-work", "after-its-work"])
def test_a_dispatch_batch_that_raises_is_received_again_and_each_send_ends_once(shop, monkeypatch, capsys, after):
    ids = three_birthdays(shop)
    handler = raising_once(local_runner.dispatch.dispatch_records, after=after)
    monkeypatch.setattr(local_runner.dispatch, "dispatch_records", handler)

    summary = tick(DEC18)

    assert len(handler.calls) >= 2
    assert "the handler failed a batch" in capsys.readouterr().err
    for customer_id in ids:
        assert final(history(shop, customer_id)) == [("email", "sent")]
    if after:
        # The first answer was lost: its sends were recorded, and their messages came back as duplicates.
        assert summary["duplicates"] >= 3
    else:
        assert summary["sent"] >= 3


def test_an_evaluation_batch_that_raises_is_received_again(shop, monkeypatch):
    ids = three_birthdays(shop)
    handler = raising_once(local_runner.evaluate.evaluate_records)
    monkeypatch.setattr(local_runner.evaluate, "evaluate_records", handler)

    summary = tick(DEC18)

    assert len(handler.calls) >= 2 and summary["evaluated"] >= 1
    for customer_id in ids:
        assert final(history(shop, customer_id)) == [("email", "sent")]


def test_a_claim_left_by_a_failed_send_is_taken_over_when_its_message_comes_back(shop, monkeypatch):
    """A send that fails unexpectedly after its claim leaves the claim on its ledger row. In the cloud its
    message comes back after the 60-second visibility timeout, past the 45-second lease, and the claim is
    taken over; `tick` moves its clock on as far, so the same happens here."""
    ids = three_birthdays(shop)
    real = SesEmailSender.send
    failed = []

    def send(self, email):
        if not failed and email.to == "bea@tick.example":
            failed.append(email.to)
            raise RuntimeError("injected: the provider call failed unexpectedly")
        return real(self, email)
    monkeypatch.setattr(SesEmailSender, "send", send)

    summary = tick(DEC18)

    assert failed and summary["claims_taken_over"] >= 1
    for customer_id in ids:
        assert final(history(shop, customer_id)) == [("email", "sent")]


def test_a_customer_changes_batch_that_raises_is_read_again_and_fires_once(shop, monkeypatch, capsys):
    created = shop.post("/action-automations", {"type": "email_add", "enabled": True, "channels": ["email"]})
    assert created.status == 201
    assert shop.put("/customers/nova", {"first_name": "Nova", "email": "nova@tick.example",
                                        "consent": {"email": True}}).status == 200
    handler = raising_once(local_runner.customer_changes.handle_records)
    monkeypatch.setattr(local_runner.customer_changes, "handle_records", handler)

    summary = tick(DEC18)

    assert len(handler.calls) >= 2 and summary["actions_fired"] >= 1
    assert "customers stream: the handler failed the batch" in capsys.readouterr().err
    [record] = history(shop, "nova")
    assert (record["status"], record["automation_id"]) == ("sent", created.json["automation_id"])


def test_a_stream_batch_that_keeps_raising_is_bisected_down_to_the_record_skipped(owner, tenant):
    """A handler that raises whenever one record is in its batch: the records around it are handled once
    each, and that record alone is skipped after its attempts."""
    reported: list[str] = []
    reader = StreamReader.for_customers(MemoryCheckpoint(), start="LATEST", report=reported.append)
    for n in range(7):
        assert owner.put(f"/customers/p{n}", {"first_name": f"P{n}"}).status == 200
    handled: list[str] = []
    poison_calls = []

    def handle(records):
        mine = [r["dynamodb"]["Keys"]["customer_id"]["S"] for r in records
                if r["dynamodb"]["Keys"]["tenant_id"]["S"] == tenant]
        if "p3" in mine:
            poison_calls.append(len(records))
            raise RuntimeError("injected: p3 cannot be handled")
        handled.extend(mine)
        return StreamResult()

    reader.drain(handle)

    assert handled == ["p0", "p1", "p2", "p4", "p5", "p6"]
    # Halved until p3 is alone (7 records, 4, 2), then p3 alone until its attempts are spent.
    assert poison_calls == [7, 4, 2] + [1] * reader.max_attempts
    assert any(f"failed {reader.max_attempts} times and was skipped" in line for line in reported)


# --- campaigns ------------------------------------------------------------------------------------

def test_a_tick_at_or_after_a_scheduled_campaigns_instant_starts_it_sends_it_and_marks_it_sent(shop):
    """`tick --at` runs the same one-minute planner as the cloud: before the instant nothing starts; at the
    first tick after it, the members' messages go out and the campaign is sent; a second tick sends nothing."""
    now = utcnow().replace(microsecond=0)
    assert shop.patch("/settings", {"quiet_hours": window_around(now + timedelta(hours=8))}).status == 200
    for customer_id in ("ivy", "jo"):
        reachable(shop, customer_id, "1990-01-01")
        assert shop.patch(f"/customers/{customer_id}", {"tags": ["VIP"]}).status == 200
    cid = shop.post("/campaigns", {"name": "Winter preview", "segment_id": "vip",
                                   "channels": ["email", "sms"]}).json["campaign_id"]
    at = now + timedelta(minutes=3)
    assert shop.post(f"/campaigns/{cid}/schedule", {"at": at.isoformat()}).status == 200

    tick(at - timedelta(minutes=1))
    assert shop.get(f"/campaigns/{cid}").json["status"] == "scheduled"
    summary = tick(at + timedelta(seconds=20))
    assert summary["campaigns_started"] >= 1 and summary["campaigns_finished"] >= 1 and summary["sent"] >= 4
    progress = shop.get(f"/campaigns/{cid}").json
    assert {k: progress[k] for k in ("status", "members", "queued", "sent")} == {
        "status": "sent", "members": 2, "queued": 4, "sent": 4}
    tick(at + timedelta(minutes=2))
    assert [r["source"] for r in history(shop, "ivy")] == ["campaign", "campaign"]

"""The runner end to end in process: evaluation, queue, dispatcher, ledger, records, stats; and the
fault tests (duplicated deliveries, double evaluations, crashes, throttling, rejections,
malformed messages, missed days)."""
from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime, timedelta

import pytest

from chalicelib.adapters.models import SendLedger, ledger_key
from tests.integration.conftest import history
from tests.integration.runner_kit import (
    Crash,
    Runner,
    crash,
    once,
    reject,
    throttle_every_other,
)

#: 11:00 in Sydney (AEDT) on Dec 18: after the default send hour, on Christmas's date.
DEC18 = datetime.fromisoformat("2026-12-18T00:00:00+00:00")


def customer(owner, customer_id: str, **fields) -> None:
    body = {"first_name": customer_id.title(), "created_at": "2025-01-01T00:00:00Z", **fields}
    assert owner.put(f"/customers/{customer_id}", body).status == 200


def reachable(owner, customer_id: str, **fields) -> None:
    """A customer with an email and a phone who consents to both. The phone comes from a stable digest of
    the id: Python's `hash` changes with every run, and three digits of it made two customers of fifteen
    share a number about one run in ten."""
    digits = int(hashlib.sha256(customer_id.encode()).hexdigest(), 16) % 10**8
    customer(owner, customer_id, email=f"{customer_id}@mail.example", phone=f"+614{digits:08d}",
             consent={"email": True, "sms": True}, **fields)


def enable(owner, type_: str, **change) -> None:
    response = owner.patch(f"/automations/{type_}", {"enabled": True, **change})
    assert response.status == 200, response


@pytest.fixture
def runner(tenant) -> Runner:
    return Runner(tenant, DEC18)


def birthdays(shop, n: int, channels=("email", "sms")) -> list[str]:
    ids = [f"b{i}" for i in range(n)]
    for customer_id in ids:
        reachable(shop, customer_id, birthday="1990-12-18")
    enable(shop, "birthday", channels=list(channels))
    return ids


# --- the happy path -------------------------------------------------------------------------------

def test_each_due_customer_gets_one_message_per_channel_and_every_outcome_is_a_record(shop, runner):
    ids = birthdays(shop, 3)
    customer(shop, "nobody", birthday="1990-12-18")                      # no address at all
    customer(shop, "quiet", birthday="--12-18", email="quiet@mail.example", consent={"email": False})
    evaluations, delivery = runner.run(DEC18)

    assert [(e.type, e.dates, e.matched) for e in evaluations] == [("birthday", ("2026-12-18",), 5)]
    assert sorted(runner.email.to()) == sorted(f"{i}@mail.example" for i in ids)
    assert len(runner.sms.accepted) == 3 and all(m.sender_id == "OpalCo" for m in runner.sms.accepted)
    # "nobody" has no address on either channel; "quiet" has an email without consent and no phone.
    assert Counter((o.status, o.reason) for o in delivery.outcomes) == Counter({
        ("sent", None): 6, ("skipped", "missing_contact"): 3, ("skipped", "no_consent"): 1})
    ava = history(shop, "b0")
    assert {(r["channel"], r["status"]) for r in ava} == {("email", "sent"), ("sms", "sent")}
    mail = next(r for r in ava if r["channel"] == "email")
    assert mail["occurrence_key"] == "birthday:2026" and mail["provider_message_id"].startswith("ses-")
    assert mail["subject"].startswith("Happy birthday, B0") and mail["to"] == "b0@mail.example"
    assert mail["template_id"] == "system:birthday" and mail["source"] == "automation"
    assert sorted((r["channel"], r["reason"]) for r in history(shop, "quiet")) == [
        ("email", "no_consent"), ("sms", "missing_contact")]


def test_marketing_mail_links_to_a_working_one_click_unsubscribe(shop, runner, client_for, gateway):
    birthdays(shop, 1, channels=("email",))
    runner.run(DEC18)
    mail = runner.email.accepted[0]
    assert mail.unsubscribe_url.startswith("https://api.store.test/unsubscribe/")
    path = mail.unsubscribe_url[len("https://api.store.test"):]
    anonymous = client_for("anyone")
    anonymous.token = None
    from local.api import handle

    status, _, page = handle(gateway, "GET", path, {})
    assert status == 200 and b"Unsubscribe" in page
    assert shop.get("/customers/b0").json["consent"]["email"] is True  # a GET changes nothing
    status, _, page = handle(gateway, "POST", path, {"content-type": "application/x-www-form-urlencoded"},
                             b"List-Unsubscribe=One-Click")
    assert status == 200 and b"unsubscribed" in page
    record = shop.get("/customers/b0").json
    assert record["consent"] == {"email": False, "sms": True}
    assert record["consent_updated_by"] == "unsubscribe_link"
    status, _, _ = handle(gateway, "POST", path[:-3] + "abc", {"content-type": "text/plain"}, b"")
    assert status == 404


def test_transactional_messages_need_no_consent_and_carry_no_unsubscribe(shop, runner):
    customer(shop, "fixer", email="fixer@mail.example")
    assert shop.put("/repairs/r1", {"customer_id": "fixer", "status": "ready", "description": "Ring resize",
                                    "ready_at": "2026-12-15T09:00:00+11:00"}).status == 200
    enable(shop, "repair_ready_reminder")
    runner.run(DEC18)
    [mail] = runner.email.accepted
    assert mail.unsubscribe_url is None and "Ring resize" in mail.text and "r1" in mail.text


# --- exactly once -----------------------------------------------------------------------------------

def test_every_message_delivered_three_times_is_sent_once(shop, runner):
    ids = birthdays(shop, 12)
    _, delivery = runner.run(DEC18, copies=3)
    assert runner.email.to() == Counter({f"{i}@mail.example": 1 for i in ids})
    assert len(runner.sms.accepted) == 12
    assert delivery.count("sent") == 24 and delivery.count("duplicate") == 48
    assert all(len([r for r in history(shop, i) if r["status"] == "sent"]) == 2 for i in ids)


def test_evaluating_one_instant_twice_queues_and_sends_nothing_more(shop, runner):
    birthdays(shop, 4)
    runner.run(DEC18)
    again, delivery = runner.run(DEC18)
    assert again == [] and delivery.outcomes == []          # the date is processed: not even planned
    assert len(runner.email.accepted) == 4
    # Two evaluations at once (both before either records progress) queue twice; one send each.
    from chalicelib.adapters.models import RunState

    RunState.get(runner.tenant_id, "birthday").delete()
    runner.evaluate(DEC18)
    runner.evaluate(DEC18 + timedelta(minutes=1))
    assert runner.queue.messages == []   # the ledger holds every send already: nothing is queued


def test_two_evaluations_racing_before_dispatch_still_send_once(shop, runner):
    birthdays(shop, 5)
    from chalicelib.adapters.models import RunState

    runner.evaluate(DEC18)
    RunState.get(runner.tenant_id, "birthday").delete()   # as if the second ran before the first saved
    runner.evaluate(DEC18)
    assert len(runner.queue.sends) == 20 and len(runner.queue.messages) == 2   # 10 sends to a message
    delivery = runner.deliver()
    assert len(runner.email.accepted) == 5 and len(runner.sms.accepted) == 5
    assert delivery.count("sent") == 10 and delivery.count("duplicate") == 10


def test_a_pack_whose_one_send_fails_comes_back_whole_and_its_other_sends_are_not_sent_again(shop, runner):
    """Five customers' sends travel in one message. The first send meets an unexpected error (its claim
    stays): the message comes back whole after the visibility timeout; its four finished sends are
    acknowledged as duplicates and the first takes its expired claim over. One delivery and one record each."""
    ids = birthdays(shop, 5, channels=("email",))
    runner.evaluate(DEC18)
    assert len(runner.queue.messages) == 1 and len(runner.queue.sends) == 5

    def boom(_message) -> None:
        raise RuntimeError("the provider library broke")
    runner.email.before = once(boom)
    delivery = runner.deliver()
    assert delivery.receives == 2 and not delivery.dead_letters
    assert delivery.count("error") == 1 and delivery.count("sent") == 5 and delivery.count("duplicate") == 4
    assert delivery.took_over == 1
    assert runner.email.to() == Counter({f"{i}@mail.example": 1 for i in ids})
    assert all([r["status"] for r in history(shop, i)] == ["sent"] for i in ids)


def test_a_crash_between_claim_and_provider_call_sends_once_after_the_lease(shop, runner):
    birthdays(shop, 3, channels=("email",))
    runner.email.before = once(crash)
    _, delivery = runner.run(DEC18)
    assert delivery.crashes == 1 and delivery.took_over == 1
    assert runner.email.to() == Counter({"b0@mail.example": 1, "b1@mail.example": 1, "b2@mail.example": 1})
    assert delivery.count("sent") == 3


def test_a_crash_after_the_provider_accepted_is_the_one_window_and_is_counted(shop, runner):
    """The documented window: the provider accepted, the dispatcher died before recording it. The
    takeover sends again (one duplicate delivered), but there is still exactly one `sent` record, and
    the takeover is counted."""
    birthdays(shop, 3, channels=("email",))
    runner.email.after = once(crash)
    _, delivery = runner.run(DEC18)
    assert delivery.crashes == 1 and delivery.took_over == 1
    assert sum(runner.email.to().values()) == 4 and max(runner.email.to().values()) == 2
    for i in range(3):
        assert [r["status"] for r in history(shop, f"b{i}")] == ["sent"]


def test_ses_throttling_half_the_calls_delays_sends_and_loses_none(shop, runner):
    ids = birthdays(shop, 10, channels=("email",))
    runner.email.before = throttle_every_other()
    _, delivery = runner.run(DEC18)
    assert runner.email.to() == Counter({f"{i}@mail.example": 1 for i in ids})
    assert delivery.count("sent") == 10 and delivery.count("retrying") >= 5 and not delivery.dead_letters
    assert all([r["status"] for r in history(shop, i)] == ["sent"] for i in ids)


def test_a_permanent_rejection_is_one_failed_record_not_a_loop(shop, runner):
    birthdays(shop, 2, channels=("email",))
    runner.email.before = reject
    _, delivery = runner.run(DEC18)
    assert delivery.count("failed") == 2 and delivery.count("retrying") == 0 and not delivery.dead_letters
    assert runner.email.calls == 2
    assert [(r["status"], r["reason"]) for r in history(shop, "b0")] == [("failed", "provider_error")]
    runner.deliver(copies=1)
    assert runner.email.calls == 2


def test_a_malformed_message_in_a_batch_of_ten_fails_alone_and_ends_in_the_dead_letter_queue(shop, runner):
    birthdays(shop, 9, channels=("email",))
    runner.evaluate(DEC18)
    assert len(runner.queue.sends) == 9 and len(runner.queue.messages) == 1
    delivery = runner.deliver(extra=['{"v": 1, "tenant_id": "x"}'])
    assert delivery.count("sent") == 9 and len(runner.email.accepted) == 9
    assert delivery.dead_letters == ['{"v": 1, "tenant_id": "x"}'] and delivery.count("malformed") == 5


def test_two_missed_days_are_caught_up_once_and_older_ones_never(shop, runner):
    for customer_id, day in (("d14", "12-14"), ("d15", "12-15"), ("d16", "12-16"), ("d17", "12-17"),
                             ("d18", "12-18")):
        reachable(shop, customer_id, birthday=f"1980-{day}")
    enable(shop, "birthday", channels=["email"])
    runner.run(DEC18 - timedelta(days=4))                 # evaluates Dec 14 and fixes the first date
    assert sorted(runner.email.to()) == ["d14@mail.example"]
    evaluations, _ = runner.run(DEC18)                     # Dec 15 is too old; 16 and 17 are caught up
    assert evaluations[0].dates == ("2026-12-16", "2026-12-17", "2026-12-18")
    assert sorted(runner.email.to()) == ["d14@mail.example", "d16@mail.example", "d17@mail.example",
                                         "d18@mail.example"]
    runner.run(DEC18 + timedelta(hours=1))
    assert sum(runner.email.to().values()) == 4


# --- the checks ------------------------------------------------------------------------------------

def test_each_failing_check_is_a_record_with_its_reason(shop, runner, tenant):
    from chalicelib.sending.stores import suppress

    reachable(shop, "ok", birthday="1990-12-18")
    reachable(shop, "gone", birthday="1990-12-18")
    reachable(shop, "moved", birthday="1990-12-18")
    reachable(shop, "bounced", birthday="1990-12-18")
    reachable(shop, "stopped", birthday="1990-12-18")
    customer(shop, "badphone", birthday="1990-12-18", email="bp@mail.example", consent={"email": True, "sms": True})
    enable(shop, "birthday", channels=["email", "sms"])
    runner.evaluate(DEC18)
    # Between evaluation and dispatch: a customer is deleted, a birthday changed, an address bounced,
    # a phone number replied STOP.
    assert shop.delete("/customers/gone").status == 204
    assert shop.patch("/customers/moved", {"birthday": "1990-12-19"}).status == 200
    suppress(tenant, "email", "BOUNCED@mail.example", "hard_bounce", DEC18)
    runner.sms.opted_out_numbers.add(shop.get("/customers/stopped").json["phone"])
    runner.deliver()
    reasons = {cid: sorted((r["channel"], r["status"], r.get("reason")) for r in history(shop, cid))
               for cid in ("ok", "moved", "bounced", "stopped", "badphone")}
    assert reasons["ok"] == [("email", "sent", None), ("sms", "sent", None)]
    assert reasons["moved"] == [("email", "skipped", "no_longer_eligible"), ("sms", "skipped", "no_longer_eligible")]
    assert reasons["bounced"] == [("email", "skipped", "suppressed"), ("sms", "sent", None)]
    assert reasons["stopped"] == [("email", "sent", None), ("sms", "skipped", "suppressed")]
    assert reasons["badphone"] == [("email", "sent", None), ("sms", "skipped", "missing_contact")]
    # The STOP is now on the tenant's list: the next send is suppressed without asking SNS.
    from chalicelib.sending.stores import is_suppressed

    assert is_suppressed(tenant, "sms", shop.get("/customers/stopped").json["phone"])


def test_switching_off_between_evaluation_and_dispatch_skips_as_disabled(shop, runner):
    birthdays(shop, 2, channels=("email",))
    runner.evaluate(DEC18)
    assert shop.patch("/automations/birthday", {"enabled": False}).status == 200
    delivery = runner.deliver()
    assert {(o.status, o.reason) for o in delivery.outcomes} == {("skipped", "automation_disabled")}
    assert runner.email.accepted == []


def test_a_moved_appointment_is_no_longer_eligible_and_its_new_time_is_reminded(shop, runner):
    customer(shop, "vi", email="vi@mail.example")
    assert shop.put("/appointments/a1", {"customer_id": "vi", "starts_at": "2026-12-19T10:00:00+11:00"}).status == 200
    enable(shop, "appointment_24h")
    runner.evaluate(DEC18)
    assert shop.patch("/appointments/a1", {"starts_at": "2026-12-19T12:00:00+11:00"}).status == 200
    runner.deliver()
    assert runner.email.accepted == []
    runner.run(DEC18 + timedelta(minutes=15))
    assert runner.email.accepted == []                  # 12:00 is not 24 hours away yet
    runner.run(DEC18 + timedelta(hours=1, minutes=15))
    [mail] = runner.email.accepted
    assert "12:00 pm" in mail.text and "Saturday 19 December" in mail.text
    assert [(r["status"], r.get("reason")) for r in history(shop, "vi")] == [("sent", None),
                                                                         ("skipped", "no_longer_eligible")]
    # Every later evaluation in the window finds the reminder in the ledger and queues nothing.
    for minutes in (90, 105, 120, 600):
        runner.evaluate(DEC18 + timedelta(minutes=minutes))
        assert runner.queue.messages == []


def test_the_frequency_cap_counts_sends_on_any_channel(shop, runner):
    assert shop.patch("/settings", {"frequency_cap": {"max_messages": 1, "per_days": 7}}).status == 200
    reachable(shop, "fan", birthday="1990-12-18")
    enable(shop, "birthday", channels=["email", "sms"])
    _, delivery = runner.run(DEC18)
    assert sorted((o.status, o.reason) for o in delivery.outcomes) == [("sent", None),
                                                                       ("skipped", "frequency_capped")]


def test_a_batch_reads_what_its_checks_need_in_two_calls_and_each_send_writes_two_transactions(shop, runner, tenant):
    """AWS calls per sent message: one batch get for the batch's customers, ledger rows, marketing logs,
    settings and automation, one for its addresses' suppression entries; then per send the claim, the
    single-item `accepted` write and the outcome (a skipped send: the outcome); when the batch ends, one
    transaction that adds to its counters (sent, skipped as suppressed, skipped as capped) and marks the
    eight rows counted. The checks still see what was read."""
    from bench.emulator import metered
    from chalicelib.sending.stores import suppress

    assert shop.patch("/settings", {"frequency_cap": {"max_messages": 1, "per_days": 7}}).status == 200
    birthdays(shop, 4)                                                       # 8 sends: one batch
    suppress(tenant, "email", "B0@mail.example", "bounce", DEC18)
    runner.evaluate(DEC18)
    with metered() as meter:
        delivery = runner.deliver()

    assert sorted((o.send.customer_id, o.send.channel, o.status, o.reason) for o in delivery.outcomes) == [
        ("b0", "email", "skipped", "suppressed"), ("b0", "sms", "sent", None),
        *[(f"b{n}", channel, status, reason) for n in (1, 2, 3)
          for channel, status, reason in (("email", "sent", None), ("sms", "skipped", "frequency_capped"))]]
    dynamodb = {operation: n for (service, operation), n in meter.calls.items() if service == "dynamodb"}
    assert dynamodb == {"BatchGetItem": 2, "TransactWriteItems": 2 * 4 + 4 + 1, "UpdateItem": 4}


def test_a_template_that_fails_for_a_customer_is_a_failed_record(shop, runner):
    created = shop.post("/templates/system:birthday/duplicate", {"name": "Picky"}).json
    assert shop.patch(f"/templates/{created['template_id']}",
                      {"subject": "{{ customer.tags[0] }} birthday"}).status == 200
    reachable(shop, "untagged", birthday="1990-12-18")
    enable(shop, "birthday", channels=["email"], template_id=created["template_id"])
    runner.run(DEC18)
    [record] = history(shop, "untagged")
    assert (record["status"], record["reason"]) == ("failed", "template_error")
    assert runner.email.accepted == []


def test_a_marketing_sms_in_quiet_hours_is_deferred_then_sent_when_they_end(shop, runner):
    late = DEC18 + timedelta(hours=12)                         # 23:00 in Sydney
    assert shop.patch("/settings", {"send_hour": 23}).status == 200
    reachable(shop, "owl", birthday="1990-12-18")
    enable(shop, "birthday", channels=["email", "sms"])
    _, delivery = runner.run(late)
    assert sorted((o.send.channel, o.status) for o in delivery.outcomes) == [
        ("email", "sent"), ("sms", "deferred")]
    deferred = next(r for r in history(shop, "owl") if r["status"] == "deferred")
    assert (deferred["reason"], deferred["deferred_until"]) == ("quiet_hours", "2026-12-18T22:00:00Z")
    _, delivery = runner.run(late + timedelta(hours=5))         # 04:00: still quiet, nothing released
    assert delivery.outcomes == [] and runner.sms.accepted == []
    _, delivery = runner.run(datetime.fromisoformat("2026-12-18T22:05:00+00:00"))   # 09:05
    assert [(o.send.channel, o.status) for o in delivery.outcomes] == [("sms", "sent")]
    assert len(runner.sms.accepted) == 1
    statuses = sorted((r["channel"], r["status"]) for r in history(shop, "owl"))
    assert statuses == [("email", "sent"), ("sms", "deferred"), ("sms", "sent")]
    row = SendLedger.get(ledger_key(runner.tenant_id, "owl", "birthday", "birthday:2026", "sms"))
    assert row.status == "sent" and row.deferred_shard is None   # off the deferred index once it moved on


# --- stats ------------------------------------------------------------------------------------------

def test_the_automations_list_shows_the_last_30_days_of_outcomes(shop, runner):
    birthdays(shop, 3, channels=("email",))
    customer(shop, "mute", birthday="1990-12-18")
    outcomes = ("sent", "skipped", "failed", "deferred")
    before = next(a for a in shop.get("/automations").json["automations"] if a["type"] == "birthday")["stats"]
    days = before.pop("daily")
    before = {k: before[k] for k in outcomes}
    assert before == {"sent": 0, "skipped": {}, "failed": 0, "deferred": 0}
    assert len(days) == 30 and all(d["sent"] == d["skipped"] == d["failed"] == 0 for d in days)
    runner.run(DEC18)
    listed = {a["type"]: a["stats"] for a in shop.get("/automations").json["automations"]}
    listed = {type_: {k: stats[k] for k in outcomes} for type_, stats in listed.items()}
    assert listed["birthday"] == {"sent": 3, "skipped": {"missing_contact": 1}, "failed": 0, "deferred": 0}
    assert listed["christmas"] == before
    single = shop.get("/automations/birthday").json["stats"]
    assert {k: single[k] for k in outcomes} == listed["birthday"]


def test_crash_guard_is_not_swallowed():
    assert issubclass(Crash, BaseException) and not issubclass(Crash, Exception)


def test_consent_changes_say_when_and_by_whom(shop):
    customer(shop, "cc", email="cc@mail.example", consent={"email": True})
    first = shop.get("/customers/cc").json
    assert first["consent_updated_by"].endswith(":owner")
    assert shop.patch("/customers/cc", {"first_name": "Cee"}).json.get("consent_updated_at") == \
        first["consent_updated_at"]                                          # other fields: unchanged
    assert shop.put("/customers/cc", {"first_name": "Cee", "email": "cc@mail.example",
                                      "consent": {"email": True}}).json["consent_updated_at"] == \
        first["consent_updated_at"]                                          # same consent again: unchanged
    customer(shop, "none")
    assert "consent_updated_at" not in shop.get("/customers/none").json

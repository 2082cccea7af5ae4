"""Action-taken automations end to end in process (docs/behaviour.md section 4): customer writes through the API, the
emulator's real customers stream, the consumer, the send queue (an in-memory fake of our port), the
dispatcher and its records."""
from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from chalicelib.adapters.models import ActionFiring, tenant_customer
from chalicelib.rules.auth import Principal
from chalicelib.runner import customer_changes
from tests.integration.conftest import history
from tests.integration.runner_kit import Runner

#: 11:00 in Sydney (AEDT): outside quiet hours.
MORNING = datetime.fromisoformat("2026-12-01T00:00:00+00:00")
REACHABLE = {"email": "ada@mail.example", "phone": "+61400000123", "consent": {"email": True, "sms": True}}


@pytest.fixture
def runner(tenant) -> Runner:
    return Runner(tenant, MORNING)


def action(shop, type_: str, **fields) -> str:
    response = shop.post("/action-automations", {"type": type_, "enabled": True, **fields})
    assert response.status == 201, response
    return response.json["automation_id"]


def step(shop, runner: Runner, customer_id: str, change: dict, *, method: str = "patch") -> list:
    """Write a customer, let the stream consumer and the dispatcher do their work; the sent outcomes."""
    response = getattr(shop, method)(f"/customers/{customer_id}", change)
    assert response.status == 200, response
    runner.changes()
    return [o for o in runner.deliver().outcomes if o.status == "sent"]


def fired(outcomes) -> list[tuple[str, str]]:
    return sorted((o.send.automation_type, o.send.channel) for o in outcomes)


# --- each type, exactly once on its transition ------------------------------------------------------

def test_each_type_fires_exactly_once_on_its_transition_and_never_again_after_remove_and_re_add(shop, runner):
    ids = {t: action(shop, t) for t in ("birthday_add", "email_add", "interest_add", "app_download")}
    reward = action(shop, "reward_available", points_threshold=100)
    # A new customer with an email: the old image counts as empty.
    assert fired(step(shop, runner, "ada", {"first_name": "Ada", **REACHABLE}, method="put")) == [
        ("email_add", "email")]
    assert fired(step(shop, runner, "ada", {"birthday": "1990-05-01"})) == [("birthday_add", "email")]
    assert fired(step(shop, runner, "ada", {"interests": ["pearls"]})) == [("interest_add", "email")]
    assert fired(step(shop, runner, "ada", {"app_installed_at": "2026-11-30T09:00:00Z"})) == [
        ("app_download", "email")]
    assert fired(step(shop, runner, "ada", {"points_balance": 150})) == [("reward_available", "email")]
    # Changes that are no transition fire nothing.
    assert step(shop, runner, "ada", {"birthday": "1990-05-02", "email": "ada@new.example",
                                      "interests": ["watches"], "points_balance": 400}) == []
    # Removed and added again: once ever.
    assert step(shop, runner, "ada", {"birthday": None, "email": None, "interests": [], "app_installed_at": None}) == []
    assert step(shop, runner, "ada", {"birthday": "--05-01", "email": "ada@mail.example", "interests": ["gold"],
                                      "app_installed_at": "2026-12-01T00:00:00Z"}) == []
    mail = next(r for r in history(shop, "ada") if r["automation_type"] == "birthday_add")
    assert (mail["occurrence_key"], mail["to"]) == ("birthday_add", "ada@mail.example")
    assert mail["subject"] == "Thank you for sharing your birthday"
    # Even deleted (erased) and created again.
    assert shop.delete("/customers/ada").status == 204
    assert step(shop, runner, "ada", {"first_name": "Ada", "birthday": "1990-05-01", **REACHABLE},
                method="put") == []

    records = [r for r in history(shop, "ada") if r["status"] == "sent"]
    assert Counter(r["automation_id"] for r in records) == Counter({**{i: 1 for i in ids.values()}, reward: 1})
    assert {r["source"] for r in records} == {"action_automation"}
    assert all("to" not in r and "subject" not in r for r in records)   # the erasure kept what was sent, not to whom
    assert len(runner.email.accepted) == 5


def test_a_reward_fires_again_only_after_the_points_fell_below_its_threshold(shop, runner):
    gold = action(shop, "reward_available", points_threshold=500, channels=["email", "sms"],
                  offer_text="$50 off your next piece")
    shop.put("/customers/ada", {"first_name": "Ada", "points_balance": 100, **REACHABLE})
    runner.changes()
    assert fired(step(shop, runner, "ada", {"points_balance": 500})) == [
        ("reward_available", "email"), ("reward_available", "sms")]
    assert step(shop, runner, "ada", {"points_balance": 900}) == []      # still above: not re-armed
    assert step(shop, runner, "ada", {"points_balance": 499}) == []      # fell below: re-armed
    assert len(step(shop, runner, "ada", {"points_balance": 520})) == 2  # crossed again
    sent = [r for r in history(shop, "ada") if r["status"] == "sent"]
    assert len(sent) == 4 and {r["automation_id"] for r in sent} == {gold}
    assert len({r["occurrence_key"] for r in sent}) == 2
    assert all(r["occurrence_key"].startswith("reward:500@") for r in sent)
    assert "$50 off your next piece" in runner.email.accepted[0].text


def test_several_thresholds_crossed_by_one_update_all_fire(shop, runner):
    silver = action(shop, "reward_available", points_threshold=100)
    gold = action(shop, "reward_available", points_threshold=500)
    platinum = action(shop, "reward_available", points_threshold=5000)
    shop.put("/customers/ada", {"first_name": "Ada", **REACHABLE})
    runner.changes()
    outcomes = step(shop, runner, "ada", {"points_balance": 800})
    assert sorted(o.send.automation_id for o in outcomes) == sorted([silver, gold])
    assert platinum not in {o.send.automation_id for o in outcomes}


# --- priorities and audiences ------------------------------------------------------------------------

def test_one_event_fires_the_highest_priority_automation_whose_audience_matches(shop, runner):
    everyone = action(shop, "birthday_add", name="Everyone")
    action(shop, "birthday_add", name="Everyone, created later")
    vip = action(shop, "birthday_add", name="VIP", priority=10, audience={"tags_any": ["vip"]})
    rich = action(shop, "birthday_add", name="Rich", priority=5, audience={"min_points": 1000})
    pearls = action(shop, "birthday_add", name="Pearls", priority=20, audience={"interests_any": ["pearls"]},
                    channels=["sms"])
    action(shop, "birthday_add", name="Off", priority=99, enabled=False)
    people = {
        "plain": {},
        "vip": {"tags": ["vip", "regular"], "points_balance": 5000},
        "rich": {"points_balance": 1000},
        "pearl": {"interests": ["pearls"], "tags": ["vip"]},
    }
    for customer_id, fields in people.items():
        shop.put(f"/customers/{customer_id}", {"first_name": customer_id, **fields, **REACHABLE})
    runner.changes()
    runner.deliver()
    for customer_id in people:
        shop.patch(f"/customers/{customer_id}", {"birthday": "1990-05-01"})
    runner.changes()
    delivery = runner.deliver()
    chosen = {o.send.customer_id: o.send.automation_id for o in delivery.outcomes if o.status == "sent"}
    assert chosen == {"plain": everyone, "vip": vip, "rich": rich, "pearl": pearls}
    assert len(delivery.outcomes) == 4   # one automation per event, even where several match


def test_a_reward_honours_its_audience_and_each_fires_on_its_own(shop, runner):
    vip_reward = action(shop, "reward_available", points_threshold=100, audience={"tags_any": ["vip"]})
    all_reward = action(shop, "reward_available", points_threshold=100)
    for customer_id, tags in (("vip", ["vip"]), ("plain", [])):
        shop.put(f"/customers/{customer_id}", {"first_name": customer_id, "tags": tags, **REACHABLE})
    runner.changes()
    for customer_id in ("vip", "plain"):
        shop.patch(f"/customers/{customer_id}", {"points_balance": 150})
    runner.changes()
    sent = Counter((o.send.customer_id, o.send.automation_id) for o in runner.deliver().outcomes
                   if o.status == "sent")
    assert sent == Counter({("vip", vip_reward): 1, ("vip", all_reward): 1, ("plain", all_reward): 1})


# --- the dispatcher's rules apply alike ---------------------------------------------------------------

def test_an_sms_at_23_00_local_is_deferred_to_the_end_of_quiet_hours(shop, runner):
    late = datetime.fromisoformat("2026-12-01T12:00:00+00:00")          # 23:00 in Sydney
    runner.clock.now = late
    action(shop, "birthday_add", channels=["email", "sms"])
    shop.put("/customers/owl", {"first_name": "Owl", **REACHABLE})
    runner.changes()
    runner.deliver()
    shop.patch("/customers/owl", {"birthday": "1990-05-01"})
    runner.changes()
    delivery = runner.deliver()
    assert sorted((o.send.channel, o.status) for o in delivery.outcomes) == [("email", "sent"), ("sms", "deferred")]
    deferred = next(r for r in history(shop, "owl") if r["status"] == "deferred")
    assert (deferred["reason"], deferred["deferred_until"]) == ("quiet_hours", "2026-12-01T22:00:00Z")  # 09:00
    # Released by the next evaluation after 09:00, checked again, and sent.
    runner.evaluate(datetime.fromisoformat("2026-12-01T22:05:00+00:00"), types=["birthday"])
    delivery = runner.deliver()
    assert [(o.send.channel, o.status) for o in delivery.outcomes] == [("sms", "sent")]
    assert len(runner.sms.accepted) == 1 and runner.sms.accepted[0].to == REACHABLE["phone"]


def test_consent_and_a_switched_off_automation_are_checked_at_dispatch(shop, runner):
    welcome = action(shop, "email_add", channels=["email", "sms"])
    shop.put("/customers/ada", {"first_name": "Ada", "phone": "+61400000999", "consent": {"sms": False}})
    runner.changes()
    shop.patch("/customers/ada", {"email": "ada@mail.example"})
    runner.changes()
    shop.patch(f"/action-automations/{welcome}", {"channels": ["email"]})
    outcomes = runner.deliver().outcomes
    assert sorted((o.send.channel, o.status, o.reason) for o in outcomes) == [
        ("email", "skipped", "no_consent"), ("sms", "skipped", "automation_disabled")]
    stats = shop.get(f"/action-automations/{welcome}").json["stats"]
    assert stats["skipped"] == {"no_consent": 1, "automation_disabled": 1}


# --- duplicates, imports ----------------------------------------------------------------------------

def test_a_stream_record_delivered_twice_is_one_send(shop, runner):
    action(shop, "birthday_add", channels=["email", "sms"])
    action(shop, "reward_available", points_threshold=100)
    shop.put("/customers/ada", {"first_name": "Ada", **REACHABLE})
    runner.changes()
    runner.deliver()
    shop.patch("/customers/ada", {"birthday": "1990-05-01", "points_balance": 200})
    results = runner.changes(copies=2)          # the same batch handed over twice, as a retry does
    assert [len(r.fired) for r in results] == [2, 2]
    delivery = runner.deliver(copies=2)         # and every queued message delivered twice
    assert Counter((o.send.automation_type, o.send.channel) for o in delivery.outcomes if o.status == "sent") == \
        Counter({("birthday_add", "email"): 1, ("birthday_add", "sms"): 1, ("reward_available", "email"): 1})
    assert len(runner.email.accepted) == 2 and len(runner.sms.accepted) == 1
    assert {o.status for o in delivery.outcomes} == {"sent", "duplicate"}


def test_an_import_of_1000_customers_fires_nothing(shop, runner, tenant):
    from chalicelib.services import customers as records

    for type_ in ("birthday_add", "email_add", "interest_add", "app_download"):
        action(shop, type_)
    action(shop, "reward_available", points_threshold=1)
    importer = Principal(tenant, "integration", "importer")
    for n in range(1000):
        records.put_customer(importer, f"imp{n:04d}", {
            "first_name": f"Imported {n}", "email": f"imp{n}@mail.example", "birthday": "1990-05-01",
            "interests": ["pearls"], "app_installed_at": "2026-01-01T00:00:00Z", "points_balance": 50,
            "consent": {"email": True}, "source": "import"}, MORNING)
    results = runner.changes()
    assert sum(r.changes for r in results) == 1000
    assert sum(len(r.fired) for r in results) == 0 and runner.queue.messages == []
    assert list(ActionFiring.query(tenant_customer(tenant, "imp0000"))) == []
    # The import used up nothing: a later change of the customer's own fires as usual, and an import
    # write that updates points fires nothing either.
    assert step(shop, runner, "imp0001", {"points_balance": 0, "source": "import"}) == []
    assert fired(step(shop, runner, "imp0001", {"points_balance": 10})) == [("reward_available", "email")]


# --- faults -------------------------------------------------------------------------------------------

def test_a_failing_record_is_reported_and_the_records_before_it_are_not_redone(shop, runner, monkeypatch):
    action(shop, "email_add")
    for customer_id in ("one", "two", "three"):
        shop.put(f"/customers/{customer_id}", {"first_name": customer_id, "email": f"{customer_id}@mail.example",
                                               "consent": {"email": True}})
    records = []
    runner.stream.drain(lambda batch: records.extend(
        r for r in batch if r["dynamodb"]["Keys"]["tenant_id"]["S"] == runner.tenant_id) or
        customer_changes.StreamResult())
    assert len(records) == 3
    real = customer_changes.sends_for

    def broken(change, automations, now):
        if change.customer_id == "two":
            raise RuntimeError("a fault")
        return real(change, automations, now)
    monkeypatch.setattr(customer_changes, "sends_for", broken)
    result = customer_changes.handle(records, runner.queue, runner.clock())
    assert result.response() == {"batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}
    assert [o.send.customer_id for o in runner.deliver().outcomes] == ["one"]   # queued before reporting
    monkeypatch.setattr(customer_changes, "sends_for", real)
    # Lambda retries from the failed record on.
    retry = customer_changes.handle(records[1:], runner.queue, runner.clock())
    assert retry.failures == [] and sorted(o.send.customer_id for o in runner.deliver().outcomes) == ["three", "two"]


def test_a_record_that_keeps_failing_is_skipped_after_its_retries_and_the_rest_go_on(shop, runner):
    from local.runner import MemoryCheckpoint, StreamReader

    action(shop, "email_add")
    reader = StreamReader.for_customers(MemoryCheckpoint(), start="LATEST", max_attempts=3)
    for customer_id in ("one", "poison", "three"):
        shop.put(f"/customers/{customer_id}", {"first_name": customer_id, "email": f"{customer_id}@mail.example",
                                               "consent": {"email": True}})
    attempts = Counter()

    def handle(batch):
        mine = [r for r in batch if r["dynamodb"]["Keys"]["tenant_id"]["S"] == runner.tenant_id]
        for record in mine:
            attempts[record["dynamodb"]["Keys"]["customer_id"]["S"]] += 1
            if record["dynamodb"]["Keys"]["customer_id"]["S"] == "poison":
                broken = {**record, "dynamodb": {**record["dynamodb"], "NewImage": {"nonsense": {"S": "x"}}}}
                broken["dynamodb"].pop("Keys")
                mine[mine.index(record)] = broken
        return customer_changes.handle(mine, runner.queue, runner.clock())
    reports = []
    reader.report = reports.append
    reader.drain(handle)
    # Each retry starts at the failing record: the one before it is handed over once.
    assert (attempts["one"], attempts["poison"]) == (1, 3)
    assert len(reports) == 1 and "failed 3 times" in reports[0]
    assert sorted(o.send.customer_id for o in runner.deliver().outcomes) == ["one", "three"]

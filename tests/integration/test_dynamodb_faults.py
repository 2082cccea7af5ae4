"""Exactly once on DynamoDB's real failure modes: cancelled transactions and throttling past the SDK's
retries, injected into the real adapters, never lose a send's record or send it twice."""
from __future__ import annotations

from collections import Counter

import pytest

from chalicelib.adapters.models import (
    AutomationStats,
    Communication,
    SendLedger,
    ledger_key,
    tenant_customer,
)
from chalicelib.sending import ledger
from tests.integration.dynamodb_faults import (
    CONFLICT,
    THROTTLED,
    dynamodb_faults,
    every,
    first,
    is_claim,
    is_count,
    is_outcome,
)
from tests.integration.runner_kit import Crash, Runner
from tests.integration.test_runner import DEC18, birthdays


@pytest.fixture
def runner(tenant) -> Runner:
    return Runner(tenant, DEC18)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    waits = []
    monkeypatch.setattr(ledger, "sleep", waits.append)
    return waits


def records_of(tenant: str, ids: list[str]) -> Counter:
    """(customer, channel, status) -> how many records."""
    found: Counter = Counter()
    for customer_id in ids:
        for record in Communication.query(tenant_customer(tenant, customer_id)):
            found[(record.customer_id, record.channel, record.status)] += 1
    return found


def assert_exactly_once(runner, tenant: str, ids: list[str]) -> None:
    delivered = runner.email.to() + runner.sms.to()
    assert sum(delivered.values()) == 2 * len(ids) and max(delivered.values()) == 1, delivered
    found = records_of(tenant, ids)
    assert found == Counter({(c, channel, "sent"): 1 for c in ids for channel in ("email", "sms")}), found
    rows = [SendLedger.get(ledger_key(tenant, c, "birthday", "birthday:2026", channel))
            for c in ids for channel in ("email", "sms")]
    assert {row.status for row in rows} == {"sent"}, "no send is left claimed or accepted"
    assert counted(tenant) == {"sent": 2 * len(ids)}, "every outcome is counted once"
    assert {row.counted for row in rows} == {"sent"}


def counted(tenant: str) -> dict[str, int]:
    """The tenant's outcome counters, summed over their shards and days: outcome -> count."""
    totals: Counter = Counter()
    for row in AutomationStats.query(tenant):
        totals[row.stat_key.split("#")[2]] += int(row.count)
    return {outcome: n for outcome, n in totals.items() if n}


def test_every_second_outcome_transaction_cancelled_by_a_conflict_is_retried_and_recorded_once(shop, runner, tenant,
                                                                                             no_waiting):
    ids = birthdays(shop, 6)
    runner.evaluate(DEC18)
    with dynamodb_faults(every(2, is_outcome, CONFLICT)) as injected:
        delivery = runner.deliver()
    assert injected.faults[("TransactWriteItems", CONFLICT)] >= 6
    assert delivery.dead_letters == [] and delivery.count("sent") == 12
    assert_exactly_once(runner, tenant, ids)
    assert no_waiting, "a conflict is retried after a pause"


def test_an_outcome_that_stays_contended_is_recorded_by_the_next_delivery_without_sending_again(shop, runner, tenant):
    """The provider accepted, then the outcome transaction was cancelled on every try: the row says
    `accepted`, the message comes back, and that delivery writes the record and sends nothing."""
    ids = birthdays(shop, 2)
    runner.evaluate(DEC18)
    with dynamodb_faults(first(ledger.WRITE_ATTEMPTS * 4, is_outcome, CONFLICT)):
        delivery = runner.deliver()
    assert delivery.dead_letters == []
    assert runner.email.calls + runner.sms.calls == 4          # one provider call per send, no more
    assert_exactly_once(runner, tenant, ids)


def test_claims_and_counters_throttled_past_the_sdks_retries_lose_and_double_nothing(shop, runner, tenant):
    ids = birthdays(shop, 5)
    runner.evaluate(DEC18)
    throttled_updates = every(3, lambda op, _: op == "UpdateItem", THROTTLED)
    with dynamodb_faults(every(2, is_claim, CONFLICT), throttled_updates) as injected:
        delivery = runner.deliver()
    assert injected.faults[("UpdateItem", THROTTLED)] > 0 and injected.faults[("TransactWriteItems", CONFLICT)] > 0
    assert delivery.dead_letters == []
    assert_exactly_once(runner, tenant, ids)


def test_batch_reads_throttled_past_the_sdks_retries_are_asked_again_and_each_send_goes_once(shop, runner, tenant):
    ids = birthdays(shop, 3)
    runner.evaluate(DEC18)
    with dynamodb_faults(first(2, lambda op, _: op == "BatchGetItem", THROTTLED)) as injected:
        delivery = runner.deliver()
    assert injected.faults[("BatchGetItem", THROTTLED)] == 2
    assert delivery.errors == 0 and delivery.dead_letters == []    # asked again in the invocation, after a pause
    assert_exactly_once(runner, tenant, ids)


def test_a_crash_after_the_provider_accepted_and_after_the_accepted_write_never_sends_twice(shop, runner, tenant):
    """A Lambda killed between the `accepted` write and the outcome: the message returns after its
    visibility timeout, the claim has expired, and the row says what to record."""
    ids = birthdays(shop, 3)
    runner.evaluate(DEC18)
    outcomes = iter(range(10**6))

    def die_before_outcome(operation: str, params: dict) -> None:
        if is_outcome(operation, params) and next(outcomes) in (1, 4):     # two invocations die
            raise Crash()
        return None

    with dynamodb_faults(die_before_outcome):
        delivery = runner.deliver()
    assert delivery.crashes > 0 and delivery.dead_letters == []
    assert runner.email.calls + runner.sms.calls == 6
    assert_exactly_once(runner, tenant, ids)


def test_a_batch_sent_concurrently_under_conflicts_and_throttling_ends_with_one_record_per_send(shop, tenant):
    """Eight workers on a batch: one customer's sends in order in one worker, different customers at once."""
    runner = Runner(tenant, DEC18, workers=8)
    ids = birthdays(shop, 15)
    runner.evaluate(DEC18)
    throttled = every(4, lambda op, _: op == "UpdateItem", THROTTLED)
    with dynamodb_faults(every(3, is_outcome, CONFLICT), every(3, is_claim, CONFLICT), throttled):
        delivery = runner.deliver()
    assert delivery.dead_letters == []
    assert runner.email.calls + runner.sms.calls == 30
    assert_exactly_once(runner, tenant, ids)


def test_sends_an_invocation_had_no_time_for_go_back_as_new_messages_and_never_reach_the_dead_letters(shop, tenant):
    """Every invocation runs out of time after 2 sends: the rest go back as new messages (their receive
    counts start again), so however often it happens, each send ends once and none is dead-lettered."""
    runner = Runner(tenant, DEC18)
    ids = birthdays(shop, 8)
    runner.evaluate(DEC18)

    def two_sends_of_time():
        asked = iter(range(10**6))
        return lambda: 60.0 if next(asked) < 2 else 1.0

    runner.time_left = two_sends_of_time
    delivery = runner.deliver()
    assert delivery.dead_letters == [] and delivery.count("unstarted") > 0
    assert_exactly_once(runner, tenant, ids)


# --- counting every outcome once -----------------------------------------------------------------------

def test_an_invocation_that_dies_before_counting_leaves_its_outcomes_to_the_next_delivery_which_counts_them(
        shop, runner, tenant):
    """Killed after its records, before the counters: nothing is sent again, and the message's next delivery
    finds the sends ended and uncounted, and counts them; a campaign waiting for its counters never waits
    forever."""
    ids = birthdays(shop, 3)
    runner.evaluate(DEC18)
    counts = iter(range(10**6))

    def die_before_counting(operation: str, params: dict) -> None:
        if is_count(operation, params) and next(counts) in (0, 1):   # two invocations die
            raise Crash()
        return None

    with dynamodb_faults(die_before_counting):
        delivery = runner.deliver()
    assert delivery.crashes == 2 and delivery.dead_letters == []
    assert delivery.count("duplicate") > 0
    assert runner.email.calls + runner.sms.calls == 6
    assert_exactly_once(runner, tenant, ids)


def test_counting_contended_past_its_retries_sends_the_messages_back_to_be_counted_once(shop, runner, tenant):
    ids = birthdays(shop, 4)
    runner.evaluate(DEC18)
    with dynamodb_faults(first(ledger.WRITE_ATTEMPTS, is_count, CONFLICT)) as injected:
        delivery = runner.deliver()
    assert injected.faults[("TransactWriteItems", CONFLICT)] == ledger.WRITE_ATTEMPTS
    assert delivery.dead_letters == [] and delivery.count("duplicate") > 0
    assert_exactly_once(runner, tenant, ids)


def test_a_duplicate_delivery_of_counted_sends_counts_nothing_again(shop, runner, tenant):
    ids = birthdays(shop, 2)
    runner.evaluate(DEC18)
    bodies = [body for body, _ in runner.queue.messages]
    runner.deliver()
    assert counted(tenant) == {"sent": 4}
    again = runner.deliver(extra=bodies)           # SQS delivers the same messages once more
    assert again.count("duplicate") == 4
    assert_exactly_once(runner, tenant, ids)

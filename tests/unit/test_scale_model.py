"""The scale model of bench/scale.py (its pure part: no AWS, no emulator), so that it cannot silently break."""
from __future__ import annotations

import math

import pytest

from bench import scale
from bench.scale import Measured, Scenario, simulate

M = Measured()


@pytest.mark.parametrize("rate", [14, 100, 1000])
@pytest.mark.parametrize("mode", ["paged", "prequeued"])
def test_total_is_never_under_the_floor(rate, mode):
    for concurrency in (2, 10, 200):
        result = simulate(Scenario(20_000, rate, concurrency, mode), M)
        assert result.floor_seconds == pytest.approx(20_000 * M.channels / rate)
        assert result.total_seconds >= result.floor_seconds
        assert result.ratio >= 1.0


@pytest.mark.parametrize("mode", ["paged", "prequeued"])
def test_more_concurrency_is_never_slower(mode):
    totals = [simulate(Scenario(50_000, 1000, c, mode), M).total_seconds for c in (2, 5, 10, 20, 50, 100, 400)]
    assert all(later <= earlier for earlier, later in zip(totals, totals[1:]))


def test_enough_concurrency_meets_the_goal_when_sends_are_queued():
    for rate in (100, 1000):
        concurrency = scale.concurrency_needed(rate, M)
        result = simulate(Scenario(100_000, rate, concurrency, "prequeued"), M)
        assert result.ratio <= 1.1


def test_too_little_concurrency_is_bound_by_capacity_not_the_rate():
    result = simulate(Scenario(10_000, 1000, 2, "prequeued"), M)
    capacity = 2 * scale.invocation_sends(M) / scale.invocation_seconds(M)
    assert capacity < 1000
    assert result.total_seconds == pytest.approx(result.sends / capacity, rel=0.05)


def test_hottest_item_writes_scale_with_rate_over_shards():
    uniform = Measured(hottest_item_share=1 / scale.STAT_SHARDS)
    for rate in (100, 1000, 2000):
        result = simulate(Scenario(100_000, rate, 100, "prequeued"), uniform)
        assert result.peak_sends_per_second == pytest.approx(rate)
        assert result.hottest_item_writes_per_second == pytest.approx(rate / scale.STAT_SHARDS)
    # Sends that arrive slower than the rate (one send to a message: the chain queues 500 a second) write
    # slower too; packed, the chain keeps ahead of 1,000 a second.
    unpacked = Measured(hottest_item_share=1 / scale.STAT_SHARDS, sends_per_message=1)
    slow = simulate(Scenario(100_000, 1000, 100, "paged", batch=10), unpacked)
    assert slow.peak_sends_per_second == pytest.approx(scale.QUEUE_BATCH / scale.SQS_SEND_BATCH_SECONDS)
    assert slow.hottest_item_writes_per_second < 1000 / scale.STAT_SHARDS
    assert simulate(Scenario(100_000, 1000, 100, "paged"), uniform).peak_sends_per_second == pytest.approx(1000)
    # At 1,000 sends a second, 16 shards keep each counter far under DynamoDB's 1,000 writes/s per item.
    assert 1000 / scale.STAT_SHARDS < scale.DYNAMODB_ITEM_WRITES_PER_SECOND / 10


def test_invocations_are_one_per_batch():
    result = simulate(Scenario(1_000, 100, 10, "prequeued"), M)
    assert result.dispatch_invocations == math.ceil(1_000 * M.channels / (scale.SQS_BATCH * M.sends_per_message))


def test_the_paged_evaluation_is_a_chain_of_bounded_pages_that_queues_serially():
    from chalicelib.runner.evaluation import PAGE_SIZE

    ev = scale.evaluation_model(1_000_000, M)
    assert ev.pages == math.ceil(1_000_000 / PAGE_SIZE)
    assert ev.page_seconds < scale.LAMBDA_TIMEOUT_SECONDS          # every page fits its invocation
    assert ev.queued_by(ev.start_queueing) == 0
    assert ev.queued_by(ev.seconds + 1) == pytest.approx(1_000_000 * M.channels)
    assert ev.queued_by(ev.page_seconds) == pytest.approx(PAGE_SIZE * M.channels)
    # The chain's queueing rate bounds the whole send when it is below the SES rate (one send to a message).
    unpacked = Measured(sends_per_message=1)
    result = simulate(Scenario(100_000, 1000, 100, "paged", batch=10), unpacked)
    assert result.total_seconds >= scale.evaluation_model(100_000, unpacked).seconds
    assert result.ratio > 1.1
    # Ten sends to a message queue ten times as fast: the chain keeps ahead of 1,000 sends a second.
    assert scale.evaluation_model(100_000, M).enqueue_rate == pytest.approx(10 * result_rate(unpacked))
    packed = simulate(Scenario(1_000_000, 1000, scale.concurrency_needed(1000, M), "paged"), M)
    assert packed.ratio <= 1.1


def result_rate(m: Measured) -> float:
    return scale.evaluation_model(100_000, m).enqueue_rate


def test_a_customers_sends_run_in_one_thread():
    one_channel = Measured(channels=1)
    # A batch of one message of 10 sends. One channel: ten customers in eight threads, two rounds of one
    # send; two channels: five customers, one round of two sends in a row.
    assert scale.invocation_sends(M) == 10
    assert scale.invocation_seconds(M) == pytest.approx(
        scale.LAMBDA_INVOKE_OVERHEAD_SECONDS + scale.batch_read_seconds(M, 10) + 2 * scale.per_send_seconds(M))
    assert scale.invocation_seconds(one_channel) == pytest.approx(
        scale.LAMBDA_INVOKE_OVERHEAD_SECONDS + scale.batch_read_seconds(one_channel, 10)
        + 2 * scale.per_send_seconds(one_channel))
    assert scale.invocation_seconds(one_channel, workers=10) < scale.invocation_seconds(one_channel)
    # Ten messages of 10 sends: 50 customers of two sends in eight threads, seven rounds.
    assert scale.invocation_seconds(M, batch=10) == pytest.approx(
        scale.LAMBDA_INVOKE_OVERHEAD_SECONDS + scale.batch_read_seconds(M, 100) + 7 * 2 * scale.per_send_seconds(M))


def test_the_constants_follow_the_code():
    from chalicelib.sending import dispatcher, ledger

    assert scale.DISPATCH_WORKERS == dispatcher.WORKERS
    assert scale.STAT_SHARDS == ledger.STAT_SHARDS
    from chalicelib.adapters import resources

    assert scale.SQS_BATCH == resources.DISPATCH_BATCH_SIZE

"""Scale model of a Christmas send to 1,000,000 customers (email + SMS: 2,000,000 sends) at SES account
rates of 100/s and 1,000/s: total time against the floor N / rate, Lambda invocations and peak memory,
AWS calls per send, the most writes per second to one DynamoDB item, conflicts retried, duplicates, lost.

    .venv/bin/python -m bench.scale [--customers 1000000] [--sample 2000] [--fault-sample N] [--rates 100,1000]
                                    [--concurrency N] [--json] [--save FILE | --measured FILE]

No AWS account is reachable, so the figures are in two parts, and the table says which is which.

1. MEASURED, on the real code: the real evaluation and dispatcher (tests/integration/runner_kit.Runner) run a
   Christmas send for `--sample` customers (email + SMS) against in-process moto (`one_request_at_a_time()`
   before `mock_aws`, as tests/integration/conftest.py does), under `bench.emulator.metered()`. Recorded:
   AWS calls per send by operation (SES and SNS from the fake providers' calls; the send queue's
   `SendMessageBatch` from the batches the evaluation hands the queue, 10 bodies a call as `SqsQueue` sends
   them, since the runner kit's queue is in memory; a body packs up to `messages.PACK` sends, and the sends
   per message are measured), DynamoDB items written per send and which items more
   than one send writes (grouped by table and key, from each write's parameters), peak Python memory
   (tracemalloc) of one `evaluate` call and of one dispatch batch, the evaluation's own time per
   customer (wall time minus the time inside AWS calls), and duplicates and lost from the provider fakes and
   the communication records (as bench/faults.py counts them). A second run on a fresh store injects
   `TransactionConflict` into 1 in 20 `TransactWriteItems` at botocore (tests/integration/dynamodb_faults.py)
   and counts the conflicts seen, the ones retried to success, duplicates and lost.

2. MODELED, for `--customers`: a fluid, one-second-step simulation with published latencies as named
   constants (below), the measured calls per send, the dispatcher's batch (resources.DISPATCH_BATCH_SIZE messages of the
   measured sends per message) and its WORKERS threads (a
   batch runs one customer's sends in order in one thread, so email + SMS of a customer are serial), the SQS
   event source's scaling (5 concurrent batches, then up to 300 more a minute, capped at the function's
   maximum concurrency), and a token bucket at the SES rate that every provider call waits for (SMS included,
   so that N / rate is the floor). The evaluation is modeled as the code has it: a chain of jobs, each a
   page of `evaluation.PAGE_SIZE` customers that reads its page (1 MB query pages), checks the ledger (100
   keys per BatchGetItem), queues its sends (packed, 10 messages per SendMessageBatch) one call after
   another, then queues its
   continuation. The model reports each page's time against Lambda's 900 s, the memory of one page, and
   the total; a second row per rate ("dispatch only") starts with every send already queued, which is what
   the dispatch side can do when the evaluation keeps ahead of it.

   Hottest item: the writes a send makes to items that other sends also write are measured (by table and
   key); the model turns the largest share into writes/s at the send rate (the day's counters: a dispatch
   batch writes each counter once, to one of ledger.STAT_SHARDS items) and compares with DynamoDB's 1,000
   writes/s per item; the same for the hottest partition key.

Limits (also printed): latencies are published medians, not this system's; no cold starts; SES/SNS
throttling is modeled as waiting for a token, while the dispatcher really gets a throttling error, releases
its claim and re-queues the send with a delay of 2 s and more (extra calls; the model leaves those out, so
keep the dispatch concurrency near the rate's need); SMS throughput has its own quota in AWS, not modeled;
moto's answers to transactions are not DynamoDB's (conflicts are injected, not produced); tracemalloc counts
Python allocations, not the Lambda process's resident memory (the runtime and imports come on top).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime

# --- published latencies and service limits (seconds, per call; named so they can be argued with) --------
DYNAMODB_ITEM_SECONDS = 0.005        # GetItem, PutItem, UpdateItem, DeleteItem: single-digit ms
DYNAMODB_TRANSACTION_SECONDS = 0.0125  # TransactWriteItems: about two writes, 10-15 ms
DYNAMODB_BATCH_GET_SECONDS = 0.010   # BatchGetItem of up to 100 keys
DYNAMODB_QUERY_PAGE_SECONDS = 0.100  # one 1 MB page of a query (assumption: read and transfer of 1 MB)
SQS_SEND_BATCH_SECONDS = 0.020       # SendMessageBatch of 10
SES_SEND_SECONDS = 0.050             # SendRawEmail
SNS_PUBLISH_SECONDS = 0.050          # Publish (SMS)
LAMBDA_INVOKE_OVERHEAD_SECONDS = 0.010  # the event source's hand-over per batch, warm
QUERY_PAGE_BYTES = 1024 * 1024       # DynamoDB stops a query page at 1 MB read
CUSTOMER_ITEM_BYTES = 400            # assumed size of a customer item (the page limit counts whole items)
DYNAMODB_ITEM_WRITES_PER_SECOND = 1000  # DynamoDB's per-item (per-partition) write limit
LAMBDA_TIMEOUT_SECONDS = 900         # Lambda's longest timeout (the evaluate function's)
EVALUATE_MEMORY_MB = 1024            # .chalice/config.json
DISPATCH_MEMORY_MB = 512
LAMBDA_MAX_MEMORY_MB = 10240
SQS_INITIAL_CONCURRENCY = 5          # the SQS event source starts with 5 concurrent batches ...
SQS_SCALE_UP_PER_MINUTE = 300        # ... and adds up to 300 a minute
SQS_BATCH = 1                        # the dispatch function's batch size (messages): resources.DISPATCH_BATCH_SIZE
DISPATCH_WORKERS = 8                 # chalicelib/sending/dispatcher.py WORKERS (checked in measure())
STAT_SHARDS = 16                     # chalicelib/sending/ledger.py STAT_SHARDS (checked in measure())
LEDGER_BATCH_GET_KEYS = 100
QUEUE_BATCH = 10

LATENCY = {
    ("dynamodb", "GetItem"): DYNAMODB_ITEM_SECONDS, ("dynamodb", "PutItem"): DYNAMODB_ITEM_SECONDS,
    ("dynamodb", "UpdateItem"): DYNAMODB_ITEM_SECONDS, ("dynamodb", "DeleteItem"): DYNAMODB_ITEM_SECONDS,
    ("dynamodb", "TransactWriteItems"): DYNAMODB_TRANSACTION_SECONDS,
    ("dynamodb", "BatchGetItem"): DYNAMODB_BATCH_GET_SECONDS, ("dynamodb", "Query"): DYNAMODB_QUERY_PAGE_SECONDS,
    ("sqs", "SendMessageBatch"): SQS_SEND_BATCH_SECONDS,
    ("ses", "SendRawEmail"): SES_SEND_SECONDS, ("sns", "Publish"): SNS_PUBLISH_SECONDS,
}
#: Calls a dispatch batch makes before its threads start (its reads), the rest are made per send.
BATCH_PHASE = {("dynamodb", "BatchGetItem"), ("dynamodb", "Query"), ("dynamodb", "GetItem")}
PROVIDER_CALLS = {("ses", "SendRawEmail"), ("sns", "Publish")}


# === the model (pure: no AWS, no chalicelib; tests/unit/test_scale_model.py) ================================

@dataclass(frozen=True)
class Measured:
    """What the model takes from the measurement (defaults: a plausible run, for the unit tests)."""

    #: Dispatcher calls per send, by "service:operation" (the evaluation's are modeled from its design).
    dispatch_calls_per_send: dict = field(default_factory=lambda: {
        "dynamodb:BatchGetItem": 0.2, "dynamodb:TransactWriteItems": 2.0, "dynamodb:UpdateItem": 2.0,
        "ses:SendRawEmail": 0.5, "sns:Publish": 0.5})
    channels: int = 2
    #: The largest share of all sends' writes that lands on one item written by several customers' sends.
    hottest_item_share: float = 1 / STAT_SHARDS
    hottest_item: str = "automation_stats (one counter shard)"
    #: The same for a partition key (the day's counters' shards all have the store's id as partition key).
    hottest_partition_share: float = 1.0
    #: The evaluation's own CPU seconds per customer (not waiting on AWS).
    evaluation_own_seconds_per_customer: float = 0.0002
    #: Sends a queue message carries (messages.PACK when a source queues them, fewer for its last message).
    sends_per_message: float = 10.0
    evaluation_peak_bytes_per_customer: float = 3000.0
    dispatch_peak_bytes_per_batch: float = 2_000_000.0


@dataclass(frozen=True)
class Scenario:
    customers: int
    rate: float                   # provider calls a second (the SES account's maximum send rate)
    concurrency: int              # the dispatch function's maximum concurrency (DispatchConcurrency)
    evaluation: str = "paged"   # "paged": as the code has it; "prequeued": every send queued at t=0
    workers: int = DISPATCH_WORKERS
    batch: int = SQS_BATCH


def per_send_seconds(m: Measured) -> float:
    """One send's serial chain in a worker thread: its writes and its provider call (waiting for no token)."""
    total = 0.0
    for key, n in m.dispatch_calls_per_send.items():
        service, operation = key.split(":")
        if (service, operation) not in BATCH_PHASE:
            total += n * LATENCY.get((service, operation), DYNAMODB_ITEM_SECONDS)
    return total


def batch_read_seconds(m: Measured, sends: float) -> float:
    total = 0.0
    for key, n in m.dispatch_calls_per_send.items():
        service, operation = key.split(":")
        if (service, operation) in BATCH_PHASE:
            total += n * sends * LATENCY[(service, operation)]
    return total


def invocation_sends(m: Measured, batch: int = SQS_BATCH) -> float:
    """Sends in one dispatch invocation of a full batch of `batch` messages."""
    return batch * m.sends_per_message


def invocation_seconds(m: Measured, batch: int = SQS_BATCH, workers: int = DISPATCH_WORKERS) -> float:
    """One dispatch invocation of a full batch, no rate limit: its reads, then its customers' sends in at most
    `workers` threads, each customer's sends (one per channel) one after another."""
    customers = max(1, math.ceil(invocation_sends(m, batch) / m.channels))
    lanes = min(workers, customers)
    rounds = math.ceil(customers / lanes)
    return (LAMBDA_INVOKE_OVERHEAD_SECONDS + batch_read_seconds(m, invocation_sends(m, batch))
            + rounds * m.channels * per_send_seconds(m))


def concurrency_at(t: float, cap: int) -> float:
    """Concurrent batches the SQS event source runs t seconds after messages appear."""
    return min(cap, SQS_INITIAL_CONCURRENCY + SQS_SCALE_UP_PER_MINUTE * t / 60.0)


@dataclass(frozen=True)
class Evaluation:
    """The paged evaluation of a store's Christmas date (chalicelib/runner/evaluation.py): a chain of jobs,
    each a page of at most PAGE_SIZE customers that reads its page, checks the ledger, queues the page's
    sends (`sends_per_message` to a message, 10 messages per SendMessageBatch) one call after another, then
    queues its continuation (seconds)."""

    pages: int
    page_customers: int
    channels: int
    query_seconds: float          # per page
    own_seconds: float            # per page
    ledger_read_seconds: float    # per page
    enqueue_seconds: float        # per page
    peak_mb: float                # per page (per invocation)
    sends_per_message: float = 1.0

    @property
    def start_queueing(self) -> float:
        """Into a page, when its first sends go to the queue."""
        return self.query_seconds + self.own_seconds + self.ledger_read_seconds

    @property
    def page_seconds(self) -> float:
        return self.start_queueing + self.enqueue_seconds + SQS_SEND_BATCH_SECONDS + LAMBDA_INVOKE_OVERHEAD_SECONDS

    @property
    def seconds(self) -> float:
        return self.pages * self.page_seconds

    @property
    def enqueue_rate(self) -> float:
        return QUEUE_BATCH * self.sends_per_message / SQS_SEND_BATCH_SECONDS

    def queued_by(self, t: float) -> float:
        page_sends = self.page_customers * self.channels
        full = min(self.pages, int(max(0.0, t) // self.page_seconds))
        into = t - full * self.page_seconds
        partial = 0.0 if full >= self.pages else min(page_sends, max(0.0, into - self.start_queueing) * self.enqueue_rate)
        return min(self.pages * page_sends, full * page_sends + partial)


def evaluation_model(customers: int, m: Measured) -> Evaluation:
    from chalicelib.runner.evaluation import PAGE_SIZE

    per_page = min(customers, PAGE_SIZE)
    sends = per_page * m.channels
    query_pages = math.ceil(per_page * CUSTOMER_ITEM_BYTES / QUERY_PAGE_BYTES)
    return Evaluation(
        pages=math.ceil(customers / PAGE_SIZE), page_customers=per_page, channels=m.channels,
        query_seconds=query_pages * DYNAMODB_QUERY_PAGE_SECONDS,
        own_seconds=per_page * m.evaluation_own_seconds_per_customer,
        ledger_read_seconds=math.ceil(sends / LEDGER_BATCH_GET_KEYS) * DYNAMODB_BATCH_GET_SECONDS,
        enqueue_seconds=math.ceil(sends / m.sends_per_message / QUEUE_BATCH) * SQS_SEND_BATCH_SECONDS,
        peak_mb=per_page * m.evaluation_peak_bytes_per_customer / 2**20, sends_per_message=m.sends_per_message)


@dataclass
class Result:
    customers: int
    sends: int
    rate: float
    concurrency: int
    evaluation: str
    floor_seconds: float
    total_seconds: float
    ratio: float
    dispatch_capacity_per_second: float
    evaluation_seconds: float
    evaluation_over_limit: float  # one page's seconds / 900 (above 1: a page cannot finish in its invocation)
    evaluation_invocations: int
    dispatch_invocations: int
    hottest_item_writes_per_second: float
    hottest_item_limit_share: float
    hottest_partition_writes_per_second: float
    peak_sends_per_second: float


def simulate(s: Scenario, m: Measured, step: float = 1.0, evaluation: Evaluation | None = None) -> Result:
    """Step the pipeline through time: messages become available (all at once, or as the evaluation queues
    them), the event source scales towards the cap, each running batch finishes in `invocation_seconds`, and
    no more than `rate` sends a second reach the providers (a token bucket without burst). `evaluation`: the
    paged evaluation's model, if not the Christmas send's (`evaluation_model`): a campaign's (bench.campaigns)."""
    ev = evaluation or evaluation_model(s.customers, m)
    sends = s.customers * ev.channels
    per_invocation = invocation_seconds(m, s.batch, s.workers)
    batch_sends = invocation_sends(m, s.batch)
    done, t, first, peak = 0.0, 0.0, None, 0.0
    while done < sends - 1e-6:
        available = sends if s.evaluation == "prequeued" else ev.queued_by(t + step)
        backlog = available - done
        if backlog > 0 and first is None:
            first = t
        if backlog > 0:
            running = concurrency_at(t - first, s.concurrency)
            capacity = running * batch_sends / per_invocation * step
            sent = min(backlog, capacity, s.rate * step)
            done += sent
            peak = max(peak, sent / step)
        t += step
        if t > 10**8:
            raise RuntimeError("the model does not finish")
    # The last batch still has its own chain to run after its tokens were granted.
    total = t + per_invocation
    floor = sends / s.rate
    hottest = peak * m.hottest_item_share   # at the highest send rate reached, not the rate allowed
    return Result(
        customers=s.customers, sends=sends, rate=s.rate, concurrency=s.concurrency, evaluation=s.evaluation,
        floor_seconds=floor, total_seconds=total, ratio=total / floor,
        dispatch_capacity_per_second=s.concurrency * batch_sends / per_invocation,
        evaluation_seconds=ev.seconds, evaluation_over_limit=ev.page_seconds / LAMBDA_TIMEOUT_SECONDS,
        evaluation_invocations=ev.pages if s.evaluation == "paged" else 0,
        dispatch_invocations=math.ceil(sends / batch_sends),
        hottest_item_writes_per_second=hottest, hottest_item_limit_share=hottest / DYNAMODB_ITEM_WRITES_PER_SECOND,
        hottest_partition_writes_per_second=peak * m.hottest_partition_share, peak_sends_per_second=peak)


def concurrency_needed(rate: float, m: Measured, batch: int = SQS_BATCH, workers: int = DISPATCH_WORKERS) -> int:
    """The dispatch concurrency whose capacity is 10% over the rate (keeping up, without throttling much)."""
    return max(2, math.ceil(1.1 * rate * invocation_seconds(m, batch, workers) / invocation_sends(m, batch)))


# === the measurement (real code, in-process moto) ===========================================================

DEC18 = datetime.fromisoformat("2026-12-18T00:00:00+00:00")
CUSTOMER_ID = re.compile(r"c\d{7}")
PER_CUSTOMER = "most writes to one customer's item, by table"
SHARED = "items written by several customers' sends"
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def _environment() -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                       "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "TABLE_PREFIX": "bench-",
                       "POWERTOOLS_METRICS_DISABLED": "true",
                       "POWERTOOLS_LOG_LEVEL": "ERROR"})
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        os.environ.pop(name, None)


class _Writes:
    """Every DynamoDB item written while open, by (table, key), from the calls' parameters."""

    def __init__(self) -> None:
        self.by_item: Counter = Counter()
        #: By (table, partition key value): DynamoDB's 1,000 writes/s holds per partition, and items that share
        #: a partition key share a partition unless DynamoDB splits it by sort key (split for heat).
        self.by_partition: Counter = Counter()
        self.items_written = 0
        self._keys: dict[str, list[str]] = {}

    def describe_all(self) -> None:
        """Every table's key, read before the metered block (so DescribeTable is not counted)."""
        from chalicelib.adapters import clients

        client = clients.client("dynamodb")
        for table in client.list_tables()["TableNames"]:
            self._key_names(client, table)

    def _key_names(self, client, table: str) -> list[str]:
        if table not in self._keys:
            schema = client.describe_table(TableName=table)["Table"]["KeySchema"]
            self._keys[table] = [k["AttributeName"] for k in sorted(schema, key=lambda k: k["KeyType"] != "HASH")]
        return self._keys[table]

    def record(self, client, operation: str, params: dict) -> None:
        entries = []
        if operation == "TransactWriteItems":
            for item in params["TransactItems"]:
                for kind, body in item.items():
                    if kind != "ConditionCheck":
                        entries.append((body["TableName"], body.get("Key") or body.get("Item")))
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for r in requests:
                    body = r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key")
                    entries.append((table, body))
        else:
            entries.append((params["TableName"], params.get("Key") or params.get("Item")))
        for table, item in entries:
            names = self._key_names(client, table)
            key = "|".join(str(next(iter(item[n].values()))) for n in names)
            self.by_item[(table, key)] += 1
            self.by_partition[(table, str(next(iter(item[names[0]].values()))))] += 1
            self.items_written += 1


def _wrap_writes(writes: _Writes):
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def call(client, operation, params):
        if client.meta.service_model.service_name == "dynamodb" and operation in WRITES:
            writes.record(client, operation, params)
        return original(client, operation, params)
    BaseClient._make_api_call = call
    return lambda: setattr(BaseClient, "_make_api_call", original)


def _store(customers: int) -> str:
    import uuid

    from chalicelib.rules.auth import Principal
    from chalicelib.services import customers as records
    from chalicelib.services.automations import patch
    from chalicelib.services.settings import patch as patch_settings

    tenant = f"s-{uuid.uuid4().hex[:10]}"
    owner = Principal(tenant, "owner", "bench")
    patch_settings(owner, {"timezone": "Australia/Sydney", "sender_email": "hello@store.example",
                           "store_name": "Opal & Co", "sms_sender_id": "OpalCo"}, DEC18)
    for n in range(customers):
        records.put_customer(owner, f"c{n:07d}", {
            "first_name": f"Name{n}", "email": f"c{n}@mail.example", "phone": f"+6140{n:07d}",
            "consent": {"email": True, "sms": True}, "created_at": "2025-01-01T00:00:00Z"}, DEC18)
    patch(owner, "christmas", {"enabled": True, "channels": ["email", "sms"]}, DEC18, "Australia/Sydney")
    return tenant


def _tally(runner, tenant: str, customers: int, channels: int) -> dict:
    from chalicelib.adapters.models import Communication, tenant_customer

    delivered = runner.email.to() + runner.sms.to()
    per_send: Counter = Counter()
    for n in range(customers):
        for record in Communication.query(tenant_customer(tenant, f"c{n:07d}")):
            per_send[(record.customer_id, record.channel, record.status)] += 1
    statuses: Counter = Counter()
    for (_, _, status), n in per_send.items():
        statuses[status] += n
    recorded = {(c, ch) for c, ch, status in per_send if status in ("sent", "skipped", "failed")}
    return {"sends": customers * channels, "provider calls": runner.email.calls + runner.sms.calls,
            "sent records": statuses["sent"], "other records": dict(statuses - Counter({"sent": statuses["sent"]})),
            "duplicates delivered": sum(n - 1 for n in delivered.values() if n > 1),
            "sends with 2+ sent records": sum(1 for (_, _, s), n in per_send.items() if s == "sent" and n > 1),
            "lost (no final record)": customers * channels - len(recorded)}


def _sample_run(customers: int, faults: bool) -> dict:
    import tracemalloc

    from bench.emulator import metered
    from chalicelib.adapters.repository import DynamoRepository
    from chalicelib.runner import evaluation
    from tests.integration import dynamodb_faults as df
    from tests.integration.runner_kit import Runner

    channels = 2
    tenant = _store(customers)
    runner = Runner(tenant, DEC18, workers=DISPATCH_WORKERS)
    queue_calls = Counter()
    plain_send = runner.queue.send

    def counting_send(bodies, delay_seconds: int = 0):
        bodies = list(bodies)
        queue_calls["sqs:SendMessageBatch"] += math.ceil(len(bodies) / QUEUE_BATCH)
        plain_send(bodies, delay_seconds)
    runner.queue.send = counting_send
    jobs = [j for j in evaluation.plan("christmas", DEC18) if j.tenant_id == tenant]
    assert len(jobs) == 1, jobs

    # Three runs of the same evaluation, each from scratch (progress row deleted, queue emptied: the ledger
    # holds none of the sends yet, so each queues the same sends): the first counts the calls, the second
    # (warm: the first imported what it needs) is timed, the third measures memory under tracemalloc.
    from chalicelib.adapters.models import RunState

    def again() -> None:
        RunState.get(tenant, "christmas").delete()
        runner.queue.messages = []
        queue_calls.clear()

    with metered() as ev_meter:
        done = evaluation.evaluate(jobs[0], DynamoRepository(), runner.queue)
    assert done.queued == customers * channels, done
    ev_calls = Counter({f"{s}:{o}": n for (s, o), n in ev_meter.calls.items()}) + queue_calls
    queued = runner.queue.messages
    sends_per_message = customers * channels / len(queued)
    again()
    with metered() as ev_timed:
        evaluation.evaluate(jobs[0], DynamoRepository(), runner.queue)
    again()
    tracemalloc.start()
    tracemalloc.reset_peak()
    evaluation.evaluate(jobs[0], DynamoRepository(), runner.queue)
    _, ev_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sorted(runner.queue.messages) == sorted(queued)
    queue_calls.clear()

    writes = _Writes()
    writes.describe_all()
    unwrap = _wrap_writes(writes)
    policies = [df.every(20, lambda op, p: op == "TransactWriteItems", df.CONFLICT)] if faults else []
    from chalicelib.sending import ledger
    ledger_sleep, ledger.sleep = ledger.sleep, (lambda _s: None)   # the backoff is modeled, not waited
    try:
        with df.dynamodb_faults(*policies) as injected, metered() as meter:
            # The first batch (it imports the rendering and provider code), then a warm one under tracemalloc.
            messages = runner.queue.messages
            batches = [messages[:SQS_BATCH], messages[SQS_BATCH:2 * SQS_BATCH]]
            runner.queue.messages = []
            outcomes, again = [], []
            for n, batch in enumerate(batches):
                if n == 1:
                    tracemalloc.start()
                    tracemalloc.reset_peak()
                ids = {f"b{n}-{i}": body for i, (body, _) in enumerate(batch)}
                result = runner.dispatcher.dispatch_records([{"messageId": k, "body": b} for k, b in ids.items()])
                if n == 1:
                    _, dispatch_peak = tracemalloc.get_traced_memory()
                    tracemalloc.stop()
                outcomes += result.outcomes
                again += [(ids[k], 0) for k in result.failures]
            runner.queue.messages = messages[2 * SQS_BATCH:] + again + runner.queue.messages
            delivery = runner.deliver()
    finally:
        unwrap()
        ledger.sleep = ledger_sleep
    sends = customers * channels
    calls = Counter({f"{s}:{o}": n for (s, o), n in meter.calls.items()})
    calls["ses:SendRawEmail"] += runner.email.calls
    calls["sns:Publish"] += runner.sms.calls
    calls += queue_calls   # re-queued sends (retries), if any
    # Items whose key names no customer (c + 7 digits) are written by many customers' sends.
    shared = {k: n for k, n in writes.by_item.items() if not CUSTOMER_ID.search(k[1])}
    shared_partitions = {k: n for k, n in writes.by_partition.items() if not CUSTOMER_ID.search(k[1])}
    hot_partition = max(shared_partitions.items(), key=lambda kv: kv[1]) if shared_partitions else (("-", "-"), 0)
    per_customer = Counter()
    for (table, key), n in writes.by_item.items():
        if CUSTOMER_ID.search(key):
            per_customer[table.removeprefix("bench-")] = max(per_customer[table.removeprefix("bench-")], n)
    hottest = max(shared.items(), key=lambda kv: kv[1]) if shared else (("-", "-"), 0)
    per_item = Counter(n for n in writes.by_item.values())
    tally = _tally(runner, tenant, customers, channels)
    conflicts = sum(n for (op, code), n in injected.faults.items() if code == df.CONFLICT)
    contended = sum(1 for o in delivery.outcomes + outcomes if o.status in ("busy", "error"))
    return {
        "customers": customers, "sends": sends,
        "evaluation calls": dict(ev_calls), "evaluation seconds": round(ev_timed.seconds, 3),
        "evaluation seconds in AWS calls": round(sum(ev_timed.call_seconds.values()), 3),
        "evaluation peak bytes": ev_peak, "dispatch batch peak bytes": dispatch_peak,
        "sends per message": sends_per_message,
        "dispatch calls": dict(calls), "dispatch calls per send": {k: n / sends for k, n in sorted(calls.items())},
        "items written per send": writes.items_written / sends,
        "writes per item (histogram: writes -> items)": dict(sorted(per_item.items())),
        SHARED: {f"{t.removeprefix('bench-')}:{k}": n
                                                      for (t, k), n in sorted(shared.items())},
        "hottest item": f"{hottest[0][0].removeprefix('bench-')}:{hottest[0][1]}", "hottest item writes": hottest[1],
        "hottest item share": hottest[1] / sends,
        "hottest partition": f"{hot_partition[0][0].removeprefix('bench-')}:{hot_partition[0][1]}",
        "hottest partition share": hot_partition[1] / sends,
        PER_CUSTOMER: dict(sorted(per_customer.items())),
        "conflicts injected": conflicts, "outcomes needing redelivery": contended,
        "dead letters": len(delivery.dead_letters), **tally,
    }


def measure(sample: int, fault_sample: int) -> dict:
    _environment()
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from moto import mock_aws

    from chalicelib.adapters import resources
    from chalicelib.sending import dispatcher, ledger
    from local.stack import create_resources, one_request_at_a_time

    assert dispatcher.WORKERS == DISPATCH_WORKERS and ledger.STAT_SHARDS == STAT_SHARDS, "update the constants"
    assert resources.DISPATCH_BATCH_SIZE == SQS_BATCH, "update the constants"
    from local.stack import transactions_back_up_items

    one_request_at_a_time()   # before moto maps its handlers
    # moto deep-copies every table a transaction touches (to roll back): the sample's transactions would cost
    # in proportion to the tables' size; the emulator's benchmarks back up only the touched items instead.
    transactions_back_up_items()
    with mock_aws():
        create_resources(["store.example"])
        started = time.monotonic()
        clean = _sample_run(sample, faults=False)
        clean["seconds"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        faulted = _sample_run(fault_sample, faults=True) if fault_sample else None
        if faulted:
            faulted["seconds"] = round(time.monotonic() - started, 1)
    return {"clean": clean, "conflicts": faulted}


def measured_inputs(run: dict) -> Measured:
    clean = run["clean"]
    dispatch = {k: v for k, v in clean["dispatch calls per send"].items()
                if k not in ("sqs:SendMessageBatch",)}
    own = max(0.0, clean["evaluation seconds"] - clean["evaluation seconds in AWS calls"]) / clean["customers"]
    return Measured(dispatch_calls_per_send=dispatch, channels=2,
                    hottest_item_share=clean["hottest item share"], hottest_item=clean["hottest item"],
                    hottest_partition_share=clean["hottest partition share"],
                    evaluation_own_seconds_per_customer=own,
                    evaluation_peak_bytes_per_customer=clean["evaluation peak bytes"] / clean["customers"],
                    sends_per_message=clean.get("sends per message", 1.0),
                    dispatch_peak_bytes_per_batch=clean["dispatch batch peak bytes"])


# === the report ===============================================================================================

def _fmt_s(seconds: float) -> str:
    return f"{seconds:,.0f} s ({seconds / 3600:.2f} h)" if seconds >= 3600 else f"{seconds:,.0f} s"


def goal(r: Result) -> str:
    if r.evaluation == "paged" and r.evaluation_over_limit > 1:
        return "**missed**: a page cannot finish in 900 s" + (" (and the ratio too)" if r.ratio > 1.1 else "")
    return "met" if r.ratio <= 1.1 else "**missed**"


MODES = {"paged": "paged, as coded (a chain of jobs of PAGE_SIZE customers)",
         "prequeued": "dispatch only (every send queued at t=0)"}


def report(argv: list[str], run: dict, m: Measured, results: list[Result]) -> str:
    clean, faulted = run["clean"], run["conflicts"]
    lines = [f"`{' '.join(['.venv/bin/python', '-m', 'bench.scale', *argv])}`", ""]
    lines += ["### Modeled: the Christmas send", "",
              "| rate/s | evaluation | dispatch concurrency | capacity/s | peak sends/s | floor N/rate | total | total/floor | goal 1.1x "
              "| evaluation job | eval invocations | dispatch invocations | hottest item writes/s | hottest partition key "
              "writes/s |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|"]
    for r in results:
        over = (f"{_fmt_s(r.evaluation_seconds)} in all; a page {r.evaluation_over_limit * 900:,.1f} s of the 900 s limit"
                if r.evaluation == "paged" else "not modeled (already queued)")
        lines.append(
            f"| {r.rate:,.0f} | {MODES[r.evaluation]} | {r.concurrency} | {r.dispatch_capacity_per_second:,.0f} "
            f"| {r.peak_sends_per_second:,.0f} "
            f"| {_fmt_s(r.floor_seconds)} | {_fmt_s(r.total_seconds)} | {r.ratio:.2f} "
            f"| {goal(r)} | {over} | {r.evaluation_invocations or '-'} "
            f"| {r.dispatch_invocations:,} | {r.hottest_item_writes_per_second:,.1f} "
            f"({r.hottest_item_limit_share:.1%} of 1,000) | {r.hottest_partition_writes_per_second:,.0f} |")
    ev = evaluation_model(results[0].customers, m)
    lines += ["", f"Paged evaluation of {results[0].customers:,} customers (modeled): {ev.pages:,} jobs of "
              f"{ev.page_customers:,} customers, one after another; each reads its page {ev.query_seconds:,.1f} s + own work "
              f"{ev.own_seconds:,.1f} s + ledger read {ev.ledger_read_seconds:,.1f} s + queueing {ev.enqueue_seconds:,.1f} s "
              f"({ev.enqueue_rate:,.0f} sends/s) = {ev.page_seconds:,.1f} s against Lambda's {LAMBDA_TIMEOUT_SECONDS} s, "
              f"holding about {ev.peak_mb:,.0f} MB of Python objects against the function's {EVALUATE_MEMORY_MB} MB (the "
              f"measured own time is this machine's CPU; a 1,024 MB Lambda has about 0.6 vCPU). In all {ev.seconds:,.0f} s: "
              f"the chain queues at most {ev.enqueue_rate:,.0f} sends/s ({m.sends_per_message:,.1f} sends to a message, "
              f"10 messages to a SendMessageBatch), which caps the send only at an SES rate above that.",
              f"Per dispatch invocation (a batch of {SQS_BATCH} message{'s' if SQS_BATCH > 1 else ''}, "
              f"{invocation_sends(m):,.0f} sends; {m.channels} "
              f"channels so {math.ceil(invocation_sends(m) / m.channels)} customers in "
              f"{min(DISPATCH_WORKERS, math.ceil(invocation_sends(m) / m.channels))}"
              f" threads): {invocation_seconds(m) * 1000:,.0f} ms unthrottled; one send's chain "
              f"{per_send_seconds(m) * 1000:,.1f} ms; peak memory {m.dispatch_peak_bytes_per_batch / 2**20:,.1f} MB "
              f"(tracemalloc) against {DISPATCH_MEMORY_MB} MB.", ""]
    lines += [f"### Measured: {clean['customers']:,} customers, {clean['sends']:,} sends (real code, in-process moto)",
              "", "| call | per send |", "|---|---:|"]
    for key, v in clean["dispatch calls per send"].items():
        lines.append(f"| {key} | {v:.4f} |")
    lines.append(f"| **all (dispatch)** | **{sum(clean['dispatch calls per send'].values()):.3f}** |")
    for key, n in sorted(clean["evaluation calls"].items()):
        lines.append(f"| evaluation {key} | {n / clean['sends']:.4f} |")
    per_batch = 1 / invocation_sends(m)
    poller = {"sqs:ReceiveMessage": per_batch, "sqs:DeleteMessageBatch": per_batch}
    for key, v in poller.items():
        lines.append(f"| Lambda's SQS poller {key} (modeled: one a full batch) | {v:.4f} |")
    every = (sum(clean["dispatch calls per send"].values()) + sum(poller.values())
             + sum(clean["evaluation calls"].values()) / clean["sends"])
    lines.append(f"| **all** | **{every:.3f}** |")
    lines += ["", f"- items written per send: {clean['items written per send']:.2f}; items by number of writes: "
              f"{clean['writes per item (histogram: writes -> items)']}",
              f"- items written by more than one customer's sends: {len(clean[SHARED])}"
              f"; hottest `{clean['hottest item']}`: {clean['hottest item writes']} writes = "
              f"{clean['hottest item share']:.4f} of sends (x rate = writes/s; the store's counter writes spread "
              f"evenly over {STAT_SHARDS} shards would be {clean['hottest partition share'] / STAT_SHARDS:.4f}); most "
              f"writes to one customer's item, by table: "
              f"{clean[PER_CUSTOMER]} (in one send run, not per second)",
              f"- hottest partition key `{clean['hottest partition']}`: {clean['hottest partition share']:.3f} writes "
              f"per send: every counter shard of a store has the store's id as partition key, and a dispatch batch "
              f"writes each counter it added to once, so at 1,000 sends/s the partition key takes about "
              f"{clean['hottest partition share'] * 1000:,.0f} writes/s of DynamoDB's 1,000 per partition",
              f"- peak memory (tracemalloc): evaluate {clean['evaluation peak bytes'] / 2**20:.1f} MB for "
              f"{clean['customers']:,} customers ({clean['evaluation peak bytes'] / clean['customers']:,.0f} B each); one "
              f"dispatch batch {clean['dispatch batch peak bytes'] / 2**20:.1f} MB",
              f"- duplicates delivered {clean['duplicates delivered']}, sends with 2+ sent records "
              f"{clean['sends with 2+ sent records']}, lost {clean['lost (no final record)']}; sent records "
              f"{clean['sent records']}, other {clean['other records']}"]
    if faulted:
        lines += [f"- with TransactionConflict on 1 in 20 transactions ({faulted['customers']:,} customers, "
                  f"{faulted['sends']:,} sends): conflicts seen {faulted['conflicts injected']}, retried "
                  f"{faulted['conflicts injected']} (in `ledger.with_retries`; sends left to redelivery "
                  f"{faulted['outcomes needing redelivery']}, dead letters {faulted['dead letters']}), duplicates "
                  f"delivered {faulted['duplicates delivered']}, 2+ sent records {faulted['sends with 2+ sent records']},"
                  f" lost {faulted['lost (no final record)']}, sent records {faulted['sent records']}"]
    lines += ["", "Limits: latencies are published figures, not this system's; no cold starts; provider throttling "
              "is modeled as waiting for a token (the code gets an error, releases the claim and re-queues with a "
              "2 s+ delay); SMS's own quota is not modeled; conflicts are injected, not produced by load; "
              "tracemalloc is Python allocations only."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000, help="the modeled store's customers")
    parser.add_argument("--sample", type=int, default=2000, help="customers of the measured run")
    parser.add_argument("--fault-sample", type=int, default=None,
                        help="customers of the run with conflicts injected (default: --sample; 0: none)")
    parser.add_argument("--rates", default="100,1000", help="SES account rates, sends/s")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="dispatch maximum concurrency (default: 10%% over what the rate needs)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the markdown report")
    parser.add_argument("--save", metavar="FILE", help="also write the measurement to FILE (JSON)")
    parser.add_argument("--measured", metavar="FILE",
                        help="model from a measurement saved with --save, without running the emulator")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    if args.measured:
        with open(args.measured) as f:
            run = json.load(f)
    else:
        run = measure(args.sample, args.sample if args.fault_sample is None else args.fault_sample)
    if args.save:
        with open(args.save, "w") as f:
            json.dump(run, f, indent=2, default=str)
    m = measured_inputs(run)
    results = []
    for rate in rates:
        concurrency = args.concurrency or concurrency_needed(rate, m)
        for mode in ("paged", "prequeued"):
            results.append(simulate(Scenario(args.customers, rate, concurrency, mode), m))
    if args.json:
        print(json.dumps({"command": " ".join([".venv/bin/python", "-m", "bench.scale", *argv]),
                          "measured": run, "model inputs": asdict(m),
                          "results": [asdict(r) for r in results]}, default=str))
    else:
        print(report(argv, run, m, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

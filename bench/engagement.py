"""Scale model of SES's events of sent email at 1,000 events a second: the engagement handler's AWS calls per
event, and the most writes per second to one counter item and to one partition key.

    .venv/bin/python -m bench.engagement [--sample 500] [--rate 1000] [--json]

1. MEASURED, on the real code: `sample` marketing emails of one automation are recorded `sent` through the real
   ledger (claim, accept, outcome), against in-process moto (`one_request_at_a_time()` before `mock_aws`, as
   tests/integration/conftest.py does). Their events, as SES publishes them (`local.ses_events.document`), go
   through `runner.engagement.handle` in queue batches of `resources.ENGAGEMENT_BATCH_SIZE`, under
   `bench.emulator.metered()`: per sent email a Send, a Delivery, a person's open for OPENED of them, a privacy
   proxy's open for MACHINE of them, a click for CLICKED (published rates, below), then every event again (SNS
   and SQS deliver at least once: the second copy must write nothing). Recorded: calls per event by operation,
   first copies and duplicates apart; every item written, by table and key, from each write's parameters.

2. MODELED at `--rate` events a second, all of one store and one automation on one day (the worst case: a
   campaign's morning): each counter write goes to one of `ledger.STAT_SHARDS` items of its kind chosen at
   random, so the hottest item takes rate x (the largest kind's counter writes per event) / STAT_SHARDS writes a
   second; every counter of a store has the store's id as partition key, so that key takes rate x (counter
   writes per event); a communication record takes one write per event of its message, spread over the
   customers' partition keys. Compared with DynamoDB's 1,000 writes a second per item and per partition.

Limits: the mix of events is assumed (published opens and clicks rates, below), not this system's; moto
does not produce DynamoDB's contention or throttling (tests/integration/test_engagement.py injects both); a
partition key above 1,000 writes/s is split by DynamoDB's adaptive capacity (split for heat, by sort key, which
the shards make distinct) only after sustained load: until then writes are throttled, retried with backoff
(`ledger.with_retries`) and, past that, the queue message comes back after its visibility timeout.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

#: The assumed mix per sent email (published industry figures for retail marketing email): about half of
#: recipients' opens are Apple Mail Privacy Protection's; a fifth open it themselves; 2-3% click.
OPENED, MACHINE, CLICKED = 0.20, 0.45, 0.03
DYNAMODB_WRITES_PER_SECOND = 1000   # per item, and per partition, before adaptive capacity splits it
TENANT = "bench-store"


def _environment() -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                       "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "TABLE_PREFIX": "bench-",
                       "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR"})
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE", "SES_CONFIGURATION_SET"):
        os.environ.pop(name, None)


def _writes(operation: str, params: dict) -> list[tuple[str, str]]:
    """The (table, key) of every item a write call writes."""
    def key(body: dict) -> str:
        return "|".join(str(next(iter(v.values()))) for v in body.get("Key", body.get("Item", {})).values())
    if operation == "TransactWriteItems":
        return [(body["TableName"].removeprefix("bench-"), key(body))
                for item in params["TransactItems"] for kind, body in item.items() if kind != "ConditionCheck"]
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return [(params["TableName"].removeprefix("bench-"), key(params))]
    return []


def measure(sample: int) -> dict:
    _environment()
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from botocore.client import BaseClient
    from moto import mock_aws

    from bench.emulator import _back_up_items_not_tables, metered
    from local.stack import create_resources, one_request_at_a_time

    one_request_at_a_time()
    _back_up_items_not_tables()
    with mock_aws():
        create_resources(["store.example"])
        from chalicelib.adapters import resources
        from chalicelib.runner import engagement
        from chalicelib.sending import ledger
        from chalicelib.sending.messages import Send
        from local.ses_events import click_detail, document, open_detail

        now = datetime.now(timezone.utc).replace(microsecond=0)
        rng = random.Random(7)
        events: list[dict] = []
        for n in range(sample):
            send = Send(TENANT, f"c{n:05d}", "campaign", "cmp_bench", "campaign:cmp_bench", "email", source="campaign")
            token = uuid.uuid4().hex
            record = ledger.Record(to=f"c{n}@customers.example", subject="Hi", body="x",
                                   provider_message_id=f"ses-{n:05d}")
            ledger.claim(send, None, token, now, None)
            ledger.accept(send, token, record, now)
            ledger.record_accepted(send, token, record, now, "UTC")
            tags = ledger.email_tags(send)
            mine = [document("Send", record.provider_message_id, tags, now),
                    document("Delivery", record.provider_message_id, tags, now, now + timedelta(seconds=2))]
            if rng.random() < MACHINE:
                mine.append(document("Open", record.provider_message_id, tags, now, now + timedelta(seconds=5),
                                     **open_detail(proxy=True)))
            if rng.random() < OPENED:
                mine.append(document("Open", record.provider_message_id, tags, now, now + timedelta(minutes=30),
                                     **open_detail(proxy=False)))
                if rng.random() < CLICKED / OPENED:
                    mine.append(document("Click", record.provider_message_id, tags, now,
                                         now + timedelta(minutes=31), **click_detail("https://shop.example/x")))
            events += mine
        rng.shuffle(events)
        written: Counter = Counter()
        original = BaseClient._make_api_call

        def recording(client, operation, params):
            answer = original(client, operation, params)   # a cancelled transaction writes nothing
            if client.meta.service_model.service_name == "dynamodb":
                written.update(_writes(operation, params))
            return answer

        def run(docs: list[dict]) -> tuple[dict, Counter, float]:
            results: Counter = Counter()
            started = time.perf_counter()
            with metered() as meter:
                for i in range(0, len(docs), resources.ENGAGEMENT_BATCH_SIZE):
                    batch = [{"messageId": str(uuid.uuid4()), "body": json.dumps(d)}
                             for d in docs[i:i + resources.ENGAGEMENT_BATCH_SIZE]]
                    outcome = engagement.handle(batch, now + timedelta(hours=1))
                    assert not outcome.failures, outcome.failures
                    results.update(outcome.results)
            return ({f"{s}:{o}": round(n / len(docs), 4) for (s, o), n in sorted(meter.calls.items(), key=str)},
                    results, time.perf_counter() - started)

        BaseClient._make_api_call = recording
        try:
            first, first_results, first_seconds = run(events)
            first_written = Counter(written)
            again, again_results, _ = run(events)
        finally:
            BaseClient._make_api_call = original
        counters = Counter({k: n for (t, k), n in first_written.items() if t == "automation_stats"})
        kinds: Counter = Counter()
        for key, n in counters.items():
            kinds[key.split("|", 1)[1].split("#")[2]] += n
        duplicate_writes = sum(written.values()) - sum(first_written.values())
        return {
            "emails": sample, "events": len(events),
            "mix": dict(Counter(d["eventType"] + (" (proxy)" if d.get("open", {}).get("userAgent") == "Mozilla/5.0"
                                                   else "") for d in events)),
            "calls per event": first, "calls per duplicate event": again,
            "results": {f"{s}:{o}": n for (s, o), n in sorted(first_results.items(), key=str)},
            "duplicate results": {f"{s}:{o}": n for (s, o), n in sorted(again_results.items(), key=str)},
            "items written by duplicates": duplicate_writes,
            "counter writes per event": round(sum(counters.values()) / len(events), 4),
            "transactions per event": round(first.get("dynamodb:TransactWriteItems", 0), 4),
            "counter writes by kind": dict(kinds),
            "hottest counter item": max(counters.items(), key=lambda kv: kv[1]) if counters else None,
            "record writes per event": round(sum(n for (t, _), n in first_written.items()
                                                 if t == "communications") / len(events), 4),
            "most writes to one record": max((n for (t, _), n in first_written.items() if t == "communications"),
                                             default=0),
            "handler seconds per event (in-process moto)": round(first_seconds / len(events), 5),
        }


def model(run: dict, rate: int, shards: int) -> dict:
    per_event = run["counter writes per event"]
    kinds = run["counter writes by kind"]
    largest_kind, largest = max(kinds.items(), key=lambda kv: kv[1])
    share = largest / run["events"]
    return {"rate": rate, "largest kind": largest_kind, "largest kind writes per event": round(share, 4),
            "hottest counter item writes/s": round(rate * share / shards, 1),
            "store partition key writes/s": round(rate * per_event, 1),
            "one record writes": run["most writes to one record"],
            "calls per event": round(sum(run["calls per event"].values()), 3)}


def report(argv: list[str], run: dict, modeled: dict) -> str:
    lines = [f"`{' '.join(['.venv/bin/python', '-m', 'bench.engagement', *argv])}`", "",
             f"### Measured: {run['emails']:,} campaign emails, {run['events']:,} SES events, each delivered twice "
             "(real handler, in-process moto)", "",
             "| call | per event | per duplicate event |", "|---|---:|---:|"]
    for call in sorted(set(run["calls per event"]) | set(run["calls per duplicate event"])):
        lines.append(f"| {call} | {run['calls per event'].get(call, 0):.4f} | "
                     f"{run['calls per duplicate event'].get(call, 0):.4f} |")
    lines.append(f"| **all** | **{sum(run['calls per event'].values()):.3f}** | "
                 f"**{sum(run['calls per duplicate event'].values()):.3f}** |")
    lines += ["", f"- events: {run['mix']}, in random order, {BATCH} to a batch; recorded {run['results']}; the second copies: "
                  f"{run['duplicate results']}, items they wrote: {run['items written by duplicates']}",
              f"- counter writes per event {run['counter writes per event']} (by kind {run['counter writes by kind']});"
              f" record writes per event {run['record writes per event']}; most writes to one record "
              f"{run['most writes to one record']}; hottest counter item in the sample {run['hottest counter item']}",
              "", f"### Modeled: {modeled['rate']:,} events a second, one store, one automation, one day", "",
              "| what | writes/s | of DynamoDB's 1,000 |", "|---|---:|---:|",
              f"| hottest counter item (`{modeled['largest kind']}`: {modeled['largest kind writes per event']:.3f} "
              f"writes per event, over {STAT_SHARDS} shards) | {modeled['hottest counter item writes/s']:,} | "
              f"{modeled['hottest counter item writes/s'] / DYNAMODB_WRITES_PER_SECOND:.1%} |",
              f"| the store's counters' partition key (every kind, every shard) | "
              f"{modeled['store partition key writes/s']:,} | "
              f"{modeled['store partition key writes/s'] / DYNAMODB_WRITES_PER_SECOND:.0%} |",
              f"| one communication record (a message's events) | at most {modeled['one record writes']} in all, "
              "spread over minutes | - |", "",
              f"AWS calls per event: {modeled['calls per event']} (one Query of the customer's records; the batch's "
              "records and counters in one TransactWriteItems, again after a cancellation; the store's settings "
              "once per batch and store), plus Lambda's SQS poller's "
              f"ReceiveMessage and DeleteMessageBatch, one each per batch of {BATCH} (0.2 per event)."]
    return "\n".join(lines)


STAT_SHARDS = 16
BATCH = 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engagement", description=__doc__.split("\n")[0])
    parser.add_argument("--sample", type=int, default=500)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    run = measure(args.sample)
    from chalicelib.adapters import resources
    from chalicelib.sending import ledger

    assert ledger.STAT_SHARDS == STAT_SHARDS and resources.ENGAGEMENT_BATCH_SIZE == BATCH, "update the constants"
    modeled = model(run, args.rate, STAT_SHARDS)
    if args.json:
        print(json.dumps({"measured": run, "modeled": modeled, "argv": sys.argv[1:] if argv is None else argv}))
    else:
        print(report(sys.argv[1:] if argv is None else argv, run, modeled))
    return 0


if __name__ == "__main__":
    sys.exit(main())

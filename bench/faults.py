"""Fault figures for the runner: each fault the runner must survive, at scale, counting sends expected, provider
calls, messages the providers accepted, duplicates delivered and sends lost.

    .venv/bin/python -m bench.faults [--customers 100] [--json]

Runs in process against moto (the same tables, evaluation, dispatcher and ledger as the tests), with
the fault-injecting provider and queue fakes of tests/integration/runner_kit.py.
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
from datetime import datetime


def _environment() -> None:
    """The in-process emulator's environment. Set by `main` only: importing this module (bench/run.py does,
    for `table`) must not point a test process's tables at the benchmark's prefix."""
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_REGION": "us-east-1", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "TABLE_PREFIX": "bench-",
                       "POWERTOOLS_METRICS_DISABLED": "true",
                       "POWERTOOLS_LOG_LEVEL": "CRITICAL"})
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        os.environ.pop(name, None)


DEC18 = datetime.fromisoformat("2026-12-18T00:00:00+00:00")


def scenario(name: str, customers: int, setup, copies: int = 1, twice: bool = False, dynamodb=()) -> dict:
    """`dynamodb`: fault policies of tests/integration/dynamodb_faults.py, injected while the sends are
    delivered (evaluation runs clean)."""
    from chalicelib.rules.auth import Principal
    from chalicelib.services import customers as records
    from chalicelib.services.automations import patch
    from chalicelib.services.settings import patch as patch_settings
    from tests.integration.runner_kit import Runner

    tenant = f"f-{uuid.uuid4().hex[:10]}"
    owner = Principal(tenant, "owner", "bench")
    patch_settings(owner, {"timezone": "Australia/Sydney", "sender_email": "hello@store.example"}, DEC18)
    for n in range(customers):
        records.put_customer(owner, f"c{n}", {"email": f"c{n}@mail.example", "phone": f"+6140{n:07d}",
                                              "birthday": "1990-12-18", "consent": {"email": True, "sms": True},
                                              "created_at": "2025-01-01T00:00:00Z"}, DEC18)
    patch(owner, "birthday", {"enabled": True, "channels": ["email", "sms"]}, DEC18, "Australia/Sydney")
    runner = Runner(tenant, DEC18)
    setup(runner)
    from tests.integration.dynamodb_faults import dynamodb_faults

    started = time.monotonic()
    runner.evaluate(DEC18)
    with dynamodb_faults(*dynamodb) as injected:
        delivery = runner.deliver(copies=copies)
    if twice:
        from chalicelib.adapters.models import RunState

        RunState.get(tenant, "birthday").delete()       # the second evaluation does not know of the first
        _, again = runner.run(DEC18, copies=copies)
        delivery.outcomes += again.outcomes
    from chalicelib.adapters.models import Communication, tenant_customer

    delivered = runner.email.to() + runner.sms.to()
    # What the customers' histories say, read from the table (a crashed batch returns no outcomes).
    outcomes: Counter = Counter()
    per_send: Counter = Counter()
    for n in range(customers):
        for record in Communication.query(tenant_customer(tenant, f"c{n}")):
            outcomes[record.status] += 1
            per_send[(record.customer_id, record.channel, record.status)] += 1
    recorded = {(c, ch) for c, ch, _ in per_send}
    return {
        "scenario": name, "sends": 2 * customers,
        "provider calls": runner.email.calls + runner.sms.calls,
        "accepted": sum(delivered.values()),
        "duplicates delivered": sum(n - 1 for n in delivered.values() if n > 1),
        "sent records": outcomes["sent"], "failed records": outcomes["failed"],
        "sends with 2+ sent records": sum(1 for (_, _, status), n in per_send.items() if status == "sent" and n > 1),
        "lost (no record)": 2 * customers - len(recorded),
        "DynamoDB faults": sum(injected.faults.values()),
        "crashes": delivery.crashes + delivery.errors, "takeovers": runner.dispatcher.takeovers,
        "dead letters": len(delivery.dead_letters),
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON (for bench/run.py)")
    args = parser.parse_args(argv)
    _environment()
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from moto import mock_aws

    from chalicelib.sending import ledger
    from tests.integration.dynamodb_faults import (
        CONFLICT,
        THROTTLED,
        every,
        first,
        is_claim,
        is_outcome,
    )
    from tests.integration.runner_kit import (
        Crash,
        crash,
        once,
        reject,
        throttle_every_other,
    )

    ledger.sleep = lambda seconds: None   # the retries' pauses are waited for nowhere but in AWS

    def crash_every(fault, n: int):
        calls = iter(range(10**9))
        return lambda message: fault(message) if next(calls) % n == 0 else None

    def nothing(runner) -> None:
        pass

    def running_out_after(sends: int):
        """An invocation's remaining time: plenty for `sends` sends, then under the dispatcher's margin."""
        asked = iter(range(10**9))
        return lambda: 60.0 if next(asked) < sends else 1.0

    def killed_every(n: int, crash_type):
        """One write in n, at random (seeded): a fixed stride would fall on the same step of every send
        (a send makes three writes) and show that step alone."""
        rng = random.Random(n)

        def policy(operation: str, params: dict):
            if operation in ("TransactWriteItems", "UpdateItem") and rng.random() < 1 / n:
                raise crash_type()
            return None
        return policy

    def before(fault):
        return lambda runner: (setattr(runner.email, "before", fault()), setattr(runner.sms, "before", fault()))

    def after(fault):
        return lambda runner: (setattr(runner.email, "after", fault()), setattr(runner.sms, "after", fault()))

    from local.stack import create_resources, one_request_at_a_time, transactions_back_up_items

    one_request_at_a_time()   # before moto maps its handlers
    transactions_back_up_items()   # moto deep-copies whole tables per transaction: gigabytes at this size
    with mock_aws():
        create_resources(["store.example"])
        rows = [
            scenario("no fault", args.customers, nothing),
            scenario("every message delivered 3 times", args.customers, nothing, copies=3),
            scenario("one instant evaluated twice", args.customers, nothing, twice=True),
            scenario("crash between claim and provider call (1 in 25 calls)", args.customers,
                     before(lambda: crash_every(crash, 25))),
            scenario("crash between provider call and record (1 in 25 calls)", args.customers,
                     after(lambda: crash_every(crash, 25))),
            scenario("throttling on every other call", args.customers, before(throttle_every_other)),
            scenario("permanent rejection of every call", args.customers, before(lambda: reject)),
            scenario("one crash after acceptance", args.customers, after(lambda: once(crash))),
            # DynamoDB's own failure modes, which the emulator never shows, injected into the real adapters.
            scenario("TransactionConflict on every 2nd claim", args.customers, nothing,
                     dynamodb=[every(2, is_claim, CONFLICT)]),
            scenario("TransactionConflict on every 2nd outcome", args.customers, nothing,
                     dynamodb=[every(2, is_outcome, CONFLICT)]),
            scenario("outcomes cancelled on every try for a while (past the retries)", args.customers, nothing,
                     dynamodb=[first(3 * ledger.WRITE_ATTEMPTS, is_outcome, CONFLICT)]),
            scenario("reads throttled past the SDK's retries (every 3rd batch read)", args.customers, nothing,
                     dynamodb=[every(3, lambda op, _: op == "BatchGetItem", THROTTLED)]),
            scenario("writes throttled past the SDK's retries (every 3rd single-item write)", args.customers,
                     nothing, dynamodb=[every(3, lambda op, _: op == "UpdateItem", THROTTLED)]),
            scenario("Lambda timeout in the middle of every batch (time runs out after 4 sends)", args.customers,
                     lambda runner: setattr(runner, "time_left", lambda: running_out_after(4))),
            scenario("Lambda killed at a DynamoDB write (1 in 15 at random), timeout guard bypassed", args.customers, nothing,
                     dynamodb=[killed_every(15, Crash)]),
        ]
    if args.json:
        print(json.dumps({"customers": args.customers, "rows": rows}))
    else:
        print("\n".join(table(rows)))
    return 0


def table(rows: list[dict]) -> list[str]:
    columns = list(rows[0])
    return (["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            + ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows])


if __name__ == "__main__":
    sys.exit(main())

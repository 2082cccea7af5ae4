"""AWS calls per sent message through the whole pipeline, and the pipeline's time against a minimal loop.

    .venv/bin/python -m bench.pipeline [--sends 2000] [--pairs 2]

A store whose customers all have their birthday on the evaluated day is carried through the runner as
the cloud runs it (`local.runner`: the schedules' plans, the evaluation queue, evaluation,
the send queue, the dispatcher with its checks, SES, the ledger and the communication records), with
every AWS call counted, including the queue receives and deletes that Lambda's event source mapping
makes. Beside it, on an identical store in the same emulator, a loop makes only the calls the same
sends need at least: one index query (per page) for who is due, one `SendEmail` and one `PutItem`
of a record per send. Pipeline and loop alternate, `pairs` times, so a noisy machine moves both alike.
"""
from __future__ import annotations

import argparse
import json
import sys


def seed_birthdays(tenant_id: str, sends: int):
    """A store of `sends` customers with their birthday on the evaluated day, consenting to email."""
    from bench.seed import AT, DAY, SETTINGS, Store, put
    from chalicelib.adapters.models import Customer, Tenant, derive_customer_keys
    from chalicelib.core.timeutil import to_iso

    put(Tenant(tenant_id, settings=SETTINGS, created_at=to_iso(AT)))
    for n in range(sends):
        person = Customer(tenant_id, f"c{n:07d}", first_name=f"First{n}", last_name=f"Last{n}",
                          email=f"c{n:07d}@mail.example", birthday=f"1990-{DAY:%m-%d}",
                          consent={"email": True, "sms": False}, created_at=to_iso(AT), last_activity_at=to_iso(AT))
        derive_customer_keys(person)
        put(person)
    return Store(tenant_id, sends)


def our_pipeline(store) -> dict:
    from bench.emulator import metered
    from bench.seed import AT, enable
    from chalicelib.adapters import clients, resources
    from chalicelib.events import wiring as handlers
    from local.runner import Summary, _send_handler, drain, evaluate_at

    enable(store, "birthday")
    handlers.reset()  # a cold start: clients and queue URLs are looked up again
    summary = Summary()
    with metered() as meter:
        evaluate_at(AT, summary)
        drain(clients.queue_url(resources.send_queue_name()), _send_handler(summary))
    sent = summary.outcomes["sent"]
    assert sent == store.customers, summary.as_dict(AT)
    return {**_timing(meter, sent), "by_service": meter.by_service(),
            "by_operation": {f"{s}:{o}": n for (s, o), n in sorted(meter.calls.items())}}


def _timing(meter, sent: int) -> dict:
    inside = sum(meter.call_seconds.values())
    return {"sent": sent, "seconds": round(meter.seconds, 2), "calls": meter.total_calls,
            "calls_per_sent": round(meter.total_calls / sent, 3), "seconds_in_calls": round(inside, 2),
            "own_ms_per_sent": round((meter.seconds - inside) * 1000 / sent, 2),
            "ms_per_call": {f"{s}:{o}": round(meter.call_seconds[(s, o)] * 1000 / n, 2)
                            for (s, o), n in sorted(meter.calls.items())}}


def minimal_loop(store) -> dict:
    """Who is due, one email each, one record each: nothing checked, nothing rendered, nothing guarded."""
    import boto3

    from bench.emulator import SENDER_DOMAIN, metered
    from bench.seed import AT, DAY
    from chalicelib.adapters.models import Communication, Customer, month_day_key
    from chalicelib.core.timeutil import to_iso

    dynamodb, ses = boto3.client("dynamodb"), boto3.client("ses")
    sent = 0
    with metered() as meter:
        pages = dynamodb.get_paginator("query").paginate(
            TableName=Customer.Meta.table_name, IndexName="birthday_index",
            KeyConditionExpression="birthday_key = :k",
            ExpressionAttributeValues={":k": {"S": month_day_key(store.tenant_id, DAY.isoformat())}})
        for page in pages:
            for item in page["Items"]:
                customer_id, address = item["customer_id"]["S"], item["email"]["S"]
                answer = ses.send_email(Source=f"hello@{SENDER_DOMAIN}", Destination={"ToAddresses": [address]},
                                        Message={"Subject": {"Data": "Happy birthday"},
                                                 "Body": {"Text": {"Data": f"Happy birthday, {item['first_name']['S']}"}}})
                dynamodb.put_item(TableName=Communication.Meta.table_name, Item={
                    "tenant_customer": {"S": f"{store.tenant_id}#{customer_id}"},
                    "sort_key": {"S": f"{to_iso(AT)}#{answer['MessageId']}"}, "status": {"S": "sent"},
                    "provider_message_id": {"S": answer["MessageId"]}})
                sent += 1
    assert sent == store.customers
    return _timing(meter, sent)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    from bench import emulator

    server = emulator.start()
    try:
        ours, loops = [], []
        for n in range(args.pairs):
            ours.append(our_pipeline(seed_birthdays(f"pipeline-{n}", args.sends)))
            loops.append(minimal_loop(seed_birthdays(f"loop-{n}", args.sends)))
    finally:
        server.stop()
    ours_seconds, loop_seconds = sum(r["seconds"] for r in ours), sum(r["seconds"] for r in loops)
    result = {"sends": args.sends, "pairs": args.pairs, "pipeline": ours, "minimal": loops,
              "ratio": round(ours_seconds / loop_seconds, 3)}
    print(json.dumps(result) if args.json else json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Read amplification per type, and the test-run's latency, at 10,000 and 100,000 customers.

    .venv/bin/python -m bench.reads [--sizes 10000 100000] [--rounds 21]

For each tenant size, a synthetic store (bench.seed) is written into a fresh emulator, and each of the
ten matchers runs on a day it matches about 0.3% of the customers (the seasonal types: their own day,
when everyone matches). Items read are the DynamoDB items the calls read (`bench.emulator.Meter`)
while the matcher finds its matches, as the runner's evaluation does; the types that match a sale,
repair or appointment read its customer only if the record does not vouch that the customer exists
(`customer_present`, which the seeded records carry as the API writes them). Beside it the same matcher
runs over `ScanRepository`, which answers each read by reading the tenant's whole partition with a
filter: the cheapest form of "scan and filter" (a table scan would also read every other tenant).
`people_items` is what asking every match for its customer then reads, as the test-run does (nothing
for the types that read customers to match them). Test-run latency is the dry run of the API
(`chalicelib.services.testrun`) against one bare index query for the same customers, interleaved round
by round, at the largest size.

    .venv/bin/python -m bench.reads --sizes 2000 --rounds 3

is the smallest run in which every date-driven type matches someone (at 1,000 customers post_purchase
and anniversary match nobody), so that each shows its items read per match.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from datetime import time as clock


def _scan_repository():
    from chalicelib.adapters.models import (
        Appointment,
        Customer,
        Repair,
        Sale,
        month_day_key,
    )
    from chalicelib.adapters.repository import (
        DynamoRepository,
        appointment_fact,
        person_of,
        repair_fact,
        sale_fact,
    )

    class ScanRepository(DynamoRepository):
        """The matchers' reads without the indexes: every one reads the tenant's whole partition."""

        def customers_by_month_day(self, tenant_id, field, month_day):
            key = getattr(Customer, f"{field}_key")
            return map(person_of, Customer.query(tenant_id, filter_condition=key == month_day_key(tenant_id, month_day)))

        def customers_active_between(self, tenant_id, first, last):
            return map(person_of, Customer.query(tenant_id, filter_condition=Customer.last_activity_at.between(first, last)))

        def sales_completed_between(self, tenant_id, first, last):
            return map(sale_fact, Sale.query(tenant_id, filter_condition=Sale.completed_at.between(first, last)))

        def repairs_ready_between(self, tenant_id, first, last):
            return map(repair_fact, Repair.query(tenant_id, filter_condition=Repair.ready_since.between(first, last)))

        def appointments_booked_between(self, tenant_id, first, last):
            return map(appointment_fact, Appointment.query(
                tenant_id, filter_condition=Appointment.booked_starts_at.between(first, last)))

    return ScanRepository()


SEASONAL = ("valentines", "mothers_day", "christmas")
#: The seasonal types all read everyone through the one `everyone_on` read. The emulator takes minutes
#: to return 100,000 items, so above this size only the first is run and the others share its figures.
EVERY_SEASONAL_TYPE_UP_TO = 10_000


def occasion(type_: str, store):
    """The occasion each type is measured on: the seeded day, or a seasonal type's own day."""
    import importlib

    from bench.seed import AT, DAY
    from chalicelib.core.values import Occasion

    if type_ not in SEASONAL:
        return Occasion(AT, DAY)
    day = importlib.import_module(f"chalicelib.matchers.{type_}").send_day(DAY.year, store.view)
    return Occasion(datetime.combine(day, clock(10), tzinfo=timezone.utc), day)


def amplification(store) -> list[dict]:
    from bench.emulator import metered
    from bench.seed import enable
    from chalicelib.adapters.repository import DynamoRepository
    from chalicelib.core.catalog import PER_EVENT
    from chalicelib.matchers import matcher_for

    rows: list[dict] = []
    for type_ in PER_EVENT:
        automation = enable(store, type_)
        when = occasion(type_, store)
        if type_ in SEASONAL[1:] and store.customers > EVERY_SEASONAL_TYPE_UP_TO:
            shared = next(r for r in rows if r["type"] == SEASONAL[0])
            rows.append({**shared, "type": type_, "day": when.day.isoformat(), "same_read_as": SEASONAL[0]})
            continue
        figures = {}
        # The seasonal types read the tenant's partition either way: one measurement serves both columns.
        repos = [("index", DynamoRepository())] + ([("scan", _scan_repository())] if type_ not in SEASONAL else [])
        for name, repo in repos:
            with metered() as meter:
                matches = list(matcher_for(type_)(store.view, automation, when, repo))
            figures[name] = {"matched": len(matches), "items_read": meter.items_read, "calls": meter.total_calls,
                             "ms": round(meter.seconds * 1000, 1)}
            if name == "index":
                with metered() as meter:
                    for match in matches:
                        match.person  # noqa: B018 - read when asked for
                figures[name]["people_items"] = meter.items_read
        figures.setdefault("scan", figures["index"])
        assert figures["index"]["matched"] == figures["scan"]["matched"], (type_, figures)
        matched = figures["index"]["matched"]
        rows.append({"customers": store.customers, "type": type_, "day": when.day.isoformat(), "matched": matched,
                     "share": round(matched / store.customers, 4),
                     "index_items": figures["index"]["items_read"], "index_calls": figures["index"]["calls"],
                     "index_per_match": round(figures["index"]["items_read"] / matched, 3) if matched else None,
                     "people_items": figures["index"]["people_items"],
                     "scan_items": figures["scan"]["items_read"], "scan_calls": figures["scan"]["calls"],
                     "scan_per_match": round(figures["scan"]["items_read"] / matched, 3) if matched else None})
    return rows


def test_run_latency(store, rounds: int) -> dict:
    """The test run of `birthday` (dates, matches, checks 3-6, sample) against one bare index query."""
    import boto3

    from bench.seed import AT, DAY
    from chalicelib.adapters.models import Customer, month_day_key
    from chalicelib.adapters.repository import DynamoRepository
    from chalicelib.services.testrun import test_run

    dynamodb = boto3.client("dynamodb")
    key = month_day_key(store.tenant_id, DAY.isoformat())

    def bare() -> int:
        answer = dynamodb.query(TableName=Customer.Meta.table_name, IndexName="birthday_index",
                                KeyConditionExpression="birthday_key = :k", ExpressionAttributeValues={":k": {"S": key}})
        return answer["Count"]

    def ours() -> int:
        return test_run(store.tenant_id, "birthday", {"at": AT.isoformat()}, AT, DynamoRepository())["count"]

    times: dict[str, list[float]] = {"test_run": [], "bare_query": []}
    counts = {}
    for _ in range(rounds):
        for name, fn in (("test_run", ours), ("bare_query", bare)):
            started = time.perf_counter()
            counts[name] = fn()
            times[name].append((time.perf_counter() - started) * 1000)

    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20, method="inclusive")[18]

    return {"customers": store.customers, "rounds": rounds, "count": counts["test_run"],
            "bare_count": counts["bare_query"],
            **{f"{name}_p50_ms": round(statistics.median(v), 1) for name, v in times.items()},
            **{f"{name}_p95_ms": round(p95(v), 1) for name, v in times.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    from bench import emulator

    server = emulator.start()
    try:
        from bench.seed import seed_store

        rows, seeding, latency = [], {}, None
        for size in args.sizes:
            started = time.perf_counter()
            store = seed_store(f"bench-{size}", size)
            seeding[size] = round(time.perf_counter() - started, 1)
            rows += amplification(store)
            if size == max(args.sizes):
                latency = test_run_latency(store, args.rounds)
    finally:
        server.stop()
    result = {"amplification": rows, "seeding_seconds": seeding, "test_run": latency}
    if args.json:
        print(json.dumps(result))
    else:
        for row in rows:
            print(row)
        print(latency)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Segment counts at 100,000 customers: the items each read takes and its time, in the emulator.

    .venv/bin/python -m bench.segments [--customers 100000] [--json]

A synthetic store (written straight into the emulator's backend, as `bench.seed` does) of customers with a
tenth tagged VIP, a quarter tagged gold, creation spread over two years, a last activity and a last purchase
spread over the year before `AT`, birthdays and anniversaries over the year, points, contacts and consent.
Each of the four built-in segments and two custom filters is counted at `AT` as `GET /segments/{id}` counts it
(`chalicelib.matchers.segment.count` over `DynamoRepository`): the read it chose (", counted" where DynamoDB only
counts), the items DynamoDB reads (`ScannedCount`, what it bills), the calls, the wall time, and the CPU time of the
calling thread (`client_cpu_ms`: botocore's parsing, PynamoDB and the filter's tests, without the emulator, which
answers from other threads), the part of a count's time that does not depend on the emulator. The custom filter `gold_active` is served by an index
(last activity in 30 days); `points_reachable` has no indexed condition and reads the base once, projected. Then
`GET /segments`' counts of all six together (`counts`: the base read once, shared by the segments no index serves).
Every count is checked against the predicate applied to every customer. `bytes_read` is the items' size as
DynamoDB sizes them, approximately, from which `dynamodb_pages` (1 MB each) and the read units (eventually
consistent: 0.5 per 4 KB) a real table would take follow; the emulator's own pages are larger (`bench.emulator`).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta, timezone

AT = datetime(2026, 6, 10, 10, 0, tzinfo=timezone.utc)
TENANT = "bench-segments"
CUSTOM = {
    "gold_active": {"tags_any": ["gold"], "active_within_days": 30, "consent_email": True},
    "points_reachable": {"points_min": 1000, "has_email": True, "consent_email": True},
}


def _size(serialized: dict) -> int:
    """An item's size as DynamoDB counts it, near enough: names and values in UTF-8, numbers as their digits."""
    def value(v: dict) -> int:
        (kind, inner), = v.items()
        if kind in ("S", "N"):
            return len(inner.encode())
        if kind == "BOOL":
            return 1
        if kind == "L":
            return 3 + sum(value(x) + 1 for x in inner)
        if kind == "M":
            return 3 + sum(len(k.encode()) + value(x) + 1 for k, x in inner.items())
        return 1
    return sum(len(name.encode()) + value(v) for name, v in serialized.items())


def seed(customers: int, rng_seed: int = 11) -> float:
    """Write the store; returns the mean item size in bytes."""
    from bench.seed import SETTINGS, put
    from chalicelib.adapters.models import Customer, Tenant, derive_customer_keys
    from chalicelib.core.timeutil import to_iso

    rng = random.Random(rng_seed)
    put(Tenant(TENANT, settings=SETTINGS, created_at=to_iso(AT)))
    total = 0
    for n in range(customers):
        created = AT - timedelta(seconds=rng.randrange(730 * 86400))
        purchase = AT - timedelta(seconds=rng.randrange(365 * 86400)) if rng.random() < 0.6 else None
        activity = max(x for x in (created, purchase) if x is not None)
        tags = (["VIP"] if rng.random() < 0.1 else []) + (["gold"] if rng.random() < 0.25 else [])
        birthday = (datetime(2000, 1, 1) + timedelta(days=rng.randrange(366))).strftime("1990-%m-%d")
        anniversary = (datetime(2001, 1, 1) + timedelta(days=rng.randrange(365))).strftime("2010-%m-%d")
        item = Customer(TENANT, f"c{n:07d}", first_name=f"First{n}", last_name=f"Last{n}",
                        email=f"c{n:07d}@mail.example" if rng.random() < 0.9 else None,
                        phone=f"+1555{n:07d}" if rng.random() < 0.6 else None,
                        birthday=birthday.replace("02-29", "02-28") if rng.random() < 0.8 else None,
                        anniversary=anniversary if rng.random() < 0.3 else None, tags=tags or None,
                        interests=["pearls"] if rng.random() < 0.2 else None,
                        points_balance=rng.choice([0, 50, 300, 1200, 2600]),
                        consent={"email": rng.random() < 0.85, "sms": rng.random() < 0.5},
                        created_at=to_iso(created), last_activity_at=to_iso(activity),
                        last_purchase_at=to_iso(purchase) if purchase else None)
        derive_customer_keys(item)
        serialized = item.serialize()
        total += _size(serialized)
        put(item)
    return total / customers if customers else 0.0


def measure(customers: int) -> dict:
    from bench.campaigns import EMULATOR_READ_TIMEOUT_SECONDS
    from bench.emulator import metered
    from bench.seed import SETTINGS
    from chalicelib.adapters.models import Customer
    from chalicelib.adapters.repository import DynamoRepository
    from chalicelib.core.store_settings import effective
    from chalicelib.core.values import TenantView
    from chalicelib.matchers.segment import count, counts
    from chalicelib.rules.segments import BUILT_IN, EVERYONE, Moment, plan

    Customer.Meta.read_timeout_seconds = EMULATOR_READ_TIMEOUT_SECONDS   # see bench.campaigns
    Customer._connection = None
    started = time.perf_counter()
    item_bytes = seed(customers)
    seeding = round(time.perf_counter() - started, 1)
    tenant = TenantView(TENANT, effective(SETTINGS))
    moment = Moment(AT, tenant.timezone)
    filters = {**{b.segment_id: b.filter_on(moment.today) for b in BUILT_IN}, **CUSTOM}
    repo = DynamoRepository()
    everyone = [p for part in EVERYONE.parts for p in repo.read_profiles(TENANT, part)]
    rows = []
    for segment_id, conditions in filters.items():
        how = plan(conditions, moment)
        with metered() as meter:
            cpu = time.thread_time()
            found = count(tenant, conditions, AT, repo)
            cpu = time.thread_time() - cpu
        assert found == sum(how.admits(p) for p in everyone), segment_id
        rows.append(_row(segment_id, conditions, how.read.name + (", counted" if how.exact else ""), found, meter,
                         cpu, item_bytes))
    with metered() as meter:
        cpu = time.thread_time()
        listed = counts(tenant, filters, AT, repo)
        cpu = time.thread_time() - cpu
    assert listed == {r["segment"]: r["count"] for r in rows}
    listing = _row("GET /segments (all six)", None, "each its own, the base once", sum(listed.values()), meter,
                   cpu, item_bytes)
    return {"customers": customers, "at": AT.isoformat(), "seeding_seconds": seeding,
            "item_bytes": round(item_bytes), "segments": rows, "list": listing}


def _row(segment: str, conditions: dict | None, read: str, count: int, meter, cpu: float, item_bytes: float) -> dict:
    bytes_read = meter.items_read * item_bytes
    return {"segment": segment, "filter": conditions, "read": read, "count": count,
            "items_read": meter.items_read, "calls": meter.calls.get(("dynamodb", "Query"), 0),
            "ms": round(meter.seconds * 1000), "client_cpu_ms": round(cpu * 1000),
            "mb_read": round(bytes_read / 1e6, 1),
            "dynamodb_pages": max(1, -(-int(bytes_read) // 1_000_000)) if meter.items_read else 0,
            "read_units": round(bytes_read / 4096 / 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    from bench import emulator

    server = emulator.start()
    try:
        result = measure(args.customers)
    finally:
        server.stop()
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['customers']} customers, {result['item_bytes']} bytes each, seeded in "
              f"{result['seeding_seconds']} s; counted at {result['at']}")
        for row in [*result["segments"], result["list"]]:
            print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())

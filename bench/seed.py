"""Synthetic stores, written straight into the emulator's tables: the models' own items, with the
repository's derived keys, put into moto's backend in this process (the emulator runs here, see
`bench.emulator`), so a 100,000-customer tenant takes seconds rather than an hour of API calls.

Each customer has a birthday and an anniversary spread over the year, one sale in the year before
`DAY`, and a last activity derived as the repository derives it; 30% have a repair that is ready (its
ready date spread over the 100 days before `DAY`) and 10% a booked appointment in the 30 days after.
So on `DAY` each date-driven type matches about 0.3% of the customers.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from chalicelib.adapters.models import (
    Appointment,
    Automation,
    Customer,
    Repair,
    Sale,
    Tenant,
    derive_customer_keys,
    tenant_customer,
)
from chalicelib.core.catalog import PER_EVENT
from chalicelib.core.store_settings import effective
from chalicelib.core.timeutil import to_iso
from chalicelib.core.values import AutomationView, TenantView
from chalicelib.services.automations import configuration
from chalicelib.services.customers import derive_appointment, derive_repair
from local.stack import REGION

#: The evaluated day (tenant-local, UTC) and instant: the store's send hour on it.
DAY = date(2026, 6, 10)
AT = datetime(2026, 6, 10, 10, 0, tzinfo=timezone.utc)
SETTINGS = {"store_name": "Bench Jewellers", "timezone": "UTC", "send_hour": 10,
            "sender_email": "hello@store.example"}
READY_SHARE, READY_DAYS = 0.3, 100
BOOKED_SHARE, BOOKED_DAYS = 0.1, 30


@dataclass(frozen=True)
class Store:
    tenant_id: str
    customers: int

    @property
    def view(self) -> TenantView:
        return TenantView(self.tenant_id, effective(SETTINGS))


def _instant(rng: random.Random, latest: datetime, days: int) -> datetime:
    return (latest - timedelta(seconds=rng.randrange(days * 86400))).replace(microsecond=0)


def _month_day(rng: random.Random) -> str:
    return (date(1990, 1, 1) + timedelta(days=rng.randrange(365))).isoformat()


def put(*items) -> None:
    """Put model items straight into the emulator's backend (no API call, so nothing is metered)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
    for item in items:
        backend.put_item(item.Meta.table_name, item.serialize())


def seed_store(tenant_id: str, customers: int, seed: int = 7) -> Store:
    """A tenant of `customers` synthetic customers with their sales, repairs and appointments."""
    rng = random.Random(seed)
    put(Tenant(tenant_id, settings=SETTINGS, created_at=to_iso(AT)))
    for n in range(customers):
        customer_id = f"c{n:07d}"
        created = _instant(rng, AT, 730)
        activity = [created]
        sold = _instant(rng, AT, 365)
        put(Sale(tenant_id, f"s{n:07d}", customer_id=customer_id, completed_at=to_iso(sold), total=120.0,
                 tenant_customer=tenant_customer(tenant_id, customer_id), created_at=to_iso(sold)))
        activity.append(sold)
        if rng.random() < READY_SHARE:
            ready = _instant(rng, AT, READY_DAYS)
            repair = Repair(tenant_id, f"r{n:07d}", customer_id=customer_id, status="ready",
                            description="Ring resize", created_at=to_iso(ready - timedelta(days=10)),
                            ready_at=to_iso(ready), tenant_customer=tenant_customer(tenant_id, customer_id))
            derive_repair(repair, None)
            put(repair)
            activity.append(ready - timedelta(days=10))
        if rng.random() < BOOKED_SHARE:
            starts = AT + timedelta(minutes=rng.randrange(BOOKED_DAYS * 24 * 60))
            appointment = Appointment(tenant_id, f"a{n:07d}", customer_id=customer_id, status="booked",
                                      starts_at=to_iso(starts), purpose="Valuation", created_at=to_iso(AT))
            derive_appointment(appointment, None)
            put(appointment)
        person = Customer(tenant_id, customer_id, first_name=f"First{n}", last_name=f"Last{n}",
                          email=f"{customer_id}@mail.example", phone=f"+1555{n:07d}",
                          birthday=_month_day(rng), anniversary=_month_day(rng),
                          consent={"email": rng.random() < 0.9, "sms": rng.random() < 0.5},
                          created_at=to_iso(created), last_activity_at=to_iso(max(activity)))
        derive_customer_keys(person)
        put(person)
    return Store(tenant_id, customers)


def enable(store: Store, type_: str, channels: tuple[str, ...] = ("email",), **settings) -> AutomationView:
    """Switch a type on for the store (as of a day before `AT`); returns its configuration."""
    spec = PER_EVENT[type_]
    enabled_at = to_iso(AT - timedelta(days=1))
    item = Automation(store.tenant_id, type_, enabled=True, settings={**spec.default_settings(), **settings},
                      channels=list(channels), enabled_at=enabled_at, enabled_type=type_, updated_at=enabled_at)
    item.save()
    return configuration(spec, item)

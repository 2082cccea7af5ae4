"""Reads grow with matches, not with the customer base: each date-driven matcher reads, through its
index, only the records it matches, and nothing ever scans a table. A sale, repair or appointment
vouches that its customer exists, so matching it reads nothing more; its customer is read (all of a
matcher's in one batch) only when someone asks for them, as the test-run does."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.repository import DynamoRepository
from chalicelib.core import catalog
from chalicelib.core.store_settings import DEFAULTS
from chalicelib.core.timeutil import to_iso
from chalicelib.core.values import AutomationView, Occasion, TenantView
from chalicelib.matchers import MATCHERS
from chalicelib.rules.auth import Principal
from chalicelib.services import customers as records

AT = datetime(2026, 6, 10, 10, 0, tzinfo=timezone.utc)
DATE_DRIVEN = ["birthday", "anniversary", "repair_ready_reminder", "reengagement", "post_purchase",
               "appointment_24h", "appointment_1h"]
BASE = 150   # customers who match nothing at AT
DUE = 3      # customers due for each type at AT
#: The types that match a sale, repair or appointment rather than a customer.
RECORD_DRIVEN = ["repair_ready_reminder", "post_purchase", "appointment_24h", "appointment_1h"]


@pytest.fixture(scope="module")
def store():
    tenant_id = f"reads-{uuid.uuid4().hex[:8]}"
    owner = Principal(tenant_id=tenant_id, role="owner", subject="test")
    long_ago = AT - timedelta(days=2000)
    # The base: birthdays, anniversaries, activity, sales, repairs and appointments on other days.
    for n in range(BASE):
        other = AT + timedelta(days=20 + n % 300)
        cid = f"base{n}"
        records.put_customer(owner, cid, {"birthday": f"1980-{other:%m-%d}", "anniversary": f"--{other:%m-%d}",
                                          "created_at": to_iso(long_ago + timedelta(days=n))}, AT)
        records.put_sale(owner, f"bs{n}", {"customer_id": cid, "completed_at": to_iso(AT - timedelta(days=200 + n))}, AT)
        records.put_repair(owner, f"br{n}", {"customer_id": cid, "status": "ready" if n % 2 else "collected",
                                             "ready_at": to_iso(AT - timedelta(days=20 + n)),
                                             "created_at": to_iso(long_ago)}, AT)
        records.put_appointment(owner, f"ba{n}", {"customer_id": cid,
                                                  "starts_at": to_iso(AT + timedelta(days=3, hours=n))}, AT)
    # The due: DUE customers for each type.
    for n in range(DUE):
        records.put_customer(owner, f"bday{n}", {"birthday": "1990-06-10", "created_at": to_iso(long_ago)}, AT)
        records.put_customer(owner, f"anniv{n}", {"anniversary": "--06-10", "created_at": to_iso(long_ago)}, AT)
        records.put_customer(owner, f"lapsed{n}", {"created_at": "2026-03-10T09:00:00Z"}, AT)
        records.put_customer(owner, f"buyer{n}", {"created_at": to_iso(long_ago)}, AT)
        records.put_sale(owner, f"s{n}", {"customer_id": f"buyer{n}", "completed_at": "2026-06-09T12:00:00Z"}, AT)
        records.put_customer(owner, f"fixer{n}", {"created_at": to_iso(long_ago)}, AT)
        records.put_repair(owner, f"r{n}", {"customer_id": f"fixer{n}", "status": "ready",
                                            "ready_at": "2026-06-07T12:00:00Z", "created_at": to_iso(long_ago)}, AT)
        records.put_customer(owner, f"visit{n}", {"created_at": to_iso(long_ago)}, AT)
        records.put_appointment(owner, f"a{n}", {"customer_id": f"visit{n}",
                                                 "starts_at": to_iso(AT + timedelta(hours=20, minutes=n))}, AT)
        records.put_appointment(owner, f"b{n}", {"customer_id": f"visit{n}",
                                                 "starts_at": to_iso(AT + timedelta(minutes=30 + n))}, AT)
    return tenant_id


@pytest.mark.parametrize("type_", DATE_DRIVEN)
def test_a_date_driven_matcher_reads_only_what_it_matches(store, counter, type_):
    spec = catalog.PER_EVENT[type_]
    automation = AutomationView(type_, {**spec.default_settings(), "days_after": 3, "months_inactive": 3}
                                if type_ in ("repair_ready_reminder", "reengagement") else spec.default_settings())
    tenant = TenantView(store, {**DEFAULTS, "timezone": "UTC"})
    counter.reset()
    matches = list(MATCHERS[type_](tenant, automation, Occasion(AT, AT.date()), DynamoRepository()))
    assert len(matches) == DUE, type_
    assert "Scan" not in counter.calls
    # The index read holds only matches, and is all that is read.
    assert counter.items["Query"] == len(matches)
    assert sum(counter.items.values()) == len(matches), counter.items


@pytest.mark.parametrize("type_", RECORD_DRIVEN)
def test_the_customers_of_record_matches_are_read_in_one_batch_when_asked_for(store, counter, type_):
    spec = catalog.PER_EVENT[type_]
    automation = AutomationView(type_, {**spec.default_settings(), "days_after": 3}
                                if type_ == "repair_ready_reminder" else spec.default_settings())
    tenant = TenantView(store, {**DEFAULTS, "timezone": "UTC"})
    matches = list(MATCHERS[type_](tenant, automation, Occasion(AT, AT.date()), DynamoRepository()))
    counter.reset()
    people = [m.person for m in matches]
    assert dict(counter.calls) == {"BatchGetItem": 1} and counter.items["BatchGetItem"] == len(matches)
    assert [p.customer_id for p in people] == [m.customer_id for m in matches]
    assert all(p.last_activity_at for p in people)          # read from the customers table, not made up
    counter.reset()
    assert [m.person for m in matches] == people and not counter.calls   # read once

"""A sale, repair or appointment vouches that its customer exists (`customer_present`), so that the
matchers need not read the customer to match it; a deleted customer is vouched for by none of their
records, whatever the order of the writes, and a record that does not vouch is matched by reading its
customer, as before."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.models import Appointment, Repair, Sale, tenant_customer
from chalicelib.adapters.repository import DynamoRepository
from chalicelib.core import catalog
from chalicelib.core.store_settings import DEFAULTS
from chalicelib.core.timeutil import to_iso
from chalicelib.core.values import AutomationView, Occasion, TenantView
from chalicelib.matchers import MATCHERS
from chalicelib.rules.auth import Principal
from chalicelib.services import customers as records

AT = datetime(2026, 6, 10, 10, 0, tzinfo=timezone.utc)
READY_AT = to_iso(AT - timedelta(days=3, hours=2))            # repair_ready_reminder, days_after 3
STARTS_AT = to_iso(AT + timedelta(hours=20))                    # appointment_24h
SOLD_AT = to_iso(AT - timedelta(hours=20))                      # post_purchase: yesterday, UTC
TYPES = ("repair_ready_reminder", "appointment_24h", "post_purchase")


class CountingRepository(DynamoRepository):
    """Which customers the matchers read."""

    def __init__(self):
        self.read: list[str] = []

    def customers(self, tenant_id, customer_ids):
        ids = sorted(set(customer_ids))
        self.read += ids
        return super().customers(tenant_id, ids)


@pytest.fixture
def owner() -> Principal:
    return Principal(tenant_id=f"vouch-{uuid.uuid4().hex[:8]}", role="owner", subject="test")


def customer(owner: Principal, customer_id: str) -> None:
    records.put_customer(owner, customer_id, {"first_name": customer_id.title(), "email": f"{customer_id}@v.example",
                                              "created_at": "2025-01-01T00:00:00Z"}, AT)


def everything_of(owner: Principal, customer_id: str) -> None:
    """A ready repair, a booked appointment and a sale of `customer_id`, each due at AT."""
    records.put_repair(owner, f"r-{customer_id}", {"customer_id": customer_id, "status": "ready",
                                                   "ready_at": READY_AT, "created_at": "2026-05-01T00:00:00Z"}, AT)
    records.put_appointment(owner, f"a-{customer_id}", {"customer_id": customer_id, "starts_at": STARTS_AT}, AT)
    records.put_sale(owner, f"s-{customer_id}", {"customer_id": customer_id, "completed_at": SOLD_AT}, AT)


def vouching(owner: Principal, customer_id: str) -> dict[str, object]:
    return {model.__name__: model.get(owner.tenant_id, f"{prefix}-{customer_id}").customer_present
            for model, prefix in ((Repair, "r"), (Appointment, "a"), (Sale, "s"))}


def match(owner: Principal, repo=None) -> dict[str, list[str]]:
    repo = repo or DynamoRepository()
    tenant = TenantView(owner.tenant_id, {**DEFAULTS, "timezone": "UTC"})
    found = {}
    for type_ in TYPES:
        spec = catalog.PER_EVENT[type_]
        automation = AutomationView(type_, {**spec.default_settings(), "days_after": 3}
                                    if type_ == "repair_ready_reminder" else spec.default_settings())
        found[type_] = sorted(m.customer_id for m in MATCHERS[type_](tenant, automation, Occasion(AT, AT.date()), repo))
    return found


def test_records_vouch_for_their_customer_until_the_customer_is_deleted(owner):
    for customer_id in ("kept", "gone"):
        customer(owner, customer_id)
        everything_of(owner, customer_id)
    assert vouching(owner, "gone") == {"Repair": True, "Appointment": True, "Sale": True}
    repo = CountingRepository()
    assert match(owner, repo) == {type_: ["gone", "kept"] for type_ in TYPES}
    assert repo.read == []                                               # matched without reading anyone

    records.delete_customer(owner, "gone", datetime(2026, 11, 1, tzinfo=timezone.utc))

    assert vouching(owner, "gone") == {"Repair": None, "Appointment": None, "Sale": None}
    assert vouching(owner, "kept") == {"Repair": True, "Appointment": True, "Sale": True}
    repo = CountingRepository()
    assert match(owner, repo) == {type_: ["kept"] for type_ in TYPES}
    assert repo.read == ["gone"] * len(TYPES)                            # read to learn they are gone
    # Written again, the customer is matched again through their old records, which are read.
    customer(owner, "gone")
    assert match(owner) == {type_: ["gone", "kept"] for type_ in TYPES}
    assert vouching(owner, "gone") == {"Repair": None, "Appointment": None, "Sale": None}


@pytest.mark.parametrize("write", ["put_repair", "put_appointment", "put_sale"])
def test_a_record_written_while_its_customer_is_deleted_does_not_vouch_for_them(owner, monkeypatch, write):
    """The write reads the customer, then the customer is deleted (its records looked for and withdrawn)
    before the record is written: the write finds the customer gone afterwards and withdraws it."""
    customer(owner, "late")
    real = records._require_customer

    def then_deleted(tenant_id, customer_id):
        real(tenant_id, customer_id)
        records.delete_customer(owner, customer_id, datetime(2026, 11, 1, tzinfo=timezone.utc))
    monkeypatch.setattr(records, "_require_customer", then_deleted)
    everything = {"put_repair": ("r-late", {"status": "ready", "ready_at": READY_AT}, Repair),
                  "put_appointment": ("a-late", {"starts_at": STARTS_AT}, Appointment),
                  "put_sale": ("s-late", {"completed_at": SOLD_AT}, Sale)}
    record_id, body, model = everything[write]
    getattr(records, write)(owner, record_id, {"customer_id": "late", **body}, AT)
    assert model.get(owner.tenant_id, record_id).customer_present is None
    assert match(owner) == {type_: [] for type_ in TYPES}


def test_a_record_that_does_not_say_is_matched_by_reading_its_customer(owner):
    """Records written before records vouched for their customers: matched as before, by reading them."""
    customer(owner, "old")
    customer(owner, "older")
    for customer_id in ("old", "older"):
        key = tenant_customer(owner.tenant_id, customer_id)
        Repair(owner.tenant_id, f"r-{customer_id}", customer_id=customer_id, status="ready", ready_at=READY_AT,
               ready_since=READY_AT, created_at="2026-05-01T00:00:00Z", tenant_customer=key,
               customer_present=None).save()
        Appointment(owner.tenant_id, f"a-{customer_id}", customer_id=customer_id, status="booked",
                    starts_at=STARTS_AT, booked_starts_at=STARTS_AT, created_at=to_iso(AT),
                    customer_present=None).save()
        Sale(owner.tenant_id, f"s-{customer_id}", customer_id=customer_id, completed_at=SOLD_AT, created_at=SOLD_AT,
             tenant_customer=key, customer_present=None).save()
    records.delete_customer(owner, "older", datetime(2026, 11, 1, tzinfo=timezone.utc))
    repo = CountingRepository()
    found = match(owner, repo)
    assert found == {type_: ["old"] for type_ in TYPES}
    assert repo.read == ["old", "older"] * len(TYPES)


def test_a_patch_that_names_no_customer_leaves_the_records_word_as_it_was(owner):
    customer(owner, "pat")
    everything_of(owner, "pat")
    records.patch_repair(owner, "r-pat", {"description": "Ring resize"}, AT)
    assert Repair.get(owner.tenant_id, "r-pat").customer_present is True
    records.delete_customer(owner, "pat", datetime(2026, 11, 1, tzinfo=timezone.utc))
    records.patch_repair(owner, "r-pat", {"description": "Ring resize, rush"}, AT)
    assert Repair.get(owner.tenant_id, "r-pat").customer_present is None
    # Moved to a customer who exists: it vouches for them.
    customer(owner, "sam")
    records.patch_repair(owner, "r-pat", {"customer_id": "sam"}, AT)
    assert Repair.get(owner.tenant_id, "r-pat").customer_present is True
    assert match(owner)["repair_ready_reminder"] == ["sam"]


def test_the_api_does_not_show_it(owner):
    customer(owner, "api")
    everything_of(owner, "api")
    assert "customer_present" not in records.get_repair(owner.tenant_id, "r-api")
    assert "customer_present" not in records.get_appointment(owner.tenant_id, "a-api")
    assert "customer_present" not in records.get_sale(owner.tenant_id, "s-api")

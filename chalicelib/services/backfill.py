"""Bring the customers stored by an earlier version up to what every write derives today.

`Customer.save` derives `is_vip` from the tags, the index keys (VIP, birthday, anniversary, email) and
tags and interests without duplicates, and writes the customer's search keys (`CustomerSearch`) and address key (`CustomerEmail`); the
services add the last activity and the last purchase. A customer written before one of these existed
lacks it until its next write: the VIP segment would not count it, a search would not find it, an import
would not match it by email. `customers()` reads every customer once (a
parallel scan: the one place a scan is right, since every item is to be read) and writes back, under
its version, only those whose derived fields differ. Run after upgrading a deployed stack
(docs/operations.md); running it again rewrites nothing.
"""
from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from chalicelib.adapters.models import (
    Customer,
    CustomerEmail,
    CustomerSearch,
    derive_customer_keys,
)
from chalicelib.adapters.persistence import get_or_none, mutate
from chalicelib.rules import search
from chalicelib.services.customers import _activity

DERIVED = ("tags", "interests", "is_vip", "vip_key", "birthday_key", "anniversary_key", "email_key",
           "last_activity_at", "last_purchase_at")


def _derived(item: Customer) -> tuple:
    return tuple(getattr(item, name) for name in DERIVED)


def _search_keys_missing(item: Customer) -> bool:
    """Whether any of the search keys the customer should have is not stored, or their address's item does not
    list them (`CustomerEmail`; one batch read each)."""
    wanted = [(item.tenant_id, CustomerSearch.of(item, key).search_key) for key in sorted(item.search_keys())]
    if wanted and sum(1 for _ in CustomerSearch.batch_get(wanted)) < len(wanted):
        return True
    address = search.email_key(item.email)
    if address is None:
        return False
    listed = get_or_none(CustomerEmail, item.tenant_id, address)
    return listed is None or item.customer_id not in (listed.customer_ids or set())


def customer(tenant_id: str, customer_id: str) -> bool:
    """Re-derive one customer; returns whether it was written (False: already up to date, or gone)."""
    written: list[bool] = [False]

    def change(item: Customer | None) -> Customer | None:
        written[0] = False
        if item is None:
            return None
        before = _derived(item)
        item.last_activity_at, item.last_purchase_at = _activity(tenant_id, customer_id, item.created_at)
        derive_customer_keys(item)
        unsearchable = _search_keys_missing(item)
        if _derived(item) == before and not unsearchable:
            return None
        if unsearchable:
            item._search_keys_stored = frozenset()   # the save writes every key (a put, a set's ADD: idempotent)
        written[0] = True
        return item

    mutate(lambda: get_or_none(Customer, tenant_id, customer_id), change)
    return written[0]


def customers(segments: int = 4, progress: Callable[[Counter], None] | None = None) -> Counter:
    """Every stored customer, of every store: `read` and `rewritten` counts."""
    totals: Counter = Counter()

    def segment(number: int) -> Counter:
        done: Counter = Counter()
        for item in Customer.scan(segment=number, total_segments=segments,
                                  attributes_to_get=["tenant_id", "customer_id"]):
            done["read"] += 1
            done["rewritten"] += customer(item.tenant_id, item.customer_id)
            if progress and done["read"] % 1000 == 0:
                progress(done)
        return done

    with ThreadPoolExecutor(max_workers=segments, thread_name_prefix="backfill") as pool:
        for done in pool.map(segment, range(segments)):
            totals.update(done)
    return totals

"""Erasing a customer (docs/behaviour.md section 7, "Erasure"): their record and their personal data in every table.

What stays, and why: each communication record's ids, dates, status and reason (what the store did, without to
whom it wrote or what); the send ledger's rows (ids only: they keep every send to exactly one outcome); the
once-ever places of the action-taken automations (ids only: re-creating the customer fires nothing again); sales,
repairs and appointments (the store's own books, by customer id); the suppression list's entries of the
customer's addresses, as keyed hashes only (an erased address that comes back is still suppressed); and one audit
entry saying that an erasure happened, by whom and when.

Every step can be done again: the erasure's own audit entry is written first and marked finished last, and a
request that finds it unfinished (the customer already gone) does every step again, so an erasure cut short by a
crash is finished by its retry; once finished, the customer is not found (404), as after any deletion. The
addresses are read, and their suppression entries hashed, before anything that holds them is removed.
"""
from __future__ import annotations

import json
from datetime import datetime

from pynamodb.exceptions import PutError

from chalicelib.adapters.models import (
    Communication,
    CommunicationContent,
    Customer,
    CustomerAudit,
    CustomerEmail,
    MarketingLog,
    SendLedger,
    Suppression,
    ledger_key,
    tenant_customer,
)
from chalicelib.adapters.persistence import (
    Keys,
    get_or_none,
    is_conditional_failure,
    read_many,
)
from chalicelib.adapters.secrets import erasure_key
from chalicelib.core.errors import NotFound
from chalicelib.core.timeutil import to_iso
from chalicelib.rules import checks, search
from chalicelib.rules import validation as v
from chalicelib.rules.auth import Principal, require_write
from chalicelib.services import notes
from chalicelib.services.customers import remove_customer

#: How the erasure's own audit entry names where it came from.
ERASURE = "erasure"


def erase_customer(principal: Principal, customer_id: str, now: datetime) -> None:
    """Erase the customer; 404 if there is no such customer and no erasure of theirs is unfinished (a retry of an
    erasure that was cut short finishes it)."""
    require_write(principal, "customers")
    v.check_id(customer_id)
    tenant_id = principal.tenant_id
    key = tenant_customer(tenant_id, customer_id)
    customer = get_or_none(Customer, tenant_id, customer_id)
    marker = get_or_none(CustomerAudit, key, CustomerAudit.ERASED)
    if customer is None and (marker is None or marker.finished_at):
        raise NotFound("no such customer", field="customer_id")
    if customer is not None:
        CustomerAudit(key, CustomerAudit.ERASED, tenant_id=tenant_id, customer_id=customer_id, at=to_iso(now),
                      by=principal.subject, source=ERASURE).save()
    records = list(Communication.query(key))
    contents = read_many(Keys(CommunicationContent, {(r.tenant_customer, r.sort_key) for r in records}))[
        CommunicationContent] if records else []
    addresses = _addresses(customer, records, contents)
    _hash_suppressions(tenant_id, addresses)
    remove_customer(tenant_id, customer_id)
    for channel, address in sorted(addresses):   # an address item its last customer left, a crash ago
        if channel == "email" and search.email_key(address):
            CustomerEmail.drop_if_empty(tenant_id, search.email_key(address))
    notes.delete_customer_notes(tenant_id, customer_id)
    _scrub_records(records, contents)
    _scrub_ledger(tenant_id, customer_id, records)
    MarketingLog(key).delete(add_version_condition=False)
    for entry in CustomerAudit.query(key):
        if entry.entry_key != CustomerAudit.ERASED:
            entry.delete()
    CustomerAudit(key, CustomerAudit.ERASED).update(actions=[CustomerAudit.finished_at.set(to_iso(now))])


def _addresses(customer: Customer | None, records: list[Communication],
               contents: list[CommunicationContent]) -> set[tuple[str, str]]:
    """Every (channel, address) the customer is known by: theirs now, and each one a record was written to."""
    found = set()
    if customer is not None:
        found |= {("email", customer.email), ("sms", customer.phone)}
    channel_of = {r.sort_key: r.channel for r in records}
    found |= {(r.channel, r.to) for r in records}
    found |= {(channel_of.get(c.sort_key, ""), c.to) for c in contents}
    return {(channel, address) for channel, address in found if channel in ("email", "sms") and address}


def _hash_suppressions(tenant_id: str, addresses: set[tuple[str, str]]) -> None:
    """Each of the addresses on the suppression list in clear is put on it as its keyed hash, then taken off in
    clear: the suppression holds, the address is not kept."""
    key = erasure_key()
    for channel, address in sorted(addresses):
        clear = get_or_none(Suppression, tenant_id, checks.suppression_key(channel, address))
        if clear is None:
            continue
        hashed = Suppression(tenant_id, checks.hashed_suppression_key(key, tenant_id, channel, address),
                             reason=clear.reason, created_at=clear.created_at)
        try:
            hashed.save(condition=Suppression.address_key.does_not_exist())
        except PutError as e:
            if not is_conditional_failure(e):
                raise
        clear.delete()


def _scrub_records(records: list[Communication], contents: list[CommunicationContent]) -> None:
    """The records keep their ids, dates, status and reason; their address, subject and body go (held by the
    record itself when it was written before `CommunicationContent`)."""
    for content in contents:
        content.delete()
    for record in records:
        if record.to is not None or record.subject is not None or record.body is not None:
            record.update(actions=[Communication.to.remove(), Communication.subject.remove(),
                                   Communication.body.remove()])


def _scrub_ledger(tenant_id: str, customer_id: str, records: list[Communication]) -> None:
    """The customer's ledger rows found through their records: a row the provider accepted keeps no copy of the
    message (its `sent` record is then written without it), and a deferred send's saved message keeps only ids
    (released, it ends `skipped` / `erased`)."""
    keys = {(ledger_key(tenant_id, customer_id, r.automation_id or "", r.occurrence_key or "", r.channel),)
            for r in records if r.occurrence_key}
    for row in read_many(Keys(SendLedger, keys, consistent=True))[SendLedger] if keys else []:
        actions = []
        if row.accepted_record:
            actions.append(SendLedger.accepted_record.remove())
        if row.payload:
            payload = json.loads(row.payload)
            if payload.get("trigger"):
                actions.append(SendLedger.payload.set(json.dumps({**payload, "trigger": {}}, separators=(",", ":"))))
        if actions:
            row.update(actions=actions)

"""A customer's audit trail (docs/behaviour.md section 7, "Audit trail"): every change of consent, tags and VIP, by
whom, when and how, from what to what; written by `Customer.save` in the customer's own transaction."""
from __future__ import annotations

import json

from chalicelib.adapters.models import Customer, CustomerAudit, tenant_customer
from chalicelib.adapters.persistence import get_or_none
from chalicelib.core.errors import NotFound
from chalicelib.rules import validation as v
from chalicelib.rules.auth import Principal, require_audit_reader
from chalicelib.services.paging import decode_cursor, encode_cursor, page_size


def _view(entry: CustomerAudit) -> dict:
    if entry.entry_key == CustomerAudit.ERASED:
        return {"kind": "erased", "at": entry.at, "by": entry.by}
    return {"kind": "change", "at": entry.at, "by": entry.by, "source": entry.source,
            "changes": json.loads(entry.changes or "[]")}


def entries(principal: Principal, customer_id: str, *, limit: str | None, cursor: str | None) -> dict:
    """The customer's audit entries, newest first (an erasure's entry, if any, first of all), a page at a time.
    An erased customer's trail is that one entry."""
    require_audit_reader(principal)
    v.check_id(customer_id)
    key = tenant_customer(principal.tenant_id, customer_id)
    if (get_or_none(Customer, principal.tenant_id, customer_id) is None
            and get_or_none(CustomerAudit, key, CustomerAudit.ERASED) is None):
        raise NotFound("no such customer", field="customer_id")
    size = page_size(limit)
    start = {"tenant_customer": {"S": key}, "entry_key": {"S": decode_cursor(cursor)}} if cursor else None
    results = CustomerAudit.query(key, scan_index_forward=False, limit=size, last_evaluated_key=start)
    found = [_view(entry) for entry in results]
    last = results.last_evaluated_key
    return {"entries": found, "next_cursor": encode_cursor(last["entry_key"]["S"]) if last else None}

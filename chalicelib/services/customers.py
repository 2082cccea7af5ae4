"""Customers, sales, repairs and appointments (docs/behaviour.md section 7), and a customer's communications.

Every write that can change a customer's last activity (docs/behaviour.md section 3: the latest of the
customer's created_at, any sale's completed_at, any repair's created_at or collected_at)
recomputes it, and the last purchase with it, so the re-engagement matcher can read
`last_activity_index`, and a segment judge a purchase, without joining tables.

A sale, repair or appointment vouches that its customer exists (`customer_present`), so that the
matchers that find it through its index need not read the customer: a write sets it for the customer it
read, and withdraws it if that customer turns out to be gone once the record is written; deleting a
customer withdraws it from every record of theirs, before the deletion (so that a deletion cut short
leaves nothing vouching for a missing customer, only records whose customer is read) and again after
it (for records written meanwhile). A customer written again after a deletion is not vouched for by
their old records: the matchers read them.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterable

from chalicelib.adapters.models import (
    Appointment,
    Communication,
    Customer,
    CustomerEmail,
    CustomerSearch,
    Repair,
    Sale,
    tenant_customer,
)
from chalicelib.adapters.persistence import Keys, delete_current, get_or_none, mutate, read_many
from chalicelib.adapters.tenants import load as load_settings
from chalicelib.core.catalog import CHANNELS
from chalicelib.core.errors import NotFound
from chalicelib.core.timeutil import to_iso
from chalicelib.rules import consent as consent_rules
from chalicelib.rules import search
from chalicelib.rules import validation as v
from chalicelib.rules.auth import Principal, require_write
from chalicelib.rules.tags import with_vip
from chalicelib.sending import ledger
from chalicelib.services.paging import decode_cursor, encode_cursor, page_size

REPAIR_STATUSES = ("intake", "in_progress", "ready", "collected")
APPOINTMENT_STATUSES = ("booked", "cancelled")

CUSTOMER_FIELDS = {
    "first_name": v.string(100),
    "last_name": v.string(100),
    "email": v.email(),
    "phone": v.phone(),
    "birthday": v.calendar_day(),
    "anniversary": v.calendar_day(),
    "tags": v.tag_list(50, 50),
    "is_vip": v.boolean(),
    "interests": v.tag_list(50, 50),
    "points_balance": v.integer(0, 10**9),
    "app_installed_at": v.instant(),
    "consent": v.obj({name: v.boolean() for name in CHANNELS}),
    #: How the customer gave or withdrew the consent the write changes: not stored as such, but on each
    #: channel it changes (`consent_channels`).
    "consent_source": v.string(64, min_len=1),
    "source": v.string(32, min_len=1),
    "created_at": v.instant(),
}
SALE_FIELDS = {"customer_id": v.check_id, "completed_at": v.instant(), "total": v.number(0)}
REPAIR_FIELDS = {
    "customer_id": v.check_id, "status": v.choice(REPAIR_STATUSES), "description": v.string(500),
    "created_at": v.instant(), "ready_at": v.instant(), "collected_at": v.instant(),
}
APPOINTMENT_FIELDS = {
    "customer_id": v.check_id, "starts_at": v.instant(), "status": v.choice(APPOINTMENT_STATUSES),
    "purpose": v.string(200),
}
#: Records whose writes can change a customer's last activity.
ACTIVITY_MODELS = (Sale, Repair)
#: Records that vouch that their customer exists (`customer_present`), and whose `customer_index` finds a
#: customer's.
VOUCHING_MODELS = (Sale, Repair, Appointment)
_INTERNAL = {"tenant_id", "version", "import_write", "imported", "birthday_key", "anniversary_key", "email_key", "vip_key",
             "tenant_customer",
             "ready_since", "booked_starts_at", "customer_present"}


def _public(item) -> dict:
    # Sets (a record's clicked links) as sorted lists, which JSON has.
    return {k: sorted(val) if isinstance(val, (set, frozenset)) else val
            for k, val in item.attribute_values.items() if k not in _INTERNAL and val is not None}


# --- customers ----------------------------------------------------------------------------------

def tags_written(fields: dict, tags_now: list[str] | None) -> list[str] | None:
    """The tags a write leaves: `is_vip` given (true, or false or null) adds or removes the VIP tag of the
    tags the write leaves otherwise (docs/behaviour.md section 7); `is_vip` itself follows the tags when the
    item is saved."""
    if "is_vip" not in fields:
        return tags_now
    return with_vip(tags_now, bool(fields["is_vip"])) or None


def _consent_of(item: Customer) -> dict:
    return consent_rules.values(item.consent.as_dict() if item.consent is not None else None)


def consent_patched(item: Customer | None, consent: dict | None) -> dict | None:
    """The consent a PATCH of `consent` leaves: the channels it names as given, the others as they were;
    `None` withdraws both."""
    if consent is None:
        return None
    return {**(_consent_of(item) if item is not None else {}), **consent}


def _consent_source(fields: dict) -> str | None:
    """How the write says the customer gave or withdrew consent (None: it does not say); only with `consent`,
    and never as the customer's own unsubscribe link, which only the link itself writes."""
    source = fields.get("consent_source")
    if source is None:
        return None
    if "consent" not in fields:
        raise v.fail("consent_source", "says how consent was given: send it with `consent`")
    if source == consent_rules.UNSUBSCRIBE_LINK:
        raise v.fail("consent_source", "unsubscribe_link is written only by the customer's own unsubscribe link")
    return source


def _consent_changes_of(item: Customer) -> dict[str, consent_rules.ConsentChange]:
    if item.consent_channels is None and item.consent_updated_by == consent_rules.UNSUBSCRIBE_LINK:
        # Written before consent was kept per channel: the link withdrew one of the channels without consent.
        withdrawn = consent_rules.ConsentChange(item.consent_updated_at or "", consent_rules.UNSUBSCRIBE_LINK,
                                                consent_rules.UNSUBSCRIBE_LINK)
        return {channel: withdrawn for channel, given in _consent_of(item).items() if not given}
    channels = item.consent_channels.as_dict() if item.consent_channels is not None else {}
    return {channel: consent_rules.ConsentChange(**change) for channel, change in channels.items() if change}


def _note_consent_change(item: Customer, before: dict | None, last: dict, fields: dict, principal: Principal,
                         now: datetime) -> None:
    """Each channel whose consent this write changes keeps when, by whom and how (`rules.consent`), and the
    customer when consent last changed on any channel (the unsubscribe link writes both too). `before` is
    the consent before this write, None for a new customer; `last` each channel's last change."""
    found = consent_rules.changes(
        before, _consent_of(item), fields.get("consent"), last, by=principal.subject,
        source=_consent_source(fields),
        default_source=consent_rules.IMPORT_SOURCE if fields.get("source") == IMPORT else consent_rules.DEFAULT_SOURCE,
        at=to_iso(now))
    if not found:
        return
    _keep_consent_changes(item, found, principal.subject, now)


def _keep_consent_changes(item: Customer, found: dict[str, consent_rules.ConsentChange], by: str,
                          now: datetime) -> None:
    kept = item.consent_channels.as_dict() if item.consent_channels is not None else {}
    item.consent_channels = {**{channel: change for channel, change in kept.items() if change},
                             **{channel: _change_map(change) for channel, change in found.items()}}
    item.consent_updated_at, item.consent_updated_by = to_iso(now), by


def _change_map(change: consent_rules.ConsentChange) -> dict:
    return {"updated_at": change.updated_at, "updated_by": change.updated_by, "source": change.source}


#: A write whose body says `source: "import"` is an import: it fires no action-taken automation.
IMPORT = "import"


def _audit_source(fields: dict) -> str:
    """How an API write is named in the audit trail: the `consent_source` it gives, an import's, or `api`."""
    return fields.get("consent_source") or (IMPORT if fields.get("source") == IMPORT else "api")


def _mark_write(item: Customer, fields: dict) -> None:
    """Say on the item whether this write is an import, for the stream consumer (the `source` field
    itself stays as the caller set it, and may say where the customer came from long after)."""
    item.import_write = True if fields.get("source") == IMPORT else None


#: What an import row did to its customer (docs/behaviour.md, "Customer import").
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
_MERGED_LISTS = ("tags", "interests")


def _imported_values(current: Customer | None, fields: dict) -> dict:
    """The customer's fields once an import row's non-blank cells are laid over them: a list adds to the
    list (an import never removes a tag), `is_vip` adds or removes the VIP tag, a consent channel given sets
    that channel, except one the customer withdrew through an unsubscribe link, which an import never gives
    back."""
    values = {}
    for name, value in fields.items():
        if name in ("customer_id", "is_vip", "consent"):
            continue
        if name in _MERGED_LISTS:
            value = [*(getattr(current, name, None) or []), *value] if current is not None else value
        if name == "email" and current is not None and (current.email or "").lower() == value.lower():
            value = current.email   # the same address: matched in any letter case, kept as first written
        values[name] = value
    tags = values.get("tags", current.tags if current is not None else None)
    if "tags" in values or "is_vip" in fields:
        values["tags"] = tags_written(fields, tags)
    if "consent" in fields:
        consent = _consent_of(current) if current is not None and current.consent is not None else {}
        withdrawn = {channel for channel, change in (_consent_changes_of(current) if current is not None else {}).items()
                     if change.source == consent_rules.UNSUBSCRIBE_LINK}
        for channel, given in fields["consent"].items():
            if not (given and channel in withdrawn and consent.get(channel) is False):
                consent[channel] = given
        values["consent"] = {channel: bool(consent.get(channel)) for channel in CHANNELS}
    return values


def _differs(current: Customer, values: dict) -> bool:
    from chalicelib.rules import tags as tag_rules

    for name, value in values.items():
        if name == "consent":
            if current.consent is None or _consent_of(current) != value:
                return True
        elif name in _MERGED_LISTS:
            if tag_rules.distinct(value or []) != (getattr(current, name) or []):
                return True
        elif getattr(current, name) != value:
            return True
    return False


#: `import_customer`'s `current` when the caller has not read the customer.
UNREAD = object()


def import_customer(tenant_id: str, customer_id: str, fields: dict, *, import_id: str, run: int, by: str,
                    now: datetime, commit: bool, id_from_file: bool, current: Any = UNREAD) -> tuple[str, Customer | None]:
    """One import row laid over the customer `customer_id` (new when there is none): `created`, `updated`
    or `unchanged` (equal values are not written), and the customer as written (None when nothing was). A write
    is marked as an import (no action-taken automation fires), and consent it changes says `import:<import_id>`;
    each write notes the run and its outcome, so a row done again by the same run (a chunk retried after a
    crash) is counted as the first attempt counted it. A dry run (`commit` false) only says what the row would
    do. `current`: the customer as the caller read it (None: there was none), for a chunk that reads its
    customers in batches; the write is under its version, and a write that finds it moved reads it again."""
    marker = f"{import_id}#{run}#"
    outcome: list[str] = []

    def change(current: Customer | None) -> Customer | None:
        values = _imported_values(current, fields)
        if current is not None and not _differs(current, values):
            done = current.imported or ""
            outcome[:] = [done[len(marker):] if done.startswith(marker) else UNCHANGED]
            return None
        outcome[:] = [UPDATED if current is not None else CREATED]
        if not commit:
            return None
        if current is None:
            created_at = to_iso(now)
            item = Customer(tenant_id, customer_id, created_at=created_at, source=IMPORT)
            # An id from the file may be a customer whose sales outlived them; a made-up one has none.
            item.last_activity_at, item.last_purchase_at = (
                _activity(tenant_id, customer_id, created_at) if id_from_file else (created_at, None))
            before = None
        else:
            item, before = current, _consent_of(current)
        last = _consent_changes_of(current) if current is not None else {}
        for name, value in values.items():
            setattr(item, name, value)
        found = consent_rules.changes(before, _consent_of(item), fields.get("consent"), last, by=by,
                                      source=f"import:{import_id}", default_source=consent_rules.IMPORT_SOURCE,
                                      at=to_iso(now))
        if found:
            _keep_consent_changes(item, found, by, now)
        item.import_write = True
        item.imported = marker + outcome[0]
        item.updated_at = to_iso(now)
        item.audited_as(by, f"import:{import_id}", to_iso(now))
        return item

    given = [current]

    def load() -> Customer | None:
        if given and given[0] is not UNREAD:
            return given.pop()
        given.clear()
        return get_or_none(Customer, tenant_id, customer_id)

    written = mutate(load, change)
    return outcome[0], written


def customers_by_email(tenant_id: str, emails: Iterable[str]) -> dict[str, set[str]]:
    """The ids of the tenant's customers holding each address (in any letter case), by address key
    (`search.email_key`; an address no customer holds is absent): one strongly consistent batch of keyed reads
    per 100 addresses (`CustomerEmail`)."""
    keys = {search.email_key(email) for email in emails if email}
    found = read_many(Keys(CustomerEmail, [(tenant_id, key) for key in keys], consistent=True))[CustomerEmail]
    return {item.search_key: set(item.customer_ids) for item in found if item.customer_ids}


def customers_by_id(tenant_id: str, customer_ids: Iterable[str]) -> dict[str, Customer]:
    """The tenant's customers of these ids that exist: one strongly consistent batch read per 100 ids."""
    keys = [(tenant_id, customer_id) for customer_id in set(customer_ids)]
    return {item.customer_id: item for item in read_many(Keys(Customer, keys, consistent=True))[Customer]}


def _activity(tenant_id: str, customer_id: str, created_at: str) -> tuple[str, str | None]:
    """The customer's last activity and last purchase (None without a sale)."""
    key = tenant_customer(tenant_id, customer_id)
    instants = [created_at]
    purchased = None
    for sale in Sale.customer_index.query(key, scan_index_forward=False, limit=1):
        purchased = sale.completed_at
        instants.append(purchased)
    for repair in Repair.customer_index.query(key):
        instants.extend(i for i in (repair.created_at, repair.collected_at) if i)
    return max(instants), purchased


def _customer_view(item: Customer) -> dict:
    body = _public(item)
    if item.consent is not None:
        body["consent"] = item.consent.as_dict()
    if item.consent_channels is not None:
        body["consent_channels"] = {
            channel: {"consent_updated_at": change.updated_at, "consent_updated_by": change.updated_by,
                      "consent_source": change.source}
            for channel, change in _consent_changes_of(item).items()}
    return body


def get_customer(tenant_id: str, customer_id: str) -> dict:
    item = get_or_none(Customer, tenant_id, v.check_id(customer_id))
    if item is None:
        raise NotFound("no such customer", field="customer_id")
    return _customer_view(item)


def find_customers(tenant_id: str, *, email: str | None, limit: str | None, cursor: str | None,
                   q: str | None = None) -> dict:
    """The admin's customer look-up: a search (`q`, `search_customers`), by email address (any case; through
    the email index), or else the tenant's customers by id, a page at a time."""
    if q is not None:
        return search_customers(tenant_id, q, limit=limit, cursor=cursor)
    if email is not None:
        address = v.email()(email.strip(), "email")
        keys = Customer.email_index.query(f"{tenant_id}#{address.lower()}", limit=20)
        found = (get_or_none(Customer, tenant_id, key.customer_id) for key in keys)
        return {"customers": [_customer_view(item) for item in found if item is not None], "next_cursor": None}
    size = page_size(limit)
    start = {"tenant_id": {"S": tenant_id}, "customer_id": {"S": decode_cursor(cursor)}} if cursor else None
    results = Customer.query(tenant_id, limit=size, last_evaluated_key=start)
    items = [_customer_view(item) for item in results]
    last = results.last_evaluated_key
    return {"customers": items, "next_cursor": encode_cursor(last["customer_id"]["S"]) if last else None}


#: Most search keys one search request reads: a page of customers found by several keys each (or by keys a
#: concurrent write left behind) ends early, with a cursor, rather than reading on without bound.
SEARCH_KEYS_PER_REQUEST = 400


def search_customers(tenant_id: str, text: str, *, limit: str | None, cursor: str | None) -> dict:
    """Customers whose first name, last name, full name or email starts with `text`, or whose phone number holds
    its digits (docs/behaviour.md, "Finding a customer"), in the order of the search key they are found by, a
    page at a time. Reads only the search keys that start with the query and the customers they name; a customer
    found by several keys is answered once, at the first of them, on whichever page that falls."""
    text = v.string(100, min_len=1)(text, "q")
    query = search.parse_query(text)
    if query is None:
        raise v.fail("q", "must hold a letter or a digit")
    size = page_size(limit, default=20)
    position = decode_cursor(cursor) if cursor else None
    if position is not None and not position.startswith(query.prefix):
        raise v.fail("cursor", "belongs to another search")
    found: list[dict] = []
    read = 0
    while len(found) < size and read < SEARCH_KEYS_PER_REQUEST:
        start = {"tenant_id": {"S": tenant_id}, "search_key": {"S": position}} if position else None
        want = min(2 * (size - len(found)) + 1, SEARCH_KEYS_PER_REQUEST - read)
        page = CustomerSearch.query(tenant_id, CustomerSearch.search_key.startswith(query.prefix), limit=want,
                                    last_evaluated_key=start)
        hits = [(hit.search_key, hit.customer_id) for hit in page]
        read += len(hits)
        keys = {(tenant_id, customer_id) for _, customer_id in hits}
        customers = {c.customer_id: c for c in read_many(Keys(Customer, keys))[Customer]} if keys else {}
        for key, customer_id in hits:
            position = key
            customer = customers.get(customer_id)
            # A key a concurrent write has just replaced finds nobody (the customer no longer holds it).
            if customer is not None and query.first_found(customer.search_keys(), customer_id) == key:
                found.append(_customer_view(customer))
                if len(found) == size:
                    break
        else:
            if page.last_evaluated_key is None:
                position = None   # no more keys start with the query
                break
    return {"customers": found, "next_cursor": encode_cursor(position) if position else None}


def put_customer(principal: Principal, customer_id: str, body: dict, now: datetime) -> dict:
    require_write(principal, "customers")
    v.check_id(customer_id)
    fields = v.parse(body, CUSTOMER_FIELDS)

    def change(current: Customer | None) -> Customer:
        created_at = fields.get("created_at") or (current.created_at if current else to_iso(now))
        stored = {k: val for k, val in fields.items() if k not in ("is_vip", "consent_source")}
        item = Customer(principal.tenant_id, customer_id, **{**stored, "created_at": created_at})
        item.tags = tags_written(fields, item.tags)
        if current is not None:
            item.version = current.version
            item.consent_updated_at, item.consent_updated_by = current.consent_updated_at, current.consent_updated_by
            item.consent_channels = current.consent_channels
        _note_consent_change(item, _consent_of(current) if current else None,
                             _consent_changes_of(current) if current else {}, fields, principal, now)
        _mark_write(item, fields)
        item.updated_at = to_iso(now)
        item.audited_as(principal.subject, _audit_source(fields), to_iso(now), before=current)
        # Sales and repairs outlive a deleted customer, so even a new record looks them up.
        item.last_activity_at, item.last_purchase_at = _activity(principal.tenant_id, customer_id, created_at)
        return item

    item = mutate(lambda: get_or_none(Customer, principal.tenant_id, customer_id), change)
    return _customer_view(item)


def patch_customer(principal: Principal, customer_id: str, body: dict, now: datetime) -> dict:
    require_write(principal, "customers")
    v.check_id(customer_id)
    changes = v.parse(body, CUSTOMER_FIELDS, partial=True, required=("created_at",))

    def change(item: Customer | None) -> Customer:
        if item is None:
            raise NotFound("no such customer", field="customer_id")
        before, last = _consent_of(item), _consent_changes_of(item)
        for name, value in changes.items():
            if name == "consent":
                value = consent_patched(item, value)
            if name not in ("is_vip", "consent_source"):
                setattr(item, name, value)
        item.tags = tags_written(changes, item.tags)
        _note_consent_change(item, before, last, changes, principal, now)
        _mark_write(item, changes)
        item.updated_at = to_iso(now)
        item.audited_as(principal.subject, _audit_source(changes), to_iso(now))
        if "created_at" in changes:
            item.last_activity_at, item.last_purchase_at = _activity(principal.tenant_id, customer_id, item.created_at)
        return item

    return _customer_view(mutate(lambda: get_or_none(Customer, principal.tenant_id, customer_id), change))


def delete_customer(principal: Principal, customer_id: str, now: datetime) -> None:
    """Erase the customer (`chalicelib.services.erasure`): their record and personal data everywhere."""
    from chalicelib.services import erasure

    erasure.erase_customer(principal, customer_id, now)


def remove_customer(tenant_id: str, customer_id: str) -> None:
    """Delete the customer's record and search keys, withdrawing what vouches for them (module docstring);
    nothing if there is none."""
    _withdraw_vouching(tenant_id, customer_id)
    try:
        delete_current(lambda: get_or_none(Customer, tenant_id, customer_id), _Gone())
    except _Gone:
        pass
    _withdraw_vouching(tenant_id, customer_id)


class _Gone(Exception):
    pass


def _withdraw_vouching(tenant_id: str, customer_id: str) -> None:
    """None of the customer's records vouches for them any more (module docstring)."""
    key = tenant_customer(tenant_id, customer_id)
    for model in VOUCHING_MODELS:
        record_key = model._range_key_attribute().attr_name
        for found in model.customer_index.query(key):
            _withdraw(model, tenant_id, getattr(found, record_key), customer_id)


def _withdraw(model, tenant_id: str, record_id: str, customer_id: str) -> None:
    def change(item):
        if item is None or item.customer_id != customer_id or not item.customer_present:
            return None
        item.customer_present = None
        return item

    mutate(lambda: get_or_none(model, tenant_id, record_id), change)


def refresh_last_activity(tenant_id: str, customer_id: str) -> bool:
    """Recompute the customer's last activity and last purchase; returns whether the customer exists."""
    exists: list[bool] = []

    def change(item: Customer | None) -> Customer | None:
        exists[:] = [item is not None]
        if item is None:
            return None
        latest = _activity(tenant_id, customer_id, item.created_at)
        if latest == (item.last_activity_at, item.last_purchase_at):
            return None
        item.last_activity_at, item.last_purchase_at = latest
        return item

    mutate(lambda: get_or_none(Customer, tenant_id, customer_id), change)
    return exists[0]


def _require_customer(tenant_id: str, customer_id: str) -> None:
    if get_or_none(Customer, tenant_id, customer_id) is None:
        raise NotFound("no such customer", field="customer_id")


# --- sales, repairs, appointments: one shape, different fields -----------------------------------

def _get(model, tenant_id: str, record_id: str, label: str) -> Any:
    item = get_or_none(model, tenant_id, v.check_id(record_id))
    if item is None:
        raise NotFound(f"no such {label}", field=f"{label}_id")
    return item


def _write(principal: Principal, model, record_id: str, fields: dict, now: datetime, *,
           replace: bool, label: str, derive: Callable[[Any, Any], None] | None = None) -> dict:
    """PUT (replace) or PATCH one tenant record, keep derived keys and customers' last activity, and
    whether the record vouches that its customer exists (module docstring)."""
    require_write(principal, f"{label}s")
    v.check_id(record_id)
    # A write that names the customer reads them first; one that does not leaves the record's word as it was.
    vouches = bool(fields.get("customer_id"))
    if vouches:
        _require_customer(principal.tenant_id, fields["customer_id"])
    previous_customer: list[str] = []

    def change(current):
        if current is None and not replace:
            raise NotFound(f"no such {label}", field=f"{label}_id")
        previous_customer[:] = [current.customer_id] if current else []
        if replace:
            item = model(principal.tenant_id, record_id, **{k: val for k, val in fields.items() if val is not None})
            if current is not None:
                item.version = current.version
                for name in KEPT_ON_REPLACE:   # decided once, not by the caller: a PUT keeps them
                    if getattr(current, name, None) is not None and hasattr(item, name):
                        setattr(item, name, getattr(current, name))
            item.created_at = fields.get("created_at") or (current.created_at if current else to_iso(now))
        else:
            item = current
            for name, value in fields.items():
                setattr(item, name, value)
        item.updated_at = to_iso(now)
        item.tenant_customer = tenant_customer(principal.tenant_id, item.customer_id)
        if vouches:
            item.customer_present = True
        if derive is not None:
            derive(item, current)
        return item

    item = mutate(lambda: get_or_none(model, principal.tenant_id, record_id), change)
    present = None
    if model in ACTIVITY_MODELS:
        for customer_id in {item.customer_id, *previous_customer}:
            exists = refresh_last_activity(principal.tenant_id, customer_id)
            present = exists if customer_id == item.customer_id else present
    if vouches:
        # The customer was read before the write: if they were deleted meanwhile, the deletion may have
        # looked for their records before this one was written.
        if present is None:
            present = get_or_none(Customer, principal.tenant_id, item.customer_id) is not None
        if not present:
            _withdraw(model, principal.tenant_id, record_id, item.customer_id)
    return _public(item)


def derive_repair(item: Repair, current: Repair | None) -> None:
    # Marking a repair ready (or collected) without a time means "now", which the caller set as updated_at.
    was_ready = current is not None and current.status == "ready"
    if item.status == "ready" and not item.ready_at:
        item.ready_at = current.ready_at if was_ready and current.ready_at else item.updated_at
    if item.status == "collected" and not item.collected_at:
        item.collected_at = item.updated_at
    item.ready_since = item.ready_at if item.status == "ready" else None


def derive_appointment(item: Appointment, current: Appointment | None) -> None:
    item.booked_starts_at = item.starts_at if item.status == "booked" else None


#: Fields a record's PUT keeps from the stored one: a sale's attribution is decided once.
KEPT_ON_REPLACE = ("attributed_record", "attributed_automation")


def put_sale(principal: Principal, sale_id: str, body: dict, now: datetime) -> dict:
    """Write a sale, then attribute it (once) to the customer's latest marketing message within the store's
    `attribution_days` before it (behaviour.md section 14). A retried PUT attributes a sale whose first write
    was not followed by its attribution (the request failed in between) and changes nothing otherwise."""
    from chalicelib.sending import engagement

    fields = v.parse(body, SALE_FIELDS, required=("customer_id", "completed_at"))
    written = _write(principal, Sale, sale_id, fields, now, replace=True, label="sale")
    settings = load_settings(principal.tenant_id)
    chosen = engagement.attribute(lambda: get_or_none(Sale, principal.tenant_id, sale_id),
                                  int(settings["attribution_days"]), settings["timezone"])
    if chosen is not None:
        written.update(attributed_record=chosen.sort_key, attributed_automation=chosen.automation_id)
    return written


def get_sale(tenant_id: str, sale_id: str) -> dict:
    return _public(_get(Sale, tenant_id, sale_id, "sale"))


def put_repair(principal: Principal, repair_id: str, body: dict, now: datetime) -> dict:
    fields = v.parse(body, REPAIR_FIELDS, required=("customer_id", "status"))
    return _write(principal, Repair, repair_id, fields, now, replace=True, label="repair", derive=derive_repair)


def patch_repair(principal: Principal, repair_id: str, body: dict, now: datetime) -> dict:
    fields = v.parse(body, REPAIR_FIELDS, partial=True, required=("customer_id", "status", "created_at"))
    return _write(principal, Repair, repair_id, fields, now, replace=False, label="repair", derive=derive_repair)


def get_repair(tenant_id: str, repair_id: str) -> dict:
    return _public(_get(Repair, tenant_id, repair_id, "repair"))


def put_appointment(principal: Principal, appointment_id: str, body: dict, now: datetime) -> dict:
    fields = v.parse(body, APPOINTMENT_FIELDS, required=("customer_id", "starts_at"))
    fields.setdefault("status", "booked")
    return _write(principal, Appointment, appointment_id, fields, now, replace=True, label="appointment",
                  derive=derive_appointment)


def patch_appointment(principal: Principal, appointment_id: str, body: dict, now: datetime) -> dict:
    fields = v.parse(body, APPOINTMENT_FIELDS, partial=True, required=("customer_id", "starts_at", "status"))
    return _write(principal, Appointment, appointment_id, fields, now, replace=False, label="appointment",
                  derive=derive_appointment)


def get_appointment(tenant_id: str, appointment_id: str) -> dict:
    return _public(_get(Appointment, tenant_id, appointment_id, "appointment"))


# --- communications ------------------------------------------------------------------------------

def communications(tenant_id: str, customer_id: str, *, limit: str | None, cursor: str | None) -> dict:
    """A customer's communication records, newest first, a page at a time."""
    get_customer(tenant_id, customer_id)
    size = page_size(limit)
    key = tenant_customer(tenant_id, customer_id)
    start = {"tenant_customer": {"S": key}, "sort_key": {"S": decode_cursor(cursor)}} if cursor else None
    results = Communication.query(key, scan_index_forward=False, limit=size, last_evaluated_key=start)
    items = [_public(item) for item in ledger.with_content(list(results))]
    for item in items:
        item.pop("sort_key", None)
    last = results.last_evaluated_key
    return {"communications": items, "next_cursor": encode_cursor(last["sort_key"]["S"]) if last else None}

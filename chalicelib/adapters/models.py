"""PynamoDB models: the one definition of every table, key, index and stream.

The local stack creates its tables from these models (`chalicelib.adapters.schema`), and the cloud
template is generated from the same definitions, so the two cannot drift.

Access patterns. Every table is partitioned by tenant, so one tenant's reads never touch
another's items. Each matcher of docs/behaviour.md section 3 reads through an index that holds only
the records it can match:

| matcher                          | index                                   | key condition                              |
|----------------------------------|-----------------------------------------|--------------------------------------------|
| birthday                         | Customer.birthday_index                 | birthday_key = tenant#MM-DD (sparse)        |
| anniversary                      | Customer.anniversary_index              | anniversary_key = tenant#MM-DD (sparse)     |
| reengagement                     | Customer.last_activity_index            | tenant, last_activity_at in local day(s) L  |
| post_purchase                    | Sale.completed_index                    | tenant, completed_at in local day D-1       |
| repair_ready_reminder            | Repair.ready_index                      | tenant, ready_since in local day (sparse)   |
| appointment_24h / appointment_1h | Appointment.booked_index                | tenant, booked_starts_at in window (sparse) |
| valentines, mothers_day, christmas | Customer table itself                 | tenant (everyone, by key)                   |
| runner: tenants with a type on   | Automation.enabled_index                | enabled_type = type (sparse)                |
| runner: deferred sends now due   | SendLedger.deferred_index               | deferred_until <= now (sparse)              |
| campaigns: due to start, sending | Campaign.phase_index                    | phase = due, phase_at <= now (sparse)       |
| stream: a tenant's action-taken  | ActionAutomation table itself           | tenant (a handful per tenant)               |
| segments: VIP                    | Customer.vip_index                      | vip_key = tenant (sparse)                   |
| segments: birthday, anniversary  | Customer.birthday_index, anniversary_index | each month-day of the month              |
| segments: last activity          | Customer.last_activity_index            | tenant, last_activity_at in a range         |
| segments: created                | Customer.created_index                  | tenant, created_at in a range               |
| segments: no indexed condition   | Customer table itself                   | tenant (projected to the filter's fields)   |
| admin: customer search           | CustomerSearch table itself             | tenant, search_key begins with the query    |
| history: a page's personal parts | CommunicationContent by key (BatchGet)  | the page's records' keys                    |
| admin: a customer's audit trail  | CustomerAudit table itself              | tenant#customer, newest first               |

Each matcher's reads are in `chalicelib.adapters.repository`.

Sparse means the index key is written only while the record can match (a repair that is
`ready`, an appointment that is `booked`, a customer with a birthday), so the index holds
nothing else. Instants are stored as UTC ISO-8601 strings (`YYYY-MM-DDTHH:MM:SSZ`), which sort
as time does.
"""
from __future__ import annotations

import json
import random
import time
from functools import lru_cache

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.core import config
from chalicelib.rules import search, tags

STREAM_NEW_AND_OLD = "NEW_AND_OLD_IMAGES"


def _table(name: str) -> str:
    return f"{config.table_prefix()}{name}"


class BaseMeta:
    region = config.region()
    billing_mode = "PAY_PER_REQUEST"


# --- tenants -------------------------------------------------------------------------------------

class Tenant(Model):
    """A store and its settings (docs/behaviour.md section 1). Created with defaults on first request."""

    class Meta(BaseMeta):
        table_name = _table("tenants")

    tenant_id = UnicodeAttribute(hash_key=True)
    settings = MapAttribute(default=dict)
    #: Optimistic locking: a write fails if someone else wrote since we read.
    version = VersionAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)


# --- automations ---------------------------------------------------------------------------------

class EnabledIndex(GlobalSecondaryIndex):
    """Serves the runner: which tenants have this automation type switched on."""

    class Meta:
        index_name = "enabled_index"
        projection = AllProjection()

    enabled_type = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute(range_key=True)


class Automation(Model):
    """One of the ten per-event automations of a tenant (docs/behaviour.md section 3). Absent until first changed."""

    class Meta(BaseMeta):
        table_name = _table("automations")

    tenant_id = UnicodeAttribute(hash_key=True)
    type = UnicodeAttribute(range_key=True)
    enabled = BooleanAttribute(default=False)
    settings = MapAttribute(default=dict)
    channels = ListAttribute(of=UnicodeAttribute, default=lambda: ["email"])
    template_id = UnicodeAttribute(null=True)
    #: Optimistic locking: a write fails if someone else wrote since we read.
    version = VersionAttribute()
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)
    #: When the automation was last switched on: the runner never processes a date before it.
    enabled_at = UnicodeAttribute(null=True)
    #: The trigger date of the day it was last enabled, under the settings then (docs/behaviour.md section 2).
    coverage_from = UnicodeAttribute(null=True)
    #: Set only while enabled, so `enabled_index` lists exactly the tenants to evaluate.
    enabled_type = UnicodeAttribute(null=True)
    enabled_index = EnabledIndex()


class RunState(Model):
    """The runner's progress on one daily automation of a tenant (docs/behaviour.md section 2).

    Kept apart from `Automation` so that evaluations and configuration changes never contend for
    one item's version.
    """

    class Meta(BaseMeta):
        table_name = _table("run_state")

    tenant_id = UnicodeAttribute(hash_key=True)
    type = UnicodeAttribute(range_key=True)
    #: Local date of the first evaluation: no date before it is ever processed (no back-dating).
    first_evaluated_on = UnicodeAttribute()
    #: The last tenant-local date fully processed.
    processed_through = UnicodeAttribute(null=True)
    #: The last trigger date covered (celebration, ready, lapse or purchase date; docs/behaviour.md section 2).
    covered_through = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    #: While a large date is evaluated page by page: until when its run counts as alive (each page
    #: pushes it on), so the planner does not start the same date again from its first customer.
    paging_until = UnicodeAttribute(null=True)


class ActionAutomation(Model):
    """An action-taken automation (docs/behaviour.md section 4); a tenant may have several per type."""

    class Meta(BaseMeta):
        table_name = _table("action_automations")

    tenant_id = UnicodeAttribute(hash_key=True)
    automation_id = UnicodeAttribute(range_key=True)
    type = UnicodeAttribute()
    name = UnicodeAttribute()
    enabled = BooleanAttribute(default=False)
    channels = ListAttribute(of=UnicodeAttribute, default=lambda: ["email"])
    template_id = UnicodeAttribute(null=True)
    offer_text = UnicodeAttribute(null=True)
    priority = NumberAttribute(default=0)
    audience = MapAttribute(null=True)
    points_threshold = NumberAttribute(null=True)
    #: Optimistic locking: a write fails if someone else wrote since we read.
    version = VersionAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)


class ActionFiring(Model):
    """That a customer's "added" event (birthday_add, email_add, interest_add, app_download) has fired,
    and with what: docs/behaviour.md section 4's "once ever per customer". Written with a condition that it does
    not exist before any send is queued; the stream record that wrote it (`event_id`) may queue its
    sends again when it is retried, any other record finds it and fires nothing."""

    class Meta(BaseMeta):
        table_name = _table("action_firings")

    tenant_customer = UnicodeAttribute(hash_key=True)
    #: The action type.
    event = UnicodeAttribute(range_key=True)
    event_id = UnicodeAttribute()
    automation_id = UnicodeAttribute()
    channels = ListAttribute(of=UnicodeAttribute)
    occurrence_key = UnicodeAttribute()
    fired_at = UnicodeAttribute()


# --- templates -----------------------------------------------------------------------------------

class Template(Model):
    """A tenant's own message template. System templates live in `templates/`, not here."""

    class Meta(BaseMeta):
        table_name = _table("templates")

    tenant_id = UnicodeAttribute(hash_key=True)
    template_id = UnicodeAttribute(range_key=True)
    type = UnicodeAttribute()
    name = UnicodeAttribute()
    subject = UnicodeAttribute()
    body_text = UnicodeAttribute()
    body_html = UnicodeAttribute(null=True)
    sms_body = UnicodeAttribute()
    #: `auto`: the HTML part is made from body_text; `custom`: body_html. Absent on templates stored before
    #: the mode existed (see rules.layout.html_mode).
    html_mode = UnicodeAttribute(null=True)
    #: Optimistic locking: a write fails if someone else wrote since we read.
    version = VersionAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)


# --- customers -----------------------------------------------------------------------------------

class BirthdayIndex(GlobalSecondaryIndex):
    """Serves the birthday matcher: customers whose birthday falls on one month-day."""

    class Meta:
        index_name = "birthday_index"
        projection = AllProjection()

    birthday_key = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute(range_key=True)


class AnniversaryIndex(GlobalSecondaryIndex):
    """Serves the anniversary matcher: customers whose anniversary falls on one month-day."""

    class Meta:
        index_name = "anniversary_index"
        projection = AllProjection()

    anniversary_key = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute(range_key=True)


class LastActivityIndex(GlobalSecondaryIndex):
    """Serves the re-engagement matcher: customers whose last activity fell in a range of instants."""

    class Meta:
        index_name = "last_activity_index"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    last_activity_at = UnicodeAttribute(range_key=True)


class VipIndex(GlobalSecondaryIndex):
    """Serves the VIP segment: a tenant's VIP customers (sparse: `vip_key` is written only while the customer
    is VIP)."""

    class Meta:
        index_name = "vip_index"
        projection = AllProjection()

    vip_key = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute(range_key=True)


class CreatedIndex(GlobalSecondaryIndex):
    """Serves the segments of new customers: a tenant's customers created within a range of instants."""

    class Meta:
        index_name = "created_index"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class EmailIndex(GlobalSecondaryIndex):
    """Finds a tenant's customer by email address (admin look-up, suppression handling)."""

    class Meta:
        index_name = "email_index"
        projection = KeysOnlyProjection()

    email_key = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute(range_key=True)


class Consent(MapAttribute):
    email = BooleanAttribute(default=False)
    sms = BooleanAttribute(default=False)


class ConsentChangeAttribute(MapAttribute):
    """One channel's last change of consent: when, by whom, and how the customer gave or withdrew it."""

    updated_at = UnicodeAttribute()
    updated_by = UnicodeAttribute()
    source = UnicodeAttribute()


class ConsentChannels(MapAttribute):
    """Each channel's last change of consent (`chalicelib.rules.consent`); a channel never changed is absent."""

    email = ConsentChangeAttribute(null=True)
    sms = ConsentChangeAttribute(null=True)


class Customer(Model):
    """A store's customer. Its stream feeds the action-taken automations (docs/behaviour.md section 4)."""

    class Meta(BaseMeta):
        table_name = _table("customers")
        stream_view_type = STREAM_NEW_AND_OLD

    tenant_id = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute(range_key=True)
    first_name = UnicodeAttribute(null=True)
    last_name = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    birthday = UnicodeAttribute(null=True)
    anniversary = UnicodeAttribute(null=True)
    tags = ListAttribute(of=UnicodeAttribute, null=True)
    is_vip = BooleanAttribute(null=True)
    interests = ListAttribute(of=UnicodeAttribute, null=True)
    points_balance = NumberAttribute(null=True)
    app_installed_at = UnicodeAttribute(null=True)
    consent = Consent(null=True)
    #: When consent last changed, and how (`api`, or `unsubscribe_link` when the customer withdrew it).
    consent_updated_at = UnicodeAttribute(null=True)
    consent_updated_by = UnicodeAttribute(null=True)
    #: The same per channel, with how the customer gave or withdrew it (`consent_source`).
    consent_channels = ConsentChannels(null=True)
    source = UnicodeAttribute(null=True)
    #: Set by a write marked as an import (`source: "import"`) and cleared by any other write, so the
    #: stream consumer can tell the write that produced an image: imports fire nothing (docs/behaviour.md section 4).
    import_write = BooleanAttribute(null=True)
    #: The import run that last wrote the customer and what it did (`<import_id>#<run>#created|updated`): a
    #: chunk run again after a crash counts its rows as the first attempt did.
    imported = UnicodeAttribute(null=True)
    #: Optimistic locking: a write fails if someone else wrote since we read.
    version = VersionAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    #: Latest of created_at, any sale's completed_at, any repair's created_at or collected_at.
    last_activity_at = UnicodeAttribute()
    #: The latest sale's completed_at (absent without a sale), kept with last_activity_at.
    last_purchase_at = UnicodeAttribute(null=True)
    # Derived from the fields above on every save (`derive_customer_keys`).
    birthday_key = UnicodeAttribute(null=True)
    anniversary_key = UnicodeAttribute(null=True)
    email_key = UnicodeAttribute(null=True)
    vip_key = UnicodeAttribute(null=True)

    birthday_index = BirthdayIndex()
    anniversary_index = AnniversaryIndex()
    last_activity_index = LastActivityIndex()
    email_index = EmailIndex()
    vip_index = VipIndex()
    created_index = CreatedIndex()

    def save(self, condition=None, *, add_version_condition: bool = True):
        """Every write derives what follows from the fields (`derive_customer_keys`), whoever the writer is,
        so that no customer is stored VIP by one field and not by the other, or missing from an index; a
        write that changes what the customer is found by changes their search keys in the same transaction
        (`CustomerSearch`); and a write that changes consent, tags or VIP writes its audit entry
        (`CustomerAudit`, by the writer named with `audited_as`) in that transaction too, so that no change
        is kept without its entry, nor an entry without its change."""
        derive_customer_keys(self)
        before, after = self._stored_search_keys(), self.found_by()
        entry = self._audit_entry()
        if before == after and entry is None:
            data = super().save(condition, add_version_condition=add_version_condition)
        else:
            data = _with_search_keys(self, condition, add_version_condition, PUT_CUSTOMER, before - after,
                                     after - before, [entry] if entry is not None else [])
        self._search_keys_stored = after
        self._audited = audited_values(self)
        return data

    def audited_as(self, by: str, source: str, at: str, *, before: Customer | None = None) -> Customer:
        """Name who writes this item and how (`api`, `unsubscribe_link`, `import:<id>`), and when, for the audit
        entry its save writes. `before`: the customer as stored, for an item built afresh to replace it (an item
        read from the table remembers what it was read with; a new customer was nothing)."""
        self._audit_by = (by, source, at)
        if before is not None:
            self._audited = getattr(before, "_audited", None) or audited_values(before)
        return self

    def _audit_entry(self) -> CustomerAudit | None:
        was = getattr(self, "_audited", None) or audited_values(None)
        changes = audit_changes(was, audited_values(self))
        if not changes:
            return None
        by, source, at = getattr(self, "_audit_by", None) or ("system", "system", self.updated_at or self.created_at)
        return CustomerAudit.entry(self.tenant_id, self.customer_id, at=at, by=by, source=source, changes=changes,
                                   version=(self.version or 0) + 1)

    def delete(self, condition=None, *, add_version_condition: bool = True):
        """Deleting a customer deletes their search keys (and takes them off their address's item) in the same
        transaction."""
        stale = self._stored_search_keys()
        if not stale:
            return super().delete(condition, add_version_condition=add_version_condition)
        return _with_search_keys(self, condition, add_version_condition, DELETE_CUSTOMER, stale, frozenset())

    def search_keys(self) -> frozenset[str]:
        return search.search_keys(self.first_name, self.last_name, self.email, self.phone)

    def found_by(self) -> frozenset[str]:
        """Everything the customer is found by: the search keys, and the address key (`CustomerEmail`)."""
        address = search.email_key(self.email)
        return self.search_keys() | {address} if address else self.search_keys()

    @classmethod
    def _instantiate(cls, attribute_values):
        # A customer read from the table remembers the keys it is stored with: the write that replaces it
        # (under its version) knows which keys to delete without reading it again.
        item = super()._instantiate(attribute_values)
        item._search_keys_stored = item.found_by()
        item._audited = audited_values(item)
        return item

    def _stored_search_keys(self) -> frozenset[str]:
        """What the customer as stored is found by (`found_by`): remembered when read, nothing for a new
        customer, or else (an item built afresh to replace a stored one) read."""
        known = getattr(self, "_search_keys_stored", None)
        if known is not None:
            return known
        if self.version is None:
            return frozenset()
        try:
            stored = Customer.get(self.tenant_id, self.customer_id, consistent_read=True,
                                  attributes_to_get=list(SEARCHED_FIELDS))
        except Customer.DoesNotExist:
            return frozenset()   # the write's version condition fails: the writer reads again and retries
        return stored.found_by()


def derive_customer_keys(item: Customer) -> None:
    """The fields derived from others: tags and interests without duplicates in any letter case, `is_vip`
    from the tags (docs/behaviour.md section 7), and the index keys. Writes that bypass `save` (the
    benchmarks' bulk puts) call it themselves."""
    if item.tags is not None:
        item.tags = tags.distinct(item.tags)
    if item.interests is not None:
        item.interests = tags.distinct(item.interests)
    item.is_vip = tags.is_vip(item.tags)
    item.birthday_key = month_day_key(item.tenant_id, item.birthday) if item.birthday else None
    item.anniversary_key = month_day_key(item.tenant_id, item.anniversary) if item.anniversary else None
    item.email_key = f"{item.tenant_id}#{item.email.lower()}" if item.email else None
    item.vip_key = item.tenant_id if item.is_vip else None


#: What the audit trail follows (docs/behaviour.md section 7, "Audit trail"): each consent channel, the tags, VIP.
AUDITED_FIELDS = ("consent.email", "consent.sms", "tags", "is_vip")


def audited_values(item: Customer | None) -> dict:
    """The audited fields' values of a customer (None: a customer that did not exist)."""
    if item is None:
        return {"consent.email": False, "consent.sms": False, "tags": [], "is_vip": False}
    consent = item.consent.as_dict() if item.consent is not None else {}
    return {"consent.email": bool(consent.get("email")), "consent.sms": bool(consent.get("sms")),
            "tags": list(item.tags or []), "is_vip": bool(item.is_vip)}


def audit_changes(before: dict, after: dict) -> list[dict]:
    """Each audited field that differs: `{field, from, to}`."""
    return [{"field": name, "from": before[name], "to": after[name]} for name in AUDITED_FIELDS
            if before[name] != after[name]]


class CustomerAudit(Model):
    """One change of a customer's consent, tags or VIP (docs/behaviour.md section 7, "Audit trail"): who, when,
    how, and each field's value before and after. Written in the customer's own transaction (`Customer.save`).
    Erasing the customer deletes the entries and leaves one, `erased` (by whom, when)."""

    class Meta(BaseMeta):
        table_name = _table("customer_audit")

    tenant_customer = UnicodeAttribute(hash_key=True)
    #: `<at>#<the customer's version it wrote, 10 digits>`: sorts by time, then by write; unique, and the same for a
    #: write tried again. The erasure's own entry is `erased`, after every instant.
    entry_key = UnicodeAttribute(range_key=True)
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    at = UnicodeAttribute()
    #: The user id (the token's subject), `unsubscribe_link`, or `system`.
    by = UnicodeAttribute()
    #: `api`, the `consent_source` given, `unsubscribe_link`, `import:<id>`; `erasure` for the erasure's entry.
    source = UnicodeAttribute()
    #: JSON: `[{"field", "from", "to"}]` (absent on the erasure's entry).
    changes = UnicodeAttribute(null=True)
    #: The erasure's entry: when its last step was done (absent while a retry has work to finish).
    finished_at = UnicodeAttribute(null=True)

    ERASED = "erased"

    @classmethod
    def entry(cls, tenant_id: str, customer_id: str, *, at: str, by: str, source: str, changes: list[dict],
              version: int) -> CustomerAudit:
        return cls(tenant_customer(tenant_id, customer_id), f"{at}#{version:010d}", tenant_id=tenant_id,
                   customer_id=customer_id, at=at, by=by, source=source,
                   changes=json.dumps(changes, separators=(",", ":")))


#: The fields a customer's search keys are made of.
SEARCHED_FIELDS = ("first_name", "last_name", "email", "phone")
PUT_CUSTOMER, DELETE_CUSTOMER = "put", "delete"
#: Tries of a customer's write whose transaction met another on the same items (DynamoDB does not retry it).
TRANSACTION_ATTEMPTS = 4


class CustomerSearch(Model):
    """One search key of a customer (`chalicelib.rules.search`): a tenant's keys sort by text, so the customers
    whose name, email or phone number starts with a query are one range read. Written and deleted in the
    transaction that writes the customer (`Customer.save`, `Customer.delete`), so a customer is found by
    exactly what it holds."""

    class Meta(BaseMeta):
        table_name = _table("customer_search")

    tenant_id = UnicodeAttribute(hash_key=True)
    #: `<search key>#<customer_id>`.
    search_key = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute()

    @classmethod
    def of(cls, customer: Customer, key: str) -> CustomerSearch:
        return cls(customer.tenant_id, f"{key}#{customer.customer_id}", customer_id=customer.customer_id)


class CustomerEmail(Model):
    """The customers of a store who hold one email address (in any letter case): one item per address, in the
    search keys' table under the key `e:<address in lower case>` (`rules.search.email_key`), so that finding the
    customers of many addresses is a batch of keyed reads (an import's chunk: `BatchGetItem`, 100 addresses a
    call) rather than an index query each. Each customer adds their id to their address's item, and takes it
    off the one they leave, in the transaction that writes them (`Customer.save`), as they write their search
    keys. Not in `ALL_MODELS`: it is another kind of item of `CustomerSearch`'s table."""

    class Meta(BaseMeta):
        table_name = _table("customer_search")

    tenant_id = UnicodeAttribute(hash_key=True)
    #: `e:<address in lower case>`.
    search_key = UnicodeAttribute(range_key=True)
    #: Absent once the last customer with the address has left it (DynamoDB keeps no empty set); the item is then
    #: deleted (`drop_if_empty`), since its key is the address itself.
    customer_ids = UnicodeSetAttribute(null=True)

    @classmethod
    def drop_if_empty(cls, tenant_id: str, key: str) -> None:
        """Delete the address's item if no customer holds the address any more: its key is an address, which is
        not kept for nobody (an erased customer's, an old one). Conditional, so a customer who took the address
        meanwhile keeps it."""
        from pynamodb.exceptions import DeleteError

        from chalicelib.adapters.persistence import is_conditional_failure

        try:
            cls(tenant_id, key).delete(condition=cls.customer_ids.does_not_exist())
        except DeleteError as e:
            if not is_conditional_failure(e):
                raise


@lru_cache(maxsize=1)
def _transactions():
    """One connection for the customer writes' transactions of a warm process (building one builds a botocore
    client)."""
    from pynamodb.connection import Connection

    return Connection(region=config.region())


def connect_customer_writes() -> None:
    """Build the clients customer writes use (a plain write's, a transaction's) before several threads write
    at once: botocore builds a client from a session that is not safe to share while it builds."""
    Customer._get_connection().connection.client
    _transactions().client


def _with_search_keys(customer: Customer, condition, add_version_condition: bool, action: str,
                      stale_keys: frozenset[str], new_keys: frozenset[str], extra: list[Model] | None = None):
    """Put or delete the customer, under its version (and `condition`), with its search keys and its address
    key (`found_by`: the keys it no longer holds are deleted, or its id taken off the address's item; the new
    ones written, or its id added) and `extra` items (its audit entry), all or nothing. A failed condition is
    raised as the write alone would raise it (`PutError` or `DeleteError` with DynamoDB's
    ConditionalCheckFailedException), so the writers' read-and-retry loops see no difference."""
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import DeleteError, PutError, TransactWriteError
    from pynamodb.transactions import TransactWrite

    def split(keys: frozenset[str]) -> tuple[list[CustomerSearch], list[CustomerEmail]]:
        addresses = [k for k in sorted(keys) if k.startswith(search.EMAIL)]
        return ([CustomerSearch.of(customer, k) for k in sorted(keys) if not k.startswith(search.EMAIL)],
                [CustomerEmail(customer.tenant_id, k) for k in addresses])

    stale, left = split(stale_keys)
    new, joined = split(new_keys)
    for attempt in range(TRANSACTION_ATTEMPTS):
        try:
            with TransactWrite(connection=_transactions()) as tx:
                if action == PUT_CUSTOMER:
                    tx.save(customer, condition=condition)
                else:
                    tx.delete(customer, condition=condition, add_version_condition=add_version_condition)
                for key in stale:
                    tx.delete(key)
                for key in new:
                    tx.save(key)
                for item in extra or ():
                    tx.save(item)
                for address in left:
                    tx.update(address, actions=[CustomerEmail.customer_ids.delete({customer.customer_id})])
                for address in joined:
                    tx.update(address, actions=[CustomerEmail.customer_ids.add({customer.customer_id})])
            for address in left:
                CustomerEmail.drop_if_empty(customer.tenant_id, address.search_key)
            return {}
        except TransactWriteError as e:
            codes = {reason.code for reason in e.cancellation_reasons if reason is not None}
            if "ConditionalCheckFailed" in codes:
                failed = ClientError({"Error": {"Code": "ConditionalCheckFailedException",
                                                "Message": "The conditional request failed"}}, "TransactWriteItems")
                raise (PutError if action == PUT_CUSTOMER else DeleteError)(cause=failed) from e
            if "TransactionConflict" not in codes or attempt + 1 == TRANSACTION_ATTEMPTS:
                raise
            time.sleep(0.05 * 2 ** attempt * (0.5 + random.random() / 2))
    raise AssertionError("unreachable")


class Segment(Model):
    """A store's own segment (docs/behaviour.md section 10): a name and a filter of conditions, all of which must
    hold. The built-in segments are rules, not items."""

    class Meta(BaseMeta):
        table_name = _table("segments")

    tenant_id = UnicodeAttribute(hash_key=True)
    segment_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    #: As `chalicelib.rules.segments.parse_filter` answers it.
    filter = MapAttribute(default=dict)
    #: Optimistic locking: a write fails if someone else wrote since we read.
    version = VersionAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)


# --- sales, repairs, appointments ---------------------------------------------------------------

def _customer_present() -> BooleanAttribute:
    """True while the record vouches that its customer exists, so that a matcher finding the record through
    its index need not read the customer to match it: a record is written for a customer that exists
    (the services read it before and after the write), and deleting the customer removes the attribute
    from each of their records. Absent: not known (a record written before this attribute, or one whose
    customer was deleted), and the matcher reads the customer. `chalicelib.core.values` has the rule."""
    return BooleanAttribute(null=True, default_for_new=True)


class SaleCompletedIndex(GlobalSecondaryIndex):
    """Serves the post-purchase matcher: a tenant's sales completed within a range of instants."""

    class Meta:
        index_name = "completed_index"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    completed_at = UnicodeAttribute(range_key=True)


class SalesByCustomerIndex(GlobalSecondaryIndex):
    """A customer's sales, to recompute their last activity."""

    class Meta:
        index_name = "customer_index"
        projection = KeysOnlyProjection()

    tenant_customer = UnicodeAttribute(hash_key=True)
    completed_at = UnicodeAttribute(range_key=True)


class Sale(Model):
    """A completed sale."""

    class Meta(BaseMeta):
        table_name = _table("sales")

    tenant_id = UnicodeAttribute(hash_key=True)
    sale_id = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute()
    completed_at = UnicodeAttribute()
    total = NumberAttribute(null=True)
    tenant_customer = UnicodeAttribute()
    #: Optimistic locking: a write fails if someone else wrote since we read.
    version = VersionAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    customer_present = _customer_present()
    #: The marketing message the sale is attributed to (decided once, when the sale is first written with a
    #: customer and an instant): its record's sort key in the customer's history, and its automation.
    attributed_record = UnicodeAttribute(null=True)
    attributed_automation = UnicodeAttribute(null=True)

    completed_index = SaleCompletedIndex()
    customer_index = SalesByCustomerIndex()


class RepairReadyIndex(GlobalSecondaryIndex):
    """Serves the repair-ready matcher: repairs still `ready`, by the instant they became ready."""

    class Meta:
        index_name = "ready_index"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    ready_since = UnicodeAttribute(range_key=True)


class RepairsByCustomerIndex(GlobalSecondaryIndex):
    """A customer's repairs, to recompute their last activity."""

    class Meta:
        index_name = "customer_index"
        projection = AllProjection()

    tenant_customer = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class Repair(Model):
    """A repair job in the workshop."""

    class Meta(BaseMeta):
        table_name = _table("repairs")

    tenant_id = UnicodeAttribute(hash_key=True)
    repair_id = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute()
    status = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    #: Optimistic locking: a write fails if someone else wrote since we read.
    version = VersionAttribute()
    created_at = UnicodeAttribute()
    ready_at = UnicodeAttribute(null=True)
    collected_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    tenant_customer = UnicodeAttribute()
    #: Equal to ready_at while status is `ready`, absent otherwise (sparse index key).
    ready_since = UnicodeAttribute(null=True)
    customer_present = _customer_present()

    ready_index = RepairReadyIndex()
    customer_index = RepairsByCustomerIndex()


class AppointmentBookedIndex(GlobalSecondaryIndex):
    """Serves both appointment matchers: booked appointments by start instant."""

    class Meta:
        index_name = "booked_index"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    booked_starts_at = UnicodeAttribute(range_key=True)


class AppointmentsByCustomerIndex(GlobalSecondaryIndex):
    """A customer's appointments, to withdraw their `customer_present` when the customer is deleted."""

    class Meta:
        index_name = "customer_index"
        projection = KeysOnlyProjection()

    tenant_customer = UnicodeAttribute(hash_key=True)
    starts_at = UnicodeAttribute(range_key=True)


class Appointment(Model):
    """An appointment in the store's diary."""

    class Meta(BaseMeta):
        table_name = _table("appointments")

    tenant_id = UnicodeAttribute(hash_key=True)
    appointment_id = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute()
    starts_at = UnicodeAttribute()
    status = UnicodeAttribute()
    purpose = UnicodeAttribute(null=True)
    #: Optimistic locking: a write fails if someone else wrote since we read.
    version = VersionAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    #: Equal to starts_at while status is `booked`, absent otherwise (sparse index key).
    booked_starts_at = UnicodeAttribute(null=True)
    #: Absent on appointments written before it was kept (they are not in `customer_index`, and vouch for
    #: no customer either).
    tenant_customer = UnicodeAttribute(null=True)
    customer_present = _customer_present()

    booked_index = AppointmentBookedIndex()
    customer_index = AppointmentsByCustomerIndex()


# --- what was sent -------------------------------------------------------------------------------

class Communication(Model):
    """One outcome of one send (docs/behaviour.md section 8), on the customer's history, newest first by sort key."""

    class Meta(BaseMeta):
        table_name = _table("communications")

    tenant_customer = UnicodeAttribute(hash_key=True)
    #: `<created_at>#<communication_id>`: sorts by time, unique.
    sort_key = UnicodeAttribute(range_key=True)
    tenant_id = UnicodeAttribute()
    communication_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    channel = UnicodeAttribute()
    source = UnicodeAttribute()
    automation_type = UnicodeAttribute(null=True)
    automation_id = UnicodeAttribute(null=True)
    occurrence_key = UnicodeAttribute(null=True)
    template_id = UnicodeAttribute(null=True)
    #: Only on records written before `CommunicationContent` held them (and until the customer is erased); newer
    #: records' are in their `CommunicationContent`, which `sending.ledger.with_content` lays on them.
    to = UnicodeAttribute(null=True)
    subject = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    provider_message_id = UnicodeAttribute(null=True)
    #: A `deferred` record: when the send will be tried again.
    deferred_until = UnicodeAttribute(null=True)
    #: A 1:1 message: the user (the token's subject) who wrote and sent it.
    sent_by = UnicodeAttribute(null=True)
    #: What SES reported of a sent email (docs/behaviour.md section 14), each instant set once, by its first
    #: event: `delivery_status` (sent, delivered, bounced, complained, rejected, rendering_failure).
    delivery_status = UnicodeAttribute(null=True)
    accepted_at = UnicodeAttribute(null=True)
    delivered_at = UnicodeAttribute(null=True)
    bounced_at = UnicodeAttribute(null=True)
    complained_at = UnicodeAttribute(null=True)
    rejected_at = UnicodeAttribute(null=True)
    rendering_failed_at = UnicodeAttribute(null=True)
    #: The first open by a person; an open by a mail privacy proxy sets `machine_opened_at` and `machine_open`.
    opened_at = UnicodeAttribute(null=True)
    machine_opened_at = UnicodeAttribute(null=True)
    machine_open = BooleanAttribute(null=True)
    clicked_at = UnicodeAttribute(null=True)
    #: The links clicked, without their query strings.
    clicked_links = UnicodeSetAttribute(null=True)
    #: Sales attributed to this message: how many, and their total.
    attributed_sales = NumberAttribute(null=True)
    attributed_revenue = NumberAttribute(null=True)
    #: The latest attributed sale: when it was completed, and its total.
    attributed_sale_at = UnicodeAttribute(null=True)
    attributed_sale_total = NumberAttribute(null=True)


class CommunicationContent(Model):
    """The personal part of one communication record (docs/behaviour.md section 8, "Retention"): the address, the
    subject and the rendered body. Kept apart from the record, under the same key, so that DynamoDB's time to
    live deletes it after the store's `retention_days` while the record (ids, dates, status, reason) stays.
    Records written before it existed hold these fields themselves, without an expiry."""

    class Meta(BaseMeta):
        table_name = _table("communication_contents")
        #: DynamoDB's time to live deletes the item after this instant (epoch seconds), within about two days.
        ttl_attribute = "expires_at"

    tenant_customer = UnicodeAttribute(hash_key=True)
    #: The record's own `sort_key`.
    sort_key = UnicodeAttribute(range_key=True)
    to = UnicodeAttribute(null=True)
    subject = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class DeferredIndex(GlobalSecondaryIndex):
    """Serves the release of deferred sends: every send waiting for quiet hours to end, by release time.

    Its hash key is one constant while a send is deferred (sparse: absent otherwise), so one query
    finds every due send of every tenant. Deferred sends are marketing SMS inside quiet hours, a
    small stream; one partition takes ~1,000 writes a second.
    """

    class Meta:
        index_name = "deferred_index"
        projection = AllProjection()

    deferred_shard = UnicodeAttribute(hash_key=True)
    deferred_until = UnicodeAttribute(range_key=True)


class SendLedger(Model):
    """One row per send: (tenant, customer, automation, occurrence key, channel).

    The dispatcher claims the row with a conditional write before it calls the provider, and records
    the outcome in the same transaction as the communication record, so there is at most one `sent`
    per send whatever is retried or run twice. Status: `claimed` (a dispatcher holds it until
    `claimed_at` + lease), `accepted` (the provider took the message; its record is still to be
    written), `deferred` (waiting for quiet hours to end), or final: `sent`, `skipped`, `failed`.
    """

    class Meta(BaseMeta):
        table_name = _table("send_ledger")

    ledger_key = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    automation_id = UnicodeAttribute()
    occurrence_key = UnicodeAttribute()
    channel = UnicodeAttribute()
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    #: Which attempt holds the claim: a redelivered message takes over only a claim whose lease ran out.
    claim_token = UnicodeAttribute(null=True)
    claimed_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    provider_message_id = UnicodeAttribute(null=True)
    #: Once `accepted` (the provider took the message): what its `sent` record will say, as JSON, so any
    #: attempt can record it without sending again.
    accepted_record = UnicodeAttribute(null=True)
    #: The status whose outcome counter this row's outcome was added to, set in the same transaction as the
    #: counter: every outcome is counted once, whichever attempt counts it (`ledger.Counts`).
    counted = UnicodeAttribute(null=True)
    #: While deferred: the send itself (its queue message), to put back on the queue when due.
    payload = UnicodeAttribute(null=True)
    deferred_shard = UnicodeAttribute(null=True)
    deferred_until = UnicodeAttribute(null=True)

    deferred_index = DeferredIndex()


class CampaignPhaseIndex(GlobalSecondaryIndex):
    """Serves the campaigns' one-minute planner: campaigns waiting to start (`phase` = `due`, by the instant
    they start) and campaigns being sent (`sending`, by the last time their run was moved on). Sparse: a
    draft, a sent and a cancelled campaign are not in it, so the planner's two queries read only campaigns
    it has work for, every store's in one partition (a handful at a time)."""

    class Meta:
        index_name = "phase_index"
        projection = AllProjection()

    phase = UnicodeAttribute(hash_key=True)
    phase_at = UnicodeAttribute(range_key=True)


class Campaign(Model):
    """A one-off marketing message to a segment's members (clienteling section 12). Status `draft`,
    `scheduled`, `sending`, `sent` or `cancelled`; while it sends, its run's progress: the position of the
    last page of members queued, and how many members and sends the pages have queued."""

    class Meta(BaseMeta):
        table_name = _table("campaigns")

    tenant_id = UnicodeAttribute(hash_key=True)
    campaign_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    segment_id = UnicodeAttribute(null=True)
    channels = ListAttribute(of=UnicodeAttribute, default=lambda: ["email"])
    template_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="draft")
    scheduled_at = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)
    #: The snapshot's instant: the members are the segment's as at this instant.
    started_at = UnicodeAttribute(null=True)
    finished_at = UnicodeAttribute(null=True)
    cancelled_at = UnicodeAttribute(null=True)
    #: The segment's conditions as at `started_at`, kept when it starts: every page reads members by them.
    segment_filter = MapAttribute(null=True)
    #: The run: the last page's position in the segment's read (absent before the first page), whether the
    #: last page is queued, and the counts the pages recorded.
    position = UnicodeAttribute(null=True)
    paged = BooleanAttribute(default=False)
    members = NumberAttribute(default=0)
    queued = NumberAttribute(default=0)
    #: When a page job was last put on the evaluations queue by the planner (absent: never).
    kicked_at = UnicodeAttribute(null=True)
    #: Sparse `phase_index` keys: set only while scheduled or sending.
    phase = UnicodeAttribute(null=True)
    phase_at = UnicodeAttribute(null=True)
    #: Optimistic locking: an edit and a start never both win.
    version = VersionAttribute()

    phase_index = CampaignPhaseIndex()


class Suppression(Model):
    """An address a tenant must not message on a channel (docs/behaviour.md section 5, check 4): an email that
    hard-bounced or complained, a phone number that opted out of SMS."""

    class Meta(BaseMeta):
        table_name = _table("suppressions")

    tenant_id = UnicodeAttribute(hash_key=True)
    #: `<channel>:<address>`, the email lower-cased, the phone in E.164.
    address_key = UnicodeAttribute(range_key=True)
    reason = UnicodeAttribute()
    created_at = UnicodeAttribute()


class MarketingLog(Model):
    """When marketing messages were sent to one customer, on any channel: the window the frequency cap
    (docs/behaviour.md section 5, check 6) counts in. One small item per customer, so a cap check is one read."""

    class Meta(BaseMeta):
        table_name = _table("marketing_log")

    tenant_customer = UnicodeAttribute(hash_key=True)
    sent_at = ListAttribute(of=UnicodeAttribute, default=list)
    #: Optimistic locking: two dispatchers cannot both take the last place under the cap.
    version = VersionAttribute()


class AutomationStats(Model):
    """Outcome counters per automation and tenant-local day: one small item per (day, automation,
    outcome), so the dispatcher adds to it with `ADD` in the same transaction as the outcome's record,
    and the last-30-days view is one range query."""

    class Meta(BaseMeta):
        table_name = _table("automation_stats")

    tenant_id = UnicodeAttribute(hash_key=True)
    #: `<YYYY-MM-DD>#<automation_id>#<outcome>`, outcome `sent`, `failed`, `deferred` or `skipped:<reason>`.
    stat_key = UnicodeAttribute(range_key=True)
    count = NumberAttribute(default=0)


class Note(Model):
    """A note staff wrote on a customer's page (clienteling section 13). Each note is its own item, so two
    staff writing at once never overwrite each other; its id sorts by creation time, so the customer's
    partition reads newest first."""

    class Meta(BaseMeta):
        table_name = _table("notes")

    tenant_customer = UnicodeAttribute(hash_key=True)
    #: `n<microseconds since the epoch, hex><random>`: sorts by creation time, unique.
    note_id = UnicodeAttribute(range_key=True)
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    body = UnicodeAttribute()
    #: The writer's user id (the token's subject) and role when they wrote it.
    author = UnicodeAttribute()
    author_role = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    edited_at = UnicodeAttribute(null=True)
    edited_by = UnicodeAttribute(null=True)
    #: An edit names the version it read: a stale edit is refused, never written over another.
    version = VersionAttribute()


class Import(Model):
    """A customer import (clienteling section 14): the uploaded file's key, the mapping and mode it was started
    with, and its run's progress. A run works through the file a chunk at a time; each chunk is recorded with a
    write conditional on the run and chunk number still being the ones it started from, so a chunk run twice
    counts once."""

    class Meta(BaseMeta):
        table_name = _table("imports")

    tenant_id = UnicodeAttribute(hash_key=True)
    import_id = UnicodeAttribute(range_key=True)
    #: `awaiting_upload`, `running`, `done` or `failed`.
    status = UnicodeAttribute(default="awaiting_upload")
    #: `dry_run` or `commit` (the last run's).
    mode = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    started_at = UnicodeAttribute(null=True)
    started_by = UnicodeAttribute(null=True)
    finished_at = UnicodeAttribute(null=True)
    #: Why the run failed (the file itself could not be read).
    error = UnicodeAttribute(null=True)
    #: Column -> field, and `dmy` or `mdy` for dates written with slashes.
    mapping = MapAttribute(null=True)
    date_order = UnicodeAttribute(null=True)
    #: Each start begins a new run; chunk jobs carry the run they belong to.
    run = NumberAttribute(default=0)
    #: The next chunk's number, and where it starts: an offset in the file's text and its physical line.
    chunk = NumberAttribute(default=0)
    offset = NumberAttribute(default=0)
    line = NumberAttribute(default=2)
    rows_total = NumberAttribute(null=True)
    rows_done = NumberAttribute(default=0)
    created = NumberAttribute(default=0)
    updated = NumberAttribute(default=0)
    unchanged = NumberAttribute(default=0)
    rejected = NumberAttribute(default=0)
    #: Chunks of the run that wrote a rejects part (their numbers), for `GET /imports/{id}/rejects`.
    reject_chunks = ListAttribute(of=NumberAttribute, null=True)
    version = VersionAttribute()


ALL_MODELS: tuple[type[Model], ...] = (
    Tenant, Automation, RunState, ActionAutomation, ActionFiring, Template, Customer, CustomerSearch, Segment, Sale,
    Repair, Appointment, Communication, CommunicationContent, SendLedger, Suppression, MarketingLog, AutomationStats,
    Campaign, Note, Import, CustomerAudit,
)


def ledger_key(tenant_id: str, customer_id: str, automation_id: str, occurrence_key: str, channel: str) -> str:
    return "|".join((tenant_id, customer_id, automation_id, occurrence_key, channel))


def tenant_customer(tenant_id: str, customer_id: str) -> str:
    return f"{tenant_id}#{customer_id}"


def month_day_key(tenant_id: str, month_day: str) -> str:
    """The birthday / anniversary index key of a `MM-DD`, a `YYYY-MM-DD` or a `--MM-DD`."""
    return f"{tenant_id}#{month_day[-5:]}"

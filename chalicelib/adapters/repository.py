"""The matchers' repository over DynamoDB: each read is one index query (see `chalicelib.adapters.models`).

A sale, repair or appointment read from its index says whether it vouches that its customer exists
(`customer_present`); the matchers read only the customers of those that do not."""
from __future__ import annotations

from dataclasses import fields
from typing import Collection, Iterable, Iterator, Mapping

from chalicelib.adapters.models import (
    Appointment,
    Customer,
    Repair,
    Sale,
    month_day_key,
)
from chalicelib.core.values import (
    BY_INSTANT,
    AppointmentFact,
    CustomerRead,
    Person,
    Profile,
    RepairFact,
    SaleFact,
)

#: What a matcher or the dry-run reads of a customer; reading everyone asks for nothing more.
PERSON_ATTRIBUTES = ["customer_id", "first_name", "last_name", "email", "phone", "consent", "birthday",
                     "anniversary", "last_activity_at"]


def person_of(item: Customer) -> Person:
    consent = item.consent
    return Person(
        customer_id=item.customer_id, first_name=item.first_name, last_name=item.last_name,
        email=item.email, phone=item.phone,
        consent_email=bool(consent and consent.email), consent_sms=bool(consent and consent.sms),
        birthday=item.birthday, anniversary=item.anniversary, last_activity_at=item.last_activity_at,
    )


#: What a segment's filter reads of a customer, besides what a matcher reads.
PROFILE_ATTRIBUTES = PERSON_ATTRIBUTES + ["tags", "interests", "points_balance", "created_at", "last_purchase_at"]


def profile_of(item: Customer) -> Profile:
    """The customer as `person_of` reads them, with what a segment's filter reads besides."""
    person = person_of(item)
    return Profile(
        **{f.name: getattr(person, f.name) for f in fields(Person)},
        tags=tuple(item.tags or ()), interests=tuple(item.interests or ()), points=int(item.points_balance or 0),
        created_at=item.created_at, last_purchase_at=item.last_purchase_at,
    )


def sale_fact(item: Sale) -> SaleFact:
    return SaleFact(item.sale_id, item.customer_id, item.completed_at, item.total,
                    customer_present=bool(item.customer_present))


def repair_fact(item: Repair) -> RepairFact:
    return RepairFact(item.repair_id, item.customer_id, item.status, item.ready_at, item.created_at, item.description,
                      customer_present=bool(item.customer_present))


def appointment_fact(item: Appointment) -> AppointmentFact:
    return AppointmentFact(item.appointment_id, item.customer_id, item.starts_at, item.status, item.purpose,
                           customer_present=bool(item.customer_present))


def _after_customer(customer_id: str | None):
    """The sort key condition of a read that carries on after a customer (None: from the first)."""
    return None if customer_id is None else Customer.customer_id > customer_id


#: The stored attributes each field of `Profile` is read from.
PROFILE_FIELDS: Mapping[str, tuple[str, ...]] = {
    **{name: (name,) for name in ("customer_id", "first_name", "last_name", "email", "phone", "birthday",
                                  "anniversary", "last_activity_at", "tags", "interests", "created_at",
                                  "last_purchase_at")},
    "consent_email": ("consent",), "consent_sms": ("consent",), "points": ("points_balance",),
}
#: What each kind of segment read queries: the table (the tenant's partition) or one of its indexes.
_SOURCES = {"all": Customer, "vip": Customer.vip_index, "birthday": Customer.birthday_index,
            "anniversary": Customer.anniversary_index, "last_activity": Customer.last_activity_index,
            "created": Customer.created_index}


def _attributes(read: CustomerRead, fields: Collection[str] | None) -> list[str]:
    """What to ask for: the fields' attributes, the customer id, and the read's own order (a position needs it)."""
    if fields is None:
        return PROFILE_ATTRIBUTES
    wanted = {"customer_id", *(a for f in fields for a in PROFILE_FIELDS[f])}
    if read.index in BY_INSTANT:
        wanted.add(BY_INSTANT[read.index])
    return sorted(wanted)


def _key(tenant_id: str, read: CustomerRead) -> tuple[str, object]:
    """The hash key and the sort key condition of a segment's read."""
    if read.index in BY_INSTANT:
        attribute = getattr(Customer, BY_INSTANT[read.index])
        return tenant_id, attribute <= read.last if read.first is None else attribute.between(read.first, read.last)
    if read.key is not None:
        return month_day_key(tenant_id, read.key), None
    return tenant_id, None


class DynamoRepository:
    """Reads for the matchers, through the indexes that hold only what can match."""

    def customers_by_month_day(self, tenant_id: str, field: str, month_day: str,
                               start_after: str | None = None) -> Iterator[Person]:
        index = {"birthday": Customer.birthday_index, "anniversary": Customer.anniversary_index}[field]
        return map(person_of, index.query(month_day_key(tenant_id, month_day), _after_customer(start_after)))

    def customers_active_between(self, tenant_id: str, first: str, last: str,
                                 start_after: tuple[str, str] | None = None) -> Iterator[Person]:
        # The index's sort key is not unique (customers imported together share an instant), so the
        # query carries on from the last item's full key (index and table keys), as DynamoDB's own
        # pages do.
        start = None
        if start_after is not None:
            instant, customer_id = start_after
            start = {"tenant_id": {"S": tenant_id}, "last_activity_at": {"S": instant},
                     "customer_id": {"S": customer_id}}
        return map(person_of, Customer.last_activity_index.query(
            tenant_id, Customer.last_activity_at.between(first, last), last_evaluated_key=start))

    def all_customers(self, tenant_id: str, start_after: str | None = None) -> Iterator[Person]:
        return map(person_of, Customer.query(tenant_id, _after_customer(start_after),
                                             attributes_to_get=PERSON_ATTRIBUTES))

    def sales_completed_between(self, tenant_id: str, first: str, last: str) -> Iterator[SaleFact]:
        return map(sale_fact, Sale.completed_index.query(tenant_id, Sale.completed_at.between(first, last)))

    def repairs_ready_between(self, tenant_id: str, first: str, last: str) -> Iterator[RepairFact]:
        return map(repair_fact, Repair.ready_index.query(tenant_id, Repair.ready_since.between(first, last)))

    def appointments_booked_between(self, tenant_id: str, first: str, last: str) -> Iterator[AppointmentFact]:
        return map(appointment_fact, Appointment.booked_index.query(
            tenant_id, Appointment.booked_starts_at.between(first, last)))

    def customers(self, tenant_id: str, customer_ids: Iterable[str]) -> Mapping[str, Person]:
        keys = [(tenant_id, customer_id) for customer_id in sorted(set(customer_ids))]
        if not keys:
            return {}
        return {item.customer_id: person_of(item)
                for item in Customer.batch_get(keys, attributes_to_get=PERSON_ATTRIBUTES)}

    # --- segments: profiles through the same indexes; the whole base only through its partition ------------

    def read_profiles(self, tenant_id: str, read: CustomerRead, start_after: str | tuple[str, str] | None = None,
                      fields: Collection[str] | None = None) -> Iterator[Profile]:
        hash_key, condition = _key(tenant_id, read)
        start = None
        if isinstance(start_after, tuple):
            # The index's sort key (an instant) is not unique: the query carries on from the last item's full key
            # (index and table keys), as DynamoDB's own pages do.
            instant, customer_id = start_after
            start = {"tenant_id": {"S": tenant_id}, BY_INSTANT[read.index]: {"S": instant},
                     "customer_id": {"S": customer_id}}
        elif start_after is not None:
            condition = _after_customer(start_after)
        return map(profile_of, _SOURCES[read.index].query(hash_key, condition, last_evaluated_key=start,
                                                          attributes_to_get=_attributes(read, fields)))

    def count_profiles(self, tenant_id: str, read: CustomerRead) -> int:
        """DynamoDB counts the items (`Select=COUNT`): it reads them as a query does, and hands none over."""
        return _SOURCES[read.index].count(*_key(tenant_id, read))

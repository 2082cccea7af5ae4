"""The values matchers work with, and the port through which they read (docs/behaviour.md section 3)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping, Protocol, Union


@dataclass(frozen=True)
class Person:
    """What the runner needs to know of a customer to match, check and address them."""

    customer_id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    consent_email: bool = False
    consent_sms: bool = False
    birthday: str | None = None
    anniversary: str | None = None
    last_activity_at: str | None = None

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or self.customer_id

    def consents_to(self, channel: str) -> bool:
        return self.consent_email if channel == "email" else self.consent_sms


@dataclass(frozen=True)
class Profile(Person):
    """A customer as a segment's filter reads them (docs/behaviour.md section 10): a `Person`, so that a campaign
    can address the members it reads, with their tags, interests, points and dates. VIP is read from the tags,
    its one source of truth."""

    tags: tuple[str, ...] = ()
    interests: tuple[str, ...] = ()
    points: int = 0
    created_at: str | None = None
    last_purchase_at: str | None = None


#: The orders of the segments' reads: a read of `CustomerRead.index` in customer id order, or in the order of an instant.
BY_ID = ("all", "vip", "birthday", "anniversary")
BY_INSTANT = {"last_activity": "last_activity_at", "created": "created_at"}


@dataclass(frozen=True)
class CustomerRead:
    """One read of a tenant's customers for the segments: `index` `all` (the tenant's partition), `vip`,
    `birthday` or `anniversary` (the month-day `key`, `MM-DD`), each in customer id order; or `last_activity` or
    `created` (the instants from `first`, None for the earliest, to `last`), in (instant, customer id) order."""

    index: str
    key: str | None = None
    first: str | None = None
    last: str | None = None


# A sale, repair or appointment says, in `customer_present`, whether it vouches that its customer exists:
# True when it was written for a customer read just then and that customer has not been deleted since
# (a deletion withdraws it); False when that is not known (a record written before records said so, or
# one whose customer was deleted), and a matcher reads the customer to know.

@dataclass(frozen=True)
class SaleFact:
    sale_id: str
    customer_id: str
    completed_at: str
    total: float | None = None
    customer_present: bool = False


@dataclass(frozen=True)
class RepairFact:
    repair_id: str
    customer_id: str
    status: str
    ready_at: str | None
    created_at: str
    description: str | None = None
    customer_present: bool = False


@dataclass(frozen=True)
class AppointmentFact:
    appointment_id: str
    customer_id: str
    starts_at: str
    status: str
    purpose: str | None = None
    customer_present: bool = False


Subject = Union[SaleFact, RepairFact, AppointmentFact, None]


@dataclass(frozen=True)
class TenantView:
    """The tenant a matcher works for: its id and effective settings (docs/behaviour.md section 1)."""

    tenant_id: str
    settings: Mapping[str, Any]

    @property
    def timezone(self) -> str:
        return self.settings["timezone"]

    @property
    def country(self) -> str:
        return self.settings["country"]


@dataclass(frozen=True)
class AutomationView:
    """One automation's effective configuration: a per-event one, or an action-taken one as the
    dispatcher sees it (its offer text in `settings`, its own `name`)."""

    type: str
    settings: Mapping[str, Any]
    enabled: bool = False
    channels: tuple[str, ...] = ("email",)
    template_id: str | None = None
    #: When it was last switched on (None if never): no date before that day is processed.
    enabled_at: str | None = None
    #: The trigger date of the day it was last switched on, under the settings of that moment: no
    #: trigger date before it is covered (docs/behaviour.md section 2).
    coverage_from: str | None = None
    #: Set where the automation has a name of its own (action-taken ones); else the type's name.
    name: str | None = None


@dataclass(frozen=True)
class Occasion:
    """What is being evaluated: the instant, and for daily types the tenant-local date processed
    (a catch-up evaluation processes earlier dates at a later instant)."""

    at: datetime
    day: date
    #: The trigger date to match (the celebration, ready, lapse or purchase date): None for the one the
    #: day points at under the automation's settings (`schedule.trigger_of`).
    trigger: date | None = None
    #: Where a paged evaluation carries on: the `position` of the last match already handled. A matcher
    #: that gives positions yields only the matches after it, and reads from there; one it does not
    #: recognise (its settings changed in between) means from the start. None: from the start.
    after: str | None = None


class People:
    """Customers a matcher found through records that vouch for them, without reading them: read all
    together, in one batch, the first time one of them is asked for. The runner's evaluation never asks
    (the dispatcher reads each customer again, in its own batch read); the test-run does, for its checks
    and its sample."""

    def __init__(self, read: Callable[[], Mapping[str, Person]]) -> None:
        self._read = read
        self._found: Mapping[str, Person] | None = None

    def person(self, customer_id: str) -> Person:
        if self._found is None:
            self._found = self._read()
        # Absent only if deleted since it was matched, a moment ago: no name, address or consent then.
        return self._found.get(customer_id) or Person(customer_id)


@dataclass(frozen=True)
class Match:
    """One customer due for one occurrence; `subject` is the sale, repair or appointment the message is
    about."""

    customer_id: str
    occurrence_key: str
    day: date
    #: The customer as the matcher read them, or, where the matcher had no need to read them, the
    #: `People` that reads them when asked for (`person`).
    customer: Person | People
    subject: Subject = None
    #: Facts the dispatcher re-checks (docs/behaviour.md section 5, check 2), such as the lapse date L.
    trigger: Mapping[str, str] = field(default_factory=dict)
    #: Where this match stands in its matcher's order, for an evaluation to carry on after it
    #: (`Occasion.after`). Set by the matchers whose reads can be large; None where a matcher gives no
    #: positions, and the evaluation carries on by counting matches instead. Not part of the match.
    position: str | None = field(default=None, compare=False)

    @property
    def person(self) -> Person:
        """The customer: name, addresses and consent, as read by the matcher or, if it did not, now."""
        return self.customer if isinstance(self.customer, Person) else self.customer.person(self.customer_id)


class Repository(Protocol):
    """Reads a matcher may make. Each answers from an index holding only what can match, except
    `all_customers`, which the seasonal types need. Instant bounds are stored instants, inclusive.

    The reads that can be large answer in their index's order and take `start_after`, the key of the
    last item already read, so that a paged evaluation reads each item once: customers in
    `customer_id` order (after that id), and active customers in (`last_activity_at`, `customer_id`)
    order (after that pair).

    The segments read `Profile`s through a `CustomerRead`: `read_profiles` answers in its order, after
    `start_after` (a customer id, or an (instant, customer id) pair), with only `fields` of each profile read when
    they are given (the others left at their defaults; the customer id always); `count_profiles` says how many
    customers the read holds without handing them over."""

    def customers_by_month_day(self, tenant_id: str, field: str, month_day: str,
                               start_after: str | None = None) -> Iterable[Person]: ...

    def customers_active_between(self, tenant_id: str, first: str, last: str,
                                 start_after: tuple[str, str] | None = None) -> Iterable[Person]: ...

    def all_customers(self, tenant_id: str, start_after: str | None = None) -> Iterable[Person]: ...

    def sales_completed_between(self, tenant_id: str, first: str, last: str) -> Iterable[SaleFact]: ...

    def repairs_ready_between(self, tenant_id: str, first: str, last: str) -> Iterable[RepairFact]: ...

    def appointments_booked_between(self, tenant_id: str, first: str, last: str) -> Iterable[AppointmentFact]: ...

    def customers(self, tenant_id: str, customer_ids: Iterable[str]) -> Mapping[str, Person]: ...

    # The segments' reads (`chalicelib.matchers.segment`).

    def read_profiles(self, tenant_id: str, read: CustomerRead, start_after: str | tuple[str, str] | None = None,
                      fields: Collection[str] | None = None) -> Iterable[Profile]: ...

    def count_profiles(self, tenant_id: str, read: CustomerRead) -> int: ...


Matcher = Callable[[TenantView, AutomationView, Occasion, Repository], Iterator[Match]]

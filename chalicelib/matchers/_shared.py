"""Pieces several matchers share: month-day dates, appointment windows, everyone-on-a-day, joins."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Callable, Iterable, Iterator, TypeVar

from chalicelib.core.calendar import ONE_SECOND, month_days_celebrated_on
from chalicelib.core.timeutil import to_iso
from chalicelib.core.values import (
    AutomationView,
    Match,
    Occasion,
    People,
    Person,
    Repository,
    TenantView,
)

F = TypeVar("F")

#: Separates the parts of a match's position: index keys (month-days, instants) never contain it, and
#: the customer id, which may, comes last.
POSITION_SEPARATOR = "|"


def position(key: str, customer_id: str) -> str:
    """A match's position in a read ordered by `key`, then customer id (see `Match.position`)."""
    return f"{key}{POSITION_SEPARATOR}{customer_id}"


def split_position(after: str | None) -> tuple[str, str]:
    """The key and customer id of a position made by `position`; ("", "") for None."""
    key, _, customer_id = (after or "").partition(POSITION_SEPARATOR)
    return key, customer_id


def month_day_matches(field: str, prefix: str, tenant: TenantView, automation: AutomationView,
                      when: Occasion, repo: Repository) -> Iterator[Match]:
    """Customers whose `field` (YYYY-MM-DD or --MM-DD) is celebrated on D + days_before."""
    target = when.trigger or when.day + timedelta(days=int(automation.settings["days_before"]))
    month_days = month_days_celebrated_on(target)
    # A position is `MM-DD|customer_id`: the month-day read (Feb 28 also reads Feb 29), then the
    # customer in that index's order.
    resumed_on, customer_id = split_position(when.after)
    if resumed_on in month_days:
        month_days = month_days[month_days.index(resumed_on):]
    for month_day in month_days:
        after = customer_id if month_day == resumed_on and customer_id else None
        people = (repo.customers_by_month_day(tenant.tenant_id, field, month_day, start_after=after) if after
                  else repo.customers_by_month_day(tenant.tenant_id, field, month_day))
        for person in people:
            yield Match(person.customer_id, f"{prefix}:{target.year}", when.day, person,
                        trigger={field: getattr(person, field)[-5:]},
                        position=position(month_day, person.customer_id))


def with_customers(repo: Repository, tenant_id: str, facts: Iterable[F]) -> Iterator[tuple[F, Person | People]]:
    """Each fact (a sale, repair or appointment) whose customer exists, with that customer; facts whose
    customer was deleted match nobody. A fact that vouches that its customer exists (`customer_present`)
    needs no read to match: its customer is read, with the others vouched for, only if someone asks
    (`People`). The customers of the other facts are read in one batch, to know whether they exist."""
    facts = list(facts)
    vouched = {fact.customer_id for fact in facts if fact.customer_present}  # type: ignore[attr-defined]
    unknown = {fact.customer_id for fact in facts if not fact.customer_present}  # type: ignore[attr-defined]
    people = repo.customers(tenant_id, unknown) if unknown else {}
    later = People(lambda: repo.customers(tenant_id, vouched)) if vouched else None
    for fact in facts:
        if fact.customer_present:  # type: ignore[attr-defined]
            yield fact, later
            continue
        person = people.get(fact.customer_id)  # type: ignore[attr-defined]
        if person is not None:
            yield fact, person


def appointment_matches(prefix: str, earliest: timedelta, latest: timedelta, tenant: TenantView,
                        when: Occasion, repo: Repository) -> Iterator[Match]:
    """Booked appointments with starts_at - earliest <= now < starts_at - latest, that is
    now + latest < starts_at <= now + earliest. Stored instants have whole seconds, so the bounds
    floored to the second (which `to_iso` does) give the same answer as the exact comparison."""
    first, last = to_iso(when.at + latest + ONE_SECOND), to_iso(when.at + earliest)
    booked = repo.appointments_booked_between(tenant.tenant_id, first, last)
    for appointment, customer in with_customers(repo, tenant.tenant_id, booked):
        yield Match(appointment.customer_id, f"{prefix}:{appointment.appointment_id}@{appointment.starts_at}",
                    when.day, customer, subject=appointment, trigger={"starts_at": appointment.starts_at})


def everyone_on(prefix: str, day_in: Callable[[int, TenantView], date], tenant: TenantView,
                when: Occasion, repo: Repository) -> Iterator[Match]:
    """Every customer, on the one date of the year `day_in(year, tenant)`."""
    day = when.trigger or when.day
    if day != day_in(day.year, tenant):
        return
    # A position is the customer id: everyone is read in customer id order.
    people = (repo.all_customers(tenant.tenant_id, start_after=when.after) if when.after
              else repo.all_customers(tenant.tenant_id))
    for person in people:
        yield Match(person.customer_id, f"{prefix}:{day.year}", when.day, person,
                    position=person.customer_id)

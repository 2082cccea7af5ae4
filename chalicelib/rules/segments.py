"""Segments' rules (docs/behaviour.md section 10), as pure functions: the built-in segments, the conditions a
custom segment's filter may hold, and whether a customer is a member at an instant in the store's time zone.

A filter is a set of conditions that must all hold. Each condition is one entry of `CONDITIONS`: how its value
is checked, the test it puts on a customer at a moment, the fields of the customer the test reads, and, where an
index holds exactly the customers who pass it, that read. Dates are the store's: "within 30 days" means on one of the 30 local dates ending today, and
"inactive 90 days" that the last activity fell on a local date at least 90 days before today. The instants of
those dates are worked out once per evaluation, so a customer is judged by comparing stored instants as text.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any, Callable, Mapping

from chalicelib.core.calendar import day_range
from chalicelib.core.timeutil import local_date
from chalicelib.core.values import CustomerRead, Profile
from chalicelib.rules import validation as v
from chalicelib.rules.tags import folded_set, is_vip

#: The longest span a day-count condition takes: ten years.
MAX_DAYS = 3650
#: How many days of history a typical store's customers are spread over, to estimate how much of the base a
#: range of dates reads (`Read.share`).
HISTORY_DAYS = 730

Test = Callable[[Profile], bool]


@dataclass(frozen=True)
class Moment:
    """The instant a segment is evaluated at, on the store's calendar."""

    at: datetime
    timezone: str

    @cached_property
    def today(self) -> date:
        return local_date(self.at, self.timezone)

    def days(self, newest_ago: int, oldest_ago: int) -> tuple[str, str]:
        """Inclusive bounds, as stored instants, of the local dates from `oldest_ago` days before today to
        `newest_ago` days before it."""
        return day_range(self.today - timedelta(days=oldest_ago), self.today - timedelta(days=newest_ago),
                         self.timezone)

    def within(self, days: int) -> tuple[str, str]:
        """The instants of the last `days` local dates, today included."""
        return self.days(0, days - 1)

    def on_or_before(self, days_ago: int) -> str:
        """The last instant of the local date `days_ago` days before today."""
        return self.days(days_ago, days_ago)[1]


@dataclass(frozen=True)
class Read:
    """A read that holds every customer a condition can admit, and no one else: `name` says which (`vip`,
    `birthday` or `anniversary` for a month's month-days, `last_activity`, `created`, or `all`, the tenant's whole
    partition), `parts` are its reads in their order. `share` estimates the part of a typical store's customers it
    reads, to choose the smallest."""

    name: str
    parts: tuple[CustomerRead, ...]
    share: float = 1.0


def month_days(month: int) -> list[str]:
    """A month's `MM-DD`s in order; February's include the 29th (celebrated in February)."""
    return [f"{month:02d}-{day:02d}" for day in range(1, calendar.monthrange(2000, month)[1] + 1)]


def _index_read(index: str, first: str | None, last: str, share: float) -> Read:
    return Read(index, (CustomerRead(index, first=first, last=last),), share)


EVERYONE = Read("all", (CustomerRead("all"),))


@dataclass(frozen=True)
class Condition:
    """One condition a filter may hold: its check (the API's 400 names it), its test of a customer, the fields of
    `Profile` the test reads, and the read of an index that holds exactly the customers who pass it, if there is
    one."""

    check: v.Check
    test: Callable[[Any, Moment], Test]
    fields: tuple[str, ...]
    read: Callable[[Any, Moment], Read | None] = field(default=lambda value, moment: None)


def _tags(attribute: str, holds: Callable[[frozenset, frozenset], bool]) -> Callable[[Any, Moment], Test]:
    def test(value: list[str], moment: Moment) -> Test:
        wanted = folded_set(value)
        return lambda p: holds(wanted, folded_set(getattr(p, attribute)))
    return test


def _within(attribute: str) -> Callable[[Any, Moment], Test]:
    def test(days: int, moment: Moment) -> Test:
        first, last = moment.within(days)
        return lambda p: getattr(p, attribute) is not None and first <= getattr(p, attribute) <= last
    return test


def _within_read(index: str) -> Callable[[Any, Moment], Read]:
    def read(days: int, moment: Moment) -> Read:
        return _index_read(index, *moment.within(days), share=min(1.0, days / HISTORY_DAYS))
    return read


def _inactive(days: int, moment: Moment) -> Test:
    last = moment.on_or_before(days)
    return lambda p: p.last_activity_at is not None and p.last_activity_at <= last


def _inactive_read(days: int, moment: Moment) -> Read:
    return _index_read("last_activity", None, moment.on_or_before(days), share=max(0.0, 1 - days / HISTORY_DAYS))


def _in_month(attribute: str) -> Callable[[Any, Moment], Test]:
    def test(month: int, moment: Moment) -> Test:
        return lambda p: bool(getattr(p, attribute)) and int(getattr(p, attribute)[-5:-3]) == month
    return test


def _month_read(index: str) -> Callable[[Any, Moment], Read]:
    return lambda month, moment: Read(index, tuple(CustomerRead(index, key=md) for md in month_days(month)), 1 / 12)


def _present(attribute: str) -> Callable[[Any, Moment], Test]:
    return lambda wanted, moment: lambda p: bool(getattr(p, attribute)) is wanted


def _equals(attribute: str) -> Callable[[Any, Moment], Test]:
    return lambda wanted, moment: lambda p: getattr(p, attribute) is wanted


TAGS = v.tag_list(50, 50, min_items=1)
DAYS = v.integer(1, MAX_DAYS)
MONTH = v.integer(1, 12)
POINTS = v.integer(0, 10**9)

#: Every condition a filter may hold, by name (docs/behaviour.md section 10).
CONDITIONS: Mapping[str, Condition] = {
    "tags_any": Condition(TAGS, _tags("tags", lambda wanted, has: bool(wanted & has)), ("tags",)),
    "tags_all": Condition(TAGS, _tags("tags", lambda wanted, has: wanted <= has), ("tags",)),
    "tags_none": Condition(TAGS, _tags("tags", lambda wanted, has: not wanted & has), ("tags",)),
    "interests_any": Condition(TAGS, _tags("interests", lambda wanted, has: bool(wanted & has)), ("interests",)),
    "vip": Condition(v.boolean(), lambda wanted, moment: lambda p: is_vip(p.tags) is wanted, ("tags",),
                     lambda wanted, moment: Read("vip", (CustomerRead("vip"),), 0.1) if wanted else None),
    "points_min": Condition(POINTS, lambda least, moment: lambda p: p.points >= least, ("points",)),
    "points_max": Condition(POINTS, lambda most, moment: lambda p: p.points <= most, ("points",)),
    "inactive_days_min": Condition(DAYS, _inactive, ("last_activity_at",), _inactive_read),
    "active_within_days": Condition(DAYS, _within("last_activity_at"), ("last_activity_at",),
                                    _within_read("last_activity")),
    "created_within_days": Condition(DAYS, _within("created_at"), ("created_at",), _within_read("created")),
    "purchased_within_days": Condition(DAYS, _within("last_purchase_at"), ("last_purchase_at",)),
    "birthday_month": Condition(MONTH, _in_month("birthday"), ("birthday",), _month_read("birthday")),
    "anniversary_month": Condition(MONTH, _in_month("anniversary"), ("anniversary",), _month_read("anniversary")),
    "has_email": Condition(v.boolean(), _present("email"), ("email",)),
    "has_phone": Condition(v.boolean(), _present("phone"), ("phone",)),
    "consent_email": Condition(v.boolean(), _equals("consent_email"), ("consent_email",)),
    "consent_sms": Condition(v.boolean(), _equals("consent_sms"), ("consent_sms",)),
}


def parse_filter(value: Any, field_name: str = "filter") -> dict:
    """A filter as a request gives it: an object of known conditions with values of their types (else a 400
    naming the condition, or the item of a list); `{}` is everyone."""
    if not isinstance(value, dict):
        raise v.fail(field_name, "must be an object of conditions")
    parsed = v.parse(value, {name: c.check for name, c in CONDITIONS.items()}, prefix=f"{field_name}.")
    if parsed.get("points_min", 0) > parsed.get("points_max", 10**9):
        raise v.fail(f"{field_name}.points_max", "must be at least points_min")
    return parsed


@dataclass(frozen=True)
class Plan:
    """How to find a filter's members at a moment: the smallest read that holds them all, the tests that admit a
    customer it reads (every condition's, the read's own included), and the fields of `Profile` they read.
    `exact` when the read holds the members and no one else (the filter is that read's condition alone, or
    empty), so that counting them needs no customer handed over."""

    read: Read
    tests: tuple[Test, ...]
    fields: frozenset[str]
    exact: bool

    def admits(self, profile: Profile) -> bool:
        return all(test(profile) for test in self.tests)


def plan(conditions: Mapping[str, Any], moment: Moment) -> Plan:
    """The plan of a filter (as `parse_filter` answers it) at a moment."""
    tests = tuple(CONDITIONS[name].test(value, moment) for name, value in conditions.items())
    reads = [read for name, value in conditions.items() if (read := CONDITIONS[name].read(value, moment))]
    read = min(reads, key=lambda r: r.share, default=EVERYONE)
    fields = frozenset(f for name in conditions for f in CONDITIONS[name].fields)
    return Plan(read, tests, fields, exact=len(conditions) == len(reads) <= 1)


def is_member(conditions: Mapping[str, Any], profile: Profile, moment: Moment) -> bool:
    """Whether the customer is a member of the filter's segment at the moment."""
    return plan(conditions, moment).admits(profile)


@dataclass(frozen=True)
class BuiltIn:
    """A segment every store has: a filter of the local date, so that it is evaluated at the instant asked."""

    segment_id: str
    name: str
    description: str
    filter_on: Callable[[date], dict]


BUILT_IN: tuple[BuiltIn, ...] = (
    BuiltIn("vip", "VIP customers", "Customers tagged VIP.", lambda today: {"vip": True}),
    BuiltIn("inactive_90", "Inactive for 90 days", "Last activity on a date at least 90 days before today.",
            lambda today: {"inactive_days_min": 90}),
    BuiltIn("birthday_this_month", "Birthdays this month",
            "Birthday in the current month (February 29 counts in February).",
            lambda today: {"birthday_month": today.month}),
    BuiltIn("new_30", "New in the last 30 days", "Created on one of the last 30 dates, today included.",
            lambda today: {"created_within_days": 30}),
)
BUILT_IN_IDS: Mapping[str, BuiltIn] = {b.segment_id: b for b in BUILT_IN}

"""A segment's members (docs/behaviour.md section 10), read through the repository: the API's counts and member
pages read them, and a campaign will send to them.

The filter's plan (`chalicelib.rules.segments.plan`) names the smallest read that holds every member; each
customer it reads is admitted by the filter's tests. Members come in that read's order, each with its
`position`, `<read>|<key>|<customer_id>` (the key a month-day or an instant, empty for the reads in customer id
order), from which a later read carries on after it, as the matchers' positions do. A position of another read
(the filter was changed in between), or of a key outside the read, means from the start.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator, Mapping

from chalicelib.core.values import Profile, Repository, TenantView
from chalicelib.matchers._shared import POSITION_SEPARATOR
from chalicelib.rules.segments import Moment, Plan, Read, plan


@dataclass(frozen=True)
class Member:
    """A customer of a segment, and where they stand in the segment's read."""

    profile: Profile
    position: str


def _position(read: Read, key: str, customer_id: str) -> str:
    return POSITION_SEPARATOR.join((read.index, key, customer_id))


def _resumed(read: Read, after: str | None) -> tuple[str, str] | None:
    """The (key, customer id) a position of this read carries on after; None for the start."""
    index, _, rest = (after or "").partition(POSITION_SEPARATOR)
    key, _, customer_id = rest.partition(POSITION_SEPARATOR)
    return (key, customer_id) if index == read.index and customer_id else None


Reader = Callable[[Repository, str, Read, "tuple[str, str] | None"], Iterator[tuple[str, Profile]]]


def _by_id(method: str) -> Reader:
    """A read in customer id order (`Repository.<method>`): a position's key is empty."""
    def reader(repo: Repository, tenant_id: str, read: Read, after: tuple[str, str] | None):
        people = (getattr(repo, method)(tenant_id, start_after=after[1]) if after and not after[0]
                  else getattr(repo, method)(tenant_id))
        return (("", p) for p in people)
    return reader


def _by_month(field: str) -> Reader:
    """The month's month-days of a birthday or anniversary, each in customer id order."""
    def reader(repo: Repository, tenant_id: str, read: Read, after: tuple[str, str] | None):
        month_days = read.month_days
        resumed_on, customer_id = after if after and after[0] in month_days else ("", "")
        for month_day in month_days[month_days.index(resumed_on) if resumed_on else 0:]:
            people = (repo.profiles_by_month_day(tenant_id, field, month_day, start_after=customer_id)
                      if month_day == resumed_on else repo.profiles_by_month_day(tenant_id, field, month_day))
            for person in people:
                yield month_day, person
    return reader


def _by_instant(method: str, attribute: str) -> Reader:
    """A range of instants (`Repository.<method>`), in (instant, customer id) order."""
    def reader(repo: Repository, tenant_id: str, read: Read, after: tuple[str, str] | None):
        within = bool(after and after[0] and (read.first or "") <= after[0] <= read.last)
        people = (getattr(repo, method)(tenant_id, read.first, read.last, start_after=after) if within
                  else getattr(repo, method)(tenant_id, read.first, read.last))
        return ((getattr(p, attribute), p) for p in people)
    return reader


#: How each kind of read is made, by `Read.index`.
READERS: Mapping[str, Reader] = {
    "all": _by_id("profiles"),
    "vip": _by_id("vip_profiles"),
    "birthday": _by_month("birthday"),
    "anniversary": _by_month("anniversary"),
    "last_activity": _by_instant("profiles_active_between", "last_activity_at"),
    "created": _by_instant("profiles_created_between", "created_at"),
}


def _admitted(how: Plan, tenant_id: str, repo: Repository, after: str | None) -> Iterator[Member]:
    for key, profile in READERS[how.read.index](repo, tenant_id, how.read, _resumed(how.read, after)):
        if how.admits(profile):
            yield Member(profile, _position(how.read, key, profile.customer_id))


def members(tenant: TenantView, conditions: Mapping[str, Any], at: datetime, repo: Repository,
            after: str | None = None) -> Iterator[Member]:
    """The members of the filter's segment at `at`, in their read's order, after the position `after`."""
    return _admitted(plan(conditions, Moment(at, tenant.timezone)), tenant.tenant_id, repo, after)


def counts(tenant: TenantView, filters: Mapping[str, Mapping[str, Any]], at: datetime,
           repo: Repository) -> dict[str, int]:
    """How many members each segment has at `at`. Segments with an index read theirs; the others share one read
    of the whole base, so that a store's list of segments reads its customers at most once however many
    segments no index serves."""
    moment = Moment(at, tenant.timezone)
    plans = {segment_id: plan(conditions, moment) for segment_id, conditions in filters.items()}
    found = {segment_id: 0 for segment_id in plans}
    shared = {segment_id: how for segment_id, how in plans.items() if how.read.index == "all"}
    for segment_id, how in plans.items():
        if segment_id not in shared:
            found[segment_id] = sum(1 for _ in _admitted(how, tenant.tenant_id, repo, None))
    if shared:
        for profile in repo.profiles(tenant.tenant_id):
            for segment_id, how in shared.items():
                found[segment_id] += how.admits(profile)
    return found

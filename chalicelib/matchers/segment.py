"""A segment's members (docs/behaviour.md section 10), read through the repository: the API's counts and member
pages read them, and a campaign will send to them.

The filter's plan (`chalicelib.rules.segments.plan`) names the smallest read that holds every member; each
customer it reads is admitted by the filter's tests. Members come in that read's order, each with its
`position`, `<read>|<key>|<customer_id>` (the key a month-day or an instant, empty for the reads in customer id
order), from which a later read carries on after it, as the matchers' positions do. A position of another read
(the filter was changed in between), or of a key outside the read, means from the start.

A count reads as little as it can: where the read holds exactly the members it only counts them
(`count_profiles`), and otherwise it reads only the fields the filter's tests need.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Collection, Iterator, Mapping

from chalicelib.core.values import BY_INSTANT, CustomerRead, Profile, Repository, TenantView
from chalicelib.matchers._shared import POSITION_SEPARATOR
from chalicelib.rules.segments import EVERYONE, Moment, Plan, Read, plan


@dataclass(frozen=True)
class Member:
    """A customer of a segment, and where they stand in the segment's read."""

    profile: Profile
    position: str


def _key(part: CustomerRead, profile: Profile) -> str:
    """Where in its part of the read a customer stands, besides their id: the instant, the month-day, or nothing."""
    return getattr(profile, BY_INSTANT[part.index]) if part.index in BY_INSTANT else part.key or ""


def _holds(part: CustomerRead, key: str) -> bool:
    if part.index in BY_INSTANT:
        return bool(key) and (part.first or "") <= key <= part.last
    return key == (part.key or "")


def _parts_after(read: Read, after: str | None) -> Iterator[tuple[CustomerRead, str | tuple[str, str] | None]]:
    """The read's parts, each with where to start it: the part a position of this read is in from after it, the
    ones after it from their start; every part from its start for no position, or one not of this read."""
    name, _, rest = (after or "").partition(POSITION_SEPARATOR)
    key, _, customer_id = rest.partition(POSITION_SEPARATOR)
    at = None
    if name == read.name and customer_id:
        at = next((i for i, part in enumerate(read.parts) if _holds(part, key)), None)
    for i, part in enumerate(read.parts):
        if at is None or i > at:
            yield part, None
        elif i == at:
            yield part, (key, customer_id) if part.index in BY_INSTANT else customer_id


def _admitted(how: Plan, tenant_id: str, repo: Repository, after: str | None,
              fields: Collection[str] | None) -> Iterator[Member]:
    for part, start in _parts_after(how.read, after):
        for profile in repo.read_profiles(tenant_id, part, start, fields):
            if how.admits(profile):
                yield Member(profile, POSITION_SEPARATOR.join((how.read.name, _key(part, profile), profile.customer_id)))


def members(tenant: TenantView, conditions: Mapping[str, Any], at: datetime, repo: Repository,
            after: str | None = None) -> Iterator[Member]:
    """The members of the filter's segment at `at`, in their read's order, after the position `after`, each read
    whole."""
    return _admitted(plan(conditions, Moment(at, tenant.timezone)), tenant.tenant_id, repo, after, None)


def _count(how: Plan, tenant_id: str, repo: Repository) -> int:
    if how.exact:
        return sum(repo.count_profiles(tenant_id, part) for part in how.read.parts)
    return sum(1 for _ in _admitted(how, tenant_id, repo, None, how.fields))


def count(tenant: TenantView, conditions: Mapping[str, Any], at: datetime, repo: Repository) -> int:
    """How many members the filter's segment has at `at`."""
    return _count(plan(conditions, Moment(at, tenant.timezone)), tenant.tenant_id, repo)


def counts(tenant: TenantView, filters: Mapping[str, Mapping[str, Any]], at: datetime,
           repo: Repository) -> dict[str, int]:
    """How many members each segment has at `at`. Segments with an index count theirs; the others share one read
    of the whole base, of the fields all of them need, so that a store's list of segments reads its customers at
    most once however many segments no index serves."""
    moment = Moment(at, tenant.timezone)
    plans = {segment_id: plan(conditions, moment) for segment_id, conditions in filters.items()}
    shared = {segment_id: how for segment_id, how in plans.items() if how.read.name == "all" and not how.exact}
    found = {segment_id: _count(how, tenant.tenant_id, repo) if segment_id not in shared else 0
             for segment_id, how in plans.items()}
    if shared:
        fields = frozenset().union(*(how.fields for how in shared.values()))
        for part in EVERYONE.parts:
            for profile in repo.read_profiles(tenant.tenant_id, part, None, fields):
                for segment_id, how in shared.items():
                    found[segment_id] += how.admits(profile)
    return found

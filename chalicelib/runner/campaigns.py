"""Campaigns in the runner (clienteling section 12): the one-minute planner that starts due campaigns, moves on
stalled runs and marks finished ones `sent`, and the page jobs that send to a segment's members.

Starting is a conditional write (`scheduled` -> `sending`, on the instant it was scheduled for), so a start
triggered twice starts once. A page job reads the next page of the segment's members as at the start instant
(`started_at`: built-ins are evaluated then, customers created after it are left out), queues one send per
member and channel through `enqueue` (the ledger drops what it holds), and records the page with a write
conditional on the run's position still being where the page started: a page run twice counts once, and only
the job whose write took the position on queues the next page. A run whose next page is lost (a crash between
the write and the queueing) is moved on by the planner after `LEASE`, from the recorded position.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.models import Campaign
from chalicelib.adapters.persistence import get_or_none, is_conditional_failure
from chalicelib.adapters.queues import Queue
from chalicelib.adapters.tenants import load as load_settings
from chalicelib.core.jobs import kind_of
from chalicelib.core.timeutil import local_date, parse_instant, to_iso
from chalicelib.core.values import Repository, TenantView
from chalicelib.matchers.segment import members
from chalicelib.sending.enqueue import enqueue
from chalicelib.sending.sources import campaign as source

#: Members per page job: as the per-event evaluations' pages (two sends each at most).
PAGE_SIZE = 2_000
#: A run that has not moved on for this long has lost its next page: the planner queues it again. Longer than
#: the evaluations queue's visibility timeout, so a page that is being retried is not doubled.
LEASE = timedelta(minutes=20)


class MalformedCampaignJob(ValueError):
    """An evaluations queue message that names a campaign but is not a campaign job."""


@dataclass(frozen=True)
class CampaignJob:
    """One page of a campaign's members: the page after `after` (None: the first)."""

    tenant_id: str
    campaign_id: str
    after: str | None = None

    def to_body(self) -> str:
        body: dict[str, Any] = {"kind": "campaign", "tenant_id": self.tenant_id, "campaign_id": self.campaign_id}
        if self.after is not None:
            body["after"] = self.after
        return json.dumps(body)

    @staticmethod
    def is_one(body: str) -> bool:
        """A campaign job says so; the per-event jobs are left exactly as they were."""
        return kind_of(body) == "campaign"

    @classmethod
    def parse(cls, body: str) -> "CampaignJob":
        try:
            data = json.loads(body)
            if set(data) - {"kind", "tenant_id", "campaign_id", "after"}:
                raise KeyError("unknown fields")
            values = [data["tenant_id"], data["campaign_id"], data.get("after", "x")]
            if not all(isinstance(value, str) and value for value in values):
                raise TypeError("ids and the position are non-empty strings")
            return cls(data["tenant_id"], data["campaign_id"], data.get("after"))
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            raise MalformedCampaignJob(str(e)) from None


@dataclass(frozen=True)
class Page:
    """What one page job did: members read, sends queued (fresh to the ledger), and the job after it."""

    tenant_id: str
    campaign_id: str
    members: int = 0
    sends: int = 0
    queued: int = 0
    recorded: bool = False
    continuation: CampaignJob | None = None


@dataclass(frozen=True)
class Planned:
    started: tuple[str, ...] = ()
    jobs: tuple[CampaignJob, ...] = ()
    finished: tuple[str, ...] = ()


def _moved(item: Campaign, actions: list, condition) -> bool:
    """A conditional update; False when the condition no longer holds (someone else moved it)."""
    try:
        item.update(actions=actions, condition=condition, add_version_condition=False)
    except UpdateError as e:
        if not is_conditional_failure(e):
            raise
        return False
    return True


def start(item: Campaign, at: datetime) -> bool:
    """`scheduled` -> `sending` at the instant it was scheduled for: once, however often it is triggered. The
    segment's conditions as at that instant are kept on it for every page."""
    tz_name = load_settings(item.tenant_id)["timezone"]
    started = parse_instant(item.scheduled_at)
    conditions = source.segment_filter(item.tenant_id, item.segment_id or "", local_date(started, tz_name)) or {}
    return _moved(item, [Campaign.status.set(source.SENDING), Campaign.started_at.set(item.scheduled_at),
                         Campaign.segment_filter.set(conditions) if conditions else Campaign.segment_filter.remove(),
                         Campaign.phase.set(source.RUNNING), Campaign.phase_at.set(to_iso(at)),
                         Campaign.kicked_at.set(to_iso(at))],
                  (Campaign.status == source.SCHEDULED) & (Campaign.scheduled_at == item.scheduled_at))


def _kick(item: Campaign, at: datetime) -> bool:
    """Take the right to queue a sending run's next page (its first, or one that was lost): one planner wins."""
    was = Campaign.kicked_at.does_not_exist() if not item.kicked_at else Campaign.kicked_at == item.kicked_at
    return _moved(item, [Campaign.kicked_at.set(to_iso(at)), Campaign.phase_at.set(to_iso(at))],
                  (Campaign.status == source.SENDING) & was)


def plan(at: datetime, queue: Queue) -> Planned:
    """Every minute: start the campaigns due by `at`, queue the page of each sending run that has none
    going (just sent now, or stalled past the lease), and mark the finished ones `sent`."""
    started, jobs, finished = [], [], []
    for item in Campaign.phase_index.query(source.DUE, Campaign.phase_at <= to_iso(at)):
        current = get_or_none(Campaign, item.tenant_id, item.campaign_id)   # the index lags the table
        if current is not None and current.status == source.SCHEDULED and start(current, at):
            started.append(current.campaign_id)
            jobs.append(CampaignJob(current.tenant_id, current.campaign_id))
    for item in Campaign.phase_index.query(source.RUNNING):
        current = get_or_none(Campaign, item.tenant_id, item.campaign_id)
        if current is None or current.status != source.SENDING or current.campaign_id in started:
            continue
        if current.paged:
            counts = source.outcome_counts(current, load_settings(current.tenant_id)["timezone"])
            if source.is_done(current, counts) and source.finish(current, at):
                finished.append(current.campaign_id)
            continue
        stalled = current.phase_at is None or parse_instant(current.phase_at) + LEASE <= at
        if (not current.kicked_at or stalled) and _kick(current, at):
            jobs.append(CampaignJob(current.tenant_id, current.campaign_id, current.position))
    if jobs:
        queue.send([job.to_body() for job in jobs])
    return Planned(tuple(started), tuple(jobs), tuple(finished))


def _record(item: Campaign, job: CampaignJob, position: str | None, members_read: int, sends: int, last: bool,
            now: datetime) -> bool:
    """Record a page once: conditional on the run still sending and its position where the page started."""
    was = Campaign.position.does_not_exist() if job.after is None else Campaign.position == job.after
    actions = [Campaign.members.add(members_read), Campaign.queued.add(sends), Campaign.phase_at.set(to_iso(now))]
    if position is not None:
        actions.append(Campaign.position.set(position))
    if last:
        actions.append(Campaign.paged.set(True))
    return _moved(item, actions, (Campaign.status == source.SENDING) & was & (Campaign.paged == False))


def evaluate(job: CampaignJob, repo: Repository, queue: Queue, page_size: int = PAGE_SIZE,
             now: datetime | None = None) -> Page:
    """One page of the campaign's members: queue their sends, record the page, name the next page's job."""
    item = get_or_none(Campaign, job.tenant_id, job.campaign_id)
    if item is None or item.status != source.SENDING or item.paged or (item.position or None) != job.after:
        # Cancelled (nothing more is queued), finished, or a page another job has recorded already.
        return Page(job.tenant_id, job.campaign_id)
    started = parse_instant(item.started_at)
    tenant = TenantView(job.tenant_id, load_settings(job.tenant_id))
    day = local_date(started, tenant.timezone)
    conditions = source.conditions_at_start(item, tenant.timezone)
    read = members(tenant, conditions, started, repo, after=job.after) if conditions is not None else iter(())
    page = list(islice(read, page_size))
    last = next(read, None) is None
    joined = [m.profile.customer_id for m in page if source.joined_by(m.profile, started)]
    sends = source.sends_of(job.tenant_id, item, joined, day.isoformat())
    queued = enqueue(sends, queue)
    position = page[-1].position if page else job.after
    recorded = _record(item, job, position, len(joined), len(sends), last, now or started)
    return Page(job.tenant_id, job.campaign_id, len(joined), len(sends), queued, recorded,
                CampaignJob(job.tenant_id, job.campaign_id, position) if recorded and not last else None)

"""Evaluations (docs/behaviour.md section 2): which tenants are due for a type at an instant, one tenant's evaluation,
and the release of deferred sends.

In the cloud an EventBridge schedule per type runs `plan`, which puts one job per due tenant on the
evaluation queue; each job is evaluated on its own (so one slow tenant holds up no other) and pushes
its sends to the send queue, in batches of 10. Locally, the clock or `tick` runs the same steps.

A job handles one page: at most `PAGE_SIZE` matches. When more are left, its evaluation names a
continuation, a job for the same tenant, type and instant that carries on from the page's last match
(for daily types: on that match's date), and the caller puts it on the evaluation queue. So a
Christmas of a million customers is some five hundred short invocations, each holding one page,
rather than one that cannot finish; a retried job queues its own page again, not the day.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any, Iterator

from pynamodb.exceptions import PutError

from chalicelib.adapters.models import Automation, RunState, Tenant
from chalicelib.adapters.persistence import get_or_none, is_conditional_failure
from chalicelib.adapters.queues import Queue
from chalicelib.adapters.tenants import load as load_settings
from chalicelib.core import catalog
from chalicelib.core.schedule import Cover, covers, due_dates, trigger_of
from chalicelib.core.store_settings import effective
from chalicelib.core.timeutil import local_date, parse_instant, to_iso
from chalicelib.core.values import (
    Match,
    Occasion,
    Repository,
    TenantView,
)
from chalicelib.matchers import matcher_for
from chalicelib.sending import ledger
from chalicelib.sending.enqueue import enqueue
from chalicelib.sending.messages import parse
from chalicelib.sending.sources import automation as automations
from chalicelib.sending.sources.automation import sends_of  # noqa: F401 - the runner's and the test run's



class MalformedJob(ValueError):
    """An evaluation queue message that is not a job."""


#: The most matches one evaluation job handles. Each match is one send per channel (two at most), so a
#: page is at most 4,000 sends: 40 ledger reads (BatchGetItem, 100 keys) and 400 SendMessageBatch calls,
#: about ten seconds and a few megabytes, far inside the function's 900 seconds and 1,024 MB.
PAGE_SIZE = 2_000
#: A run whose next page was queued this recently is alive: the planner leaves its tenant alone. Longer
#: than the evaluations queue's visibility timeout, so a page retried after a failure is still covered;
#: a run that stopped for good is started again after it (the ledger drops what was already queued).
PAGING_LEASE = timedelta(minutes=20)

_FIELDS = {"tenant_id", "type", "at", "day", "trigger", "after", "skip"}


@dataclass(frozen=True)
class Job:
    """One evaluation: a tenant's type at an instant. A continuation also says where the previous page
    stopped: `day`, the date it was on (daily types), `trigger`, the trigger date it was covering, and
    either `after`, the position of its last match (`Match.position`), or `skip`, how many of that
    trigger date's matches are done (for matchers that give no positions). A continuation with a day
    and neither starts that day (and trigger date) from its beginning."""

    tenant_id: str
    type: str
    at: str
    day: str | None = None
    after: str | None = None
    skip: int = 0
    trigger: str | None = None

    def to_body(self) -> str:
        body: dict[str, Any] = {"tenant_id": self.tenant_id, "type": self.type, "at": self.at}
        if self.day is not None:
            body["day"] = self.day
        if self.trigger is not None:
            body["trigger"] = self.trigger
        if self.after is not None:
            body["after"] = self.after
        if self.skip:
            body["skip"] = self.skip
        return json.dumps(body)

    @classmethod
    def parse(cls, body: str) -> "Job":
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise TypeError("a job is a JSON object")
            if unknown := set(data) - _FIELDS:
                raise KeyError(f"unknown fields {sorted(unknown)}")
            job = cls(_text(data["tenant_id"]), _text(data["type"]), _text(data["at"]),
                      _day(data.get("day")), _text(data["after"]) if "after" in data else None,
                      _count(data.get("skip", 0)), _day(data.get("trigger")))
            parse_instant(job.at)
        except (TypeError, ValueError, KeyError) as e:
            raise MalformedJob(str(e)) from None
        spec = catalog.PER_EVENT.get(job.type)
        if spec is None:
            raise MalformedJob(f"unknown type {job.type!r}")
        if job.after is not None and job.skip:
            raise MalformedJob("a job carries on after a position or after a count, not both")
        if (job.day is not None or job.trigger is not None) and not spec.daily:
            raise MalformedJob(f"{job.type} has no dates")
        if job.trigger is not None and job.day is None:
            raise MalformedJob("a trigger date belongs to a date")
        if spec.daily and job.day is None and (job.after is not None or job.skip):
            raise MalformedJob("a daily type's continuation names its date")
        return job


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"expected a non-empty string, not {value!r}")
    return value


def _day(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or date.fromisoformat(value).isoformat() != value):
        raise ValueError(f"expected a YYYY-MM-DD date, not {value!r}")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"expected a count, not {value!r}")
    return value


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation did: the dates it processed, its matches, the sends it queued (a send the
    ledger already holds is not queued again), and the job that carries on where it stopped, if its
    page was full and matches are left."""

    tenant_id: str
    type: str
    dates: tuple[str, ...] = ()
    matched: int = 0
    sends: int = 0
    queued: int = 0
    continuation: Job | None = None


def plan(type_: str, at: datetime) -> list[Job]:
    """One job per tenant that has `type_` enabled and, for a daily type, a date due at `at`."""
    spec = catalog.PER_EVENT[type_]
    enabled = {item.tenant_id: item for item in Automation.enabled_index.query(type_)}
    if not enabled:
        return []
    jobs = [Job(tenant_id, type_, to_iso(at)) for tenant_id in sorted(enabled)]
    if not spec.daily:
        return jobs
    tenants = {t.tenant_id: t for t in Tenant.batch_get(sorted(enabled))}
    states = {s.tenant_id: s for s in RunState.batch_get([(t, type_) for t in sorted(enabled)])}
    due = []
    for job in jobs:
        tenant = TenantView(job.tenant_id, effective(
            tenants[job.tenant_id].settings.as_dict() if job.tenant_id in tenants else None))
        automation = automations.configuration(spec, enabled[job.tenant_id])
        state = states.get(job.tenant_id)
        if state is not None and state.paging_until and state.paging_until > to_iso(at):
            continue   # a run is carrying on page by page: its continuations cover the date
        if due_dates(at, tenant, automation, state):
            due.append(job)
    return due


def _run_state(tenant: TenantView, type_: str, at: datetime) -> RunState:
    state = get_or_none(RunState, tenant.tenant_id, type_)
    if state is None:
        # The first evaluation fixes the first date ever processed: no back-dating (docs/behaviour.md section 2).
        state = RunState(tenant.tenant_id, type_, first_evaluated_on=local_date(at, tenant.timezone).isoformat(),
                         updated_at=to_iso(at))
        try:
            state.save(condition=RunState.tenant_id.does_not_exist())
        except PutError as e:
            if not is_conditional_failure(e):
                raise
            state = get_or_none(RunState, tenant.tenant_id, type_)  # a concurrent first evaluation won
    return state


def _page(matches: Iterator[Match], skip: int, room: int) -> tuple[list[Match], bool]:
    """Up to `room` matches after the first `skip`, and whether any is left after them. Only the page is
    ever held: the matchers read as they yield."""
    for _ in islice(matches, skip):
        pass
    page = list(islice(matches, room))
    return page, next(matches, None) is not None


def _carry_on(job: Job, day: date | None, page: list[Match], after: str | None, skip: int,
              trigger: date | None = None) -> Job:
    """The continuation of `job` after `page`, which started after `after` or `skip` matches."""
    if page and page[-1].position is not None:
        after, skip = page[-1].position, 0
    elif page:
        if after is not None:
            raise RuntimeError(f"the {job.type} matcher resumed from a position gave a match without one")
        skip += len(page)
    return Job(job.tenant_id, job.type, job.at, day.isoformat() if day else None, after, skip,
               trigger.isoformat() if trigger else None)


def _keep_paging(state: RunState, until: datetime) -> None:
    state.update(actions=[RunState.paging_until.set(to_iso(until))])


def _record_processed(state: RunState, cover: Cover, at: datetime) -> bool:
    """Record `cover.day` as processed and its trigger dates as covered, unless another evaluation has
    recorded that date and coverage or later ones already (progress never goes back); False then."""
    day, covered = cover.day.isoformat(), cover.covered_through.isoformat() if cover.covered_through else None
    state.processed_through, state.updated_at = day, to_iso(at)
    if covered is not None:
        state.covered_through = covered
    state.paging_until = None   # the date's run is over
    same_day_further = (RunState.processed_through == day) & (
        RunState.covered_through.does_not_exist() | (RunState.covered_through < (covered or "")))
    try:
        state.save(condition=RunState.processed_through.does_not_exist()
                   | (RunState.processed_through < day) | same_day_further)
    except PutError as e:
        if not is_conditional_failure(e):
            raise
        return False
    return True


def evaluate(job: Job, repo: Repository, queue: Queue, page_size: int = PAGE_SIZE,
             now: datetime | None = None) -> Evaluation:
    """Evaluate one type for one tenant at the job's instant, one page of at most `page_size` matches:
    match, queue the sends, record each date whose last page is queued. When matches are left, the
    evaluation's `continuation` is the job that carries on; the caller queues it. `now` (default: the
    job's instant) dates the run's paging lease."""
    if page_size < 1:
        raise ValueError("a page holds at least one match")
    at = parse_instant(job.at)
    spec = catalog.PER_EVENT[job.type]
    tenant = TenantView(job.tenant_id, load_settings(job.tenant_id))
    automation = automations.current(job.tenant_id, job.type)
    if not automation.enabled:
        return Evaluation(job.tenant_id, job.type)
    match = matcher_for(job.type)
    if not spec.daily:
        occasion = Occasion(at, local_date(at, tenant.timezone), after=job.after)
        page, more = _page(match(tenant, automation, occasion, repo), job.skip, page_size)
        sends = sends_of(page, job.tenant_id, automation)
        return Evaluation(job.tenant_id, job.type, (), len(page), len(sends), enqueue(sends, queue),
                          _carry_on(job, None, page, job.after, job.skip) if more else None)
    state = _run_state(tenant, job.type, at)
    work = [(cover, trigger) for cover in covers(at, tenant, automation, state)
            for trigger in (cover.triggers or (None,))]
    after, skip = job.after, job.skip
    if job.day is not None:
        # A continuation carries on from its date and trigger date. If that one is done already (this job
        # ran before, up to recording it, or another evaluation did), its place means nothing any more,
        # and the later ones start from their beginning.
        # A continuation queued before trigger dates were kept names none: it was on its day's own.
        day = date.fromisoformat(job.day)
        resumed = (day, date.fromisoformat(job.trigger) if job.trigger else trigger_of(job.type, day, automation.settings))
        if resumed not in {(cover.day, trigger) for cover, trigger in work}:
            after, skip = None, 0
        work = [(cover, trigger) for cover, trigger in work if (cover.day, trigger or date.min) >= (
            resumed[0], resumed[1] or date.min)]
    dates, matched, total, queued, room = [], 0, 0, 0, page_size
    for n, (cover, trigger) in enumerate(work):
        page: list[Match] = []
        if trigger is not None:
            occasion = Occasion(at, cover.day, trigger=trigger, after=after)
            page, more = _page(match(tenant, automation, occasion, repo), skip, room)
            sends = sends_of(page, job.tenant_id, automation)
            queued += enqueue(sends, queue)
            matched, total, room = matched + len(page), total + len(sends), room - len(page)
            if more:
                # The page is full and the trigger date has more: the date is recorded by the page that ends it.
                _keep_paging(state, (now or at) + PAGING_LEASE)
                return Evaluation(job.tenant_id, job.type, tuple(dates), matched, total, queued,
                                  _carry_on(job, cover.day, page, after, skip, trigger))
        after, skip = None, 0
        if n + 1 < len(work) and work[n + 1][0] is cover:
            continue   # the date's next trigger date
        # Progress is saved after the date's last sends are queued: a crash in between queues its last
        # page again at the next evaluation, and the ledger keeps them from going out twice.
        if not _record_processed(state, cover, at):
            break   # another evaluation is ahead: it, or the next one planned, processes the rest
        dates.append(cover.day.isoformat())
    return Evaluation(job.tenant_id, job.type, tuple(dates), matched, total, queued)


def release_deferred(at: datetime, queue: Queue) -> int:
    """Put every deferred send whose time has come back on the send queue; returns how many."""
    bodies = [parse(row.payload).release().to_body() for row in ledger.due_deferred(at)
              if row.payload and ledger.mark_released(row, at)]
    if bodies:
        queue.send(bodies)
    return len(bodies)

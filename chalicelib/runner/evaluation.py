"""Evaluations (docs/behaviour.md section 2): which tenants are due for a type at an instant, one tenant's evaluation,
and the release of deferred sends.

In the cloud an EventBridge schedule per type runs `plan`, which puts one job per due tenant on the
evaluation queue; each job is evaluated on its own (so one slow tenant holds up no other) and pushes
its sends to the send queue, in batches of 10. Locally, the clock or `tick` runs the same steps.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from pynamodb.exceptions import PutError

from chalicelib.adapters.models import Automation, RunState, Tenant
from chalicelib.adapters.persistence import get_or_none, is_conditional_failure
from chalicelib.adapters.queues import Queue
from chalicelib.adapters.tenants import load as load_settings
from chalicelib.core import catalog
from chalicelib.core.schedule import due_dates
from chalicelib.core.store_settings import effective
from chalicelib.core.timeutil import local_date, parse_instant, to_iso
from chalicelib.core.values import (
    AppointmentFact,
    AutomationView,
    Match,
    Occasion,
    RepairFact,
    Repository,
    SaleFact,
    TenantView,
)
from chalicelib.matchers import matcher_for
from chalicelib.sending import ledger
from chalicelib.sending.enqueue import enqueue
from chalicelib.sending.messages import Send, parse
from chalicelib.sending.sources import automation as automations

SUBJECT_KINDS = {SaleFact: "sale", RepairFact: "repair", AppointmentFact: "appointment"}


class MalformedJob(ValueError):
    """An evaluation queue message that is not a job."""


@dataclass(frozen=True)
class Job:
    tenant_id: str
    type: str
    at: str

    def to_body(self) -> str:
        return json.dumps({"tenant_id": self.tenant_id, "type": self.type, "at": self.at})

    @classmethod
    def parse(cls, body: str) -> "Job":
        try:
            data = json.loads(body)
            job = cls(str(data["tenant_id"]), str(data["type"]), str(data["at"]))
            parse_instant(job.at)
        except (TypeError, ValueError, KeyError) as e:
            raise MalformedJob(str(e)) from None
        if job.type not in catalog.PER_EVENT:
            raise MalformedJob(f"unknown type {job.type!r}")
        return job


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation did: the dates it processed, its matches, and the sends it queued (a send
    the ledger already holds is not queued again)."""

    tenant_id: str
    type: str
    dates: tuple[str, ...] = ()
    matched: int = 0
    sends: int = 0
    queued: int = 0


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
        if due_dates(at, tenant, automation, states.get(job.tenant_id)):
            due.append(job)
    return due


def sends_of(matches: Iterable[Match], tenant_id: str, automation: AutomationView) -> list[Send]:
    """Each match becomes one send per channel of the automation."""
    sends = []
    for m in matches:
        subject_kind = SUBJECT_KINDS.get(type(m.subject))
        subject_id = getattr(m.subject, f"{subject_kind}_id") if subject_kind else None
        for channel in automation.channels:
            sends.append(Send(tenant_id=tenant_id, customer_id=m.customer_id, automation_type=automation.type,
                              automation_id=automation.type, occurrence_key=m.occurrence_key, channel=channel,
                              day=m.day.isoformat(), trigger=dict(m.trigger), subject_kind=subject_kind,
                              subject_id=subject_id))
    return sends


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


def evaluate(job: Job, repo: Repository, queue: Queue) -> Evaluation:
    """Evaluate one type for one tenant at the job's instant: match, queue the sends, record progress."""
    at = parse_instant(job.at)
    spec = catalog.PER_EVENT[job.type]
    tenant = TenantView(job.tenant_id, load_settings(job.tenant_id))
    automation = automations.current(job.tenant_id, job.type)
    if not automation.enabled:
        return Evaluation(job.tenant_id, job.type)
    match = matcher_for(job.type)
    if not spec.daily:
        matches = list(match(tenant, automation, Occasion(at, local_date(at, tenant.timezone)), repo))
        sends = sends_of(matches, job.tenant_id, automation)
        return Evaluation(job.tenant_id, job.type, (), len(matches), len(sends), enqueue(sends, queue))
    state = _run_state(tenant, job.type, at)
    dates, matched, total, queued = [], 0, 0, 0
    for day in due_dates(at, tenant, automation, state):
        matches = list(match(tenant, automation, Occasion(at, day), repo))
        sends = sends_of(matches, job.tenant_id, automation)
        queued += enqueue(sends, queue)
        # Progress is saved after the day's sends are queued: a crash in between queues them again on
        # the next evaluation, and the ledger keeps them from going out twice.
        state.processed_through, state.updated_at = day.isoformat(), to_iso(at)
        state.save()
        dates.append(day.isoformat())
        matched += len(matches)
        total += len(sends)
    return Evaluation(job.tenant_id, job.type, tuple(dates), matched, total, queued)


def release_deferred(at: datetime, queue: Queue) -> int:
    """Put every deferred send whose time has come back on the send queue; returns how many."""
    bodies = [parse(row.payload).release().to_body() for row in ledger.due_deferred(at)
              if row.payload and ledger.mark_released(row, at)]
    if bodies:
        queue.send(bodies)
    return len(bodies)

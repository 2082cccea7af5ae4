"""The scheduled functions: one planner per per-event type (every 15 minutes), the campaigns' planner (every
minute) and the release of deferred sends (every 5 minutes). Its work is imported on the first call: app.py imports every blueprint, and the API function should not pay for
the runner."""
from __future__ import annotations

from datetime import datetime

from chalice import Blueprint, Rate

from chalicelib.adapters.observability import logger
from chalicelib.core import catalog
from chalicelib.events.wiring import (
    evaluation_queue,
    flushed,
    scheduled_instant,
    send_queue,
)

bp = Blueprint(__name__)


@flushed
def plan(type_: str, at: datetime) -> int:
    """Queue one evaluation job per due tenant of a type; returns how many."""
    from chalicelib.runner import evaluation

    jobs = evaluation.plan(type_, at)
    if jobs:
        evaluation_queue().send([job.to_body() for job in jobs])
    logger.info("planned", extra={"type": type_, "jobs": len(jobs)})
    return len(jobs)


@flushed
def plan_campaigns_at(at: datetime) -> dict:
    """Start the campaigns due, queue the pages of sending runs that have none going, finish the done ones."""
    from chalicelib.runner import campaigns

    planned = campaigns.plan(at, evaluation_queue())
    if planned.jobs or planned.finished:
        logger.info("campaigns planned", extra={"started": list(planned.started), "jobs": len(planned.jobs),
                                                "finished": list(planned.finished)})
    return {"started": len(planned.started), "jobs": len(planned.jobs), "finished": len(planned.finished)}


@flushed
def release(at: datetime) -> int:
    """Deferred sends whose quiet hours have ended go back on the send queue."""
    from chalicelib.runner import evaluation

    released = evaluation.release_deferred(at, send_queue())
    if released:
        logger.info("released deferred sends", extra={"count": released})
    return released


def _planner(type_: str):
    def handler(event):
        return {"jobs": plan(type_, scheduled_instant(event))}
    handler.__name__ = handler.__qualname__ = f"plan_{type_}"
    return handler


# One schedule per type, each planning that type's evaluations: daily types need one every 15 minutes
# too, as each tenant's send hour falls in its own time zone. Lambda finds each as `<module>.plan_<type>`.
for _spec in catalog.PER_EVENT_TYPES:
    globals()[f"plan_{_spec.type}"] = bp.schedule(Rate(15, unit=Rate.MINUTES), name=f"plan_{_spec.type}",
                                                  description=f"Plan the {_spec.name} evaluations")(
        _planner(_spec.type))


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="start_campaigns")
def start_campaigns(event):
    # A query of a sparse index that is empty most minutes: a scheduled campaign starts within a minute of its
    # instant (docs/architecture.md, "Campaigns").
    return plan_campaigns_at(scheduled_instant(event))


@bp.schedule(Rate(5, unit=Rate.MINUTES), name="release_deferred")
def release_deferred(event):
    return {"released": release(scheduled_instant(event))}

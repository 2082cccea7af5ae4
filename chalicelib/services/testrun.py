"""The test-run (docs/behaviour.md section 7): the runner's own matcher and dispatch checks 3-6, in a dry run.

It reads what the runner would read and writes nothing, so what it answers is what the runner would do
at that instant, short of what changes in between.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Iterable

from chalicelib.adapters.models import RunState
from chalicelib.adapters.persistence import get_or_none
from chalicelib.core import catalog
from chalicelib.core.schedule import due_dates
from chalicelib.core.timeutil import local_date, parse_instant, to_iso
from chalicelib.core.values import (
    AutomationView,
    Match,
    Occasion,
    Repository,
    TenantView,
)
from chalicelib.matchers import APPOINTMENT_WINDOWS, matcher_for
from chalicelib.rules import validation as v
from chalicelib.rules.checks import cap_window_start, first_failing_check
from chalicelib.sending.stores import TenantSuppressions, recent_marketing_counts
from chalicelib.services import automations
from chalicelib.services import settings as tenant_settings

SAMPLE_SIZE = 10
#: How far from now a test run may look: far enough for next Christmas, not so far as to be a typo.
MAX_DISTANCE = timedelta(days=3 * 366)


def _parse_at(body: dict, now: datetime) -> datetime:
    fields = v.parse(body, {"at": v.instant()})
    if "at" not in fields:
        return now
    at = parse_instant(fields["at"])
    if abs(at - now) > MAX_DISTANCE:
        raise v.fail("at", "must be within three years of now")
    return at


def _occasions(tenant: TenantView, spec: catalog.AutomationType, automation: AutomationView,
               at: datetime) -> list[Occasion]:
    if not spec.daily:
        return [Occasion(at, local_date(at, tenant.timezone))]
    state = get_or_none(RunState, tenant.tenant_id, spec.type)
    return [Occasion(at, d) for d in due_dates(at, tenant, automation, state, test_run=True)]


def rehearse(tenant: TenantView, category: str, channels: Iterable[str], matches: list[Match],
             at: datetime) -> tuple[int, Counter]:
    """Dispatch checks 3-6 on every send, as the dispatcher would apply them one after another:
    a would-be marketing send counts against the customer's frequency cap for the sends after it."""
    channels = tuple(channels)
    cap = tenant.settings.get("frequency_cap")
    since = cap_window_start(at, cap)
    recent = (recent_marketing_counts(tenant.tenant_id, {m.customer_id for m in matches}, since)
              if since and category == catalog.MARKETING else {})
    is_suppressed = TenantSuppressions(tenant.tenant_id)
    would_send, skipped = 0, Counter()
    for match in matches:
        person = match.person
        for channel in channels:
            reason = first_failing_check(person, channel, category, is_suppressed=is_suppressed,
                                         frequency_cap=cap, recent_marketing=recent.get(person.customer_id, 0))
            if reason:
                skipped[reason] += 1
                continue
            would_send += 1
            if category == catalog.MARKETING:
                recent[person.customer_id] = recent.get(person.customer_id, 0) + 1
    return would_send, skipped


def test_run(tenant_id: str, type_: str, body: dict, now: datetime, repo: Repository) -> dict:
    spec = automations.automation_type(type_)
    at = _parse_at(body, now)
    tenant = TenantView(tenant_id, tenant_settings.load(tenant_id))
    automation = automations.current(tenant_id, type_)
    occasions = _occasions(tenant, spec, automation, at)
    match = matcher_for(type_)
    matches = [m for occasion in occasions for m in match(tenant, automation, occasion, repo)]
    would_send, skipped = rehearse(tenant, spec.category, automation.channels, matches, at)

    sample: dict[str, dict] = {}
    for m in matches:
        if len(sample) == SAMPLE_SIZE:
            break
        sample.setdefault(m.customer_id, {"customer_id": m.customer_id, "name": m.person.name})
    result = {
        "type": type_,
        "at": to_iso(at),
        "dates": [o.day.isoformat() for o in occasions] if spec.daily else [],
        "channels": list(automation.channels),
        "count": len(matches),
        "would_send": would_send,
        "skipped": dict(sorted(skipped.items())),
        "sample": list(sample.values()),
    }
    if not spec.daily:
        result["window"] = _appointment_window(type_, at)
    return result


def _appointment_window(type_: str, at: datetime) -> dict:
    """The appointment start times the continuous matcher looks for at `at` (after: exclusive)."""
    earliest, latest = APPOINTMENT_WINDOWS[type_]
    return {"starts_after": to_iso(at + latest), "starts_until": to_iso(at + earliest)}

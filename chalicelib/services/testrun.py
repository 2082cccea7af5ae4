"""The test-run (docs/behaviour.md section 7): what an evaluation at an instant would queue and what dispatch
would decide, in a dry run.

It runs the runner's own code: the same coverage of trigger dates (`schedule.covers`, from the stored
progress), the same matchers, the same sends (`sends_of`), the ledger read that keeps an evaluation from
queueing a send twice (those are `already_sent`), and dispatch checks 3-6. It writes nothing, so what it
answers is what the runner would do at that instant, short of what changes in between.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Iterable

from chalicelib.adapters.models import RunState
from chalicelib.adapters.persistence import get_or_none
from chalicelib.core import catalog
from chalicelib.core.schedule import Cover, covers
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
from chalicelib.rules.checks import (
    cap_window_start,
    first_failing_check,
    quiet_hours_end,
)
from chalicelib.sending.sources.automation import sends_of
from chalicelib.sending.stores import TenantSuppressions, recent_marketing_counts
from chalicelib.services import automations
from chalicelib.services import settings as tenant_settings

#: Customers shown with their outcome per channel.
SAMPLE_SIZE = 20
#: A skip: the ledger holds the send already (sent, or on its way): an evaluation does not queue it again.
ALREADY_SENT = "already_sent"
WOULD_SEND = "would_send"
#: A marketing SMS inside quiet hours: dispatch parks it until they end (not a skip).
DEFERRED = "deferred"
#: How far from now a test run may look: far enough for next Christmas, not so far as to be a typo.
MAX_DISTANCE = timedelta(days=3 * 366)


def _parse(body: dict, now: datetime, spec: catalog.AutomationType) -> tuple[datetime, dict | None]:
    fields = v.parse(body, {"at": v.instant(), "settings": automations.settings_check(spec)})
    at = now
    if "at" in fields:
        at = parse_instant(fields["at"])
        if abs(at - now) > MAX_DISTANCE:
            raise v.fail("at", "must be within three years of now")
    return at, fields.get("settings")


def _covers(tenant: TenantView, spec: catalog.AutomationType, automation: AutomationView,
            at: datetime) -> list[Cover]:
    state = get_or_none(RunState, tenant.tenant_id, spec.type)
    return covers(at, tenant, automation, state, as_if_enabled=True)


def rehearse(tenant: TenantView, category: str, channels: Iterable[str], matches: list[Match],
             at: datetime, held: frozenset[tuple[str, str, str]] = frozenset()) -> tuple[int, Counter]:
    """Dispatch checks 3-6 on every send, as the dispatcher would apply them one after another:
    a would-be marketing send counts against the customer's frequency cap for the sends after it.
    `held`: (customer, occurrence key, channel) of sends the ledger holds already (`already_sent`)."""
    outcomes = decide(tenant, category, channels, matches, at, held)
    would_send, deferred, skipped = _tally(outcomes)
    # A send deferred by quiet hours goes out when they end: the action-taken test-run counts it as sent.
    return would_send + deferred, skipped


def _tally(outcomes: list[dict[str, str]]) -> tuple[int, int, Counter]:
    """Sends that would go out now, sends deferred by quiet hours, and skips by reason."""
    every = [o for per_channel in outcomes for o in per_channel.values()]
    return every.count(WOULD_SEND), every.count(DEFERRED), Counter(o for o in every if o not in (WOULD_SEND, DEFERRED))


def decide(tenant: TenantView, category: str, channels: Iterable[str], matches: list[Match], at: datetime,
           held: frozenset[tuple[str, str, str]] = frozenset()) -> list[dict[str, str]]:
    """Per match, each channel's outcome: `would_send` or the reason it would be skipped."""
    channels = tuple(channels)
    cap = tenant.settings.get("frequency_cap")
    since = cap_window_start(at, cap)
    recent = (recent_marketing_counts(tenant.tenant_id, {m.customer_id for m in matches}, since)
              if since and category == catalog.MARKETING else {})
    is_suppressed = TenantSuppressions(tenant.tenant_id)
    outcomes = []
    for match in matches:
        person, per_channel = match.person, {}
        for channel in channels:
            if (match.customer_id, match.occurrence_key, channel) in held:
                per_channel[channel] = ALREADY_SENT
                continue
            reason = first_failing_check(person, channel, category, is_suppressed=is_suppressed,
                                         frequency_cap=cap, recent_marketing=recent.get(person.customer_id, 0))
            if not reason and quiet_hours_end(channel, category, at, tenant.timezone,
                                              tenant.settings.get("quiet_hours")) is not None:
                per_channel[channel] = DEFERRED
            else:
                per_channel[channel] = reason or WOULD_SEND
            if not reason and category == catalog.MARKETING:
                recent[person.customer_id] = recent.get(person.customer_id, 0) + 1
        outcomes.append(per_channel)
    return outcomes


def test_run(tenant_id: str, type_: str, body: dict, now: datetime, repo: Repository) -> dict:
    """What an evaluation at `at` (default now) would do: the trigger dates it would cover (`late`: a gap a
    settings change opened), its matches, and each send's outcome. `settings` tries a change of the
    automation's settings before it is saved."""
    spec = automations.automation_type(type_)
    at, proposed = _parse(body, now, spec)
    tenant = TenantView(tenant_id, tenant_settings.load(tenant_id))
    automation = automations.current(tenant_id, type_)
    if proposed:
        automation = replace(automation, settings={**automation.settings, **proposed})
    match = matcher_for(type_)
    matches: list[Match] = []
    triggers: list = []     # each match's trigger date (daily types)
    trigger_dates: list[dict] = []
    if spec.daily:
        worked = _covers(tenant, spec, automation, at)
        for cover in worked:
            for trigger in cover.triggers:
                found = list(match(tenant, automation, Occasion(at, cover.day, trigger=trigger), repo))
                matches += found
                triggers += [trigger] * len(found)
                trigger_dates.append({"date": trigger.isoformat(), "for": cover.day.isoformat(),
                                      "late": trigger in cover.late, "count": len(found)})
    else:
        worked = []
        matches = list(match(tenant, automation, Occasion(at, local_date(at, tenant.timezone)), repo))
        triggers = [None] * len(matches)
    from chalicelib.sending import (
        ledger,  # the dispatcher's module: the API imports it on the first test-run
    )

    sends = sends_of(matches, tenant_id, automation)
    rows = ledger.read(sends)
    held = frozenset((s.customer_id, s.occurrence_key, s.channel) for s in sends if s.ledger_key in rows)
    outcomes = decide(tenant, spec.category, automation.channels, matches, at, held)
    would_send, deferred, skipped = _tally(outcomes)
    sample = [{"customer_id": m.customer_id, "name": m.person.name, "occurrence_key": m.occurrence_key,
               "for": m.day.isoformat(), **({"trigger_date": trigger.isoformat()} if trigger else {}),
               "outcomes": per_channel}
              for m, trigger, per_channel in list(zip(matches, triggers, outcomes))[:SAMPLE_SIZE]]
    result = {
        "type": type_,
        "at": to_iso(at),
        "dates": [c.day.isoformat() for c in worked],
        "trigger_dates": trigger_dates,
        "late": sum(1 for t in trigger_dates if t["late"]),
        "late_matches": sum(t["count"] for t in trigger_dates if t["late"]),
        "settings": dict(automation.settings),
        "channels": list(automation.channels),
        "count": len(matches),
        "would_send": would_send,
        "deferred": deferred,
        "skipped": dict(sorted(skipped.items())),
        "sample": sample,
        "notes": _notes(tenant, spec, automation),
    }
    if not spec.daily:
        result["window"] = _appointment_window(type_, at)
    return result


def _notes(tenant: TenantView, spec: catalog.AutomationType, automation: AutomationView) -> list[str]:
    notes = []
    if not automation.enabled:
        notes.append("switched off: shown as if it were switched on at this instant")
    if spec.category == catalog.MARKETING and tenant.settings.get("frequency_cap"):
        notes.append("the frequency cap is judged as it stands before any send due at this instant; where several "
                     "automations compete for a customer's last place, dispatch order decides")
    return notes


def _appointment_window(type_: str, at: datetime) -> dict:
    """The appointment start times the continuous matcher looks for at `at` (after: exclusive)."""
    earliest, latest = APPOINTMENT_WINDOWS[type_]
    return {"starts_after": to_iso(at + latest), "starts_until": to_iso(at + earliest)}

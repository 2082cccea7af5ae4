"""Which tenant-local dates an evaluation processes, and which trigger dates it covers (docs/behaviour.md
section 2). Pure: the caller gives the instant, the settings and the stored progress."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Mapping, Protocol

from dateutil.relativedelta import relativedelta

from chalicelib.core.calendar import due_instant, lapsed_on
from chalicelib.core.timeutil import local_date, parse_instant
from chalicelib.core.values import AutomationView, TenantView

#: An evaluation also processes the two dates before its own, if they were missed.
CATCH_UP_DAYS = 2


def dates_due(at: datetime, tz_name: str, send_hour: int, *, first_evaluated_on: date | None,
              processed_through: date | None, enabled_on: date | None) -> list[date]:
    """The dates a daily automation's evaluation at `at` processes, oldest first: due (send_hour
    has come), not processed yet, within the catch-up window, and never before the automation's first
    evaluation (None: this one) or the day it was last enabled."""
    today = local_date(at, tz_name)
    not_before = max(d for d in (first_evaluated_on or today, enabled_on) if d is not None)
    candidates = (today - timedelta(days=back) for back in range(CATCH_UP_DAYS, -1, -1))
    return [d for d in candidates
            if d >= not_before
            and (processed_through is None or d > processed_through)
            and due_instant(d, tz_name, send_hour) <= at]


def trigger_of(type_: str, day: date, settings: Mapping) -> date:
    """The trigger date an evaluation of `day` points at under `settings`: the celebration date (birthday,
    anniversary: day + days_before), the ready date (repairs: day - days_after), the latest lapse date L
    with add_months(L, months_inactive) <= day (re-engagement), the purchase date (day - 1), or the day
    itself (the seasonal types, whose matchers pick their one day of the year). Never decreasing in `day`."""
    if type_ in ("birthday", "anniversary"):
        return day + timedelta(days=int(settings["days_before"]))
    if type_ == "repair_ready_reminder":
        return day - timedelta(days=int(settings["days_after"]))
    if type_ == "reengagement":
        months = int(settings["months_inactive"])
        lapses = lapsed_on(day, months)
        return lapses[-1] if lapses else day - relativedelta(months=months)
    if type_ == "post_purchase":
        return day - timedelta(days=1)
    return day


@dataclass(frozen=True)
class Cover:
    """One date an evaluation processes and the trigger dates it covers for it, oldest first. `late`: those
    whose own evaluation date (under the settings in force) is before `day`: a gap that a settings change
    opened, covered once, late."""

    day: date
    triggers: tuple[date, ...]
    late: tuple[date, ...] = ()
    #: The last trigger date covered once this date is processed (what the progress records).
    covered_through: date | None = None


def _days(after: date, through: date) -> tuple[date, ...]:
    return tuple(after + timedelta(days=n) for n in range(1, (through - after).days + 1))


def coverage(type_: str, at: datetime, tz_name: str, send_hour: int, settings: Mapping, *,
             first_evaluated_on: date | None, processed_through: date | None, covered_through: date | None,
             enabled_on: date | None, coverage_from: date | None) -> list[Cover]:
    """What an evaluation at `at` does for a daily type: the dates it processes and, for each, the trigger
    dates it covers (docs/behaviour.md section 2, "Coverage is kept by trigger date").

    - Each due date D covers every trigger date after the last one covered, up to trigger_of(D): a lead
      setting changed since never leaves a trigger date out, and none is covered twice.
    - A gap a settings change opened after today's date was processed is covered at the next evaluation,
      as part of that processed date (its sends go out late, once).
    - Coverage never starts before `coverage_from`, the trigger date of the day the automation was last
      enabled (under the settings of that moment): no back-dating, and switching off and on again
      the same day re-covers nothing.
    - Dates missed by an outage beyond the catch-up window are not processed, and their trigger dates
      are skipped, not covered late.
    """
    trigger = lambda day: trigger_of(type_, day, settings)  # noqa: E731
    due = dates_due(at, tz_name, send_hour, first_evaluated_on=first_evaluated_on,
                    processed_through=processed_through, enabled_on=enabled_on)
    today = local_date(at, tz_name)
    not_before = max(d for d in (first_evaluated_on or today, enabled_on) if d is not None)
    floor = coverage_from or trigger(enabled_on or not_before)
    if covered_through is not None:
        start = covered_through
    elif processed_through is not None:
        start = trigger(processed_through)         # progress kept before coverage was: as its settings had it
    else:
        start = trigger(due[0]) - timedelta(days=1) if due else floor - timedelta(days=1)
    start = max(start, floor - timedelta(days=1))
    covers: list[Cover] = []
    recent = (processed_through is not None and processed_through >= today - timedelta(days=CATCH_UP_DAYS)
              and processed_through >= not_before)
    if recent and trigger(processed_through) > start:
        gap = _days(start, trigger(processed_through))
        covers.append(Cover(processed_through, gap, gap, gap[-1]))
        start = gap[-1]
    if due and processed_through is not None and due[0] - timedelta(days=1) > processed_through:
        start = max(start, trigger(due[0] - timedelta(days=1)))   # an outage: its trigger dates are skipped
    for day in due:
        own_from = trigger(day - timedelta(days=1))
        triggers = _days(start, trigger(day)) if trigger(day) > start else ()
        covers.append(Cover(day, triggers, tuple(t for t in triggers if t <= own_from), max(start, trigger(day))))
        start = max(start, trigger(day))
    return covers


class Progress(Protocol):
    """An automation's stored progress (the runner's run state)."""

    first_evaluated_on: str | None
    processed_through: str | None
    covered_through: str | None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _enabled_on(automation: AutomationView, tz_name: str) -> date | None:
    return local_date(parse_instant(automation.enabled_at), tz_name) if automation.enabled_at else None


def covers(at: datetime, tenant: TenantView, automation: AutomationView, state: Progress | None, *,
           as_if_enabled: bool = False) -> list[Cover]:
    """What a daily automation's evaluation at `at` processes and covers, from its stored progress.
    `as_if_enabled`: a switched-off automation, or one switched on after `at`, as if it were switched on at
    `at` (the test run)."""
    enabled_on, coverage_from = _enabled_on(automation, tenant.timezone), _day(automation.coverage_from)
    if as_if_enabled and (not automation.enabled or (enabled_on and enabled_on > local_date(at, tenant.timezone))):
        enabled_on = local_date(at, tenant.timezone)
        coverage_from = trigger_of(automation.type, enabled_on, automation.settings)
    return coverage(automation.type, at, tenant.timezone, int(tenant.settings["send_hour"]), automation.settings,
                    first_evaluated_on=_day(state.first_evaluated_on) if state else None,
                    processed_through=_day(state.processed_through) if state else None,
                    covered_through=_day(getattr(state, "covered_through", None)) if state else None,
                    enabled_on=enabled_on, coverage_from=coverage_from)


def due_dates(at: datetime, tenant: TenantView, automation: AutomationView, state: Progress | None) -> list[date]:
    """The dates a daily automation's evaluation at `at` processes (with trigger dates to cover or not)."""
    return [c.day for c in covers(at, tenant, automation, state)]


@dataclass(frozen=True)
class _Ahead:
    """The progress the runner would have stored after the evaluations looked ahead so far."""

    first_evaluated_on: str | None
    processed_through: str | None
    covered_through: str | None


def coverage_ahead(at: datetime, tenant: TenantView, automation: AutomationView, state: Progress | None,
                   through: date) -> dict[date, datetime]:
    """When each trigger date up to `through` that is not covered yet will be covered, if the runner evaluates
    at `at` and then at each later date's send hour under the settings as they stand: trigger date -> the
    instant of the evaluation that covers it (its sends are queued then). The runner's own `covers`, run
    forward on the progress each evaluation would record; trigger dates already covered, or that coverage
    skips, are absent."""
    tz_name, hour = tenant.timezone, int(tenant.settings["send_hour"])
    today = local_date(at, tz_name)
    instants = [at] + [due_instant(today + timedelta(days=n), tz_name, hour)
                       for n in range((through - today).days + 1)]
    found: dict[date, datetime] = {}
    for instant in (i for n, i in enumerate(instants) if n == 0 or i > at):
        worked = covers(instant, tenant, automation, state)
        for cover in worked:
            for trigger in cover.triggers:
                found.setdefault(trigger, instant)
        if worked:
            first = state.first_evaluated_on if state else None
            covered = worked[-1].covered_through
            state = _Ahead(first or local_date(instant, tz_name).isoformat(), worked[-1].day.isoformat(),
                           covered.isoformat() if covered else getattr(state, "covered_through", None))
    return {trigger: instant for trigger, instant in found.items() if trigger <= through}

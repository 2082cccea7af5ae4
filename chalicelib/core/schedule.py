"""Which tenant-local dates an evaluation processes (docs/behaviour.md section 2). Pure: the caller gives the instant."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Protocol

from chalicelib.core.calendar import due_instant
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


def test_run_dates(at: datetime, tz_name: str, send_hour: int, *, first_evaluated_on: date | None,
                   processed_through: date | None, enabled_on: date | None) -> list[date]:
    """What a test run evaluates: the local date of `at` (even before send_hour, so an owner sees
    today's list in the morning), with any catch-up dates the runner would process at that instant."""
    due = dates_due(at, tz_name, send_hour, first_evaluated_on=first_evaluated_on,
                    processed_through=processed_through, enabled_on=enabled_on)
    return sorted(set(due) | {local_date(at, tz_name)})


class Progress(Protocol):
    """An automation's stored progress (the runner's run state)."""

    first_evaluated_on: str | None
    processed_through: str | None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _enabled_on(automation: AutomationView, tz_name: str) -> date | None:
    return local_date(parse_instant(automation.enabled_at), tz_name) if automation.enabled_at else None


def due_dates(at: datetime, tenant: TenantView, automation: AutomationView, state: Progress | None, *,
              test_run: bool = False) -> list[date]:
    """The dates a daily automation's evaluation at `at` processes, from its stored progress. For a
    test run: also the local date of `at` itself, and a switched-off automation as if switched on now."""
    enabled_on = _enabled_on(automation, tenant.timezone)
    if test_run and not automation.enabled:
        enabled_on = local_date(at, tenant.timezone)
    dates = test_run_dates if test_run else dates_due
    return dates(at, tenant.timezone, int(tenant.settings["send_hour"]),
                 first_evaluated_on=_day(state.first_evaluated_on) if state else None,
                 processed_through=_day(state.processed_through) if state else None,
                 enabled_on=enabled_on)

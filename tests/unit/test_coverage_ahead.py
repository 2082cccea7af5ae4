"""When the runner will cover the coming celebration dates (`schedule.coverage_ahead`, which the reminders use):
its own coverage run forward from the stored progress (docs/behaviour.md section 2)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.calendar import due_instant
from chalicelib.core.schedule import coverage_ahead
from chalicelib.core.timeutil import local_date, to_iso
from chalicelib.core.values import AutomationView, TenantView

SYD = "Australia/Sydney"
TENANT = TenantView("t", {"timezone": SYD, "send_hour": 10})


@dataclass(frozen=True)
class State:
    first_evaluated_on: str | None
    processed_through: str | None
    covered_through: str | None


def _at(local: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(SYD)).astimezone(timezone.utc)


def birthday(days_before: int, enabled_at: datetime) -> AutomationView:
    enabled_on = local_date(enabled_at, SYD)
    return AutomationView("birthday", {"days_before": days_before}, enabled=True, enabled_at=to_iso(enabled_at),
                          coverage_from=(enabled_on + timedelta(days=days_before)).isoformat())


def test_switched_on_before_the_send_hour_each_birthday_is_covered_days_before_at_the_send_hour():
    at = _at("2026-12-10T08:00:00")
    ahead = coverage_ahead(at, TENANT, birthday(7, at), None, date(2026, 12, 31))
    assert sorted(ahead) == [date(2026, 12, 17) + timedelta(days=n) for n in range(15)]
    assert all(ahead[t] == due_instant(t - timedelta(days=7), SYD, 10) for t in ahead)


def test_after_today_was_processed_tomorrows_trigger_waits_for_tomorrows_send_hour():
    at = _at("2026-12-10T15:00:00")
    state = State("2026-12-01", "2026-12-10", "2026-12-13")
    ahead = coverage_ahead(at, TENANT, birthday(3, _at("2026-12-01T09:00:00")), state, date(2026, 12, 16))
    assert ahead == {date(2026, 12, 14): _at("2026-12-11T10:00:00"), date(2026, 12, 15): _at("2026-12-12T10:00:00"),
                     date(2026, 12, 16): _at("2026-12-13T10:00:00")}


@given(days_before=st.sampled_from([0, 1, 3, 7]), lag=st.integers(0, 7), processed_back=st.integers(0, 2),
       hour=st.integers(0, 23), span=st.integers(0, 40))
def test_every_date_after_the_covered_one_is_covered_once_never_before_now_nor_after_its_own_date(
        days_before, lag, processed_back, hour, span):
    at = _at(f"2026-12-10T{hour:02d}:30:00")
    today = date(2026, 12, 10)
    processed = today - timedelta(days=processed_back)
    covered = processed + timedelta(days=days_before) - timedelta(days=lag)   # a lower lead before: a gap
    state = State("2026-11-01", processed.isoformat(), covered.isoformat())
    through = today + timedelta(days=span)
    ahead = coverage_ahead(at, TENANT, birthday(days_before, _at("2026-11-01T09:00:00")), state, through)
    expected = [covered + timedelta(days=n) for n in range(1, (through - covered).days + 1)]
    assert sorted(ahead) == expected
    for trigger, instant in ahead.items():
        assert instant >= at
        own = trigger - timedelta(days=days_before)
        if own > today:
            assert instant == due_instant(own, SYD, 10)     # its own date's evaluation
        else:
            # Late (a gap, a missed date) or today's own: the evaluation now, or today's at the send hour.
            assert instant in (at, due_instant(today, SYD, 10))

"""Which dates an evaluation processes (docs/behaviour.md section 2): due times, catch-up, no back-dating."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from chalicelib.core.schedule import dates_due
from chalicelib.core.schedule import test_run_dates as run_dates

SYD = "Australia/Sydney"
UTC = timezone.utc


def _at(local: str, tz: str = SYD) -> datetime:
    from zoneinfo import ZoneInfo
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def due(at, **kw):
    kw.setdefault("first_evaluated_on", date(2026, 1, 1))
    kw.setdefault("processed_through", None)
    kw.setdefault("enabled_on", date(2026, 1, 1))
    return dates_due(at, SYD, 10, **kw)


def test_a_date_is_due_from_send_hour_local():
    assert due(_at("2026-06-10T09:59:59"), processed_through=date(2026, 6, 9)) == []
    assert due(_at("2026-06-10T10:00:00"), processed_through=date(2026, 6, 9)) == [date(2026, 6, 10)]


def test_a_processed_date_is_not_processed_again():
    assert due(_at("2026-06-10T15:00:00"), processed_through=date(2026, 6, 10)) == []


def test_two_missed_days_are_caught_up_in_order_and_no_older_ones():
    assert due(_at("2026-06-10T10:05:00"), processed_through=date(2026, 6, 1)) == [
        date(2026, 6, 8), date(2026, 6, 9), date(2026, 6, 10)]
    # Before send_hour, the missed days are still due but today is not yet.
    assert due(_at("2026-06-10T08:00:00"), processed_through=date(2026, 6, 7)) == [date(2026, 6, 8), date(2026, 6, 9)]


def test_no_date_before_the_first_evaluation_or_the_day_it_was_enabled():
    assert due(_at("2026-06-10T11:00:00"), first_evaluated_on=None) == [date(2026, 6, 10)]
    assert due(_at("2026-06-10T11:00:00"), first_evaluated_on=date(2026, 6, 9)) == [date(2026, 6, 9), date(2026, 6, 10)]
    assert due(_at("2026-06-10T11:00:00"), enabled_on=date(2026, 6, 10), processed_through=date(2026, 5, 1)) == [
        date(2026, 6, 10)]


def test_across_daylight_saving_no_day_is_skipped_or_repeated():
    # Evaluate every 15 minutes through Sydney's October and April changes, and New York's March and November
    # ones, carrying processed_through forward like the runner: every date is processed exactly once.
    for tz, first in ((SYD, date(2026, 10, 2)), (SYD, date(2026, 4, 3)), ("America/New_York", date(2026, 3, 6)),
                      ("America/New_York", date(2026, 10, 30))):
        for hour in (0, 2, 3, 10, 23):
            processed, seen = None, []
            at = datetime.combine(first, datetime.min.time(), UTC)
            while at < datetime.combine(first + timedelta(days=5), datetime.min.time(), UTC):
                got = dates_due(at, tz, hour, first_evaluated_on=first - timedelta(days=1),
                                processed_through=processed, enabled_on=None)
                seen.extend(got)
                processed = got[-1] if got else processed
                at += timedelta(minutes=15)
            assert seen == sorted(set(seen)), (tz, hour)
            assert all(b - a == timedelta(days=1) for a, b in zip(seen, seen[1:])), (tz, hour, seen)
            assert len(seen) >= 4


def test_a_test_run_always_shows_today_with_any_catch_up_dates():
    at = _at("2026-06-10T08:00:00")
    assert run_dates(at, SYD, 10, first_evaluated_on=None, processed_through=None, enabled_on=None) == [
        date(2026, 6, 10)]
    assert run_dates(at, SYD, 10, first_evaluated_on=date(2026, 1, 1), processed_through=date(2026, 6, 8),
                     enabled_on=date(2026, 1, 1)) == [date(2026, 6, 9), date(2026, 6, 10)]

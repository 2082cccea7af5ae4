"""Calendar rules: local days across daylight saving, month arithmetic, movable feasts."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.calendar import (
    add_months,
    celebrated_on,
    day_range,
    day_start,
    due_instant,
    lapsed_on,
    month_days_celebrated_on,
    mothers_day,
)
from chalicelib.core.timeutil import local_date, parse_instant

ZONES = ["Australia/Sydney", "America/New_York", "Europe/London", "America/Santiago", "Australia/Lord_Howe", "UTC"]
UTC = timezone.utc


@pytest.mark.parametrize("tz", ZONES)
def test_every_local_day_starts_once_and_days_follow_each_other_across_daylight_saving(tz):
    day = date(2026, 1, 1)
    lengths = set()
    while day < date(2028, 1, 1):
        start, following = day_start(day, tz), day_start(day + timedelta(days=1), tz)
        assert local_date(start, tz) == day
        assert local_date(start - timedelta(seconds=1), tz) == day - timedelta(days=1)
        assert local_date(following - timedelta(seconds=1), tz) == day
        lengths.add(following - start)
        day += timedelta(days=1)
    assert lengths <= {timedelta(hours=h) for h in (23, 23.5, 24, 24.5, 25)}


@pytest.mark.parametrize("tz, day, hours", [
    ("Australia/Sydney", date(2026, 4, 5), 25),    # AEDT ends: 03:00 back to 02:00
    ("Australia/Sydney", date(2026, 10, 4), 23),   # AEDT starts: 02:00 forward to 03:00
    ("America/New_York", date(2026, 3, 8), 23),
    ("America/New_York", date(2026, 11, 1), 25),
])
def test_day_range_covers_the_whole_local_day_on_daylight_saving_changes(tz, day, hours):
    first, last = day_range(day, day, tz)
    span = parse_instant(last) - parse_instant(first) + timedelta(seconds=1)
    assert span == timedelta(hours=hours)
    assert local_date(parse_instant(first), tz) == day == local_date(parse_instant(last), tz)


def test_due_instant_is_send_hour_local_or_the_first_instant_after_a_skipped_hour():
    assert due_instant(date(2026, 1, 15), "Australia/Sydney", 10) == datetime(2026, 1, 14, 23, 0, tzinfo=UTC)
    # New York skips 02:00-03:00 on 2026-03-08: 02:00 is due at the transition, 07:00Z (03:00 EDT).
    assert due_instant(date(2026, 3, 8), "America/New_York", 2) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    # Sydney repeats 02:00-03:00 on 2026-04-05: the first 02:00 (AEDT, +11) counts.
    assert due_instant(date(2026, 4, 5), "Australia/Sydney", 2) == datetime(2026, 4, 4, 15, 0, tzinfo=UTC)


def test_feb_29_is_celebrated_on_feb_28_in_non_leap_years_and_on_feb_29_in_leap_years():
    assert celebrated_on("02-29", 2027) == date(2027, 2, 28)
    assert celebrated_on("02-29", 2028) == date(2028, 2, 29)
    assert celebrated_on("02-29", 2100) == date(2100, 2, 28)
    assert month_days_celebrated_on(date(2027, 2, 28)) == ["02-28", "02-29"]
    assert month_days_celebrated_on(date(2028, 2, 28)) == ["02-28"]
    assert month_days_celebrated_on(date(2028, 2, 29)) == ["02-29"]


def test_add_months_clamps_to_the_months_end():
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)


def test_one_month_end_matches_every_last_activity_date_that_clamps_to_it():
    assert lapsed_on(date(2027, 2, 28), 1) == [date(2027, 1, d) for d in (28, 29, 30, 31)]
    assert lapsed_on(date(2026, 4, 30), 1) == [date(2026, 3, 30), date(2026, 3, 31)]
    assert lapsed_on(date(2029, 2, 28), 12) == [date(2028, 2, 28), date(2028, 2, 29)]
    assert lapsed_on(date(2027, 3, 30), 1) == []   # no Feb 30: nobody lapses onto Mar 30 after one month
    assert lapsed_on(date(2026, 6, 15), 3) == [date(2026, 3, 15)]


@given(st.dates(date(2000, 1, 1), date(2100, 12, 31)), st.sampled_from([1, 3, 6, 12]))
def test_lapsed_on_is_exactly_the_inverse_of_add_months(day, months):
    found = lapsed_on(day, months)
    assert all(add_months(l, months) == day for l in found)
    # Every date that maps to `day` lies within the month `months` before it.
    window = [day - timedelta(days=n) for n in range(28 * months - 5, 31 * months + 5)]
    assert sorted(l for l in window if add_months(l, months) == day) == found


MOTHERS_DAYS = {
    2026: (date(2026, 5, 10), date(2026, 3, 15)),
    2027: (date(2027, 5, 9), date(2027, 3, 7)),
    2028: (date(2028, 5, 14), date(2028, 3, 26)),
    2029: (date(2029, 5, 13), date(2029, 3, 11)),
    2030: (date(2030, 5, 12), date(2030, 3, 31)),
}


@pytest.mark.parametrize("year", sorted(MOTHERS_DAYS))
def test_mothers_day_is_the_second_sunday_of_may_in_au_and_us_and_mothering_sunday_in_gb_and_ie(year):
    may, mothering = MOTHERS_DAYS[year]
    assert mothers_day(year, "AU") == mothers_day(year, "US") == may
    assert mothers_day(year, "GB") == mothers_day(year, "IE") == mothering
    assert may.weekday() == mothering.weekday() == 6

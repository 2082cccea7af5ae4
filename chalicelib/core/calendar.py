"""Calendar rules of docs/behaviour.md sections 1-3: tenant-local days, month arithmetic, movable feasts.

Every function takes its dates and instants as arguments; nothing here reads the clock.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from dateutil.easter import easter
from dateutil.relativedelta import relativedelta

from chalicelib.core.timeutil import is_leap, to_iso, zone

ONE_SECOND = timedelta(seconds=1)
#: Countries whose Mother's Day is Mothering Sunday: Easter Sunday minus three weeks.
MOTHERING_SUNDAY_COUNTRIES = frozenset({"GB", "IE"})


def day_start(day: date, tz_name: str) -> datetime:
    """The first instant (UTC) whose local date in `tz_name` is `day`.

    `fold=0` matters on days when midnight is skipped or repeated: in a skipped hour it maps to
    the instant of the transition, and of a repeated midnight it takes the first.
    """
    return datetime.combine(day, time(0), tzinfo=zone(tz_name)).astimezone(timezone.utc)


def day_range(first: date, last: date, tz_name: str) -> tuple[str, str]:
    """Inclusive bounds, as stored instants, of every instant whose local date is in [first, last].

    Instants are stored at second precision, so the last second before the next day's start is
    the inclusive upper bound that a DynamoDB BETWEEN needs.
    """
    return (to_iso(day_start(first, tz_name)),
            to_iso(day_start(last + timedelta(days=1), tz_name) - ONE_SECOND))


def local_instant(day: date, tz_name: str, clock: time) -> datetime:
    """The instant of a local wall-clock time on a local date, or the first instant after it if a
    daylight-saving change skips that time (fold=0 maps a skipped time past the transition)."""
    return datetime.combine(day, clock, tzinfo=zone(tz_name)).astimezone(timezone.utc)


def due_instant(day: date, tz_name: str, hour: int) -> datetime:
    """When a daily automation's date becomes due: `hour`:00 local (see `local_instant`)."""
    return local_instant(day, tz_name, time(hour))


def quiet_until(at: datetime, tz_name: str, start: str, end: str) -> datetime | None:
    """If `at` falls inside the daily quiet window [start, end) (local "HH:MM", possibly across
    midnight), the instant the window ends; otherwise None. Equal start and end mean no window."""
    begin, finish = time.fromisoformat(start), time.fromisoformat(end)
    local = at.astimezone(zone(tz_name))
    now = local.time().replace(tzinfo=None)
    inside = (begin <= now < finish) if begin < finish else (begin > finish and (now >= begin or now < finish))
    if not inside:
        return None
    day = local.date() if now < finish else local.date() + timedelta(days=1)
    until = local_instant(day, tz_name, finish)
    return until if until > at else local_instant(day + timedelta(days=1), tz_name, finish)


def celebrated_on(month_day: str, year: int) -> date:
    """The date in `year` on which a `MM-DD` anniversary falls: Feb 29 moves to Feb 28 in other years."""
    month, day = int(month_day[:2]), int(month_day[3:5])
    if (month, day) == (2, 29) and not is_leap(year):
        day = 28
    return date(year, month, day)


def month_days_celebrated_on(target: date) -> list[str]:
    """The stored `MM-DD`s celebrated on `target`: its own, plus Feb 29 on Feb 28 of a non-leap year."""
    candidates = dict.fromkeys((target.strftime("%m-%d"), "02-29"))  # one rule: `celebrated_on`
    return [key for key in candidates if celebrated_on(key, target.year) == target]


def add_months(day: date, months: int) -> date:
    """Calendar months later, clamped to the month's end (Jan 31 + 1 month = Feb 28 or 29)."""
    return day + relativedelta(months=months)


def lapsed_on(today: date, months: int) -> list[date]:
    """Every date L with add_months(L, months) == today, in order: several when today ends a month
    shorter than L's (Mar 31, Mar 30 and Mar 29 + 1 month all clamp to Apr 30), none when today's day
    does not exist in L's month."""
    first = (today - relativedelta(months=months)).replace(day=1)
    last = first + relativedelta(months=1) - timedelta(days=1)
    return [d for d in (first + timedelta(days=i) for i in range((last - first).days + 1))
            if add_months(d, months) == today]


def mothers_day(year: int, country: str) -> date:
    """Mother's Day in `country`: Mothering Sunday (Easter - 21 days) in GB and IE, else the second
    Sunday of May."""
    if country.upper() in MOTHERING_SUNDAY_COUNTRIES:
        return easter(year) - timedelta(days=21)
    first_of_may = date(year, 5, 1)
    first_sunday = first_of_may + timedelta(days=(6 - first_of_may.weekday()) % 7)
    return first_sunday + timedelta(days=7)

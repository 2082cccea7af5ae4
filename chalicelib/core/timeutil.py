"""Instants and tenant-local dates. Nothing here reads the clock."""
from __future__ import annotations

from datetime import date, datetime, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

ISO_Z = "%Y-%m-%dT%H:%M:%SZ"


def to_iso(instant: datetime) -> str:
    """The stored form of an instant: UTC, second precision, sortable as text."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime")
    return instant.astimezone(timezone.utc).strftime(ISO_Z)


def parse_instant(text: str) -> datetime:
    """An ISO-8601 date-time that carries an offset (or Z); raises ValueError otherwise."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("no time-zone offset")
    return value


@lru_cache(maxsize=None)
def timezone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=512)
def zone(name: str) -> tzinfo:
    return ZoneInfo(name)


def local_date(instant: datetime, tz_name: str) -> date:
    return instant.astimezone(zone(tz_name)).date()


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)

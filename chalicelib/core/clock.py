"""The one place that reads the clock; everything else takes `now` as an argument."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)

"""Appointment reminder 24h: booked appointments with starts_at - 24h <= now < starts_at - 2h;
occurrence `appt24:<appointment_id>@<starts_at>`, so a rescheduled appointment is reminded again."""
from __future__ import annotations

from datetime import timedelta
from typing import Iterator

from chalicelib.core.values import (
    AutomationView,
    Match,
    Occasion,
    Repository,
    TenantView,
)
from chalicelib.matchers._shared import appointment_matches

#: Reminded from `starts_at - EARLIEST` until `starts_at - LATEST`.
EARLIEST, LATEST = timedelta(hours=24), timedelta(hours=2)


def match(tenant: TenantView, automation: AutomationView, when: Occasion, repo: Repository) -> Iterator[Match]:
    return appointment_matches("appt24", EARLIEST, LATEST, tenant, when, repo)

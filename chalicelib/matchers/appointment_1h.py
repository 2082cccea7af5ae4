"""Appointment reminder 1h: booked appointments with starts_at - 1h <= now < starts_at;
occurrence `appt1:<appointment_id>@<starts_at>`."""
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
EARLIEST, LATEST = timedelta(hours=1), timedelta(hours=0)


def match(tenant: TenantView, automation: AutomationView, when: Occasion, repo: Repository) -> Iterator[Match]:
    return appointment_matches("appt1", EARLIEST, LATEST, tenant, when, repo)

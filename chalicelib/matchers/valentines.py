"""Valentine's Day: every customer on Feb 7, one week before Feb 14; occurrence `valentines:<year>`."""
from __future__ import annotations

from datetime import date
from typing import Iterator

from chalicelib.core.values import (
    AutomationView,
    Match,
    Occasion,
    Repository,
    TenantView,
)
from chalicelib.matchers._shared import everyone_on


def send_day(year: int, tenant: TenantView) -> date:
    return date(year, 2, 7)


def match(tenant: TenantView, automation: AutomationView, when: Occasion, repo: Repository) -> Iterator[Match]:
    return everyone_on("valentines", send_day, tenant, when, repo)

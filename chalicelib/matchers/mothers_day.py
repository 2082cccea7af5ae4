"""Mother's Day: every customer one week before Mother's Day in the tenant's country (GB and IE:
Easter Sunday - 21 days; elsewhere the second Sunday of May); occurrence `mothers_day:<year>`."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Iterator

from chalicelib.core.calendar import mothers_day
from chalicelib.core.values import (
    AutomationView,
    Match,
    Occasion,
    Repository,
    TenantView,
)
from chalicelib.matchers._shared import everyone_on


def send_day(year: int, tenant: TenantView) -> date:
    return mothers_day(year, tenant.country) - timedelta(days=7)


def match(tenant: TenantView, automation: AutomationView, when: Occasion, repo: Repository) -> Iterator[Match]:
    return everyone_on("mothers_day", send_day, tenant, when, repo)

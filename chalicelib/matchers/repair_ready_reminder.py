"""Repair ready reminder: repairs still `ready` whose ready_at local date is D - days_after;
occurrence `repair:<repair_id>`."""
from __future__ import annotations

from datetime import timedelta
from typing import Iterator

from chalicelib.core.calendar import day_range
from chalicelib.core.values import (
    AutomationView,
    Match,
    Occasion,
    Repository,
    TenantView,
)
from chalicelib.matchers._shared import with_customers


def match(tenant: TenantView, automation: AutomationView, when: Occasion, repo: Repository) -> Iterator[Match]:
    ready_on = when.trigger or when.day - timedelta(days=int(automation.settings["days_after"]))
    first, last = day_range(ready_on, ready_on, tenant.timezone)
    ready = repo.repairs_ready_between(tenant.tenant_id, first, last)
    for repair, customer in with_customers(repo, tenant.tenant_id, ready):
        yield Match(repair.customer_id, f"repair:{repair.repair_id}", when.day, customer, subject=repair)

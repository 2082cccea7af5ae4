"""Re-engagement: customers whose last-activity local date L has add_months(L, months_inactive) = D;
occurrence `lapse:<L>`. At a month's end several L clamp to one D, and all of them match."""
from __future__ import annotations

from typing import Iterator

from chalicelib.core.calendar import day_range, lapsed_on
from chalicelib.core.timeutil import local_date, parse_instant
from chalicelib.core.values import (
    AutomationView,
    Match,
    Occasion,
    Repository,
    TenantView,
)


def match(tenant: TenantView, automation: AutomationView, when: Occasion, repo: Repository) -> Iterator[Match]:
    lapse_days = lapsed_on(when.day, int(automation.settings["months_inactive"]))
    if not lapse_days:
        return
    # The candidate dates are consecutive, so one range read covers them all.
    first, last = day_range(lapse_days[0], lapse_days[-1], tenant.timezone)
    for person in repo.customers_active_between(tenant.tenant_id, first, last):
        lapsed = local_date(parse_instant(person.last_activity_at), tenant.timezone)
        if lapsed in lapse_days:
            yield Match(person.customer_id, f"lapse:{lapsed.isoformat()}", when.day, person,
                        trigger={"last_activity_on": lapsed.isoformat()})

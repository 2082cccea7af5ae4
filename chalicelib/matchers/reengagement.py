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
from chalicelib.matchers._shared import position, split_position


def match(tenant: TenantView, automation: AutomationView, when: Occasion, repo: Repository) -> Iterator[Match]:
    lapse_days = [when.trigger] if when.trigger else lapsed_on(when.day, int(automation.settings["months_inactive"]))
    if not lapse_days:
        return
    # The candidate dates are consecutive, so one range read covers them all.
    first, last = day_range(lapse_days[0], lapse_days[-1], tenant.timezone)
    # A position is `last_activity_at|customer_id`, the read's order; one outside the range (the
    # setting changed since) means from the start.
    instant, customer_id = split_position(when.after)
    people = (repo.customers_active_between(tenant.tenant_id, first, last, start_after=(instant, customer_id))
              if customer_id and first <= instant <= last
              else repo.customers_active_between(tenant.tenant_id, first, last))
    for person in people:
        lapsed = local_date(parse_instant(person.last_activity_at), tenant.timezone)
        if lapsed in lapse_days:
            yield Match(person.customer_id, f"lapse:{lapsed.isoformat()}", when.day, person,
                        trigger={"last_activity_on": lapsed.isoformat()},
                        position=position(person.last_activity_at, person.customer_id))

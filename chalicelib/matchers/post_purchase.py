"""Post-purchase: customers with a sale completed on local date D - 1, one message per customer per day
(about their latest sale that day); occurrence `purchase:<D-1>`."""
from __future__ import annotations

from datetime import timedelta
from typing import Iterator

from chalicelib.core.calendar import day_range
from chalicelib.core.values import (
    AutomationView,
    Match,
    Occasion,
    Repository,
    SaleFact,
    TenantView,
)
from chalicelib.matchers._shared import with_customers


def match(tenant: TenantView, automation: AutomationView, when: Occasion, repo: Repository) -> Iterator[Match]:
    bought_on = when.trigger or when.day - timedelta(days=1)
    first, last = day_range(bought_on, bought_on, tenant.timezone)
    latest: dict[str, SaleFact] = {}
    for sale in repo.sales_completed_between(tenant.tenant_id, first, last):
        if sale.customer_id not in latest or sale.completed_at >= latest[sale.customer_id].completed_at:
            latest[sale.customer_id] = sale
    for sale, customer in with_customers(repo, tenant.tenant_id, latest.values()):
        yield Match(sale.customer_id, f"purchase:{bought_on.isoformat()}", when.day, customer, subject=sale)

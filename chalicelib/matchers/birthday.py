"""Birthday: customers whose birthday is celebrated on D + days_before; occurrence `birthday:<year>`."""
from __future__ import annotations

from typing import Iterator

from chalicelib.core.values import (
    AutomationView,
    Match,
    Occasion,
    Repository,
    TenantView,
)
from chalicelib.matchers._shared import month_day_matches


def match(tenant: TenantView, automation: AutomationView, when: Occasion, repo: Repository) -> Iterator[Match]:
    return month_day_matches("birthday", "birthday", tenant, automation, when, repo)

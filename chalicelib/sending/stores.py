"""The suppression list and the frequency-cap window over DynamoDB."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from pynamodb.exceptions import PutError

from chalicelib.adapters.models import MarketingLog, Suppression, tenant_customer
from chalicelib.adapters.persistence import get_or_none, is_conditional_failure
from chalicelib.core.timeutil import to_iso
from chalicelib.rules.checks import marketing_sends_since, suppression_key


class TenantSuppressions:
    """A tenant's whole suppression list, read once (one query) for a run over many customers."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self._keys: set[str] | None = None

    def __call__(self, channel: str, address: str) -> bool:
        if self._keys is None:
            self._keys = {row.address_key for row in Suppression.query(
                self.tenant_id, attributes_to_get=["address_key"])}
        return suppression_key(channel, address) in self._keys


def recent_marketing_counts(tenant_id: str, customer_ids: Iterable[str], since: str) -> dict[str, int]:
    """Marketing messages sent since `since` to each customer, read in batches of 100."""
    keys = {tenant_customer(tenant_id, customer_id) for customer_id in customer_ids}
    prefix = f"{tenant_id}#"
    return {key[len(prefix):]: marketing_sends_since(log.sent_at or (), since)
            for key, log in marketing_logs(keys).items()}


def is_suppressed(tenant_id: str, channel: str, address: str) -> bool:
    return get_or_none(Suppression, tenant_id, suppression_key(channel, address)) is not None


def suppressed_among(addresses: Iterable[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """Which of these (tenant, channel, address) are suppressed, read in batches of 100."""
    wanted = {(tenant_id, suppression_key(channel, address)): (tenant_id, channel, address)
              for tenant_id, channel, address in addresses}
    if not wanted:
        return set()
    rows = Suppression.batch_get(sorted(wanted), attributes_to_get=["tenant_id", "address_key"])
    return {wanted[(row.tenant_id, row.address_key)] for row in rows}


def marketing_logs(keys: Iterable[str]) -> dict[str, MarketingLog]:
    """The marketing logs of these customers (`tenant_customer` keys) that exist, read in batches of 100."""
    keys = sorted(set(keys))
    return {log.tenant_customer: log for log in MarketingLog.batch_get(keys)} if keys else {}


def suppress(tenant_id: str, channel: str, address: str, reason: str, now: datetime) -> None:
    """Add an address to the tenant's suppression list (idempotent: the first reason is kept)."""
    item = Suppression(tenant_id, suppression_key(channel, address), reason=reason, created_at=to_iso(now))
    try:
        item.save(condition=Suppression.address_key.does_not_exist())
    except PutError as e:
        if not is_conditional_failure(e):
            raise

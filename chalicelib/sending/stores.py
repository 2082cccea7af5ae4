"""The suppression list and the frequency-cap window over DynamoDB."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from pynamodb.exceptions import PutError

from chalicelib.adapters.models import (
    CustomerAudit,
    MarketingLog,
    Suppression,
    tenant_customer,
)
from chalicelib.adapters.persistence import get_or_none, is_conditional_failure
from chalicelib.adapters.secrets import erasure_key
from chalicelib.core.timeutil import to_iso
from chalicelib.rules.checks import (
    hashed_suppression_key,
    marketing_sends_since,
    suppression_key,
)


def suppression_keys(tenant_id: str, channel: str, address: str) -> tuple[str, str]:
    """The two keys an address may be on the suppression list under: in clear, or as its keyed hash (an erased
    customer's address, `hashed_suppression_key`). Every check looks for both."""
    return (suppression_key(channel, address),
            hashed_suppression_key(erasure_key(), tenant_id, channel, address))


class TenantSuppressions:
    """A tenant's whole suppression list, read once (one query) for a run over many customers."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self._keys: set[str] | None = None

    def __call__(self, channel: str, address: str) -> bool:
        if self._keys is None:
            self._keys = {row.address_key for row in Suppression.query(
                self.tenant_id, attributes_to_get=["address_key"])}
        return any(key in self._keys for key in suppression_keys(self.tenant_id, channel, address))


def recent_marketing_counts(tenant_id: str, customer_ids: Iterable[str], since: str) -> dict[str, int]:
    """Marketing messages sent since `since` to each customer, read in batches of 100."""
    keys = {tenant_customer(tenant_id, customer_id) for customer_id in customer_ids}
    prefix = f"{tenant_id}#"
    return {key[len(prefix):]: marketing_sends_since(log.sent_at or (), since)
            for key, log in marketing_logs(keys).items()}


def is_suppressed(tenant_id: str, channel: str, address: str) -> bool:
    return bool(suppressed_among([(tenant_id, channel, address)]))


def suppressed_among(addresses: Iterable[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """Which of these (tenant, channel, address) are suppressed (in clear or as an erased address's hash), read
    in batches of 100."""
    wanted = {(tenant_id, key): (tenant_id, channel, address)
              for tenant_id, channel, address in addresses
              for key in suppression_keys(tenant_id, channel, address)}
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


def erased(tenant_id: str, customer_id: str) -> bool:
    """Whether the customer was erased (their audit trail's `erased` entry): a send to a customer who is gone
    ends `skipped` with reason `erased` rather than `no_longer_eligible`."""
    return get_or_none(CustomerAudit, tenant_customer(tenant_id, customer_id), CustomerAudit.ERASED) is not None

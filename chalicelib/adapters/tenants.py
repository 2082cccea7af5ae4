"""Tenants as stored: their effective settings, and a tenant created on its first authenticated request."""
from __future__ import annotations

from datetime import datetime

from chalicelib.adapters.models import Tenant
from chalicelib.adapters.persistence import create_only, get_or_none
from chalicelib.core.errors import Conflict
from chalicelib.core.store_settings import effective
from chalicelib.core.timeutil import to_iso

# Tenants known to exist, per warm process: saves a read on every request.
_KNOWN_TENANTS: set[str] = set()


def ensure_tenant(tenant_id: str, now: datetime) -> None:
    """A tenant exists from its first authenticated request, with default settings."""
    if tenant_id in _KNOWN_TENANTS:
        return
    if get_or_none(Tenant, tenant_id) is None:
        try:
            create_only(Tenant(tenant_id, settings={}, created_at=to_iso(now)))
        except Conflict:
            pass  # created by a concurrent first request
    _KNOWN_TENANTS.add(tenant_id)


def of_tenant(tenant: Tenant | None) -> dict:
    """The effective settings of a tenant item as read (None: not created yet, all defaults)."""
    return effective(tenant.settings.as_dict() if tenant and tenant.settings else None)


def load(tenant_id: str) -> dict:
    return of_tenant(get_or_none(Tenant, tenant_id))


def known(tenant_id: str) -> None:
    """The tenant was just written: the next request need not look for it."""
    _KNOWN_TENANTS.add(tenant_id)

"""Tenant settings (spec section 1): defaults, validation and storage."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from chalicelib import validation as v
from chalicelib.auth import Principal, require_write
from chalicelib.errors import Conflict
from chalicelib.models import Tenant
from chalicelib.persistence import create_only, get_or_none, mutate
from chalicelib.timeutil import timezone_names, to_iso

DEFAULTS: dict[str, Any] = {
    "store_name": "",
    "timezone": "UTC",
    "send_hour": 10,
    "country": "US",
    "sender_email": None,
    "reply_to": None,
    "sms_sender_id": None,
    "quiet_hours": {"start": "21:00", "end": "09:00"},
    "frequency_cap": None,
    # Not in the spec's list, but templates offer store.phone, store.address and store.website.
    "store_phone": None,
    "store_address": None,
    "store_website": None,
    # The `offer` of re-engagement messages with include_special_offer, and the post-purchase review
    # link (request_review; without one, the store's website).
    "special_offer": "10% off your next purchase",
    "review_url": None,
}

COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
# AWS accepts 1-11 letters and digits with at least one letter as an SMS sender id.
SENDER_ID_RE = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")
URL_RE = re.compile(r"^https?://[^\s<>\"]{1,300}$")


def _timezone(value: Any, field: str) -> str:
    if not isinstance(value, str) or value not in timezone_names():
        raise v.fail(field, "must be an IANA time-zone name, such as Australia/Sydney")
    return value


def _country(value: Any, field: str) -> str:
    if not isinstance(value, str) or not COUNTRY_RE.match(value.upper()):
        raise v.fail(field, "must be an ISO 3166 alpha-2 country code, such as AU")
    return value.upper()


FIELDS = {
    "store_name": v.string(100),
    "timezone": _timezone,
    "send_hour": v.integer(0, 23),
    "country": _country,
    "sender_email": v.email(),
    "reply_to": v.email(),
    "sms_sender_id": v.string(11, pattern=SENDER_ID_RE, what="1-11 letters and digits with at least one letter"),
    "quiet_hours": v.obj({"start": v.hhmm(), "end": v.hhmm()}, required=("start", "end")),
    "frequency_cap": v.obj({"max_messages": v.integer(1, 100), "per_days": v.integer(1, 365)},
                           required=("max_messages", "per_days")),
    "store_phone": v.string(32),
    "store_address": v.string(300),
    "store_website": v.string(310, pattern=URL_RE, what="an http(s) address"),
    "special_offer": v.string(200, min_len=1),
    "review_url": v.string(310, pattern=URL_RE, what="an http(s) address"),
}

# Tenants known to exist, per warm process: saves a read on every request.
_KNOWN_TENANTS: set[str] = set()


def effective(stored: dict | None) -> dict:
    settings = dict(DEFAULTS)
    settings.update({k: val for k, val in (stored or {}).items() if k in DEFAULTS and val is not None})
    return settings


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


def _view(tenant: Tenant | None) -> dict:
    return {"settings": of_tenant(tenant), "updated_at": tenant.updated_at if tenant else None,
            "updated_by": tenant.updated_by if tenant else None}


def view(tenant_id: str) -> dict:
    return _view(get_or_none(Tenant, tenant_id))


def patch(principal: Principal, body: dict, now: datetime) -> dict:
    require_write(principal, "settings")
    changes = v.parse(body, FIELDS, partial=True)

    def change(tenant: Tenant | None) -> Tenant:
        tenant = tenant or Tenant(principal.tenant_id, settings={}, created_at=to_iso(now))
        stored = tenant.settings.as_dict() if tenant.settings else {}
        for name, value in changes.items():
            if value is None:
                stored.pop(name, None)
            else:
                stored[name] = value
        tenant.settings = stored
        tenant.updated_at, tenant.updated_by = to_iso(now), principal.subject
        return tenant

    tenant = mutate(lambda: get_or_none(Tenant, principal.tenant_id), change)
    _KNOWN_TENANTS.add(principal.tenant_id)
    return _view(tenant)

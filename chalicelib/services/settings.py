"""Tenant settings (docs/behaviour.md section 1): defaults, validation and storage."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from chalicelib.adapters import tenants
from chalicelib.adapters.models import Tenant
from chalicelib.adapters.persistence import get_or_none, mutate
from chalicelib.adapters.tenants import load, of_tenant  # noqa: F401 - load: a store's settings, for the routes
from chalicelib.core.timeutil import timezone_names, to_iso
from chalicelib.rules import validation as v
from chalicelib.rules.auth import Principal, require_write

COUNTRY_RE = re.compile(r"^[A-Z]{2}\Z")
# AWS accepts 1-11 letters and digits with at least one letter as an SMS sender id.
SENDER_ID_RE = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}\Z")
URL_RE = re.compile(r"^https?://[^\s<>\"]{1,300}\Z")
# Mail clients block images over plain http, and a logo is shown to every recipient: https only.
HTTPS_URL_RE = re.compile(r"^https://[^\s<>\"'()]{1,300}\Z")
HEX_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}\Z")
CURRENCY_RE = re.compile(r"^[A-Z]{3}\Z")


def _timezone(value: Any, field: str) -> str:
    if not isinstance(value, str) or value not in timezone_names():
        raise v.fail(field, "must be an IANA time-zone name, such as Australia/Sydney")
    return value


def _country(value: Any, field: str) -> str:
    # ASCII first: "ß".upper() is "SS".
    if not isinstance(value, str) or not value.isascii() or not COUNTRY_RE.fullmatch(value.upper()):
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
    "logo_url": v.string(310, pattern=HTTPS_URL_RE, what="an https address of an image"),
    "brand_color": v.string(7, pattern=HEX_COLOR_RE, what="a colour as #rrggbb"),
    "retention_days": v.integer(1, 3650),
    "attribution_days": v.integer(1, 90),
    "currency": v.string(3, pattern=CURRENCY_RE, what="an ISO 4217 currency code in capitals, such as AUD"),
}


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
    tenants.known(principal.tenant_id)
    return _view(tenant)

"""A store's settings: the defaults, and the effective settings of what a store saved."""
from __future__ import annotations

from typing import Any

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
    # Beyond the settings the API documents first, templates offer store.phone, store.address and store.website.
    "store_phone": None,
    "store_address": None,
    "store_website": None,
    # The `offer` of re-engagement messages with include_special_offer, and the post-purchase review
    # link (request_review; without one, the store's website).
    "special_offer": "10% off your next purchase",
    "review_url": None,
    # The email layout: the logo at the top of every email (an https address) and the brand colour of its
    # accents; without a logo the store's name is shown.
    "logo_url": None,
    "brand_color": "#2d2a26",
    # How many days a communication record's address, subject and body are kept (DynamoDB's time to live then
    # deletes them; the record itself stays).
    "retention_days": 400,
    # A sale within this many days after a marketing message is attributed to it; the currency its revenue
    # is shown in (ISO 4217; none: figures without a symbol).
    "attribution_days": 5,
    "currency": None,
}


def effective(stored: dict | None) -> dict:
    settings = dict(DEFAULTS)
    settings.update({k: val for k, val in (stored or {}).items() if k in DEFAULTS and val is not None})
    return settings

"""Unsubscribe links (docs/behaviour.md section 6): a signed token per customer and channel; following it withdraws
that channel's consent without a login (RFC 8058 one-click for mail clients), on the customer's record."""
from __future__ import annotations

import html
from datetime import datetime

from chalicelib.adapters.models import Customer
from chalicelib.adapters.persistence import get_or_none, mutate
from chalicelib.core import config
from chalicelib.core.catalog import CHANNELS
from chalicelib.core.errors import NotFound
from chalicelib.core.timeutil import to_iso
from chalicelib.rules import consent as consent_rules

PURPOSE = "unsubscribe"
CHANNEL_WORDS = {"email": "emails", "sms": "text messages"}


class LinkRejected(Exception):
    """The token is not one this deployment signed."""


def _secret() -> str:
    secret = config.unsubscribe_secret()
    if not secret:
        raise RuntimeError("UNSUBSCRIBE_SECRET is not set")
    return secret


def token_for(tenant_id: str, customer_id: str, channel: str) -> str:
    # PyJWT (with `cryptography`, about 40 ms) is imported when a link is made or read, not by every
    # function that imports the dispatcher or the app.
    import jwt

    # No expiry: a link in a years-old email must still work.
    return jwt.encode({"p": PURPOSE, "t": tenant_id, "c": customer_id, "ch": channel}, _secret(), algorithm="HS256")


def url_for(tenant_id: str, customer_id: str, channel: str) -> str:
    return f"{config.public_api_url()}/unsubscribe/{token_for(tenant_id, customer_id, channel)}"


def _read(token: str) -> tuple[str, str, str]:
    import jwt

    try:
        claims = jwt.decode(token, _secret(), algorithms=["HS256"], options={"require": ["p", "t", "c", "ch"]})
    except jwt.PyJWTError:
        raise LinkRejected() from None
    if claims["p"] != PURPOSE or claims["ch"] not in CHANNELS:
        raise LinkRejected()
    return claims["t"], claims["c"], claims["ch"]


def _page(title: str, text: str, form: bool = False) -> str:
    button = ('<form method="post"><button type="submit">Unsubscribe</button></form>' if form else "")
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title></head><body style=\"font-family:sans-serif;max-width:32em;"
            f"margin:3em auto;padding:0 1em\"><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{button}"
            "</body></html>")


def confirmation_page(token: str) -> tuple[int, str]:
    """GET: what the link will do, with a button; changes nothing (mail scanners follow links)."""
    try:
        _, _, channel = _read(token)
    except LinkRejected:
        return 404, _page("Link not recognised", "This unsubscribe link is not valid. Please contact the store.")
    return 200, _page("Unsubscribe", f"Stop receiving marketing {CHANNEL_WORDS[channel]} from this store?", form=True)


def withdraw(token: str, now: datetime) -> tuple[int, str]:
    """POST: withdraw the channel's consent on the customer's record. Idempotent."""
    try:
        tenant_id, customer_id, channel = _read(token)
    except LinkRejected:
        return 404, _page("Link not recognised", "This unsubscribe link is not valid. Please contact the store.")

    def change(item: Customer | None) -> Customer | None:
        if item is None:
            raise NotFound("no such customer")
        consent = consent_rules.values(item.consent.as_dict() if item.consent else None)
        channels = item.consent_channels.as_dict() if item.consent_channels else {}
        last = channels.get(channel) or {}
        if not consent[channel] and last.get("source") == consent_rules.UNSUBSCRIBE_LINK:
            return None
        item.consent = {**consent, channel: False}
        # The channel remembers that the customer withdrew it themselves: staff give it again only by saying
        # how the customer did (docs/behaviour.md section 7, "Consent").
        item.consent_channels = {**{c: change for c, change in channels.items() if change}, channel: {
            "updated_at": to_iso(now), "updated_by": consent_rules.UNSUBSCRIBE_LINK,
            "source": consent_rules.UNSUBSCRIBE_LINK}}
        item.consent_updated_at, item.consent_updated_by = to_iso(now), consent_rules.UNSUBSCRIBE_LINK
        item.updated_at = to_iso(now)
        return item

    try:
        mutate(lambda: get_or_none(Customer, tenant_id, customer_id), change)
    except NotFound:
        pass  # the customer was deleted: there is nobody left to message
    return 200, _page("You are unsubscribed",
                      f"You will no longer receive marketing {CHANNEL_WORDS[channel]} from this store.")

"""Unsubscribe links (docs/behaviour.md section 6): an opaque token per customer and channel; following it withdraws
that channel's consent without a login (RFC 8058 one-click for mail clients), on the customer's record.

The token is the store, the customer and the channel sealed with Fernet (AES-128-CBC and HMAC-SHA256: encrypted and
authenticated, so it shows no id and cannot be altered), under a key derived from the current unsubscribe key of
the deployment's secret (`chalicelib.adapters.secrets`). It opens under any key still honoured: after a rotation,
links sealed with the retired key work for `secrets.GRACE`. Links of the earlier format (a JWT signed with the
secret itself, readable ids) are honoured on the same terms: while the key that signed them is.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
from datetime import datetime

from chalicelib.adapters import secrets
from chalicelib.adapters.models import Customer
from chalicelib.adapters.persistence import get_or_none, mutate
from chalicelib.core import config
from chalicelib.core.catalog import CHANNELS
from chalicelib.core.errors import NotFound
from chalicelib.core.timeutil import to_iso
from chalicelib.rules import consent as consent_rules

PURPOSE = "unsubscribe"
CHANNEL_WORDS = {"email": "emails", "sms": "text messages"}
#: The sealing keys are derived from the secret's keys under this label, so they serve nothing else.
LABEL = b"automations/unsubscribe-link"


class LinkRejected(Exception):
    """The token is not one this deployment sealed with a key it still honours."""


def _sealing_key(material: bytes) -> bytes:
    return base64.urlsafe_b64encode(hmac.new(material, LABEL, hashlib.sha256).digest())


def token_for(tenant_id: str, customer_id: str, channel: str, now: datetime | None = None) -> str:
    # `cryptography` (about 25 ms) is imported when a link is made or read, not by every function that imports
    # the dispatcher or the app.
    from cryptography.fernet import Fernet

    # No expiry of its own: a link in a years-old email works as long as its key is honoured.
    current = secrets.unsubscribe_keys(now)[0]
    payload = json.dumps([tenant_id, customer_id, channel], separators=(",", ":")).encode()
    return Fernet(_sealing_key(current)).encrypt(payload).decode().rstrip("=")


def url_for(tenant_id: str, customer_id: str, channel: str) -> str:
    return f"{config.public_api_url()}/unsubscribe/{token_for(tenant_id, customer_id, channel)}"


def _opened(token: str, keys: list[bytes]) -> tuple[str, str, str] | None:
    if token.startswith("eyJ"):
        return _legacy(token, keys)
    from cryptography.fernet import Fernet, InvalidToken, MultiFernet

    try:
        payload = MultiFernet([Fernet(_sealing_key(k)) for k in keys]).decrypt(token + "=" * (-len(token) % 4))
        tenant_id, customer_id, channel = json.loads(payload)
    except (InvalidToken, ValueError, TypeError):
        return None
    if not all(isinstance(v, str) and v for v in (tenant_id, customer_id)) or channel not in CHANNELS:
        return None
    return tenant_id, customer_id, channel


def _legacy(token: str, keys: list[bytes]) -> tuple[str, str, str] | None:
    """A link of the earlier format: a JWT (HS256) signed with the secret's key itself."""
    import jwt

    for key in keys:
        try:
            claims = jwt.decode(token, key.decode(), algorithms=["HS256"], options={"require": ["p", "t", "c", "ch"]})
        except jwt.PyJWTError:
            continue
        if claims["p"] == PURPOSE and claims["ch"] in CHANNELS:
            return claims["t"], claims["c"], claims["ch"]
    return None


def _read(token: str, now: datetime) -> tuple[str, str, str]:
    # A token no cached key opens may be from a container that has read a rotation this one has not yet.
    for fresh in (False, True):
        found = _opened(token, secrets.unsubscribe_keys(now, fresh=fresh))
        if found:
            return found
    raise LinkRejected()


def _page(title: str, text: str, form: bool = False) -> str:
    button = ('<form method="post"><button type="submit">Unsubscribe</button></form>' if form else "")
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title></head><body style=\"font-family:sans-serif;max-width:32em;"
            f"margin:3em auto;padding:0 1em\"><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{button}"
            "</body></html>")


def confirmation_page(token: str, now: datetime) -> tuple[int, str]:
    """GET: what the link will do, with a button; changes nothing (mail scanners follow links)."""
    try:
        _, _, channel = _read(token, now)
    except LinkRejected:
        return 404, _page("Link not recognised", "This unsubscribe link is not valid. Please contact the store.")
    return 200, _page("Unsubscribe", f"Stop receiving marketing {CHANNEL_WORDS[channel]} from this store?", form=True)


def withdraw(token: str, now: datetime) -> tuple[int, str]:
    """POST: withdraw the channel's consent on the customer's record. Idempotent."""
    try:
        tenant_id, customer_id, channel = _read(token, now)
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
        return item.audited_as(consent_rules.UNSUBSCRIBE_LINK, consent_rules.UNSUBSCRIBE_LINK, to_iso(now))

    try:
        mutate(lambda: get_or_none(Customer, tenant_id, customer_id), change)
    except NotFound:
        pass  # the customer was deleted: there is nobody left to message
    return 200, _page("You are unsubscribed",
                      f"You will no longer receive marketing {CHANNEL_WORDS[channel]} from this store.")

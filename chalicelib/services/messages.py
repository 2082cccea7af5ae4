"""1:1 email to a customer (clienteling section 13): who may, what a message holds, how the answer reads, and
how many messages the customer received lately."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from chalicelib.adapters.models import Communication, Customer, tenant_customer
from chalicelib.adapters.persistence import get_or_none
from chalicelib.adapters.providers import EmailSender
from chalicelib.adapters.tenants import load
from chalicelib.core.errors import DomainError, NotFound
from chalicelib.core.timeutil import local_date, to_iso
from chalicelib.rules import checks
from chalicelib.rules import validation as v
from chalicelib.rules.auth import Principal, require_write
from chalicelib.sending.sources import one_to_one

#: The window of "messages received lately", and from how many of them the page asks for confirmation.
RECENT_DAYS = 7
CONFIRM_FROM = 3
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: Printable ASCII, as clients make them (a UUID, a ULID, a random string).
IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}\Z")

FIELDS = {"subject": v.string(200, min_len=1), "body": v.string(20_000, min_len=1, multiline=True)}


class NotSent(DomainError):
    """A message that was not sent: the error, with its record (if one was written) and the recent count."""

    def __init__(self, code: str, status: int, message: str, *, field: str | None = None,
                 record: dict | None = None, recent: dict | None = None, reason: str | None = None,
                 provider_code: str | None = None) -> None:
        super().__init__(message, field)
        self.code, self.status = code, status
        self.record, self.recent, self.reason, self.provider_code = record, recent, reason, provider_code

    def to_body(self) -> dict:
        body = super().to_body()
        if self.reason:
            body["error"]["reason"] = self.reason
        if self.provider_code:
            body["error"]["provider_code"] = self.provider_code
        return {**body, "record": self.record, **(self.recent or {})}


_MESSAGES = {
    checks.MISSING_CONTACT: "the customer has no email address",
    checks.SUPPRESSED: "the customer's address is suppressed (it bounced hard or complained)",
    one_to_one.NO_SENDER: "the store has no sender address: set one in the settings",
    "provider_error": "the email provider refused the message",
    "sender_not_verified": "the store's sender address is not verified in SES: see the settings",
}


def recent(tenant_id: str, customer_id: str, now: datetime) -> dict:
    """How many messages (any source, any channel) the customer was sent in the last RECENT_DAYS x 24h."""
    since = to_iso(now - timedelta(days=RECENT_DAYS))
    count = sum(1 for _ in Communication.query(
        tenant_customer(tenant_id, customer_id), Communication.sort_key >= since,
        filter_condition=Communication.status == "sent", attributes_to_get=["sort_key"]))
    return {"recent_messages": count, "recent_days": RECENT_DAYS, "confirm_from": CONFIRM_FROM}


def _customer(tenant_id: str, customer_id: str) -> Customer:
    item = get_or_none(Customer, tenant_id, customer_id)
    if item is None:
        raise NotFound(f"customer {customer_id} not found")
    return item


def status(tenant_id: str, customer_id: str, now: datetime) -> dict:
    """What the compose form shows before anything is written."""
    _customer(tenant_id, customer_id)
    return recent(tenant_id, customer_id, now)


def _public(item: Communication | None) -> dict | None:
    if item is None:
        return None
    return {k: val for k, val in item.attribute_values.items()
            if k not in ("tenant_customer", "sort_key", "tenant_id") and val is not None}


def post(principal: Principal, customer_id: str, body: dict, idempotency_key: str | None, sender: EmailSender,
         now: datetime) -> dict:
    """Send one message; the record when SES accepted it, else NotSent (409, 502 or 503)."""
    require_write(principal, "messages")
    if idempotency_key is not None and not IDEMPOTENCY_KEY_RE.fullmatch(idempotency_key):
        raise v.fail(IDEMPOTENCY_HEADER, "must be 1-200 printable ASCII characters")
    fields = v.parse(body, FIELDS, required=("subject", "body"))
    customer = _customer(principal.tenant_id, customer_id)
    settings = load(principal.tenant_id)
    send = one_to_one.send_of(principal.tenant_id, customer_id, idempotency_key,
                              local_date(now, settings["timezone"]).isoformat())
    outcome = one_to_one.deliver(send, customer, fields["subject"], fields["body"], principal.subject, settings,
                                 sender, now)
    counts = recent(principal.tenant_id, customer_id, now)
    record = _public(outcome.record)
    if outcome.status == "sent":
        return {"record": record, **counts}
    if outcome.in_flight:
        raise NotSent("conflict", 409, "a request with this Idempotency-Key is being sent", field=IDEMPOTENCY_HEADER,
                      recent=counts)
    if outcome.retry:
        raise NotSent("provider_unavailable", 503, "the email provider is unavailable: try again (with the same "
                      "Idempotency-Key)", recent=counts, reason=outcome.reason, provider_code=outcome.provider_code)
    message = _MESSAGES.get(outcome.reason or "", f"not sent: {outcome.reason}")
    if outcome.status == "failed" and outcome.reason != one_to_one.NO_SENDER:
        raise NotSent("provider_error", 502, message, record=record, recent=counts, reason=outcome.reason,
                      provider_code=outcome.provider_code)
    field = {checks.MISSING_CONTACT: "email", one_to_one.NO_SENDER: "sender_email"}.get(outcome.reason or "")
    raise NotSent("conflict", 409, message, field=field, record=record, recent=counts, reason=outcome.reason)

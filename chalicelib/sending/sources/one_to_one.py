"""1:1 email as a source of sends (clienteling section 13): a message a member of staff writes to one customer,
sent while the request waits, through the same ledger and records as every other send.

Its occurrence key comes from the request's `Idempotency-Key` (a fresh one without it), so a retry of a request
finds the ledger row of the first: a final row answers with the record it wrote, an accepted one records `sent`
without sending again, and a claim still held is a conflict. It is a personal message: checks 3 and 4 (an
address, not suppressed) apply; consent, the frequency cap and quiet hours do not. Its sends never travel the
send queue; one found there was not put there by this system, and ends skipped.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Iterable, Mapping

from chalicelib.adapters.models import Communication, Customer
from chalicelib.adapters.providers import (
    Email,
    EmailSender,
    PermanentProviderError,
    TransientProviderError,
)
from chalicelib.adapters.repository import person_of
from chalicelib.core import catalog
from chalicelib.core.values import AutomationView
from chalicelib.rules import checks, layout
from chalicelib.sending import content, ledger
from chalicelib.sending.dispatcher import NO_SENDER, PROVIDER_UNAVAILABLE, provider_reason
from chalicelib.sending.messages import Send
from chalicelib.sending.stores import is_suppressed

NAME = "one_to_one"
#: A 1:1 send is sent in its request; one on the send queue is skipped with this reason.
DISABLED_REASON = "not_queued"
CHANNEL = "email"


# --- the source's part in the dispatcher (which never sends a 1:1 message) --------------------------------

def category(type_: str) -> str:
    return catalog.TRANSACTIONAL


def batch_keys(sends: Iterable[Send]) -> list:
    return []


def configurations(sends: Iterable[Send], found: Mapping[type, list]) -> dict[tuple[str, str], AutomationView]:
    return {(s.tenant_id, s.automation_id): AutomationView(type=NAME, settings={}, enabled=False, channels=())
            for s in sends}


def template_id(automation: AutomationView, type_: str) -> str:
    return ""


def variables(send: Send, automation: AutomationView, store: Mapping[str, Any]) -> dict:
    return {}


# --- sending in the request ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """How a 1:1 message ended: its record, and, when it was not sent, why (`provider_code`: the provider's
    own code of a refusal)."""

    record: Communication | None
    status: str
    reason: str | None = None
    provider_code: str | None = None
    #: A transient provider error: nothing was recorded, and the same request may be tried again.
    retry: bool = False
    #: Another request with the same idempotency key holds the send right now.
    in_flight: bool = False


def occurrence_key(idempotency_key: str | None) -> str:
    """The same key always names the same send; no key, a new one."""
    return f"{NAME}:" + hashlib.sha256((idempotency_key or uuid.uuid4().hex).encode()).hexdigest()[:32]


def send_of(tenant_id: str, customer_id: str, idempotency_key: str | None, day: str) -> Send:
    return Send(tenant_id=tenant_id, customer_id=customer_id, automation_type=NAME, automation_id="",
                occurrence_key=occurrence_key(idempotency_key), channel=CHANNEL, source=NAME, day=day)


def parts_of(subject: str, text: str, settings: Mapping[str, Any]) -> tuple[str, str]:
    """The text and HTML parts: the message (escaped in HTML, its line breaks kept) in the store's email layout,
    as every email the store sends; a personal message, so without an unsubscribe link."""
    return (content.wrap_text(text, settings),
            content.wrap_html(content.html_of_text(text, settings), settings, title=subject,
                              preheader=layout.preheader_of(text)))


def deliver(send: Send, customer: Customer, subject: str, body: str, user_id: str, settings: Mapping[str, Any],
         sender: EmailSender, now: datetime) -> Outcome:
    """Send one 1:1 email once per send (its idempotency key), recording its outcome."""
    tz_name = settings["timezone"]
    row = ledger.read_one(send)
    if row is not None and row.status in ledger.FINAL:
        found = ledger.outcome_of(send, row)
        return Outcome(found, row.status, row.reason)
    if row is not None and row.status == ledger.ACCEPTED:
        sent = ledger.accepted_record(row)
        return _record_sent(send, row.claim_token, sent, now, tz_name)
    if row is not None and row.status == ledger.CLAIMED and not ledger.claim_expired(row, now):
        return Outcome(None, ledger.CLAIMED, in_flight=True)

    person = person_of(customer)
    address = checks.address_for(person, CHANNEL)
    record = ledger.Record(to=address, subject=subject, body=body, sent_by=user_id,
                           keep_days=settings.get("retention_days"))

    def finish(status: str, reason: str) -> Outcome:
        ledger.record(send, row, status, reason, record, now, tz_name)
        return Outcome(ledger.outcome_of(send, ledger.read_one(send)), status, reason)

    reason = checks.first_failing_check(person, CHANNEL, catalog.TRANSACTIONAL,
                                        is_suppressed=lambda channel, to: is_suppressed(send.tenant_id, channel, to),
                                        frequency_cap=None, recent_marketing=0)
    if reason:
        return finish(ledger.SKIPPED, reason)
    if not settings.get("sender_email"):
        return finish(ledger.FAILED, NO_SENDER)

    token = uuid.uuid4().hex
    ledger.claim(send, row, token, now, None)
    text, html = parts_of(subject, body, settings)
    try:
        message_id = sender.send(Email(
            sender=settings["sender_email"], sender_name=settings.get("store_name") or "", to=address,
            subject=subject, text=text, html=html, reply_to=settings.get("reply_to"),
            tags=ledger.email_tags(send)))
    except TransientProviderError as e:
        ledger.release(send, token)
        return Outcome(None, ledger.FAILED, PROVIDER_UNAVAILABLE, provider_code=e.code, retry=True)
    except PermanentProviderError as e:
        reason = provider_reason(e)
        ledger.record(send, None, ledger.FAILED, reason, record, now, tz_name, claim_token=token)
        return Outcome(ledger.outcome_of(send, ledger.read_one(send)), ledger.FAILED, reason, provider_code=e.code)
    sent = replace(record, provider_message_id=message_id)
    # First of all, the fact that it went out: a retry of the request from here on never sends again.
    ledger.accept(send, token, sent, now)
    return _record_sent(send, token, sent, now, tz_name)


def _record_sent(send: Send, token: str | None, sent: ledger.Record, now: datetime, tz_name: str) -> Outcome:
    try:
        ledger.record_accepted(send, token, sent, now, tz_name)
    except ledger.Superseded:
        pass  # a retry of the same request recorded it meanwhile
    row = ledger.read_one(send)
    return Outcome(ledger.outcome_of(send, row), ledger.SENT)

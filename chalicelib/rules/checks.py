"""Dispatch checks 2 to 7 of docs/behaviour.md section 5, as pure functions: the dispatcher applies them before it
sends, and the test-run applies checks 3-6 in a dry run."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Mapping

from chalicelib.core.calendar import quiet_until
from chalicelib.core.catalog import MARKETING
from chalicelib.core.contacts import E164_RE, EMAIL_RE
from chalicelib.core.timeutil import local_date, parse_instant, to_iso
from chalicelib.core.values import Person

AUTOMATION_DISABLED = "automation_disabled"
NO_LONGER_ELIGIBLE = "no_longer_eligible"
MISSING_CONTACT = "missing_contact"
SUPPRESSED = "suppressed"
NO_CONSENT = "no_consent"
FREQUENCY_CAPPED = "frequency_capped"
QUIET_HOURS = "quiet_hours"
#: The customer was erased (docs/behaviour.md section 7, "Erasure") after the send was queued.
ERASED = "erased"

#: (channel, address) -> whether the address is suppressed on that channel.
SuppressionCheck = Callable[[str, str], bool]


def address_for(person: Person, channel: str) -> str | None:
    """The customer's address on `channel` if it is a valid one: an email, or a phone in E.164."""
    if channel == "email":
        return person.email if person.email and EMAIL_RE.match(person.email) else None
    return person.phone if person.phone and E164_RE.match(person.phone) else None


def suppression_key(channel: str, address: str) -> str:
    return f"{channel}:{address.lower() if channel == 'email' else address}"


def hashed_suppression_key(key: bytes, tenant_id: str, channel: str, address: str) -> str:
    """What stands for an address on the suppression list once its customer is erased: `<channel>:#<HMAC>` of the
    tenant and the address (docs/behaviour.md section 7, "Erasure"). Keyed, so the list cannot be searched with
    guessed addresses without the key; per tenant, so one store's entries say nothing about another's."""
    import hashlib
    import hmac

    digest = hmac.new(key, f"{tenant_id}\n{suppression_key(channel, address)}".encode(), hashlib.sha256).hexdigest()
    return f"{channel}:#{digest}"


def cap_window_start(at: datetime, frequency_cap: Mapping | None) -> str | None:
    """The start of the trailing `per_days` x 24h window the cap counts in, or None without a cap."""
    if not frequency_cap:
        return None
    return to_iso(at - timedelta(days=int(frequency_cap["per_days"])))


def marketing_sends_since(sent_at: Iterable[str], since: str) -> int:
    return sum(1 for instant in sent_at if instant > since)


def first_failing_check(person: Person, channel: str, category: str, *, is_suppressed: SuppressionCheck,
                        frequency_cap: Mapping | None, recent_marketing: int) -> str | None:
    """The reason of the first of checks 3-6 that fails, or None if all pass.

    `recent_marketing` is the number of marketing messages sent to the customer, on any channel,
    within the cap window.
    """
    address = address_for(person, channel)
    if address is None:
        return MISSING_CONTACT
    if is_suppressed(channel, address):
        return SUPPRESSED
    if category == MARKETING:
        if not person.consents_to(channel):
            return NO_CONSENT
        if frequency_cap and recent_marketing >= int(frequency_cap["max_messages"]):
            return FREQUENCY_CAPPED
    return None


def still_eligible(trigger: Mapping[str, str], subject_kind: str | None, subject: Any, person: Person | None,
                   tz_name: str) -> bool:
    """Check 2: the customer still exists and what matched them still holds. `subject` is the sale,
    repair or appointment as it is now (None if deleted)."""
    if person is None:
        return False
    if subject_kind is not None:
        if subject is None:
            return False
        if subject_kind == "repair" and subject.status != "ready":
            return False
        if subject_kind == "appointment" and (subject.status != "booked"
                                              or subject.starts_at != trigger.get("starts_at")):
            return False
    if "last_activity_on" in trigger:
        # Any newer activity means the customer is no longer lapsed since that day.
        if not person.last_activity_at or local_date(parse_instant(person.last_activity_at),
                                                     tz_name).isoformat() != trigger["last_activity_on"]:
            return False
    for field in ("birthday", "anniversary"):
        if field in trigger:
            value = getattr(person, field)
            if not value or value[-5:] != trigger[field]:
                return False
    return True


def quiet_hours_end(channel: str, category: str, at: datetime, tz_name: str,
                    quiet_hours: Mapping[str, str] | None) -> datetime | None:
    """Check 7: for a marketing SMS inside the tenant's quiet hours, when they end; else None."""
    if channel != "sms" or category != MARKETING or not quiet_hours:
        return None
    return quiet_until(at, tz_name, quiet_hours["start"], quiet_hours["end"])

"""Dispatch checks 3 to 6 of spec section 5, as pure functions: the runner applies them before it
sends, and the test-run applies the same ones in a dry run."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Iterable, Mapping

from chalicelib.catalog import MARKETING
from chalicelib.matchers.base import Person
from chalicelib.timeutil import to_iso
from chalicelib.validation import E164_RE, EMAIL_RE

MISSING_CONTACT = "missing_contact"
SUPPRESSED = "suppressed"
NO_CONSENT = "no_consent"
FREQUENCY_CAPPED = "frequency_capped"

#: (channel, address) -> whether the address is suppressed on that channel.
SuppressionCheck = Callable[[str, str], bool]


def address_for(person: Person, channel: str) -> str | None:
    """The customer's address on `channel` if it is a valid one: an email, or a phone in E.164."""
    if channel == "email":
        return person.email if person.email and EMAIL_RE.match(person.email) else None
    return person.phone if person.phone and E164_RE.match(person.phone) else None


def suppression_key(channel: str, address: str) -> str:
    return f"{channel}:{address.lower() if channel == 'email' else address}"


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

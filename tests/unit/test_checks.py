"""Dispatch checks 3-6 (docs/behaviour.md section 5): the first failing check names the reason."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.catalog import MARKETING, TRANSACTIONAL
from chalicelib.core.values import Person
from chalicelib.rules.checks import (
    address_for,
    cap_window_start,
    first_failing_check,
    marketing_sends_since,
)

ADA = Person("ada", email="ada@example.com", phone="+61400000001", consent_email=True, consent_sms=False)
NOBODY_SUPPRESSED = lambda channel, address: False  # noqa: E731


def check(person=ADA, channel="email", category=MARKETING, suppressed=NOBODY_SUPPRESSED, cap=None, recent=0):
    return first_failing_check(person, channel, category, is_suppressed=suppressed, frequency_cap=cap,
                               recent_marketing=recent)


def test_a_valid_address_is_needed_for_the_channel():
    assert check(Person("x", email="not-an-address", consent_email=True)) == "missing_contact"
    assert check(Person("x", phone="0400 000 001", consent_sms=True), channel="sms") == "missing_contact"
    assert address_for(ADA, "sms") == "+61400000001"


def test_suppression_comes_before_consent_and_sees_the_channels_address():
    seen = []
    assert check(Person("x", email="x@example.com"), suppressed=lambda c, a: seen.append((c, a)) or True) == \
        "suppressed"
    assert seen == [("email", "x@example.com")]


def test_marketing_needs_consent_for_the_channel_and_transactional_does_not():
    assert check(channel="sms") == "no_consent"
    assert check(channel="sms", category=TRANSACTIONAL) is None
    assert check() is None


def test_the_frequency_cap_applies_to_marketing_only():
    cap = {"max_messages": 2, "per_days": 7}
    assert check(cap=cap, recent=1) is None
    assert check(cap=cap, recent=2) == "frequency_capped"
    assert check(cap=cap, recent=5, category=TRANSACTIONAL) is None


def test_the_cap_window_is_per_days_times_24_hours_before_the_send():
    at = datetime(2026, 6, 10, 1, 0, tzinfo=timezone.utc)
    since = cap_window_start(at, {"max_messages": 1, "per_days": 7})
    assert since == "2026-06-03T01:00:00Z"
    assert cap_window_start(at, None) is None
    assert marketing_sends_since(["2026-06-03T01:00:00Z", "2026-06-03T01:00:01Z", "2026-06-09T00:00:00Z"], since) == 2


@given(st.booleans(), st.booleans(), st.sampled_from(["email", "sms"]), st.integers(0, 5))
def test_no_marketing_send_passes_without_consent(consent_email, consent_sms, channel, recent):
    person = Person("p", email="p@example.com", phone="+61400000009", consent_email=consent_email,
                    consent_sms=consent_sms)
    if check(person, channel, recent=recent, cap={"max_messages": 3, "per_days": 1}) is None:
        assert person.consents_to(channel)


@pytest.mark.parametrize("first, last, name", [("Ada", "Lovelace", "Ada Lovelace"), ("Ada", None, "Ada"),
                                               (None, None, "p1")])
def test_a_persons_name_falls_back_to_the_customer_id(first, last, name):
    assert Person("p1", first_name=first, last_name=last).name == name


def test_an_erased_address_hash_is_keyed_per_store_and_ignores_the_emails_letter_case():
    from chalicelib.rules.checks import hashed_suppression_key

    key = b"k" * 32
    one = hashed_suppression_key(key, "store-a", "email", "Ada@Example.com")
    assert one == hashed_suppression_key(key, "store-a", "email", "ada@example.com")
    assert one.startswith("email:#") and "ada" not in one.lower()
    assert one != hashed_suppression_key(key, "store-b", "email", "ada@example.com")       # per store
    assert one != hashed_suppression_key(b"j" * 32, "store-a", "email", "ada@example.com")  # keyed
    assert hashed_suppression_key(key, "store-a", "sms", "+61400000001").startswith("sms:#")

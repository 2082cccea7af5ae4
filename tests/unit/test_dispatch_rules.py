"""The dispatcher's pure rules: quiet hours, check 2, messages, retries, provider errors, MIME, feedback."""
from __future__ import annotations

import email
from datetime import datetime, timezone
from email.policy import default

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.adapters.providers import (
    Email,
    PermanentProviderError,
    TransientProviderError,
    _translate,
    from_tag_value,
    mime_message,
    tag_value,
)
from chalicelib.core.calendar import quiet_until
from chalicelib.core.values import AppointmentFact, Person, RepairFact
from chalicelib.rules import checks
from chalicelib.runner.feedback import addresses_to_suppress
from chalicelib.sending import content
from chalicelib.sending.dispatcher import MAX_DELAY_SECONDS, retry_delay
from chalicelib.sending.messages import PACK, MalformedMessage, Send, pack, parse, unpack
from chalicelib.sending.sources import automation as automation_source

UTC = timezone.utc
SYD = "Australia/Sydney"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- quiet hours (check 7) --------------------------------------------------------------------------

@pytest.mark.parametrize("local, expected_end", [
    ("2026-11-23T21:00:00+11:00", "2026-11-24T09:00:00+11:00"),   # the first minute of the window
    ("2026-11-23T23:30:00+11:00", "2026-11-24T09:00:00+11:00"),
    ("2026-11-24T03:00:00+11:00", "2026-11-24T09:00:00+11:00"),   # after midnight: ends the same morning
    ("2026-11-24T08:59:59+11:00", "2026-11-24T09:00:00+11:00"),
])
def test_a_time_inside_quiet_hours_is_deferred_to_the_windows_end(local, expected_end):
    assert quiet_until(at(local), SYD, "21:00", "09:00") == at(expected_end)


@pytest.mark.parametrize("local", ["2026-11-24T09:00:00+11:00", "2026-11-24T14:00:00+11:00",
                                   "2026-11-24T20:59:59+11:00"])
def test_a_time_outside_quiet_hours_is_not_deferred(local):
    assert quiet_until(at(local), SYD, "21:00", "09:00") is None


def test_a_window_within_one_day_and_an_empty_window():
    assert quiet_until(at("2026-11-24T13:30:00+11:00"), SYD, "12:00", "14:00") == at("2026-11-24T14:00:00+11:00")
    assert quiet_until(at("2026-11-24T14:30:00+11:00"), SYD, "12:00", "14:00") is None
    assert quiet_until(at("2026-11-24T14:30:00+11:00"), SYD, "09:00", "09:00") is None


def test_quiet_hours_ending_on_a_daylight_saving_night_end_at_the_local_time():
    # Sydney moves to AEDT at 02:00 on 2026-10-04: 09:00 that morning is +11:00.
    assert quiet_until(at("2026-10-03T22:00:00+10:00"), SYD, "21:00", "09:00") == at("2026-10-04T09:00:00+11:00")


def test_only_marketing_sms_waits_for_quiet_hours():
    night = at("2026-11-23T23:00:00+11:00")
    quiet = {"start": "21:00", "end": "09:00"}
    assert checks.quiet_hours_end("sms", "marketing", night, SYD, quiet) == at("2026-11-24T09:00:00+11:00")
    assert checks.quiet_hours_end("email", "marketing", night, SYD, quiet) is None
    assert checks.quiet_hours_end("sms", "transactional", night, SYD, quiet) is None


# --- check 2 ----------------------------------------------------------------------------------------

PERSON = Person("c1", birthday="1990-06-10", last_activity_at="2026-03-10T02:00:00Z")


def test_a_deleted_customer_is_no_longer_eligible():
    assert not checks.still_eligible({}, None, None, None, SYD)
    assert checks.still_eligible({}, None, None, PERSON, SYD)


def test_a_collected_or_deleted_repair_is_no_longer_eligible():
    ready = RepairFact("r1", "c1", "ready", "2026-06-07T00:00:00Z", "2026-05-01T00:00:00Z")
    collected = RepairFact("r1", "c1", "collected", "2026-06-07T00:00:00Z", "2026-05-01T00:00:00Z")
    assert checks.still_eligible({}, "repair", ready, PERSON, SYD)
    assert not checks.still_eligible({}, "repair", collected, PERSON, SYD)
    assert not checks.still_eligible({}, "repair", None, PERSON, SYD)


def test_a_cancelled_or_moved_appointment_is_no_longer_eligible():
    trigger = {"starts_at": "2026-06-11T00:00:00Z"}
    booked = AppointmentFact("a1", "c1", "2026-06-11T00:00:00Z", "booked")
    assert checks.still_eligible(trigger, "appointment", booked, PERSON, SYD)
    assert not checks.still_eligible(trigger, "appointment", AppointmentFact("a1", "c1", "2026-06-11T00:00:00Z",
                                                                             "cancelled"), PERSON, SYD)
    assert not checks.still_eligible(trigger, "appointment", AppointmentFact("a1", "c1", "2026-06-12T00:00:00Z",
                                                                             "booked"), PERSON, SYD)


def test_newer_activity_ends_a_lapse_and_a_changed_birthday_ends_a_birthday():
    assert checks.still_eligible({"last_activity_on": "2026-03-10"}, None, None, PERSON, SYD)
    active = Person("c1", last_activity_at="2026-06-01T02:00:00Z")
    assert not checks.still_eligible({"last_activity_on": "2026-03-10"}, None, None, active, SYD)
    assert checks.still_eligible({"birthday": "06-10"}, None, None, PERSON, SYD)
    assert not checks.still_eligible({"birthday": "06-11"}, None, None, PERSON, SYD)
    assert not checks.still_eligible({"birthday": "06-10"}, None, None, Person("c1"), SYD)


# --- messages ---------------------------------------------------------------------------------------

SEND = Send("t1", "c1", "repair_ready_reminder", "repair_ready_reminder", "repair:r1", "sms", day="2026-06-10",
            trigger={"x": "y"}, subject_kind="repair", subject_id="r1")


def test_a_send_survives_the_queue_unchanged():
    assert parse(SEND.to_body()) == SEND
    assert parse(SEND.retried().to_body()).attempt == 1
    assert parse(SEND.release().to_body()).released is True


@pytest.mark.parametrize("body", [
    "not json", "[]", '{"v": 2}', SEND.to_body().replace('"channel":"sms"', '"channel":"fax"'),
    SEND.to_body().replace('"tenant_id":"t1"', '"tenant_id":""'),
    SEND.to_body().replace('"day":"2026-06-10"', '"day":"yesterday"'),
    SEND.to_body().replace('"attempt":0', '"attempt":-1'),
    SEND.to_body().replace('"subject_kind":"repair"', '"subject_kind":"boat"'),
    SEND.to_body().replace('{"x":"y"}', '{"x":1}'),
])
def test_a_message_that_is_not_a_send_is_malformed(body):
    with pytest.raises(MalformedMessage):
        parse(body)


@pytest.mark.parametrize("body", [
    "not json", '{"v": 1, "sends": []}', '{"v": 1, "sends": {}}', '{"v": 2, "sends": [1]}',
    '{"v": 1, "sends": [' + ",".join([SEND.to_body()] * (PACK + 1)) + "]}",
    '{"v": 1, "sends": [' + SEND.to_body() + ', {"v": 1, "tenant_id": "t1"}]}',
])
def test_a_pack_with_any_unreadable_send_is_malformed(body):
    with pytest.raises(MalformedMessage):
        unpack(body)


def _sends(customers: int, channels=("email", "sms")) -> list[Send]:
    return [Send("t1", f"c{n}", "christmas", "christmas", "christmas:2026", channel)
            for n in range(customers) for channel in channels]


@given(st.integers(min_value=0, max_value=60), st.sampled_from([("email",), ("email", "sms")]))
def test_packs_carry_every_send_once_in_order_and_keep_a_customers_sends_together(customers, channels):
    sends = _sends(customers, channels)
    bodies = pack(sends)
    unpacked = [unpack(body) for body in bodies]
    assert [s for p in unpacked for s in p] == sends
    assert all(1 <= len(p) <= PACK for p in unpacked)
    assert len(bodies) == -(-customers // (PACK // len(channels)))   # full packs of whole customers
    placed = {}
    for i, p in enumerate(unpacked):
        for s in p:
            placed.setdefault(s.customer_id, set()).add(i)
    assert all(len(where) == 1 for where in placed.values())


def test_a_pack_of_one_is_a_plain_send_and_a_plain_send_unpacks_to_one():
    assert pack([SEND]) == [SEND.to_body()]
    assert unpack(SEND.to_body()) == [SEND]
    many = [Send("t1", "vip", "christmas", "christmas", f"christmas:{y}", "email") for y in range(2000, 2000 + PACK + 3)]
    assert [len(unpack(body)) for body in pack(many)] == [PACK, 3]


def test_ledger_keys_name_every_part_of_a_send():
    assert SEND.ledger_key == "t1|c1|repair_ready_reminder|repair:r1|sms"
    assert Send("t1", "c1", "birthday", "birthday", "birthday:2026", "email").ledger_key != \
        Send("t1", "c1", "birthday", "birthday", "birthday:2026", "sms").ledger_key


# --- retries ----------------------------------------------------------------------------------------

@given(st.integers(min_value=0, max_value=40), st.floats(min_value=0, max_value=1))
def test_retry_delays_grow_and_stay_within_what_sqs_allows(attempt, jitter):
    delay = retry_delay(attempt, lambda: jitter)
    assert 1 <= delay <= MAX_DELAY_SECONDS
    assert retry_delay(attempt + 1, lambda: 1.0) >= retry_delay(attempt, lambda: 1.0)


# --- providers --------------------------------------------------------------------------------------

def _client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "SendRawEmail")


@pytest.mark.parametrize("code, status", [("Throttling", 400), ("ThrottlingException", 400),
                                          ("ServiceUnavailable", 503), ("Whatever", 500)])
def test_throttling_and_server_errors_are_transient(code, status):
    error = _translate(_client_error(code, status))
    assert isinstance(error, TransientProviderError) and not error.ambiguous


@pytest.mark.parametrize("code", ["MessageRejected", "MailFromDomainNotVerifiedException", "InvalidParameterValue"])
def test_rejections_are_permanent(code):
    assert isinstance(_translate(_client_error(code)), PermanentProviderError)


def test_a_lost_connection_is_transient_and_a_lost_answer_is_also_ambiguous():
    assert not _translate(EndpointConnectionError(endpoint_url="https://x")).ambiguous
    assert _translate(ReadTimeoutError(endpoint_url="https://x")).ambiguous


@given(st.text(alphabet="abcXYZ019_.:-", min_size=1, max_size=64))
def test_tag_values_use_only_what_ses_allows_and_read_back(text):
    value = tag_value(text)
    assert all(ch.isalnum() or ch in "_-" for ch in value)
    assert from_tag_value(value) == text


def test_marketing_mail_carries_the_one_click_unsubscribe_headers_and_both_parts():
    raw = mime_message(Email(sender="hello@store.example", sender_name="The Store", to="ava@example.com",
                             subject="Hi", text="plain", html="<p>rich</p>",
                             reply_to="studio@store.example", unsubscribe_url="https://api.example/unsubscribe/tok"))
    message = email.message_from_bytes(raw, policy=default)
    assert message["List-Unsubscribe"] == "<https://api.example/unsubscribe/tok>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["From"] == "The Store <hello@store.example>" and message["Reply-To"] == "studio@store.example"
    assert message.get_body(("plain",)).get_content().strip() == "plain"
    assert message.get_body(("html",)).get_content().strip() == "<p>rich</p>"


def test_transactional_mail_has_no_unsubscribe_headers():
    raw = mime_message(Email(sender="hello@store.example", sender_name="", to="a@example.com", subject="s", text="t"))
    message = email.message_from_bytes(raw, policy=default)
    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None


# --- content ----------------------------------------------------------------------------------------

def test_times_are_shown_in_the_stores_time_zone():
    assert content.local_moment("2026-06-11T04:30:00Z", SYD) == "Thursday 11 June, 2:30 pm"
    assert content.local_moment("2026-06-10T14:05:00Z", SYD) == "Thursday 11 June, 12:05 am"
    assert content.local_day("2026-06-09T15:00:00Z", SYD) == "10 June 2026"


def test_discount_codes_differ_per_send_and_repeat_on_its_retries():
    a = Send("t1", "c1", "birthday", "birthday", "birthday:2026", "email")
    b = Send("t1", "c2", "birthday", "birthday", "birthday:2026", "email")
    assert automation_source.discount_code(a) != automation_source.discount_code(b)
    assert automation_source.discount_code(a) == automation_source.discount_code(a.retried())


# --- feedback ---------------------------------------------------------------------------------------

def _notification(kind: str, **body) -> dict:
    return {"eventType": kind, "mail": {"tags": {"tenant_id": [tag_value("shop.one")]}}, **body}


def test_a_hard_bounce_suppresses_the_bounced_addresses_of_the_tagged_tenant():
    tenant, addresses, reason = addresses_to_suppress(_notification("Bounce", bounce={
        "bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "Ava <Ava@Example.com>"}]}))
    assert (tenant, addresses, reason) == ("shop.one", ["Ava@Example.com"], "hard_bounce")


def test_a_complaint_suppresses_and_a_soft_bounce_or_delivery_does_not():
    assert addresses_to_suppress(_notification("Complaint", complaint={
        "complainedRecipients": [{"emailAddress": "b@example.com"}]}))[1:] == (["b@example.com"], "complaint")
    assert addresses_to_suppress(_notification("Bounce", bounce={
        "bounceType": "Transient", "bouncedRecipients": [{"emailAddress": "c@example.com"}]}))[1] == []
    assert addresses_to_suppress(_notification("Delivery"))[1] == []

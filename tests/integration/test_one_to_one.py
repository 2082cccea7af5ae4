"""`POST /customers/{id}/messages` (clienteling section 13): a 1:1 email sent in the request, through the send
ledger, once per Idempotency-Key; its answers and records."""
from __future__ import annotations

import uuid

import pytest

from tests.integration.conftest import STORE, history


def _customer(api, **fields):
    customer_id = f"c-{uuid.uuid4().hex[:8]}"
    body = {"first_name": "Ada", "email": f"{customer_id}@customer.example", **fields}
    assert api.put(f"/customers/{customer_id}", body).status in (200, 201)
    return customer_id


def _raw_mails_to(to: str) -> list[str]:
    from moto.backends import get_backend

    return [m.raw_data for m in get_backend("ses")["123456789012"]["us-east-1"].sent_messages
            if f"To: {to}" in getattr(m, "raw_data", "")]


def test_a_message_ses_accepts_is_201_with_its_record_and_the_provider_message_id(shop, tenant):
    customer_id = _customer(shop)
    response = shop.post(f"/customers/{customer_id}/messages",
                         {"subject": "Your ring is ready", "body": "Dear Ada,\n\nYour <ring> is ready.\nJo"})
    assert response.status == 201, response
    record = response.json["record"]
    assert record["status"] == "sent" and record["provider_message_id"]
    assert record["source"] == "one_to_one" and not record.get("automation_id")
    assert record["sent_by"] == f"{tenant}:owner"
    assert record["body"] == "Dear Ada,\n\nYour <ring> is ready.\nJo"
    assert response.json["recent_messages"] == 1
    assert [r["communication_id"] for r in history(shop, customer_id)] == [record["communication_id"]]
    (raw,) = _raw_mails_to(f"{customer_id}@customer.example")
    assert "Your &lt;ring&gt; is ready.<br>" in raw and "Your <ring> is ready." in raw


def test_the_same_idempotency_key_twice_sends_once_and_answers_the_same_record(shop):
    customer_id = _customer(shop)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = shop.post(f"/customers/{customer_id}/messages", {"subject": "Hi", "body": "One"}, headers=key)
    again = shop.post(f"/customers/{customer_id}/messages", {"subject": "Hi", "body": "One"}, headers=key)
    assert (first.status, again.status) == (201, 201)
    assert again.json["record"] == first.json["record"]
    assert len(_raw_mails_to(f"{customer_id}@customer.example")) == 1
    assert len(history(shop, customer_id)) == 1


def test_without_a_key_each_post_is_a_new_message_and_the_recent_count_grows(shop):
    customer_id = _customer(shop)
    counts = [shop.post(f"/customers/{customer_id}/messages", {"subject": "Hi", "body": str(n)}).json[
        "recent_messages"] for n in range(3)]
    assert counts == [1, 2, 3]
    assert len(_raw_mails_to(f"{customer_id}@customer.example")) == 3
    status = shop.get(f"/customers/{customer_id}/messages").json
    assert status == {"recent_messages": 3, "recent_days": 7, "confirm_from": 3}


def test_a_message_needs_no_consent(shop):
    customer_id = _customer(shop, consent={"email": False, "sms": False})
    assert shop.post(f"/customers/{customer_id}/messages", {"subject": "Hi", "body": "x"}).status == 201


def test_an_unverified_sender_is_502_with_a_failed_sender_not_verified_record(shop, tenant):
    assert shop.patch("/settings", {"sender_email": f"hello@{tenant}.unverified.example"}).status == 200
    customer_id = _customer(shop)
    response = shop.post(f"/customers/{customer_id}/messages", {"subject": "Hi", "body": "x"})
    assert response.status == 502, response
    assert response.json["error"]["reason"] == "sender_not_verified"
    assert response.json["error"]["provider_code"] == "MessageRejected"
    record = response.json["record"]
    assert (record["status"], record["reason"]) == ("failed", "sender_not_verified")
    assert not record.get("provider_message_id")
    assert [r["status"] for r in history(shop, customer_id)] == ["failed"]
    assert _raw_mails_to(f"{customer_id}@customer.example") == []


def test_a_provider_refusal_of_a_verified_sender_is_a_generic_provider_error(shop, tenant):
    from datetime import datetime, timezone

    from chalicelib.adapters.models import Customer
    from chalicelib.adapters.providers import PermanentProviderError
    from chalicelib.adapters.tenants import load
    from chalicelib.sending.sources import one_to_one

    class Refusing:
        def send(self, email):
            raise PermanentProviderError("MessageRejected")

    customer_id = _customer(shop)
    send = one_to_one.send_of(tenant, customer_id, None, "2026-01-01")
    outcome = one_to_one.deliver(send, Customer.get(tenant, customer_id), "Hi", "x", "u1", load(tenant), Refusing(),
                                 datetime.now(timezone.utc))
    assert (outcome.status, outcome.reason, outcome.record.status) == ("failed", "provider_error", "failed")
    assert [(r["status"], r["reason"]) for r in history(shop, customer_id)] == [("failed", "provider_error")]


def test_a_suppressed_address_is_409_with_a_skipped_record_and_no_mail(shop, tenant):
    from datetime import datetime, timezone

    from chalicelib.sending.stores import suppress

    customer_id = _customer(shop)
    suppress(tenant, "email", f"{customer_id}@customer.example", "bounce", datetime.now(timezone.utc))
    response = shop.post(f"/customers/{customer_id}/messages", {"subject": "Hi", "body": "x"})
    assert response.status == 409, response
    assert (response.json["record"]["status"], response.json["record"]["reason"]) == ("skipped", "suppressed")
    assert _raw_mails_to(f"{customer_id}@customer.example") == []


def test_a_customer_without_email_is_409_naming_email_with_a_skipped_record(shop):
    customer_id = _customer(shop, email=None, phone="+61412345678")
    response = shop.post(f"/customers/{customer_id}/messages", {"subject": "Hi", "body": "x"})
    assert (response.status, response.error_field) == (409, "email"), response
    assert response.json["record"]["reason"] == "missing_contact"


@pytest.mark.parametrize("body,field", [
    ({"body": "x"}, "subject"),
    ({"subject": "Hi"}, "body"),
    ({"subject": "", "body": "x"}, "subject"),
    ({"subject": "Hi\nBcc: x@y.example", "body": "x"}, "subject"),
    ({"subject": "Hi", "body": ""}, "body"),
    ({"subject": "Hi", "body": 7}, "body"),
    ({"subject": "Hi", "body": "x", "cc": "a@b.example"}, "cc"),
])
def test_invalid_messages_are_400s_naming_the_field_and_send_nothing(shop, body, field):
    customer_id = _customer(shop)
    response = shop.post(f"/customers/{customer_id}/messages", body)
    assert (response.status, response.error_field) == (400, field), response
    assert history(shop, customer_id) == [] and _raw_mails_to(f"{customer_id}@customer.example") == []


def test_a_malformed_idempotency_key_is_a_400_naming_the_header(shop):
    customer_id = _customer(shop)
    response = shop.post(f"/customers/{customer_id}/messages", {"subject": "Hi", "body": "x"},
                         headers={"Idempotency-Key": "x" * 201})
    assert (response.status, response.error_field) == (400, "Idempotency-Key")
    assert history(shop, customer_id) == []


@pytest.mark.parametrize("role", ["manager", "salesperson", "workshop"])
def test_staff_but_the_accountant_may_send_and_the_record_names_who(client_for, shop, tenant, role):
    customer_id = _customer(shop)
    response = client_for(tenant, role).post(f"/customers/{customer_id}/messages", {"subject": "Hi", "body": "x"})
    assert response.status == 201, response
    assert response.json["record"]["sent_by"] == f"{tenant}:{role}"


def test_the_accountant_may_not_send(client_for, shop, tenant):
    customer_id = _customer(shop)
    response = client_for(tenant, "accountant").post(f"/customers/{customer_id}/messages",
                                                     {"subject": "Hi", "body": "x"})
    assert response.status == 403
    assert history(shop, customer_id) == []


def test_another_stores_customer_is_404(client_for, shop):
    customer_id = _customer(shop)
    other = client_for(f"t-{uuid.uuid4().hex[:12]}", "owner")
    other.patch("/settings", STORE)
    assert other.post(f"/customers/{customer_id}/messages", {"subject": "Hi", "body": "x"}).status == 404
    assert other.get(f"/customers/{customer_id}/messages").status == 404
    assert history(shop, customer_id) == []


def test_a_retry_after_ses_accepted_but_the_record_was_not_written_records_it_without_sending(shop, tenant,
                                                                                            monkeypatch):
    from chalicelib.sending import ledger

    customer_id = _customer(shop)
    real, calls = ledger.record_accepted, []

    def dies_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the request died after SES accepted the message")
        return real(*args, **kwargs)

    monkeypatch.setattr(ledger, "record_accepted", dies_once)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    assert shop.post(f"/customers/{customer_id}/messages", {"subject": "Hi", "body": "x"}, headers=key).status == 500
    assert history(shop, customer_id) == []
    again = shop.post(f"/customers/{customer_id}/messages", {"subject": "Hi", "body": "x"}, headers=key)
    assert again.status == 201, again
    assert again.json["record"]["provider_message_id"]
    assert len(_raw_mails_to(f"{customer_id}@customer.example")) == 1
    assert [r["status"] for r in history(shop, customer_id)] == ["sent"]


def test_a_transient_provider_error_is_503_records_nothing_and_the_same_key_sends_later(shop, tenant, monkeypatch):
    from chalicelib.adapters.providers import TransientProviderError
    from chalicelib.api import messages as route

    customer_id = _customer(shop)
    real = route.email_sender

    class Throttled:
        def send(self, email):
            raise TransientProviderError("Throttling")

    monkeypatch.setattr(route, "email_sender", Throttled)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = shop.post(f"/customers/{customer_id}/messages", {"subject": "Hi", "body": "x"}, headers=key)
    assert (first.status, first.json["error"]["provider_code"]) == (503, "Throttling")
    assert history(shop, customer_id) == []
    monkeypatch.setattr(route, "email_sender", real)
    again = shop.post(f"/customers/{customer_id}/messages", {"subject": "Hi", "body": "x"}, headers=key)
    assert again.status == 201, again
    assert len(_raw_mails_to(f"{customer_id}@customer.example")) == 1


def test_the_dispatcher_records_a_refusal_of_an_unverified_sender_as_sender_not_verified(shop, tenant):
    from chalicelib.events.dispatch import dispatch_records
    from chalicelib.sending.messages import Send

    assert shop.patch("/settings", {"sender_email": f"hello@{tenant}.unverified.example"}).status == 200
    assert shop.patch("/automations/christmas", {"enabled": True}).status == 200
    customer_id = _customer(shop, consent={"email": True})
    send = Send(tenant_id=tenant, customer_id=customer_id, automation_type="christmas",
                automation_id="christmas", occurrence_key="manual:1", channel="email")
    result = dispatch_records([{"messageId": "m-1", "body": send.to_body(), "attributes": {}}])
    assert [(o.status, o.reason) for o in result.outcomes] == [("failed", "sender_not_verified")]
    assert [(r["status"], r["reason"]) for r in history(shop, customer_id)] == [("failed", "sender_not_verified")]


def test_a_retry_while_the_first_request_holds_the_send_is_409_and_sends_nothing(shop, tenant):
    from datetime import datetime, timezone

    from chalicelib.sending import ledger
    from chalicelib.sending.sources import one_to_one

    customer_id = _customer(shop)
    key = uuid.uuid4().hex
    send = one_to_one.send_of(tenant, customer_id, key, "2026-01-01")
    ledger.claim(send, None, "first-request", datetime.now(timezone.utc), None)   # the first request, sending
    response = shop.post(f"/customers/{customer_id}/messages", {"subject": "Hi", "body": "x"},
                         headers={"Idempotency-Key": key})
    assert (response.status, response.error_field) == (409, "Idempotency-Key"), response
    assert response.json["record"] is None
    assert history(shop, customer_id) == [] and _raw_mails_to(f"{customer_id}@customer.example") == []

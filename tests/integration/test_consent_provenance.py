"""Consent per channel with its provenance (docs/behaviour.md section 7, "Consent"): who may record it, a PATCH
of one channel leaves the other, each channel keeps when, by whom and how, and a channel the customer withdrew
through an unsubscribe link is given again only with `consent_source`."""
from __future__ import annotations

import os

import pytest

from chalicelib.rules.auth import ROLES, issue_local_token
from tests.integration.conftest import Api

STAFF = [role for role in ROLES if role != "accountant"]


def as_user(gateway, tenant: str, role: str, subject: str) -> Api:
    return Api(gateway, issue_local_token(os.environ["LOCAL_JWT_SECRET"], tenant, role, subject=subject))


def unsubscribe(gateway, tenant: str, customer_id: str, channel: str) -> None:
    from chalicelib.sending.unsubscribe import token_for
    from local.api import handle

    status, _, _ = handle(gateway, "POST", f"/unsubscribe/{token_for(tenant, customer_id, channel)}",
                          {"content-type": "application/x-www-form-urlencoded"}, b"List-Unsubscribe=One-Click")
    assert status == 200


def test_a_patch_of_one_channels_consent_leaves_the_other_as_it_was(owner):
    assert owner.put("/customers/c1", {"first_name": "Ada", "consent": {"email": False, "sms": True}}).status == 200
    patched = owner.patch("/customers/c1", {"consent": {"email": True}})
    assert patched.status == 200, patched
    assert patched.json["consent"] == {"email": True, "sms": True}
    assert owner.get("/customers/c1").json["consent"] == {"email": True, "sms": True}
    # Only the channel that changed has a new provenance.
    assert set(patched.json["consent_channels"]) == {"email", "sms"}
    assert owner.patch("/customers/c1", {"consent": {"sms": False}}).json["consent"] == {"email": True, "sms": False}


def test_a_put_still_replaces_consent_whole(owner):
    owner.put("/customers/c1", {"first_name": "Ada", "consent": {"email": True, "sms": True}})
    replaced = owner.put("/customers/c1", {"first_name": "Ada", "consent": {"email": True}}).json
    assert replaced["consent"] == {"email": True, "sms": False}


def test_each_channel_keeps_when_by_whom_and_how_its_consent_last_changed(gateway, tenant):
    ana = as_user(gateway, tenant, "salesperson", "ana")
    ben = as_user(gateway, tenant, "workshop", "ben")
    first = ana.put("/customers/c1", {"first_name": "Ada", "consent": {"email": True},
                                      "consent_source": "in_store_form"}).json
    email = first["consent_channels"]["email"]
    assert (email["consent_updated_by"], email["consent_source"]) == ("ana", "in_store_form")
    assert "sms" not in first["consent_channels"]                  # never stated, never changed

    second = ben.patch("/customers/c1", {"consent": {"sms": True}, "consent_source": "phone_call"}).json
    assert second["consent_channels"]["email"] == email             # untouched by a change of SMS
    sms = second["consent_channels"]["sms"]
    assert (sms["consent_updated_by"], sms["consent_source"]) == ("ben", "phone_call")
    assert sms["consent_updated_at"] >= email["consent_updated_at"]
    assert (second["consent_updated_by"], second["consent_updated_at"]) == ("ben", sms["consent_updated_at"])

    # Writing the same consent again is no change: the provenance stays.
    again = ana.patch("/customers/c1", {"consent": {"sms": True}, "consent_source": "in_store_form"}).json
    assert again["consent_channels"]["sms"] == sms
    # A write that does not say how records `api` (an import: `import`).
    plain = ana.patch("/customers/c1", {"consent": {"email": False}}).json
    assert plain["consent_channels"]["email"]["consent_source"] == "api"
    imported = ana.put("/customers/c2", {"first_name": "Bo", "consent": {"email": True}, "source": "import"}).json
    assert imported["consent_channels"]["email"]["consent_source"] == "import"


def test_the_unsubscribe_link_records_its_source_and_giving_that_channel_again_needs_consent_source(owner, gateway, tenant):
    owner.put("/customers/c1", {"first_name": "Ada", "email": "ada@mail.example",
                                "consent": {"email": True, "sms": True}})
    unsubscribe(gateway, tenant, "c1", "email")
    record = owner.get("/customers/c1").json
    assert record["consent"] == {"email": False, "sms": True}
    assert record["consent_channels"]["email"]["consent_source"] == "unsubscribe_link"
    assert record["consent_channels"]["email"]["consent_updated_by"] == "unsubscribe_link"
    assert record["consent_channels"]["sms"]["consent_source"] == "api"   # the other channel: as it was

    salesperson = as_user(gateway, tenant, "salesperson", "ana")
    for method in ("patch", "put"):
        refused = getattr(salesperson, method)("/customers/c1", {"first_name": "Ada", "email": "ada@mail.example",
                                                                 "consent": {"email": True, "sms": True}})
        assert refused.status == 409, refused
        assert refused.error_field == "consent_source"
        assert owner.get("/customers/c1").json == record               # nothing changed
    # Other fields, and the other channel, stay writable without it.
    assert salesperson.patch("/customers/c1", {"consent": {"sms": False}}).status == 200
    assert salesperson.patch("/customers/c1", {"first_name": "Adah"}).status == 200

    given = salesperson.patch("/customers/c1", {"consent": {"email": True}, "consent_source": "in_store_form"})
    assert given.status == 200, given
    assert given.json["consent"]["email"] is True
    assert given.json["consent_channels"]["email"] == {
        "consent_updated_at": given.json["consent_channels"]["email"]["consent_updated_at"],
        "consent_updated_by": "ana", "consent_source": "in_store_form"}
    # Withdrawn by staff afterwards, it is given again without a source: only the customer's own link binds.
    salesperson.patch("/customers/c1", {"consent": {"email": False}})
    assert salesperson.patch("/customers/c1", {"consent": {"email": True}}).status == 200


def test_a_second_unsubscribe_changes_nothing_more(owner, gateway, tenant):
    owner.put("/customers/c1", {"first_name": "Ada", "consent": {"email": True}})
    unsubscribe(gateway, tenant, "c1", "email")
    once = owner.get("/customers/c1").json
    unsubscribe(gateway, tenant, "c1", "email")
    assert owner.get("/customers/c1").json == once


@pytest.mark.parametrize("body,field", [
    ({"consent": {"email": True}, "consent_source": ""}, "consent_source"),
    ({"consent": {"email": True}, "consent_source": "in\nstore"}, "consent_source"),
    ({"consent": {"email": True}, "consent_source": "x" * 65}, "consent_source"),
    ({"consent": {"email": True}, "consent_source": 3}, "consent_source"),
    ({"consent": {"email": True}, "consent_source": "unsubscribe_link"}, "consent_source"),
    ({"first_name": "Ada", "consent_source": "in_store_form"}, "consent_source"),
    ({"consent": {"email": "yes"}}, "consent.email"),
    ({"consent": {"post": True}}, "consent.post"),
])
def test_bad_consent_input_is_a_400_naming_the_field_and_changes_nothing(owner, body, field):
    owner.put("/customers/c1", {"first_name": "Ada", "consent": {"email": False, "sms": True}})
    before = owner.get("/customers/c1").json
    for method in ("patch", "put"):
        response = getattr(owner, method)("/customers/c1", body)
        assert response.status == 400, (method, response)
        assert response.error_field == field
        assert owner.get("/customers/c1").json == before


@pytest.mark.parametrize("role", ROLES)
def test_staff_but_the_accountant_record_consent(gateway, owner, tenant, role):
    owner.put("/customers/c1", {"first_name": "Ada"})
    response = as_user(gateway, tenant, role, f"{role}-1").patch(
        "/customers/c1", {"consent": {"email": True}, "consent_source": "in_store_form"})
    if role in STAFF:
        assert response.status == 200, response
        assert response.json["consent_channels"]["email"]["consent_updated_by"] == f"{role}-1"
    else:
        assert response.status == 403
        assert owner.get("/customers/c1").json.get("consent") is None


def test_another_stores_customer_is_404_and_untouched(client_for, owner, tenant):
    owner.put("/customers/c1", {"first_name": "Ada", "consent": {"email": False}})
    other = client_for(f"{tenant}-other", "owner")
    assert other.patch("/customers/c1", {"consent": {"email": True}, "consent_source": "in_store_form"}).status == 404
    assert owner.get("/customers/c1").json["consent"] == {"email": False, "sms": False}


def test_the_action_taken_test_run_reads_a_change_of_one_channel_as_a_patch_does(owner):
    owner.put("/customers/c1", {"first_name": "Ada", "phone": "+61412345678", "consent": {"sms": True}})
    welcome = owner.post("/action-automations", {"type": "email_add", "name": "Welcome",
                                                  "channels": ["email", "sms"]}).json["automation_id"]
    answer = owner.post("/action-automations/test-run", {
        "customer_id": "c1", "automation_id": welcome,
        "change": {"email": "ada@mail.example", "consent": {"email": True}, "consent_source": "in_store_form"}})
    assert answer.status == 200, answer
    emailed = [e for e in answer.json["events"] if e["event"] == "email_add"][0]
    assert emailed["skipped"] == {} and emailed["would_send"] == 2   # SMS consent kept, as PATCH keeps it


def test_a_withdrawal_recorded_before_consent_was_kept_per_channel_still_needs_a_source(owner, tenant):
    from chalicelib.adapters.models import Customer

    # As the unsubscribe link wrote it before `consent_channels`: only the customer-wide when and by whom.
    Customer(tenant, "old", first_name="Old", consent={"email": False, "sms": True}, created_at="2025-01-01T00:00:00Z",
             last_activity_at="2025-01-01T00:00:00Z", consent_updated_at="2025-06-01T00:00:00Z",
             consent_updated_by="unsubscribe_link").save()
    refused = owner.patch("/customers/old", {"consent": {"email": True}})
    assert refused.status == 409 and refused.error_field == "consent_source"
    given = owner.patch("/customers/old", {"consent": {"email": True}, "consent_source": "in_store_form"}).json
    assert given["consent"] == {"email": True, "sms": True}
    assert set(given["consent_channels"]) == {"email"}   # nothing invented about SMS

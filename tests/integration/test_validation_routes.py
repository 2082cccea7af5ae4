"""Every route's validation: a 400 naming the field, and nothing stored."""
from __future__ import annotations

import pytest

LONG = "x" * 5000

SETTINGS_CASES = [
    ({"send_hour": "10"}, "send_hour"),
    ({"send_hour": 24}, "send_hour"),
    ({"send_hour": True}, "send_hour"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"country": "Australia"}, "country"),
    ({"sender_email": "not-an-address"}, "sender_email"),
    ({"quiet_hours": {"start": "25:00", "end": "09:00"}}, "quiet_hours.start"),
    ({"quiet_hours": {"start": "21:00"}}, "quiet_hours.end"),
    ({"quiet_hours": {"start": "21:00", "end": "09:00", "days": 1}}, "quiet_hours.days"),
    ({"frequency_cap": {"max_messages": 0, "per_days": 7}}, "frequency_cap.max_messages"),
    ({"frequency_cap": {"max_messages": 2, "per_days": "7"}}, "frequency_cap.per_days"),
    ({"store_name": LONG}, "store_name"),
    ({"favourite_colour": "gold"}, "favourite_colour"),
    ({"sms_sender_id": "TooLongSender1"}, "sms_sender_id"),
]


@pytest.mark.parametrize("body,field", SETTINGS_CASES)
def test_bad_settings_are_rejected_naming_the_field_and_nothing_changes(owner, body, field):
    before = owner.get("/settings").json
    response = owner.patch("/settings", {"store_name": "Changed", **body})
    assert response.status == 400, response
    assert response.json["error"]["code"] == "validation_error"
    assert response.error_field == field
    assert owner.get("/settings").json == before


AUTOMATION_CASES = [
    ("birthday", {"settings": {"days_before": 2}}, "settings.days_before"),
    ("birthday", {"settings": {"days_before": "7"}}, "settings.days_before"),
    ("birthday", {"settings": {"include_discount_code": 1}}, "settings.include_discount_code"),
    ("birthday", {"settings": {"months_inactive": 3}}, "settings.months_inactive"),
    ("birthday", {"settings": "days_before=7"}, "settings"),
    ("birthday", {"enabled": "yes"}, "enabled"),
    ("birthday", {"enabled": None}, "enabled"),
    ("birthday", {"channels": ["fax"]}, "channels[0]"),
    ("birthday", {"channels": []}, "channels"),
    ("birthday", {"channels": ["email", "email"]}, "channels[1]"),
    ("birthday", {"template_id": "system:anniversary"}, "template_id"),
    ("birthday", {"colour": "blue"}, "colour"),
    ("repair_ready_reminder", {"settings": {"days_after": 4}}, "settings.days_after"),
    ("reengagement", {"settings": {"months_inactive": 9}}, "settings.months_inactive"),
    ("post_purchase", {"settings": {"request_review": "true"}}, "settings.request_review"),
    ("valentines", {"settings": {"days_before": 7}}, "settings.days_before"),
    ("appointment_1h", {"settings": {"minutes_before": 30}}, "settings.minutes_before"),
]


@pytest.mark.parametrize("type_,body,field", AUTOMATION_CASES)
def test_bad_automation_changes_are_rejected_and_nothing_is_stored(owner, type_, body, field):
    before = owner.get(f"/automations/{type_}").json
    response = owner.patch(f"/automations/{type_}", {"enabled": True, **body})
    assert response.status == 400, response
    assert response.error_field == field
    assert owner.get(f"/automations/{type_}").json == before


def test_unknown_automation_type_is_404(owner):
    response = owner.patch("/automations/black_friday", {"enabled": True})
    assert response.status == 404
    assert response.json["error"]["code"] == "not_found"


TEMPLATE = {"type": "birthday", "name": "Ours", "subject": "Hi {{ customer.first_name }}",
            "body_text": "Happy birthday", "sms_body": "Happy birthday"}
TEMPLATE_CASES = [
    ({"type": "black_friday"}, "type"),
    ({"subject": None}, "subject"),
    ({"name": ""}, "name"),
    ({"subject": "s" * 201}, "subject"),
    ({"sms_body": "s" * 1601}, "sms_body"),
    ({"body_text": "{% if %}"}, "body_text"),
    ({"body_text": "{{ customer.nickname }}"}, "body_text"),
    ({"body_text": "{{ repair.description }}"}, "body_text"),
    ({"body_html": 5}, "body_html"),
    ({"system": True}, "system"),
]


@pytest.mark.parametrize("change,field", TEMPLATE_CASES)
def test_bad_templates_are_rejected_and_not_stored(owner, change, field):
    response = owner.post("/templates", {**TEMPLATE, **change})
    assert response.status == 400, response
    assert response.error_field == field
    assert [t for t in owner.get("/templates").json["templates"] if not t["system"]] == []


CUSTOMER_CASES = [
    ({"email": "nobody@"}, "email"),
    ({"phone": "0412 345 678"}, "phone"),
    ({"birthday": "2023-02-29"}, "birthday"),
    ({"birthday": "29/02/2000"}, "birthday"),
    ({"anniversary": "--13-01"}, "anniversary"),
    ({"points_balance": -1}, "points_balance"),
    ({"points_balance": 1.5}, "points_balance"),
    ({"consent": {"email": "yes"}}, "consent.email"),
    ({"consent": {"post": True}}, "consent.post"),
    ({"tags": "vip"}, "tags"),
    ({"tags": ["vip", 3]}, "tags[1]"),
    ({"interests": ["x" * 51]}, "interests[0]"),
    ({"is_vip": "true"}, "is_vip"),
    ({"app_installed_at": "2026-01-01T10:00:00"}, "app_installed_at"),
    ({"created_at": "yesterday"}, "created_at"),
    ({"first_name": LONG}, "first_name"),
    ({"customer_id": "c1"}, "customer_id"),
]


@pytest.mark.parametrize("body,field", CUSTOMER_CASES)
def test_bad_customers_are_rejected_and_not_stored(owner, body, field):
    response = owner.put("/customers/c1", {"first_name": "Ada", **body})
    assert response.status == 400, response
    assert response.error_field == field
    assert owner.get("/customers/c1").status == 404


def test_bad_patch_leaves_the_customer_as_it_was(owner):
    owner.put("/customers/c1", {"first_name": "Ada", "email": "ada@example.com"})
    before = owner.get("/customers/c1").json
    response = owner.patch("/customers/c1", {"first_name": "Bea", "email": "broken"})
    assert response.status == 400 and response.error_field == "email"
    assert owner.get("/customers/c1").json == before


def test_an_id_that_is_not_well_formed_is_rejected(owner):
    response = owner.put("/customers/bad%20id", {"first_name": "Ada"})
    assert response.status == 400
    assert response.error_field == "id"


RECORD_CASES = [
    ("/sales/s1", "PUT", {"completed_at": "2026-05-01T10:00:00Z"}, "customer_id"),
    ("/sales/s1", "PUT", {"customer_id": "c1", "completed_at": "2026-05-01 10:00"}, "completed_at"),
    ("/sales/s1", "PUT", {"customer_id": "c1", "completed_at": "2026-05-01T10:00:00Z", "total": "12"}, "total"),
    ("/repairs/r1", "PUT", {"customer_id": "c1", "status": "done"}, "status"),
    ("/repairs/r1", "PUT", {"customer_id": "c1"}, "status"),
    ("/repairs/r1", "PUT", {"customer_id": "c1", "status": "ready", "ready_at": 5}, "ready_at"),
    ("/appointments/a1", "PUT", {"customer_id": "c1", "starts_at": "2026-05-01T10:00:00"}, "starts_at"),
    ("/appointments/a1", "PUT", {"customer_id": "c1", "starts_at": "2026-05-01T10:00:00Z",
                                 "status": "maybe"}, "status"),
    ("/appointments/a1", "PUT", {"customer_id": "c1", "starts_at": "2026-05-01T10:00:00Z",
                                 "purpose": LONG}, "purpose"),
]


@pytest.mark.parametrize("path,method,body,field", RECORD_CASES)
def test_bad_sales_repairs_and_appointments_are_rejected_and_not_stored(owner, path, method, body, field):
    owner.put("/customers/c1", {"first_name": "Ada"})
    response = owner.call(method, path, body)
    assert response.status == 400, response
    assert response.error_field == field
    assert owner.get(path).status == 404


@pytest.mark.parametrize("raw", [b"{bad", b"[1, 2]", b"\"text\"", b"", b"\xff\xfe", b"null"])
def test_malformed_bodies_are_a_400_naming_the_body(owner, raw):
    response = owner.call("PATCH", "/settings", raw=raw)
    assert response.status == 400, response
    assert response.error_field == "body"


def test_a_body_of_the_wrong_media_type_is_refused_in_the_api_error_shape(owner):
    response = owner.call("PATCH", "/settings", raw=b"a=b", headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status == 415
    assert response.json["error"]["code"] == "unsupported_media_type"


WRITE_ROUTES = [
    ("PATCH", "/settings", "/settings"), ("PATCH", "/automations/birthday", "/automations/birthday"),
    ("POST", "/templates", "/templates"), ("PUT", "/customers/c9", "/customers/c9"),
    ("PATCH", "/customers/c1", "/customers/c1"), ("PUT", "/sales/s9", "/sales/s9"), ("PUT", "/repairs/r9", "/repairs/r9"),
    ("PUT", "/appointments/a9", "/appointments/a9"), ("POST", "/templates/system:birthday/duplicate", "/templates"),
    ("POST", "/templates/system:birthday/preview", "/templates"),
]


@pytest.mark.parametrize("method,path,probe", WRITE_ROUTES)
@pytest.mark.parametrize("raw", [b"{\"first_name\": ", b"[{}]", b"42"])
def test_malformed_json_on_every_write_route_is_a_400_and_changes_nothing(owner, method, path, probe, raw):
    owner.put("/customers/c1", {"first_name": "Ada"})
    before = owner.get(probe)
    response = owner.call(method, path, raw=raw)
    assert response.status == 400, response
    assert response.error_field == "body"
    after = owner.get(probe)
    assert (after.status, after.json) == (before.status, before.json)


@pytest.mark.parametrize("path,body,field", [
    ("/repairs/r1", {"customer_id": "c1", "status": "intake", "description": LONG}, "description"),
    ("/sales/s1", {"customer_id": "c1", "completed_at": "2026-05-01T10:00:00Z", "total": 10**13}, "total"),
    ("/customers/c2", {"source": LONG}, "source"),
    ("/customers/c2", {"tags": [f"t{i}" for i in range(51)]}, "tags"),
])
def test_oversized_values_are_rejected_naming_the_field(owner, path, body, field):
    owner.put("/customers/c1", {"first_name": "Ada"})
    response = owner.put(path, body)
    assert response.status == 400, response
    assert response.error_field == field
    assert owner.get(path).status == 404

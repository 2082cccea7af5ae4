"""Every route's validation: a 400 naming the field, and nothing stored."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# --- control characters and a final line break --------------------------------------------------

#: Appended to a good value: each makes a single-line field invalid (a final line break used to pass `$`).
CONTROLS = ["\n", "\r\nBcc: x@y.example", "\x00", "\t", "\x1b[2J", "\x7f", "\x85", "\u2028"]

SETTINGS_LINES = {
    "store_name": "Opal & Co", "sender_email": "hello@store.example", "reply_to": "studio@store.example",
    "sms_sender_id": "OpalCo", "store_phone": "+61 2 9999 0000", "store_address": "1 George St, Sydney",
    "store_website": "https://opal.example", "special_offer": "10% off", "review_url": "https://opal.example/r",
    "country": "AU", "timezone": "Australia/Sydney",
}


@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("field", sorted(SETTINGS_LINES))
def test_a_control_character_in_a_setting_is_a_400_naming_it_and_nothing_changes(owner, field, control):
    before = owner.get("/settings").json
    response = owner.patch("/settings", {"store_name": "Changed", field: SETTINGS_LINES[field] + control})
    assert response.status == 400, response
    assert response.json["error"]["code"] == "validation_error"
    assert response.error_field == field
    assert owner.get("/settings").json == before


def test_a_control_character_in_the_quiet_hours_is_a_400_naming_the_part(owner):
    response = owner.patch("/settings", {"quiet_hours": {"start": "21:00\n", "end": "09:00"}})
    assert response.status == 400 and response.error_field == "quiet_hours.start"


CUSTOMER_LINES = [
    ("first_name", "Ada", "first_name"), ("last_name", "Lovelace", "last_name"),
    ("email", "ada@example.com", "email"), ("phone", "+61400000777", "phone"), ("source", "pos", "source"),
    ("tags", ["vip"], "tags[0]"), ("interests", ["rings"], "interests[0]"), ("birthday", "1990-05-01", "birthday"),
    ("anniversary", "--06-12", "anniversary"), ("created_at", "2026-01-01T10:00:00Z", "created_at"),
    ("app_installed_at", "2026-01-01T10:00:00+10:00", "app_installed_at"),
]


def _with(value, control):
    return [value[0] + control] if isinstance(value, list) else value + control


@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("name,value,field", CUSTOMER_LINES)
def test_a_control_character_in_a_customer_field_is_a_400_naming_it_and_nothing_is_stored(owner, name, value, field,
                                                                                       control):
    response = owner.put("/customers/c1", {"first_name": "Ada", name: _with(value, control)})
    assert response.status == 400, response
    assert response.error_field == field
    assert owner.get("/customers/c1").status == 404


def test_a_phone_with_a_final_line_break_is_refused_on_put_and_patch(owner):
    response = owner.put("/customers/c1", {"first_name": "Ada", "phone": "+61400000777\n"})
    assert response.status == 400 and response.error_field == "phone"
    assert owner.get("/customers/c1").status == 404
    owner.put("/customers/c1", {"first_name": "Ada", "phone": "+61400000777"})
    before = owner.get("/customers/c1").json
    response = owner.patch("/customers/c1", {"phone": "+61400000777\n"})
    assert response.status == 400 and response.error_field == "phone"
    assert owner.get("/customers/c1").json == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.text(max_size=10), bad=st.characters(max_codepoint=0x1F) | st.characters(min_codepoint=0x7F,
                                                                                          max_codepoint=0x9F),
       after=st.text(max_size=10), name=st.sampled_from(["first_name", "last_name", "source"]))
def test_any_c0_or_c1_control_character_in_a_name_is_refused_and_the_customer_is_unchanged(owner, before, bad, after,
                                                                                           name):
    owner.put("/customers/c1", {"first_name": "Ada", "source": "pos"})
    stored = owner.get("/customers/c1").json
    response = owner.patch("/customers/c1", {name: before + bad + after})
    assert response.status == 400, response
    assert response.error_field == name
    assert owner.get("/customers/c1").json == stored


RECORD_LINES = [
    ("/sales/s1", {"customer_id": "c1", "completed_at": "2026-05-01T10:00:00Z"}, "customer_id"),
    ("/sales/s1", {"customer_id": "c1", "completed_at": "2026-05-01T10:00:00Z"}, "completed_at"),
    ("/repairs/r1", {"customer_id": "c1", "status": "intake", "description": "Resize ring"}, "description"),
    ("/repairs/r1", {"customer_id": "c1", "status": "intake", "description": "Resize ring"}, "customer_id"),
    ("/appointments/a1", {"customer_id": "c1", "starts_at": "2026-05-01T10:00:00Z", "purpose": "Fitting"}, "purpose"),
    ("/appointments/a1", {"customer_id": "c1", "starts_at": "2026-05-01T10:00:00Z", "purpose": "Fitting"},
     "starts_at"),
]


@pytest.mark.parametrize("control", ["\n", "\r\nBcc: x@y.example", "\x00"])
@pytest.mark.parametrize("path,body,field", RECORD_LINES)
def test_a_control_character_in_a_sale_repair_or_appointment_is_a_400_and_nothing_is_stored(owner, path, body, field,
                                                                                            control):
    owner.put("/customers/c1", {"first_name": "Ada"})
    response = owner.put(path, {**body, field: body[field] + control})
    assert response.status == 400, response
    assert response.error_field == field
    assert owner.get(path).status == 404


@pytest.mark.parametrize("path,body", [
    ("/customers/c1%0A", {"first_name": "Ada"}), ("/customers/c1%00", {"first_name": "Ada"}),
    ("/sales/s1%0D%0A", {"customer_id": "c1", "completed_at": "2026-05-01T10:00:00Z"}),
    ("/repairs/r1%09", {"customer_id": "c1", "status": "intake"}),
    ("/appointments/a1%0A", {"customer_id": "c1", "starts_at": "2026-05-01T10:00:00Z"}),
])
def test_an_id_in_the_path_with_a_control_character_is_refused(owner, path, body):
    owner.put("/customers/c1", {"first_name": "Ada"})
    response = owner.put(path, body)
    assert response.status == 400, response
    assert response.error_field == "id"


@pytest.mark.parametrize("control", ["\n", "\r\nBcc: x@y.example", "\x00", "\u2028"])
@pytest.mark.parametrize("field", ["name", "subject"])
def test_a_control_character_in_a_template_name_or_subject_is_refused_and_nothing_is_stored(owner, field, control):
    response = owner.post("/templates", {**TEMPLATE, field: TEMPLATE[field] + control})
    assert response.status == 400, response
    assert response.error_field == field
    assert [t for t in owner.get("/templates").json["templates"] if not t["system"]] == []


@pytest.mark.parametrize("control", ["\x00", "\x1b", "\x7f", "\x0b", "\x85"])
@pytest.mark.parametrize("field", ["body_text", "body_html", "sms_body"])
def test_a_template_body_refuses_control_characters_other_than_tab_and_line_breaks(owner, field, control):
    response = owner.post("/templates", {**TEMPLATE, field: f"Happy{control} birthday"})
    assert response.status == 400, response
    assert response.error_field == field
    assert [t for t in owner.get("/templates").json["templates"] if not t["system"]] == []


def test_a_template_body_keeps_its_tabs_and_line_breaks(owner):
    body = {**TEMPLATE, "body_text": "Dear {{ customer.first_name }},\r\n\n\tHappy birthday\u2028from us",
            "body_html": "<p>Happy\n\tbirthday</p>\r\n", "sms_body": "Happy\nbirthday"}
    created = owner.post("/templates", body)
    assert created.status == 201, created
    assert {k: created.json[k] for k in ("body_text", "body_html", "sms_body")} == {
        k: body[k] for k in ("body_text", "body_html", "sms_body")}


def test_template_edits_duplicates_and_previews_refuse_a_line_break_in_a_single_line_field(owner):
    created = owner.post("/templates", TEMPLATE).json
    path = f"/templates/{created['template_id']}"
    for change, field in (({"subject": "Hi\r\nBcc: x@y.example"}, "subject"), ({"name": "Ours\n"}, "name")):
        response = owner.patch(path, change)
        assert response.status == 400 and response.error_field == field, response
    assert owner.get(path).json == created
    response = owner.post("/templates/system:birthday/duplicate", {"name": "Copy\n"})
    assert response.status == 400 and response.error_field == "name"
    assert [t["template_id"] for t in owner.get("/templates").json["templates"] if not t["system"]] == [
        created["template_id"]]
    response = owner.post("/templates/system:birthday/preview", {"subject": "Hi\n{{ customer.first_name }}"})
    assert response.status == 400 and response.error_field == "subject"
    response = owner.post("/templates/system:birthday/preview", {"customer_id": "c1\n"})
    assert response.status == 400 and response.error_field == "customer_id"


ACTION_LINES = [
    ({"name": "Welcome\n"}, "name"), ({"offer_text": "10% off\r\nBcc: x@y.example"}, "offer_text"),
    ({"offer_text": "10% off\x00"}, "offer_text"), ({"template_id": "system:email_add\n"}, "template_id"),
    ({"audience": {"tags_any": ["vip\n"]}}, "audience.tags_any[0]"),
    ({"audience": {"interests_any": ["rings\x00"]}}, "audience.interests_any[0]"),
]


@pytest.mark.parametrize("body,field", ACTION_LINES)
def test_a_control_character_in_an_action_automation_is_refused_on_create_and_patch(owner, body, field):
    response = owner.post("/action-automations", {"type": "email_add", **body})
    assert response.status == 400, response
    assert response.error_field == field
    assert owner.get("/action-automations").json["action_automations"] == []
    created = owner.post("/action-automations", {"type": "email_add", "name": "Welcome"}).json
    path = f"/action-automations/{created['automation_id']}"
    response = owner.patch(path, body)
    assert response.status == 400 and response.error_field == field, response
    assert owner.get(path).json == created


def test_a_control_character_in_an_automations_template_id_is_refused(owner):
    before = owner.get("/automations/birthday").json
    response = owner.patch("/automations/birthday", {"template_id": "system:birthday\n"})
    assert response.status == 400 and response.error_field == "template_id"
    assert owner.get("/automations/birthday").json == before


def test_a_test_run_refuses_a_control_character_in_the_proposed_change(owner):
    response = owner.post("/action-automations/test-run", {"customer_id": "c1", "change": {"first_name": "A\nB"}})
    assert response.status == 400 and response.error_field == "change.first_name"


# --- lone surrogates and deep JSON --------------------------------------------------------------

def test_a_lone_surrogate_in_a_field_is_a_400_naming_it_and_nothing_is_stored(owner):
    response = owner.put("/customers/c1", {"first_name": "\ud800"})  # sent as the JSON escape "\ud800"
    assert response.status == 400, response
    assert response.json["error"]["code"] == "validation_error"
    assert response.error_field == "first_name"
    assert "surrogate" in response.json["error"]["message"]
    assert owner.get("/customers/c1").status == 404


@pytest.mark.parametrize("raw", [b'{"first_name": "\\udfff"}', b'{"first_name": "\xed\xa0\x80"}',
                                 b'{"\\ud800": "x"}', b'{"tags": ["\\ud83d"]}'],
                         ids=["escaped", "utf8-encoded", "in-a-name", "in-a-list"])
@pytest.mark.parametrize("method,path,probe", WRITE_ROUTES)
def test_a_lone_surrogate_on_every_write_route_is_a_400_and_changes_nothing(owner, method, path, probe, raw):
    owner.put("/customers/c1", {"first_name": "Ada"})
    before = owner.get(probe)
    response = owner.call(method, path, raw=raw)
    assert response.status == 400, response
    assert response.json["error"]["code"] == "validation_error"
    after = owner.get(probe)
    assert (after.status, after.json) == (before.status, before.json)


DEEP = {"lists": b"[" * 100_000 + b"]" * 100_000, "object-of-lists": b'{"tags":' + b"[" * 99_999 + b"]" * 99_999 + b"}",
        "objects": b'{"":' * 40_000 + b"1" + b"}" * 40_000, "just-too-deep": b'{"a":' * 33 + b"1" + b"}" * 33}


@pytest.mark.parametrize("shape", sorted(DEEP))
@pytest.mark.parametrize("method,path,probe", WRITE_ROUTES)
def test_json_nested_100000_deep_on_every_write_route_is_a_400_naming_the_body(owner, method, path, probe, shape):
    owner.put("/customers/c1", {"first_name": "Ada"})
    before = owner.get(probe)
    response = owner.call(method, path, raw=DEEP[shape])
    assert response.status == 400, response
    assert response.json["error"]["code"] == "validation_error"
    assert response.error_field == "body"
    assert "nested deeper" in response.json["error"]["message"]
    after = owner.get(probe)
    assert (after.status, after.json) == (before.status, before.json)


def test_a_lambda_event_whose_text_body_holds_a_lone_surrogate_is_a_400_not_a_500(tenant):
    # API Gateway hands the body to Lambda as text inside the event's JSON, where "\ud800" is a valid escape:
    # the request then holds a string Chalice cannot encode as UTF-8.
    from app import app

    event = {"resource": "/customers/{customer_id}", "path": "/customers/c1", "httpMethod": "PUT",
             "headers": {"content-type": "application/json"}, "multiValueQueryStringParameters": None,
             "pathParameters": {"customer_id": "c1"}, "stageVariables": None, "isBase64Encoded": False,
             "body": '{"first_name": "Ada \ud800"}',
             "requestContext": {"httpMethod": "PUT", "resourcePath": "/customers/{customer_id}",
                                "authorizer": {"tenant_id": tenant, "role": "owner", "principalId": "owner-1"}}}
    response = app(event, None)
    assert response["statusCode"] == 400, response
    assert json.loads(response["body"])["error"]["field"] == "body"

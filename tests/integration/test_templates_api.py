"""Templates through the API: system templates, duplicates, edits, bindings, previews, and the sandbox at save."""
from __future__ import annotations

import time
from datetime import datetime

import pytest

from chalicelib.core import catalog
from chalicelib.rules.auth import ROLES
from tests.integration.conftest import history

OURS = {"type": "birthday", "name": "Ours", "subject": "Happy birthday {{ customer.first_name }}",
        "body_text": "Dear {{ customer.full_name }}{% if discount_code %}, use {{ discount_code }}{% endif %}",
        "sms_body": "Happy birthday from {{ store.name }}"}


def test_every_type_has_a_system_template_listed_by_type(owner):
    for type_ in catalog.TEMPLATE_TYPES:
        listed = owner.get(f"/templates?type={type_}").json["templates"]
        assert [t["template_id"] for t in listed if t["system"]] == [f"system:{type_}"]
        assert all(listed[0][part] for part in ("subject", "body_text", "sms_body"))
        assert listed[0]["html_mode"] == "auto" and listed[0]["body_html"] is None
    assert owner.get("/templates?type=nope").error_field == "type"


def test_system_templates_cannot_be_edited_or_deleted(owner):
    assert owner.patch("/templates/system:birthday", {"name": "Mine"}).status == 409
    assert owner.delete("/templates/system:birthday").status == 409
    assert owner.get("/templates/system:birthday").json["name"] == "Birthday Wishes"


def test_duplicate_edit_and_preview(owner):
    owner.patch("/settings", {"store_name": "Maison Test"})
    owner.put("/customers/c1", {"first_name": "Ada", "last_name": "King"})
    copy = owner.post("/templates/system:birthday/duplicate", {}).json
    assert copy["name"] == "Copy of Birthday Wishes" and copy["type"] == "birthday" and not copy["system"]
    edited = owner.patch(f"/templates/{copy['template_id']}", {"subject": "Many happy returns, {{ customer.first_name }}"})
    assert edited.status == 200
    preview = owner.post(f"/templates/{copy['template_id']}/preview", {"customer_id": "c1"}).json
    assert preview["subject"] == "Many happy returns, Ada"
    assert "Maison Test" in preview["body_text"]
    unsaved = owner.post(f"/templates/{copy['template_id']}/preview",
                         {"customer_id": "c1", "subject": "Draft for {{ customer.last_name }}"}).json
    assert unsaved["subject"] == "Draft for King"
    assert owner.get(f"/templates/{copy['template_id']}").json["subject"].startswith("Many happy returns")


def test_html_is_escaped_but_text_is_not(owner):
    owner.put("/customers/c1", {"first_name": "<b>Ada</b>"})
    tpl = owner.post("/templates", {**OURS, "body_html": "<p>{{ customer.first_name }}</p>"}).json
    preview = owner.post(f"/templates/{tpl['template_id']}/preview", {"customer_id": "c1"}).json
    assert preview["body_html"] == "<p>&lt;b&gt;Ada&lt;/b&gt;</p>"
    assert preview["subject"] == "Happy birthday <b>Ada</b>"


def test_binding_a_template_and_refusing_to_delete_it_while_bound(owner):
    tpl = owner.post("/templates", OURS).json
    bound = owner.patch("/automations/birthday", {"template_id": tpl["template_id"]}).json
    assert bound["template_id"] == bound["effective_template_id"] == tpl["template_id"]
    refused = owner.delete(f"/templates/{tpl['template_id']}")
    assert refused.status == 409 and "birthday" in refused.json["error"]["message"]
    unbound = owner.patch("/automations/birthday", {"template_id": None}).json
    assert unbound["effective_template_id"] == "system:birthday"
    assert owner.delete(f"/templates/{tpl['template_id']}").status == 204
    assert owner.get(f"/templates/{tpl['template_id']}").status == 404


@pytest.mark.parametrize("source,named", [
    ("{{ customer.__class__ }}", "customer.__class__"),
    ("{{ customer['__class__'] }}", "customer.__class__"),
    ("{{ cycler.__init__.__globals__ }}", "cycler"),
    ("{{ self.__init__.__globals__ }}", "self"),
    ("{{ config }}", "config"),
    ("{{ request }}", "request"),
    ("{{ lipsum }}", "lipsum"),
    ("{% for i in range(10**6) %}x{% endfor %}", "range"),
    ("{{ repair.description }}", "repair"),
    ("{{ customer.password }}", "customer.password"),
])
def test_escape_attempts_and_unknown_variables_are_rejected_naming_the_variable(owner, source, named):
    response = owner.post("/templates", {**OURS, "body_text": source})
    assert response.status == 400, response
    assert response.error_field == "body_text"
    assert f"'{named}'" in response.json["error"]["message"]


@pytest.mark.parametrize("source", [
    "{{ customer.first_name.__class__.__mro__ }}",
    "{{ ''.__class__.__subclasses__() }}",
    "{{ (customer.tags|attr('__class__')) }}",
    "{{ 'a' * 100000000 }}",
    "{{ [1] * 100000000 }}",
    "{{ 9 ** 999999 }}",
    "{{ '{0.__class__.__mro__}'.format(customer.first_name) }}",
])
def test_sandbox_violations_and_resource_exhaustion_are_rejected_at_save(owner, source):
    response = owner.post("/templates", {**OURS, "body_text": source})
    assert response.status == 400, response
    assert response.error_field == "body_text"



def test_a_preview_that_fails_for_a_real_customer_names_the_part(owner):
    owner.put("/customers/nameless", {"email": "n@example.com"})
    tpl = owner.post("/templates", {**OURS, "sms_body": "Hi {{ customer.first_name[0] }}"}).json
    response = owner.post(f"/templates/{tpl['template_id']}/preview", {"customer_id": "nameless"})
    assert response.status == 400, response
    assert response.error_field == "sms_body"


# --- the render budget and one-line subjects, in previews and sends ---------------------------------------

#: Asks for 10**11 characters: a 500 (MemoryError) before the render budget.
HUGE = '{{ "x".ljust(10**11) }}'
#: Cheap for the sample customer (Ava), who is what a save renders; huge for anyone else.
CHEAP_FOR_AVA = '{% if customer.first_name == "Ava" %}Dear Ava{% else %}' + HUGE + '{% endif %}'
#: 11:00 in Sydney (AEDT) on Dec 18: after the default send hour, on these customers' birthday.
DEC18 = datetime.fromisoformat("2026-12-18T00:00:00+00:00")


@pytest.mark.parametrize("role", ROLES)
def test_a_preview_over_a_limit_is_a_400_naming_the_part_for_every_role(client_for, tenant, role):
    caller = client_for(tenant, role)
    response = caller.post("/templates/system:birthday/preview", {"body_text": HUGE})
    assert response.status == 400, response
    assert response.error_field == "body_text" and "MAX_OUTPUT" in response.json["error"]["message"]


def test_a_preview_over_a_limit_for_a_real_customer_is_a_400(owner):
    owner.put("/customers/bob", {"first_name": "Bob"})
    saved = owner.post("/templates", {**OURS, "body_text": CHEAP_FOR_AVA})
    assert saved.status == 201, saved  # the save renders for the sample customer, Ava
    response = owner.post(f"/templates/{saved.json['template_id']}/preview", {"customer_id": "bob"})
    assert response.status == 400, response
    assert response.error_field == "body_text" and "MAX_OUTPUT" in response.json["error"]["message"]


def _stored_before_the_rule(tenant: str, customer_id: str, first_name: str) -> None:
    """A name the API now refuses (a line break) but that a customer item written earlier may hold."""
    from chalicelib.adapters.models import Customer

    Customer.get(tenant, customer_id).update(actions=[Customer.first_name.set(first_name)])


def test_a_preview_whose_subject_breaks_the_line_is_a_400_naming_the_subject(owner, tenant):
    assert owner.put("/customers/bob", {"first_name": "Bob"}).status == 200
    _stored_before_the_rule(tenant, "bob", "Bob\r\nBcc: x@y")
    response = owner.post("/templates/system:birthday/preview", {"customer_id": "bob"})
    assert response.status == 400, response
    assert response.error_field == "subject" and "line break" in response.json["error"]["message"]


def _birthday_customer(owner, customer_id: str, first_name: str) -> None:
    assert owner.put(f"/customers/{customer_id}", {
        "first_name": first_name, "birthday": "1990-12-18", "email": f"{customer_id}@mail.example",
        "consent": {"email": True, "sms": False}, "created_at": "2025-01-01T00:00:00Z"}).status == 200


@pytest.mark.parametrize("body_text,first_name", [
    (CHEAP_FOR_AVA, "Bob"),                      # the 8.7 s send and the dispatcher's MemoryError
    (None, "Bob\r\nBcc: x@y"),                   # the system template's subject names the customer
])
def test_a_send_over_a_limit_fails_alone_as_a_template_error(shop, tenant, body_text, first_name):
    from tests.integration.runner_kit import Runner

    change = {}
    if body_text is not None:
        template = shop.post("/templates", {**OURS, "body_text": body_text})
        assert template.status == 201, template
        change = {"template_id": template.json["template_id"]}
    _birthday_customer(shop, "ava", "Ava")
    _birthday_customer(shop, "bob", "Bob")
    if first_name != "Bob":
        _stored_before_the_rule(tenant, "bob", first_name)
    assert shop.patch("/automations/birthday", {"enabled": True, "channels": ["email"], **change}).status == 200
    runner = Runner(tenant, DEC18)

    started = time.monotonic()
    _, delivery = runner.run(DEC18)
    assert time.monotonic() - started < 30  # a guard against the old hang, not a benchmark

    assert sorted((o.send.customer_id, o.status, o.reason) for o in delivery.outcomes) == [
        ("ava", "sent", None), ("bob", "failed", "template_error")]
    assert [m.to for m in runner.email.accepted] == ["ava@mail.example"]
    [record] = history(shop, "bob")
    assert (record["status"], record["reason"]) == ("failed", "template_error")

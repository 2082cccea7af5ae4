"""Templates through the API: system templates, duplicates, edits, bindings, previews, and the sandbox at save."""
from __future__ import annotations

import pytest

from chalicelib.core import catalog

OURS = {"type": "birthday", "name": "Ours", "subject": "Happy birthday {{ customer.first_name }}",
        "body_text": "Dear {{ customer.full_name }}{% if discount_code %}, use {{ discount_code }}{% endif %}",
        "sms_body": "Happy birthday from {{ store.name }}"}


def test_every_type_has_a_system_template_listed_by_type(owner):
    for type_ in catalog.TEMPLATE_TYPES:
        listed = owner.get(f"/templates?type={type_}").json["templates"]
        assert [t["template_id"] for t in listed if t["system"]] == [f"system:{type_}"]
        assert all(listed[0][part] for part in ("subject", "body_text", "body_html", "sms_body"))
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

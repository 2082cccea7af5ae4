"""The sandbox, save-time checks and the system templates."""
from __future__ import annotations

import pytest

from chalicelib.core import catalog
from chalicelib.core.errors import ValidationFailed
from chalicelib.rules import templating
from chalicelib.sending import content


@pytest.mark.parametrize("type_", catalog.TEMPLATE_TYPES)
def test_every_system_template_is_complete_valid_and_renders(type_):
    template = templating.system_template(type_)
    parts = {p: template[p] for p in templating.PARTS}
    # One body: the email's HTML is made from the text when it is sent (rules.layout).
    assert parts.pop("body_html") is None
    assert all(parts.values()), f"{type_} lacks a part"
    templating.check_template(type_, parts)
    rendered = templating.render(parts, templating.sample_context(type_))
    assert "Ava" in rendered.body_text or "Ava" in rendered.subject
    assert len(rendered.sms_body) <= 320


@pytest.mark.parametrize("type_", [t for t in catalog.TEMPLATE_TYPES if catalog.category_of(t) == "marketing"])
def test_marketing_emails_carry_an_unsubscribe_link_and_sms_an_opt_out(type_):
    template = templating.system_template(type_)
    context = templating.sample_context(type_)
    email = content.email(content.render_message(template, context, {}), {}, context["unsubscribe_url"])
    assert context["unsubscribe_url"] in email.body_text and f'href="{context["unsubscribe_url"]}"' in email.body_html
    assert "STOP" in template["sms_body"]


@pytest.mark.parametrize("type_", catalog.TEMPLATE_TYPES)
def test_system_templates_show_owners_plain_variables_not_expressions(type_):
    template = templating.system_template(type_)
    assert "~" not in template["body_text"] and "unsubscribe_url" not in template["body_text"]


def test_a_variable_of_another_type_is_rejected_by_name():
    with pytest.raises(ValidationFailed) as e:
        templating.check_template("christmas", {"body_text": "{{ discount_code }}"})
    assert "'discount_code'" in e.value.message and e.value.field == "body_text"


def test_unsubscribe_url_is_offered_only_to_marketing_types():
    assert "unsubscribe_url" in catalog.template_variables("birthday")
    assert "unsubscribe_url" not in catalog.template_variables("appointment_1h")


def test_rendering_an_undefined_attribute_is_an_error_not_blank_text():
    with pytest.raises(templating.TemplateRenderError):
        templating.render({"subject": "{{ customer.nope }}"}, templating.sample_context("birthday"))


def test_output_size_is_bounded():
    source = "{% for t in customer.tags %}" + "x" * 150_000 + "{% endfor %}"
    context = templating.sample_context("birthday", customer={"tags": ["a", "b"]})
    with pytest.raises(templating.TemplateRenderError):
        templating.render({"body_text": source}, context)


def test_optional_variables_are_none_so_templates_can_test_them():
    context = templating.build_context("birthday", customer={"first_name": "Ava"}, settings={},
                                       automation_name="Birthday Wishes")
    assert context["discount_code"] is None
    text = templating.render({"body_text": "{% if discount_code %}code{% else %}none{% endif %}"}, context)
    assert text.body_text == "none"


def test_parts_that_together_would_not_fit_in_one_item_are_rejected_naming_the_largest():
    parts = {"subject": "Hi", "body_text": "😀" * 20_000, "body_html": "😀" * 70_000, "sms_body": "Hi"}
    with pytest.raises(ValidationFailed) as e:
        templating.check_template("birthday", parts)
    assert e.value.field == "body_html"
    templating.check_template("birthday", {**parts, "body_html": "😀" * 60_000})


def test_a_variable_without_a_value_prints_nothing_rather_than_none():
    context = templating.sample_context("christmas", settings={"store_name": "Maison"})   # no phone
    rendered = templating.render({"subject": "Call {{ store.phone }} at {{ store.name }}",
                                  "body_text": "Phone: {{ store.phone }}.", "body_html": "<p>{{ store.phone }}</p>",
                                  "sms_body": "x"}, context)
    assert (rendered.subject, rendered.body_text, rendered.body_html) == ("Call  at Maison", "Phone: .", "<p></p>")

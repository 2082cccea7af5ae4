"""The email layout through the API: the branding settings, previews and what a send hands the provider."""
from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.sending import unsubscribe

#: 11:00 in Sydney (AEDT) on Dec 18: after the default send hour, on the customer's birthday.
DEC18 = datetime.fromisoformat("2026-12-18T00:00:00+00:00")
BRAND = {"store_address": "1 King St, Sydney", "store_phone": "+61 2 9999 0000",
         "logo_url": "https://cdn.opal.example/logo.png", "brand_color": "#0B3D2E"}


@pytest.mark.parametrize("field,value", [
    ("logo_url", "http://cdn.opal.example/logo.png"),     # mail clients block images over plain http
    ("logo_url", "javascript:alert(1)"),
    ("logo_url", 'https://x.example/a" onerror="x'),
    ("logo_url", "https://" + "a" * 400),
    ("brand_color", "green"),
    ("brand_color", "#0b3d2"),
    ("brand_color", "#0b3d2e; background:url(x)"),
    ("brand_color", 123),
])
def test_branding_settings_are_validated_naming_the_field(owner, field, value):
    response = owner.patch("/settings", {field: value})
    assert response.status == 400, response
    assert response.error_field == field


def test_branding_settings_have_defaults_and_can_be_set_and_cleared(owner):
    settings = owner.get("/settings").json["settings"]
    assert settings["logo_url"] is None and settings["brand_color"] == "#2d2a26"
    saved = owner.patch("/settings", BRAND).json["settings"]
    assert saved["logo_url"] == BRAND["logo_url"] and saved["brand_color"] == "#0B3D2E"
    cleared = owner.patch("/settings", {"logo_url": None, "brand_color": None}).json["settings"]
    assert cleared["logo_url"] is None and cleared["brand_color"] == "#2d2a26"


def test_a_preview_shows_the_message_and_the_email_in_the_layout(shop):
    shop.patch("/settings", BRAND)
    preview = shop.post("/templates/system:christmas/preview", {"body_text": "Dear {{ customer.first_name }},\n\n"
                                                                             "Visit https://opal.example"}).json
    assert preview["html_mode"] == "auto"
    assert preview["body_text"] == "Dear Ava,\n\nVisit https://opal.example"
    assert preview["body_html"].startswith('<p style="margin:0 0 16px">Dear Ava,</p>')
    assert preview["email_text"].startswith(preview["body_text"] + "\n\n--\nOpal & Co\n1 King St, Sydney")
    assert preview["body_html"] in preview["email_html"]
    assert 'src="https://cdn.opal.example/logo.png"' in preview["email_html"]
    assert ">Unsubscribe</a>" in preview["email_html"]


def test_custom_html_mode_needs_an_html_part_and_auto_mode_does_not_keep_one(owner):
    base = {"type": "christmas", "name": "Ours", "subject": "S", "body_text": "B", "sms_body": "M"}
    refused = owner.post("/templates", {**base, "html_mode": "custom"})
    assert refused.status == 400 and refused.error_field == "body_html"
    assert owner.post("/templates", {**base, "html_mode": "fancy"}).error_field == "html_mode"
    custom = owner.post("/templates", {**base, "html_mode": "custom", "body_html": "<p>Mine</p>"}).json
    assert custom["html_mode"] == "custom" and custom["body_html"] == "<p>Mine</p>"
    auto = owner.patch(f"/templates/{custom['template_id']}", {"html_mode": "auto"}).json
    assert auto["html_mode"] == "auto" and auto["body_html"] is None
    copy = owner.post("/templates/system:christmas/duplicate", {}).json
    assert copy["html_mode"] == "auto" and copy["body_html"] is None


def test_templates_list_the_variables_their_type_offers(owner):
    birthday = owner.get("/templates/system:birthday").json["variables"]
    assert {"customer.first_name", "store.phone", "discount_code", "unsubscribe_url"} <= set(birthday)
    repair = owner.get("/templates/system:repair_ready_reminder").json["variables"]
    assert "repair.ready_at" in repair and "discount_code" not in repair and "unsubscribe_url" not in repair


def _birthday_customer(owner, customer_id: str, first_name: str) -> None:
    assert owner.put(f"/customers/{customer_id}", {
        "first_name": first_name, "birthday": "1990-12-18", "email": f"{customer_id}@mail.example",
        "consent": {"email": True, "sms": False}, "created_at": "2025-01-01T00:00:00Z"}).status == 200


def test_a_sent_email_is_the_body_in_the_layout_with_the_unsubscribe_link(shop, tenant):
    from tests.integration.runner_kit import Runner

    shop.patch("/settings", BRAND)
    body = "Dear {{ customer.first_name }},\n\nA **gift** for you: {{ discount_code }}"
    template = shop.post("/templates", {"type": "birthday", "name": "Ours", "subject": "Happy birthday",
                                        "body_text": body, "sms_body": "Hi"}).json
    assert shop.patch("/automations/birthday", {"enabled": True, "channels": ["email"],
                                                "settings": {"include_discount_code": True},
                                                "template_id": template["template_id"]}).status == 200
    _birthday_customer(shop, "ada", "<Ada>")
    runner = Runner(tenant, DEC18)
    runner.run(DEC18)

    [email] = runner.email.accepted
    # Each link is sealed afresh (a random IV): it is known by what it opens to.
    link = email.unsubscribe_url
    prefix = unsubscribe.url_for(tenant, "ada", "email").rsplit("/", 1)[0]
    assert link.startswith(f"{prefix}/")
    assert unsubscribe._read(link.rsplit("/", 1)[1], DEC18) == (tenant, "ada", "email")
    message, footer = email.text.split("\n\n--\n")
    assert message.startswith("Dear <Ada>,\n\nA **gift** for you: BDAY-")
    assert footer == f"Opal & Co\n1 King St, Sydney\n+61 2 9999 0000\nTo stop receiving these emails: {link}"
    assert "Dear &lt;Ada&gt;," in email.html and "<strong>gift</strong>" in email.html
    assert 'src="https://cdn.opal.example/logo.png"' in email.html and "solid #0b3d2e" in email.html
    assert f'href="{link}"' in email.html and "max-width:600px" in email.html


def test_a_one_to_one_email_goes_in_the_layout_without_an_unsubscribe_link(shop):
    from email import message_from_string

    from moto.backends import get_backend

    shop.patch("/settings", BRAND)
    assert shop.put("/customers/lou", {"first_name": "Lou", "email": "lou@one.example"}).status in (200, 201)
    sent = shop.post("/customers/lou/messages", {"subject": "Your ring", "body": "Dear Lou,\n\nYour <ring> is ready."})
    assert sent.status == 201, sent
    assert sent.json["record"]["body"] == "Dear Lou,\n\nYour <ring> is ready."   # the record keeps what was written
    [raw] = [m.raw_data for m in get_backend("ses")["123456789012"]["us-east-1"].sent_messages
             if "To: lou@one.example" in getattr(m, "raw_data", "")]
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in message_from_string(raw).walk()
             if not p.is_multipart()}
    assert parts["text/plain"].replace("\r\n", "\n").rstrip("\n") == (  # MIME ends a part with a newline
        "Dear Lou,\n\nYour <ring> is ready.\n\n--\nOpal & Co\n1 King St, Sydney\n+61 2 9999 0000")
    html = parts["text/html"]
    assert "Your &lt;ring&gt; is ready." in html and 'src="https://cdn.opal.example/logo.png"' in html
    assert "max-width:600px" in html and "Unsubscribe" not in html

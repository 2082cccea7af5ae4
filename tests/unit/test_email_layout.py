"""The email layout: one body becomes the text and HTML parts, and both are put in the store's layout."""
from __future__ import annotations

import re
import time

import pytest

from chalicelib.core import catalog
from chalicelib.rules import layout, templating
from chalicelib.sending import content

STORE = {"store_name": "Maison Or", "store_address": "1 King St, Sydney", "store_phone": "+61 2 9999 0000",
         "store_website": "https://maison.example", "logo_url": "https://maison.example/logo.png",
         "brand_color": "#0B3D2E"}
UNSUBSCRIBE = "https://api.example/unsubscribe/tok"


def test_blank_lines_make_paragraphs_and_single_line_breaks_are_kept():
    html = layout.text_to_html("Dear Ava,\n\nLine one\nline two\n\n\n\nBye")
    assert re.findall(r"<p[^>]*>(.*?)</p>", html, re.S) == ["Dear Ava,", "Line one<br>\nline two", "Bye"]


def test_the_text_is_escaped_so_a_customers_name_cannot_add_markup():
    html = layout.text_to_html('Dear <script>alert(1)</script> & "Bob"')
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp;" in html


def test_web_and_mail_addresses_become_links_and_the_text_around_them_stays_escaped():
    html = layout.text_to_html("Review us at https://maison.example/review?a=1&b=2. Or write to shop@maison.example",
                               link_color="#123456")
    assert 'href="https://maison.example/review?a=1&amp;b=2"' in html
    assert 'href="mailto:shop@maison.example"' in html
    assert 'style="color:#123456;text-decoration:underline"' in html
    assert "2</a>." in html  # the full stop ends the sentence, not the link


def test_double_asterisks_make_bold_within_a_line_only():
    assert "<strong>BDAY-1234</strong>" in layout.text_to_html("Your code: **BDAY-1234**")
    assert "<strong>" not in layout.text_to_html("**not\nbold**")
    assert "<strong>" not in layout.text_to_html("2 ** 3 is **")


def test_a_body_of_the_largest_rendered_size_converts_well_within_the_render_time_limit():
    text = ("Dear Ava, see https://maison.example/a & **this**.\n\n" * 4_000)[:templating.MAX_OUTPUT]
    started = time.monotonic()
    layout.text_to_html(text)
    assert time.monotonic() - started < templating.MAX_RENDER_SECONDS


def test_the_html_layout_has_the_logo_brand_colour_footer_and_unsubscribe_link():
    html = layout.wrap_html("<p>Hello</p>", STORE, UNSUBSCRIBE, title="Happy birthday")
    assert '<img src="https://maison.example/logo.png" alt="Maison Or"' in html
    assert "border-top:4px solid #0b3d2e" in html
    assert "max-width:600px" in html and 'role="presentation"' in html and "sans-serif" in html
    assert 'name="color-scheme" content="light dark"' in html and "prefers-color-scheme: dark" in html
    for detail in ("1 King St, Sydney", "+61 2 9999 0000", "https://maison.example"):
        assert detail in html
    assert f'href="{UNSUBSCRIBE}"' in html and ">Unsubscribe</a>" in html
    assert "<title>Happy birthday</title>" in html and "<p>Hello</p>" in html


def test_a_transactional_email_has_no_unsubscribe_link():
    html = layout.wrap_html("<p>Ready</p>", STORE, None)
    assert "Unsubscribe" not in html
    assert "To stop receiving" not in layout.wrap_text("Ready", STORE, None)


def test_without_a_logo_the_store_name_heads_the_email_in_a_readable_brand_colour():
    dark = layout.wrap_html("<p>x</p>", {**STORE, "logo_url": None})
    assert "<img" not in dark and "color:#0b3d2e\">Maison Or</span>" in dark
    # Pale gold on white fails 4.5:1: the name is written in the body's colour, the gold stays an accent.
    pale = layout.wrap_html("<p>x</p>", {**STORE, "logo_url": None, "brand_color": "#f5d76e"})
    assert f"color:{layout.TEXT_COLOR}\">Maison Or</span>" in pale and "solid #f5d76e" in pale


def test_store_details_in_the_layout_are_escaped():
    html = layout.wrap_html("<p>x</p>", {**STORE, "store_name": "A <b>&</b> B", "logo_url": None}, UNSUBSCRIBE)
    assert "A &lt;b&gt;&amp;&lt;/b&gt; B" in html and "<b>" not in html


def test_defaults_apply_without_branding_settings():
    html = layout.wrap_html("<p>x</p>", {}, None)
    assert f"solid {layout.DEFAULT_BRAND_COLOR}" in html and "<img" not in html


def test_the_plain_text_twin_is_the_body_then_the_store_details_and_the_unsubscribe_link():
    text = layout.wrap_text("Dear Ava,\n\nHappy birthday.", STORE, UNSUBSCRIBE)
    assert text == ("Dear Ava,\n\nHappy birthday.\n\n--\nMaison Or\n1 King St, Sydney\n"
                    "+61 2 9999 0000 · https://maison.example\n"
                    f"To stop receiving these emails: {UNSUBSCRIBE}")


def _render(parts: dict, type_: str = "christmas", customer: dict | None = None):
    context = templating.sample_context(type_, customer=customer, settings=STORE)
    return content.email(content.render_message(parts, context, STORE), STORE, context.get("unsubscribe_url"))


def test_auto_mode_makes_the_html_from_the_body_with_variables_escaped():
    email = _render({"subject": "Hi", "body_text": "Dear {{ customer.first_name }},\n\nSee {{ store.website }}",
                     "sms_body": "x"}, customer={"first_name": "<i>Ava</i>"})
    assert email.body_text.startswith("Dear <i>Ava</i>,\n\nSee https://maison.example\n\n--\n")
    assert "Dear &lt;i&gt;Ava&lt;/i&gt;," in email.body_html
    assert '<a style="color:#0b3d2e;text-decoration:underline" href="https://maison.example"' in email.body_html


def test_auto_mode_ignores_a_stored_html_part():
    email = _render({"subject": "Hi", "body_text": "From the text", "body_html": "<p>From the html</p>",
                     "sms_body": "x", "html_mode": "auto"})
    assert "From the text" in email.body_html and "From the html" not in email.body_html


def test_custom_mode_sends_the_stores_own_html_in_the_layout_and_its_text_as_the_text_part():
    email = _render({"subject": "Hi", "body_text": "Plain {{ customer.first_name }}",
                     "body_html": "<h2 style='color:red'>{{ customer.first_name }}</h2>", "sms_body": "x",
                     "html_mode": "custom"}, customer={"first_name": "<b>Ava</b>"})
    assert "<h2 style='color:red'>&lt;b&gt;Ava&lt;/b&gt;</h2>" in email.body_html
    assert "max-width:600px" in email.body_html
    assert email.body_text.startswith("Plain <b>Ava</b>\n\n--\n")


def test_a_template_stored_before_the_mode_is_custom_when_it_has_html():
    assert layout.html_mode({"body_html": "<p>x</p>"}) == layout.CUSTOM
    assert layout.html_mode({"body_html": None}) == layout.AUTO
    assert layout.html_mode({"body_html": "<p>x</p>", "html_mode": "auto"}) == layout.AUTO


@pytest.mark.parametrize("type_", catalog.TEMPLATE_TYPES)
def test_every_system_template_sends_its_message_in_the_layout(type_):
    template = templating.system_template(type_)
    email = _render(template, type_)
    first_paragraph = email.body_text.split("\n\n")[0]
    assert first_paragraph in email.body_html  # "Dear Ava," / "Hello Ava,": the same message in both parts
    assert email.body_html.count("<table") >= 3 and "Maison Or" in email.body_html
    marketing = catalog.category_of(type_) == catalog.MARKETING
    assert ("Unsubscribe</a>" in email.body_html) is marketing


def test_the_inbox_line_beside_the_subject_is_the_messages_opening_words_hidden_in_the_message():
    email = _render({"subject": "Hi", "body_text": "Dear <Ava>,\n\nOur winter collection " + "is here " * 40,
                     "sms_body": "x"})
    hidden = re.search(r'<div style="display:none[^"]*">([^<]*)</div>', email.body_html).group(1)
    assert hidden.startswith("Dear &lt;Ava&gt;, Our winter collection is here") and hidden.endswith("…")
    assert len(layout.preheader_of("Dear Ava, " + "x " * 200)) == layout.PREHEADER_LENGTH

"""The email layout (docs/behaviour.md section 6): a template's body is the message only; the store's header,
footer and unsubscribe link are put around it when a message is rendered, in HTML and in plain text.

The HTML is what mail clients read well: tables for structure, inline styles (Gmail drops most of a
`<style>` block; the one here only adds dark-mode and phone refinements), at most 600 px wide and fluid below,
a sans-serif font stack, and colours that a client's dark mode can invert without losing the text."""
from __future__ import annotations

import re
from typing import Any, Mapping

from jinja2.utils import urlize
from markupsafe import escape

#: How a template's HTML part is made: from the body (`auto`), or written by the store (`custom`).
AUTO, CUSTOM = "auto", "custom"
HTML_MODES = (AUTO, CUSTOM)

DEFAULT_BRAND_COLOR = "#2d2a26"
FONT = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
TEXT_COLOR = "#1f2937"
MUTED_COLOR = "#6b7280"
PAGE_COLOR = "#f4f4f5"
CARD_COLOR = "#ffffff"
#: Characters of the preheader: inboxes show about 90 to 140 after the subject.
PREHEADER_LENGTH = 110

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# `**bold**` on one line, hugging its words as in Markdown (so `2 ** 3` stays as it is); `<` and `>` are left
# out so that it never spans the tags urlize wrote.
_BOLD = re.compile(r"\*\*(?=[^\s*])([^*\n<>]+?)(?<=\S)\*\*")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}\Z")


def html_mode(parts: Mapping[str, Any]) -> str:
    """A template's HTML mode; one stored before the mode existed is custom when it has an HTML part."""
    mode = parts.get("html_mode")
    if mode in HTML_MODES:
        return mode
    return CUSTOM if parts.get("body_html") else AUTO


def _relative_luminance(color: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def brand_color(settings: Mapping[str, Any]) -> str:
    color = settings.get("brand_color") or ""
    return color.lower() if _HEX.match(color) else DEFAULT_BRAND_COLOR


def link_color(settings: Mapping[str, Any]) -> str:
    """The colour of the links in a message: the store's brand colour when it reads well on white."""
    return text_color_on_white(brand_color(settings))


def text_color_on_white(color: str) -> str:
    """The brand colour if text in it is readable on the white card (WCAG AA, 4.5:1), else the body's colour."""
    return color if 1.05 / (_relative_luminance(color) + 0.05) >= 4.5 else TEXT_COLOR


def text_to_html(text: str, link_color: str = TEXT_COLOR) -> str:
    """The HTML of a plain-text body: paragraphs at blank lines, line breaks kept, web and mail addresses
    linked, `**bold**`; everything else escaped."""
    paragraphs = []
    for paragraph in _PARAGRAPH_BREAK.split(text.strip()):
        if not paragraph.strip():
            continue
        linked = urlize(paragraph.strip(), rel="noopener", target="_blank")
        # urlize escaped the text, so every `<a ` in it is one of its own links.
        linked = linked.replace("<a ", f'<a style="color:{link_color};text-decoration:underline" ')
        linked = _BOLD.sub(r"<strong>\1</strong>", linked)
        linked = _LINE_BREAK.sub("<br>\n", linked)
        paragraphs.append(f'<p style="margin:0 0 16px">{linked}</p>')
    return "\n".join(paragraphs)


def _footer_lines(settings: Mapping[str, Any]) -> list[str]:
    contact = " · ".join(x for x in (settings.get("store_phone"), settings.get("store_website")) if x)
    return [x for x in (settings.get("store_name"), settings.get("store_address"), contact) if x]


def wrap_text(body_text: str, settings: Mapping[str, Any], unsubscribe_url: str | None = None) -> str:
    """The plain-text twin of the layout: the body, then the store's details and the unsubscribe link."""
    footer = _footer_lines(settings)
    if unsubscribe_url:
        footer.append(f"To stop receiving these emails: {unsubscribe_url}")
    body = body_text.strip()
    return f"{body}\n\n--\n" + "\n".join(footer) if footer else body


def _header(settings: Mapping[str, Any], color: str) -> str:
    name = escape(settings.get("store_name") or "")
    logo = settings.get("logo_url")
    if logo:
        return (f'<img src="{escape(logo)}" alt="{name}" width="180" style="display:block;margin:0 auto;'
                f'width:180px;max-width:100%;height:auto;border:0;outline:none;text-decoration:none">')
    if not name:
        return ""
    return (f'<span class="em-brand" style="font-family:{FONT};font-size:22px;font-weight:600;letter-spacing:0.5px;'
            f'color:{text_color_on_white(color)}">{name}</span>')


def preheader_of(text: str) -> str:
    """The line an inbox shows after the subject: the message's opening words, not the store's header."""
    words = " ".join(text[:PREHEADER_LENGTH * 2].split())
    return words if len(words) <= PREHEADER_LENGTH else words[:PREHEADER_LENGTH - 1].rstrip() + "…"


def wrap_html(body_html: str, settings: Mapping[str, Any], unsubscribe_url: str | None = None,
              title: str = "", preheader: str = "") -> str:
    """The whole HTML email around a message's HTML: the store's logo (or name) and colour, its details and,
    for marketing, the unsubscribe link. `body_html` is trusted HTML (rendered with autoescape); `preheader`
    is text, shown by inboxes beside the subject and hidden in the message."""
    color = brand_color(settings)
    footer = "<br>".join(str(escape(line)) for line in _footer_lines(settings))
    if unsubscribe_url:
        footer += (f'<br><br>You receive these emails because you agreed to hear from us. '
                   f'<a href="{escape(unsubscribe_url)}" style="color:{MUTED_COLOR};text-decoration:underline">'
                   f'Unsubscribe</a>')
    header = _header(settings, color)
    header_row = (f'<tr><td align="center" style="padding:28px 32px 4px">{header}</td></tr>' if header else "")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="x-apple-disable-message-reformatting">
<meta name="color-scheme" content="light dark">
<meta name="supported-color-schemes" content="light dark">
<title>{escape(title)}</title>
<style>
@media (prefers-color-scheme: dark) {{
  .em-page {{ background:#121212 !important; }}
  .em-card {{ background:#1e1e1e !important; }}
  .em-text, .em-text a, .em-brand {{ color:#e7e5e4 !important; }}
  .em-muted, .em-muted a {{ color:#a8a29e !important; }}
}}
@media only screen and (max-width:620px) {{
  .em-pad {{ padding-left:20px !important; padding-right:20px !important; }}
}}
</style>
</head>
<body class="em-page" style="margin:0;padding:0;width:100%;background:{PAGE_COLOR}">
<div style="display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;mso-hide:all;font-size:1px;line-height:1px">{escape(preheader)}</div>
<table role="presentation" class="em-page" width="100%" cellpadding="0" cellspacing="0" border="0" style="background:{PAGE_COLOR}">
<tr><td align="center" style="padding:24px 12px">
<!--[if mso]><table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0"><tr><td><![endif]-->
<table role="presentation" class="em-card" width="100%" cellpadding="0" cellspacing="0" border="0" style="max-width:600px;background:{CARD_COLOR};border-top:4px solid {color};border-radius:4px">
{header_row}
<tr><td class="em-pad em-text" style="padding:24px 32px 16px;font-family:{FONT};font-size:16px;line-height:1.6;color:{TEXT_COLOR};text-align:left">
{body_html}
</td></tr>
</table>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="max-width:600px">
<tr><td class="em-pad em-muted" style="padding:16px 32px;font-family:{FONT};font-size:12px;line-height:1.5;color:{MUTED_COLOR};text-align:center">
{footer}
</td></tr>
</table>
<!--[if mso]></td></tr></table><![endif]-->
</td></tr>
</table>
</body>
</html>"""


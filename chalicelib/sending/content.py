"""What a send says: the template in effect, the render context for one customer, and the message built
from it. The variables of a source's own types come from the source (`chalicelib.sending.sources`)."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Mapping

from chalicelib.adapters.models import Template
from chalicelib.adapters.persistence import get_or_none
from chalicelib.core import catalog
from chalicelib.core.errors import NotFound
from chalicelib.core.timeutil import parse_instant, zone
from chalicelib.rules import layout, templating
from chalicelib.sending.messages import Send


def local_day(instant: str | None, tz_name: str) -> str | None:
    """`12 May 2026`, in the store's time zone."""
    if not instant:
        return None
    local = parse_instant(instant).astimezone(zone(tz_name))
    return f"{local.day} {local:%B %Y}"


def local_moment(instant: str, tz_name: str) -> str:
    """`Friday 15 May, 2:30 pm`, in the store's time zone."""
    local = parse_instant(instant).astimezone(zone(tz_name))
    hour = local.hour % 12 or 12
    return f"{local:%A} {local.day} {local:%B}, {hour}:{local:%M} {'am' if local.hour < 12 else 'pm'}"


def _repair(item: Any, tz_name: str) -> dict:
    return {"repair": {"repair_id": item.repair_id, "description": item.description or "", "status": item.status,
                       "ready_at": local_day(item.ready_at, tz_name), "created_at": local_day(item.created_at, tz_name)}}


def _appointment(item: Any, tz_name: str) -> dict:
    return {"appointment": {"appointment_id": item.appointment_id, "purpose": item.purpose or "",
                            "starts_at": local_moment(item.starts_at, tz_name)}}


def _sale(item: Any, tz_name: str) -> dict:
    return {"sale": {"sale_id": item.sale_id, "completed_at": local_day(item.completed_at, tz_name),
                     "total": item.total}}


#: The variables of the sale, repair or appointment a message is about, per kind of subject.
SUBJECT_VARIABLES: Mapping[str, Callable[[Any, str], dict]] = {"repair": _repair, "appointment": _appointment,
                                                               "sale": _sale}


def subject_variables(kind: str | None, item: Any, tz_name: str) -> dict:
    return SUBJECT_VARIABLES[kind](item, tz_name) if kind in SUBJECT_VARIABLES and item is not None else {}


def extras(send: Send, source_variables: Mapping[str, Any], tenant_settings: Mapping[str, Any],
           subject_kind: str | None, subject: Any, unsubscribe_url: str | None) -> dict:
    """The type's own variables for this send (docs/behaviour.md section 6): its subject's, its source's and the
    unsubscribe link; a variable without a value is left out and so renders as None."""
    names = catalog.template_variables(send.automation_type)
    values: dict[str, Any] = {**subject_variables(subject_kind, subject, tenant_settings["timezone"]),
                              **source_variables}
    if unsubscribe_url:
        values["unsubscribe_url"] = unsubscribe_url
    return {name: value for name, value in values.items() if name in names}


def template_parts(tenant_id: str, template_id: str) -> dict:
    """The parts of a template as the dispatcher renders them: a system template or the store's own."""
    if templating.is_system(template_id):
        type_ = template_id[len(templating.SYSTEM_PREFIX):]
        if type_ in catalog.TEMPLATE_TYPES:
            record = templating.system_template(type_)
            return {part: record.get(part) for part in (*templating.PARTS, "html_mode")}
    else:
        item = get_or_none(Template, tenant_id, template_id)
        if item is not None:
            return {**{part: getattr(item, part) for part in templating.PARTS}, "html_mode": item.html_mode}
    raise NotFound("no such template", field="template_id")


def render_message(parts: Mapping[str, str | None], context: Mapping[str, Any],
                   tenant_settings: Mapping[str, Any]) -> templating.Rendered:
    """The message's own parts rendered in the sandbox: the HTML part only when the store wrote it (`custom`),
    else it is made from the text body. Raises TemplateRenderError."""
    mode = layout.html_mode(parts)
    rendered = templating.render({**parts, "body_html": parts.get("body_html") if mode == layout.CUSTOM else None},
                                 context)
    if mode == layout.AUTO:
        return replace(rendered, body_html=html_of_text(rendered.body_text, tenant_settings))
    return rendered


def html_of_text(body_text: str, tenant_settings: Mapping[str, Any]) -> str:
    """The HTML of a plain-text message (paragraphs, links, **bold**, the rest escaped), for wrap_html."""
    return layout.text_to_html(body_text, layout.link_color(tenant_settings))


def wrap_html(body_html: str, tenant_settings: Mapping[str, Any], unsubscribe_url: str | None = None,
              title: str = "", preheader: str = "") -> str:
    """A message's HTML in the store's email layout (logo, colour, details, unsubscribe link for marketing);
    `title` is the subject, `preheader` the text an inbox shows beside it (layout.preheader_of(text))."""
    return layout.wrap_html(body_html, tenant_settings, unsubscribe_url, title, preheader)


def wrap_text(body_text: str, tenant_settings: Mapping[str, Any], unsubscribe_url: str | None = None) -> str:
    """The plain-text twin of wrap_html."""
    return layout.wrap_text(body_text, tenant_settings, unsubscribe_url)


def email(message: templating.Rendered, tenant_settings: Mapping[str, Any],
          unsubscribe_url: str | None = None) -> templating.Rendered:
    """The message as it is sent: its text and HTML in the layout; the subject and SMS as they are."""
    return replace(message, body_text=wrap_text(message.body_text, tenant_settings, unsubscribe_url),
                   body_html=wrap_html(message.body_html or "", tenant_settings, unsubscribe_url, message.subject,
                                       layout.preheader_of(message.body_text)))


def render(send: Send, parts: Mapping[str, str | None], customer: Mapping[str, Any],
           tenant_settings: Mapping[str, Any], automation_name: str, variables: Mapping[str, Any]) -> templating.Rendered:
    """Render in the sandbox and put the email in the layout; raises TemplateRenderError."""
    context = templating.build_context(send.automation_type, customer=customer, settings=tenant_settings,
                                       automation_name=automation_name, extras=variables)
    return email(render_message(parts, context, tenant_settings), tenant_settings, variables.get("unsubscribe_url"))

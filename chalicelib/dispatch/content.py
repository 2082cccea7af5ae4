"""What a send says: the template's render context for one customer, and the message built from it."""
from __future__ import annotations

import hashlib
from typing import Any, Mapping

from chalicelib import catalog, templating
from chalicelib.dispatch.messages import Send
from chalicelib.timeutil import parse_instant, zone


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


def discount_code(send: Send) -> str:
    """Unique per send and the same on every retry of it."""
    return "BDAY-" + hashlib.sha256(f"code#{send.ledger_key}".encode()).hexdigest()[:8].upper()


def subject_variables(kind: str | None, item: Any, tz_name: str) -> dict:
    if kind == "repair":
        return {"repair": {"repair_id": item.repair_id, "description": item.description or "", "status": item.status,
                           "ready_at": local_day(item.ready_at, tz_name),
                           "created_at": local_day(item.created_at, tz_name)}}
    if kind == "appointment":
        return {"appointment": {"appointment_id": item.appointment_id, "purpose": item.purpose or "",
                                "starts_at": local_moment(item.starts_at, tz_name)}}
    if kind == "sale":
        return {"sale": {"sale_id": item.sale_id, "completed_at": local_day(item.completed_at, tz_name),
                         "total": item.total}}
    return {}


def extras(send: Send, automation_settings: Mapping[str, Any], tenant_settings: Mapping[str, Any],
           subject_kind: str | None, subject: Any, unsubscribe_url: str | None) -> dict:
    """The type's own variables for this send (spec section 6); a variable without a value is left out
    and so renders as None."""
    names = catalog.template_variables(send.automation_type)
    tz_name = tenant_settings["timezone"]
    values: dict[str, Any] = subject_variables(subject_kind, subject, tz_name) if subject is not None else {}
    if send.automation_type == "birthday" and automation_settings.get("include_discount_code"):
        values["discount_code"] = discount_code(send)
    if send.automation_type == "reengagement" and automation_settings.get("include_special_offer"):
        values["offer"] = tenant_settings.get("special_offer")
    if send.automation_type in catalog.ACTION_TYPES:
        values["offer"] = automation_settings.get("offer_text")
    if send.automation_type == "post_purchase" and automation_settings.get("request_review"):
        values["review_url"] = tenant_settings.get("review_url") or tenant_settings.get("store_website")
    if unsubscribe_url:
        values["unsubscribe_url"] = unsubscribe_url
    return {name: value for name, value in values.items() if name in names}


def render(send: Send, parts: Mapping[str, str | None], customer: Mapping[str, Any],
           tenant_settings: Mapping[str, Any], automation_name: str, variables: Mapping[str, Any]) -> templating.Rendered:
    """Render in the sandbox; raises TemplateRenderError."""
    context = templating.build_context(send.automation_type, customer=customer, settings=tenant_settings,
                                       automation_name=automation_name, extras=variables)
    return templating.render(parts, context)

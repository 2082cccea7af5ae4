"""Templates (docs/behaviour.md section 6): the shipped system templates and each tenant's own."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from chalicelib.adapters.models import ActionAutomation, Automation, Customer, Template
from chalicelib.adapters.persistence import (
    create_only,
    delete_current,
    get_or_none,
    mutate,
)
from chalicelib.adapters.tenants import load as load_settings
from chalicelib.core import catalog
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.timeutil import to_iso
from chalicelib.rules import layout, templating
from chalicelib.rules import validation as v
from chalicelib.rules.auth import Principal, require_write
from chalicelib.sending import content

#: The subject becomes an email header: one line. The bodies may hold tabs and line breaks.
SINGLE_LINE_PARTS = frozenset({"subject"})
PART_CHECKS = {part: v.string(limit, multiline=part not in SINGLE_LINE_PARTS)
               for part, limit in templating.PARTS.items()}
CREATE_FIELDS = {"type": v.choice(catalog.TEMPLATE_TYPES), "name": v.string(100, min_len=1),
                 "html_mode": v.choice(layout.HTML_MODES), **PART_CHECKS}
PATCH_FIELDS = {"name": v.string(100, min_len=1), "html_mode": v.choice(layout.HTML_MODES), **PART_CHECKS}
REQUIRED = ("type", "name", "subject", "body_text", "sms_body")


def variables(type_: str) -> list[str]:
    """What a template of the type may print, as `customer.first_name` or `offer`, for the editor's picker."""
    return [f"{name}.{field}" if field else name
            for name, fields in catalog.template_variables(type_).items() for field in (fields or (None,))]


def _with_variables(record: dict) -> dict:
    return {**record, "html_mode": layout.html_mode(record), "variables": variables(record["type"])}


def _as_json(item: Template) -> dict:
    return _with_variables({
        "template_id": item.template_id, "type": item.type, "name": item.name, "system": False,
        "subject": item.subject, "body_text": item.body_text, "body_html": item.body_html,
        "sms_body": item.sms_body, "html_mode": item.html_mode, "created_at": item.created_at,
        "updated_at": item.updated_at, "updated_by": item.updated_by,
    })


def _system(type_: str) -> dict:
    return _with_variables(templating.system_template(type_))


def _parts(record: dict) -> dict:
    return {part: record.get(part) for part in templating.PARTS}


def _with_mode(fields: dict) -> dict:
    """The fields with their HTML mode settled: the one asked for, else custom if there is an HTML part. Custom
    HTML needs that part; in auto mode an HTML part is not kept, since the email's is made from the text."""
    mode = layout.html_mode(fields)
    if mode == layout.CUSTOM and not fields.get("body_html"):
        raise v.fail("body_html", "is required when html_mode is custom")
    return {**fields, "html_mode": mode, **({"body_html": None} if mode == layout.AUTO else {})}


def get(tenant_id: str, template_id: str) -> dict:
    v.check_id(template_id, "template_id")
    if templating.is_system(template_id):
        type_ = template_id[len(templating.SYSTEM_PREFIX):]
        if type_ not in catalog.TEMPLATE_TYPES:
            raise NotFound("no such template", field="template_id")
        return _system(type_)
    item = get_or_none(Template, tenant_id, template_id)
    if item is None:
        raise NotFound("no such template", field="template_id")
    return _as_json(item)


def list_templates(tenant_id: str, type_: str | None) -> list[dict]:
    if type_ is not None:
        v.choice(catalog.TEMPLATE_TYPES)(type_, "type")
    types = [type_] if type_ else list(catalog.TEMPLATE_TYPES)
    system = [_system(t) for t in types]
    condition = Template.type == type_ if type_ else None
    own = [_as_json(t) for t in Template.query(tenant_id, filter_condition=condition)]
    own.sort(key=lambda r: (r["type"], r["name"].lower(), r["created_at"]))
    return system + own


def create(principal: Principal, body: dict, now: datetime) -> dict:
    require_write(principal, "templates")
    fields = v.parse(body, CREATE_FIELDS, required=REQUIRED)
    fields = _with_mode(fields)
    templating.check_template(fields["type"], _parts(fields))
    item = Template(principal.tenant_id, f"tpl_{uuid.uuid4().hex[:16]}", created_at=to_iso(now),
                    updated_at=to_iso(now), updated_by=principal.subject, **fields)
    return _as_json(create_only(item))


def patch(principal: Principal, template_id: str, body: dict, now: datetime) -> dict:
    require_write(principal, "templates")
    current = get(principal.tenant_id, template_id)
    if current["system"]:
        raise Conflict("system templates cannot be changed; duplicate it and edit the copy", field="template_id")
    changes = v.parse(body, PATCH_FIELDS, required=("name", "subject", "body_text", "sms_body", "html_mode"),
                      partial=True)
    changes = _with_mode({**_parts(current), **changes})
    templating.check_template(current["type"], _parts(changes))

    def change(item: Template | None) -> Template:
        if item is None:
            raise NotFound("no such template", field="template_id")
        for name, value in changes.items():
            setattr(item, name, value)
        item.updated_at, item.updated_by = to_iso(now), principal.subject
        return item

    return _as_json(mutate(lambda: get_or_none(Template, principal.tenant_id, template_id), change))


def _bound_to(tenant_id: str, template_id: str) -> list[str]:
    bound = [a.type for a in Automation.query(tenant_id, filter_condition=Automation.template_id == template_id)]
    bound += [a.name for a in ActionAutomation.query(tenant_id,
                                                     filter_condition=ActionAutomation.template_id == template_id)]
    return bound


def delete(principal: Principal, template_id: str) -> None:
    require_write(principal, "templates")
    current = get(principal.tenant_id, template_id)
    if current["system"]:
        raise Conflict("system templates cannot be deleted", field="template_id")
    bound = _bound_to(principal.tenant_id, template_id)
    if bound:
        raise Conflict(f"the template is in use by {', '.join(sorted(bound))}; bind another template first",
                       field="template_id")
    delete_current(lambda: get_or_none(Template, principal.tenant_id, template_id),
                   NotFound("no such template", field="template_id"))


def duplicate(principal: Principal, template_id: str, body: dict, now: datetime) -> dict:
    require_write(principal, "templates")
    fields = v.parse(body, {"name": v.string(100, min_len=1)})
    source = get(principal.tenant_id, template_id)
    copy = {"type": source["type"], "name": fields.get("name") or f"Copy of {source['name']}",
            "html_mode": source["html_mode"], **_parts(source)}
    item = Template(principal.tenant_id, f"tpl_{uuid.uuid4().hex[:16]}", created_at=to_iso(now),
                    updated_at=to_iso(now), updated_by=principal.subject, **copy)
    return _as_json(create_only(item))


def preview(tenant_id: str, template_id: str, body: dict) -> dict:
    """Render a template for a customer (or a sample one); unsaved edits may be passed to preview them.
    `body_text` and `body_html` are the message; `email_text` and `email_html` the email in the layout."""
    fields = v.parse(body, {"customer_id": v.check_id, "html_mode": v.choice(layout.HTML_MODES), **PART_CHECKS})
    source = get(tenant_id, template_id)
    parts = _with_mode({**_parts(source), **{k: val for k, val in fields.items() if k != "customer_id"}})
    templating.check_template(source["type"], _parts(parts))
    customer: dict[str, Any] | None = None
    if "customer_id" in fields:
        item = get_or_none(Customer, tenant_id, fields["customer_id"])
        if item is None:
            raise NotFound("no such customer", field="customer_id")
        customer = item.attribute_values
    settings = load_settings(tenant_id)
    context = templating.sample_context(source["type"], customer=customer, settings=settings)
    try:
        rendered = content.render_message(parts, context, settings)
    except templating.TemplateRenderError as e:
        # It rendered for the sample customer at save, but this customer's data can still break it.
        raise v.fail(e.part or "template", f"fails for this customer: {e.cause}") from None
    sent = content.email(rendered, settings, context.get("unsubscribe_url"))
    return {"template_id": source["template_id"], "type": source["type"], "html_mode": parts["html_mode"],
            "subject": rendered.subject, "body_text": rendered.body_text, "body_html": rendered.body_html,
            "sms_body": rendered.sms_body, "email_text": sent.body_text, "email_html": sent.body_html}


def exists_for_type(tenant_id: str, template_id: str, type_: str, field: str = "template_id") -> None:
    """A template may be bound to an automation only if it exists and is of the automation's type."""
    v.check_id(template_id, field)
    record = get(tenant_id, template_id)
    if record["type"] != type_:
        raise v.fail(field, f"is a {record['type']} template; a {type_} template is required")

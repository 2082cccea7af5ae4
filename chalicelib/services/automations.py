"""The ten per-event automations of a tenant (docs/behaviour.md section 3): configuration and stats."""
from __future__ import annotations

from datetime import datetime

from chalicelib.adapters.models import Automation
from chalicelib.adapters.persistence import get_or_none, mutate
from chalicelib.core import catalog
from chalicelib.core.errors import NotFound
from chalicelib.core.schedule import trigger_of
from chalicelib.core.timeutil import local_date, to_iso
from chalicelib.core.values import AutomationView
from chalicelib.rules import templating
from chalicelib.rules import validation as v
from chalicelib.rules.auth import Principal, require_write
from chalicelib.sending.sources.automation import configuration, effective_settings  # noqa: F401
from chalicelib.sending.stats import empty_stats, stats_since_window  # noqa: F401
from chalicelib.services.templates import exists_for_type


def automation_type(type_: str) -> catalog.AutomationType:
    if type_ not in catalog.PER_EVENT:
        raise NotFound(f"no automation type {type_!r}; known types: {', '.join(catalog.PER_EVENT)}", field="type")
    return catalog.PER_EVENT[type_]


def _view(spec: catalog.AutomationType, item: Automation | None, stats: dict) -> dict:
    effective = configuration(spec, item)
    return {
        "type": spec.type,
        "name": spec.name,
        "description": spec.description,
        "category": spec.category,
        "enabled": effective.enabled,
        "settings": dict(effective.settings),
        "setting_options": {name: list(allowed) for name, allowed in spec.settings.items()},
        "channels": list(effective.channels),
        "template_id": effective.template_id,
        "effective_template_id": effective.template_id or templating.system_template_id(spec.type),
        "updated_at": item.updated_at if item else None,
        "updated_by": item.updated_by if item else None,
        "stats": stats,
    }


def list_automations(tenant_id: str, now: datetime, tz_name: str) -> list[dict]:
    stored = {item.type: item for item in Automation.query(tenant_id)}
    stats = stats_since_window(tenant_id, now, tz_name)
    return [_view(spec, stored.get(spec.type), stats.of(spec.type))
            for spec in catalog.PER_EVENT_TYPES]


def get(tenant_id: str, type_: str, now: datetime, tz_name: str) -> dict:
    spec = automation_type(type_)
    stats = stats_since_window(tenant_id, now, tz_name).of(type_)
    return _view(spec, get_or_none(Automation, tenant_id, type_), stats)


def current(tenant_id: str, type_: str) -> AutomationView:
    """One automation's effective configuration, as the matchers and the runner see it."""
    return configuration(automation_type(type_), get_or_none(Automation, tenant_id, type_))


def settings_check(spec: catalog.AutomationType):
    fields = {name: v.choice(allowed) for name, allowed in spec.settings.items()}

    def check(value, field):
        if not isinstance(value, dict):
            raise v.fail(field, "must be an object")
        if not spec.settings and value:
            raise v.fail(f"{field}.{next(iter(value))}", f"is not a setting of {spec.type}; it has no settings")
        return v.parse(value, fields, prefix=f"{field}.")
    return check


def patch(principal: Principal, type_: str, body: dict, now: datetime, tz_name: str) -> dict:
    require_write(principal, "automations")
    spec = automation_type(type_)
    changes = v.parse(body, {
        "enabled": v.boolean(),
        "settings": settings_check(spec),
        "channels": v.choice_list(catalog.CHANNELS),
        "template_id": v.string(80),
    }, required=("enabled", "channels"), partial=True)
    if changes.get("template_id") is not None:
        exists_for_type(principal.tenant_id, changes["template_id"], type_)

    def change(item: Automation | None) -> Automation:
        item = item or Automation(principal.tenant_id, type_, settings={}, channels=["email"], enabled=False)
        switched_on = bool(changes.get("enabled")) and not item.enabled
        if "enabled" in changes:
            if switched_on:
                # The runner never processes a date before the day the automation was last enabled.
                item.enabled_at = to_iso(now)
            item.enabled = changes["enabled"]
            item.enabled_type = type_ if item.enabled else None
        if "settings" in changes:
            stored = item.settings.as_dict() if item.settings else {}
            item.settings = {} if changes["settings"] is None else {**stored, **changes["settings"]}
        if switched_on and spec.daily:
            # Nor covers a trigger date before the one this day points at, under the settings of now
            # (docs/behaviour.md section 2): a lead time raised later still covers the days between.
            settings = effective_settings(spec, item.settings.as_dict() if item.settings else None)
            item.coverage_from = trigger_of(type_, local_date(now, tz_name), settings).isoformat()
        if "channels" in changes:
            item.channels = changes["channels"]
        if "template_id" in changes:
            item.template_id = changes["template_id"]
        item.updated_at, item.updated_by = to_iso(now), principal.subject
        return item

    mutate(lambda: get_or_none(Automation, principal.tenant_id, type_), change)
    return get(principal.tenant_id, type_, now, tz_name)

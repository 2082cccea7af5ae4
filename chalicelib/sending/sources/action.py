"""Action-taken automations as a source of sends: several per tenant and type, each with its own id,
name and offer, fired by the customers stream consumer."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from chalicelib.adapters.models import ActionAutomation
from chalicelib.adapters.persistence import Keys
from chalicelib.core import catalog
from chalicelib.rules import checks
from chalicelib.core.values import AutomationView
from chalicelib.rules import actions
from chalicelib.sending.messages import Send

NAME = "action_automation"
#: A send of an automation switched off (or deleted) after it was queued ends skipped with this reason.
DISABLED_REASON = checks.AUTOMATION_DISABLED


def view_of(item: ActionAutomation) -> actions.ActionView:
    """A stored automation with its defaults filled in: what the rules, the dispatcher and the API read."""
    return actions.ActionView(
        automation_id=item.automation_id, type=item.type, name=item.name, created_at=item.created_at,
        enabled=bool(item.enabled), channels=tuple(item.channels or ("email",)), template_id=item.template_id,
        offer_text=item.offer_text, priority=int(item.priority or 0),
        audience=item.audience.as_dict() if item.audience else {},
        points_threshold=int(item.points_threshold) if item.points_threshold is not None else None)


def views(tenant_id: str) -> list[actions.ActionView]:
    """Every action-taken automation of a tenant (a handful: one query)."""
    return [view_of(item) for item in ActionAutomation.query(tenant_id)]


def category(type_: str) -> str:
    return catalog.MARKETING


def batch_keys(sends: Iterable[Send]) -> list[Keys]:
    return [Keys(ActionAutomation, {(s.tenant_id, s.automation_id) for s in sends})]


def _configuration(item: ActionAutomation | None) -> AutomationView:
    """As the dispatcher sees it: a deleted automation is a switched-off one."""
    if item is None:
        return AutomationView(type="", settings={}, enabled=False, channels=())
    view = view_of(item)
    return AutomationView(type=view.type, settings={"offer_text": view.offer_text}, enabled=view.enabled,
                          channels=view.channels, template_id=view.template_id, name=view.name)


def configurations(sends: Iterable[Send], found: Mapping[type, list]) -> dict[tuple[str, str], AutomationView]:
    stored = {(a.tenant_id, a.automation_id): a for a in found.get(ActionAutomation, ())}
    return {(s.tenant_id, s.automation_id): _configuration(stored.get((s.tenant_id, s.automation_id)))
            for s in sends}


def template_id(automation: AutomationView, type_: str) -> str:
    return automation.template_id or catalog.system_template_id(type_)


def variables(send: Send, automation: AutomationView, store: Mapping[str, Any]) -> dict:
    return {"offer": automation.settings.get("offer_text")}

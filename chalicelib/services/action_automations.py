"""A tenant's action-taken automations (docs/behaviour.md section 4): configuration, stats and the test-run."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.adapters.models import (
    ActionAutomation,
    ActionFiring,
    Customer,
    tenant_customer,
)
from chalicelib.adapters.persistence import (
    create_only,
    delete_current,
    get_or_none,
    mutate,
)
from chalicelib.adapters.repository import person_of
from chalicelib.core import catalog
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.timeutil import local_date, to_iso
from chalicelib.core.values import Match, TenantView
from chalicelib.rules import actions, templating
from chalicelib.rules import validation as v
from chalicelib.rules.auth import Principal, require_write
from chalicelib.sending.sources.action import view_of, views
from chalicelib.sending.stats import WindowStats, stats_since_window, window_days
from chalicelib.services import customers as records
from chalicelib.services import settings as tenant_settings
from chalicelib.services.templates import exists_for_type
from chalicelib.services.testrun import rehearse

#: Enough for every type and audience a store could want; bounds what one customer change reads.
MAX_PER_TENANT = 50
MAX_PRIORITY = 1_000_000

AUDIENCE = v.obj({
    "tags_any": v.tag_list(50, 50),
    "interests_any": v.tag_list(50, 50),
    "min_points": v.integer(0, 10**9),
})
FIELDS = {
    "type": v.choice(catalog.ACTION_TYPES),
    "name": v.string(100, min_len=1),
    "enabled": v.boolean(),
    "channels": v.choice_list(catalog.CHANNELS),
    "template_id": v.string(80),
    "offer_text": v.string(500),
    "priority": v.integer(-MAX_PRIORITY, MAX_PRIORITY),
    "audience": AUDIENCE,
    "points_threshold": v.integer(1, 10**9),
}
THRESHOLD = "points_threshold"


def _audience(value: dict | None) -> dict | None:
    """Stored without empty parts; nothing left means everyone (stored as absent)."""
    kept = {k: val for k, val in (value or {}).items() if val not in (None, [])}
    return kept or None


def _check_threshold(type_: str, threshold: int | None) -> None:
    if type_ == actions.REWARD and threshold is None:
        raise v.fail(THRESHOLD, "is required for reward_available automations")
    if type_ != actions.REWARD and threshold is not None:
        raise v.fail(THRESHOLD, "is only for reward_available automations")


def new_id(now: datetime) -> str:
    """Sorts in creation order to the microsecond, so that "ties: earliest created" holds between two
    automations created within one second (`created_at` keeps whole seconds)."""
    return f"act_{int(now.timestamp() * 1_000_000):014x}{uuid.uuid4().hex[:6]}"


def _as_json(item: ActionAutomation, stats: dict) -> dict:
    view = view_of(item)
    body = {
        "automation_id": view.automation_id, "type": view.type, "type_name": catalog.ACTION_NAMES[view.type],
        "category": catalog.MARKETING, "name": view.name, "enabled": view.enabled,
        "channels": list(view.channels), "template_id": view.template_id,
        "effective_template_id": view.template_id or templating.system_template_id(view.type),
        "offer_text": view.offer_text, "priority": view.priority, "audience": dict(view.audience),
        "created_at": item.created_at, "updated_at": item.updated_at, "updated_by": item.updated_by,
        "stats": stats,
    }
    if view.type == actions.REWARD:
        body[THRESHOLD] = view.points_threshold
    return body


def _order(item: ActionAutomation) -> tuple:
    """Types in the catalog's order, then in the order an event chooses among them."""
    return catalog.ACTION_TYPES.index(item.type), -int(item.priority or 0), item.created_at, item.automation_id


def _stats(tenant_id: str, now: datetime) -> WindowStats:
    return stats_since_window(tenant_id, now, tenant_settings.load(tenant_id)["timezone"])


def all_of(tenant_id: str) -> list[ActionAutomation]:
    return sorted(ActionAutomation.query(tenant_id), key=_order)


def list_automations(tenant_id: str, now: datetime) -> list[dict]:
    stats = _stats(tenant_id, now)
    return [_as_json(item, stats.of(item.automation_id)) for item in all_of(tenant_id)]


def _load(tenant_id: str, automation_id: str) -> ActionAutomation:
    item = get_or_none(ActionAutomation, tenant_id, v.check_id(automation_id, "automation_id"))
    if item is None:
        raise NotFound("no such action-taken automation", field="automation_id")
    return item


def get(tenant_id: str, automation_id: str, now: datetime) -> dict:
    item = _load(tenant_id, automation_id)
    return _as_json(item, _stats(tenant_id, now).of(item.automation_id))


def create(principal: Principal, body: dict, now: datetime) -> dict:
    require_write(principal, "action_automations")
    fields = v.parse(body, FIELDS, required=("type",))
    type_ = fields["type"]
    _check_threshold(type_, fields.get(THRESHOLD))
    if fields.get("template_id") is not None:
        exists_for_type(principal.tenant_id, fields["template_id"], type_)
    if ActionAutomation.count(principal.tenant_id) >= MAX_PER_TENANT:
        raise Conflict(f"a store may have at most {MAX_PER_TENANT} action-taken automations; delete one first")
    item = ActionAutomation(
        principal.tenant_id, new_id(now), type=type_,
        name=fields.get("name") or catalog.ACTION_NAMES[type_], enabled=fields.get("enabled", False),
        channels=fields.get("channels") or ["email"], template_id=fields.get("template_id"),
        offer_text=fields.get("offer_text"), priority=fields.get("priority", 0),
        audience=_audience(fields.get("audience")), points_threshold=fields.get(THRESHOLD),
        created_at=to_iso(now), updated_at=to_iso(now), updated_by=principal.subject)
    created = create_only(item)
    # Nothing has been counted for it yet: the window's days, without reading the counters.
    nothing = WindowStats(window_days(now, tenant_settings.load(principal.tenant_id)["timezone"]), [])
    return _as_json(created, nothing.of(created.automation_id))


def patch(principal: Principal, automation_id: str, body: dict, now: datetime) -> dict:
    require_write(principal, "action_automations")
    current_item = _load(principal.tenant_id, automation_id)
    changes = v.parse(body, FIELDS, required=("name", "enabled", "channels"), partial=True)
    if "type" in changes and changes["type"] != current_item.type:
        raise v.fail("type", "cannot be changed; create an automation of the other type instead")
    changes.pop("type", None)
    if THRESHOLD in changes:
        _check_threshold(current_item.type, changes[THRESHOLD])
    if changes.get("template_id") is not None:
        exists_for_type(principal.tenant_id, changes["template_id"], current_item.type)

    def change(item: ActionAutomation | None) -> ActionAutomation:
        if item is None:
            raise NotFound("no such action-taken automation", field="automation_id")
        for name, value in changes.items():
            if name == "audience":
                value = _audience(value)
            elif name == "priority" and value is None:
                value = 0  # removed: the default
            setattr(item, name, value)
        item.updated_at, item.updated_by = to_iso(now), principal.subject
        return item

    item = mutate(lambda: get_or_none(ActionAutomation, principal.tenant_id, automation_id), change)
    return _as_json(item, _stats(principal.tenant_id, now).of(item.automation_id))


def delete(principal: Principal, automation_id: str) -> None:
    """Sends already queued for it are recorded as skipped (`automation_disabled`) at dispatch."""
    require_write(principal, "action_automations")
    v.check_id(automation_id, "automation_id")
    delete_current(lambda: get_or_none(ActionAutomation, principal.tenant_id, automation_id),
                   NotFound("no such action-taken automation", field="automation_id"))


def fired_before(tenant_id: str, customer_id: str) -> set[str]:
    """The "added" events that have fired for this customer already (once ever)."""
    return {f.event for f in ActionFiring.query(tenant_customer(tenant_id, customer_id))}


# --- the test-run: which automations one proposed change would fire -------------------------------

def _change(value: Any, field: str) -> dict:
    if not isinstance(value, dict):
        raise v.fail(field, "must be an object of customer fields, as PATCH /customers/{id} takes")
    return v.parse(value, records.CUSTOMER_FIELDS, partial=True, prefix=f"{field}.")


TEST_RUN_FIELDS = {"customer_id": v.check_id, "change": _change, "automation_id": v.check_id}


def test_run(tenant_id: str, body: dict, now: datetime) -> dict:
    """What the stream consumer would do with the change (a PATCH of the customer, or a new customer):
    its events, the automation each fires or why none, and for each firing the dispatch checks 3-6.
    With `automation_id`, that automation counts as switched on. Writes nothing."""
    fields = v.parse(body, TEST_RUN_FIELDS, required=("customer_id", "change"))
    customer_id, changes = fields["customer_id"], fields["change"]
    configured = views(tenant_id)
    if "automation_id" in fields:
        _load(tenant_id, fields["automation_id"])
        configured = [replace(a, enabled=True) if a.automation_id == fields["automation_id"] else a
                      for a in configured]
    existing = get_or_none(Customer, tenant_id, customer_id)
    before = dict(existing.attribute_values) if existing is not None else None
    # As a PATCH leaves them: consent merged per channel; how it was given fires nothing.
    changes = {k: val for k, val in changes.items() if k != "consent_source"}
    if "consent" in changes:
        changes["consent"] = records.consent_patched(existing, changes["consent"])
    after = {**(before or {}), **changes, "import_write": changes.get("source") == records.IMPORT}
    after["tags"] = records.tags_written(changes, after.get("tags"))
    after = {k: val for k, val in after.items() if val is not None and k not in ("tenant_id", "customer_id")}
    decisions = actions.decide(actions.CustomerState.of(before) if before is not None else None,
                               actions.CustomerState.of(after), configured)
    fired = fired_before(tenant_id, customer_id)
    tenant = TenantView(tenant_id, tenant_settings.load(tenant_id))
    person = person_of(Customer(tenant_id, customer_id, **after))
    events = []
    for decision in decisions:
        automation = decision.automation
        reason = actions.ALREADY_FIRED if decision.fires and decision.event in fired else decision.reason
        event: dict[str, Any] = {"event": decision.event, "fires": reason is None, "reason": reason}
        if automation is not None:
            event.update(automation_id=automation.automation_id, name=automation.name)
            if automation.points_threshold is not None:
                event[THRESHOLD] = automation.points_threshold
        if reason is None:
            match = Match(customer_id, decision.occurrence_key("test-run"), local_date(now, tenant.timezone), person)
            would_send, skipped = rehearse(tenant, catalog.MARKETING, automation.channels, [match], now)
            event.update(channels=list(automation.channels), would_send=would_send, skipped=dict(sorted(skipped.items())))
        events.append(event)
    return {"customer_id": customer_id, "new_customer": existing is None, "events": events,
            "would_fire": [e["automation_id"] for e in events if e["fires"]]}

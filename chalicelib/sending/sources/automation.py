"""The ten per-event automations as a source of sends: one configuration item per tenant and type,
matched by the runner's evaluations (`automation_id` is the type)."""
from __future__ import annotations

import hashlib
from typing import Any, Callable, Iterable, Mapping

from chalicelib.adapters.models import Automation
from chalicelib.adapters.persistence import Keys, get_or_none
from chalicelib.core import catalog
from chalicelib.rules import checks
from chalicelib.core.values import AppointmentFact, AutomationView, Match, RepairFact, SaleFact
from chalicelib.sending.messages import Send

NAME = "automation"
#: A send of an automation switched off (or deleted) after it was queued ends skipped with this reason.
DISABLED_REASON = checks.AUTOMATION_DISABLED


def effective_settings(spec: catalog.AutomationType, stored: dict | None) -> dict:
    settings = spec.default_settings()
    settings.update({k: val for k, val in (stored or {}).items() if k in spec.settings})
    return settings


def configuration(spec: catalog.AutomationType, item: Automation | None) -> AutomationView:
    """The effective configuration of a stored automation, or of the defaults when none is stored."""
    return AutomationView(
        type=spec.type,
        settings=effective_settings(spec, item.settings.as_dict() if item and item.settings else None),
        enabled=bool(item and item.enabled),
        channels=tuple(item.channels) if item and item.channels else ("email",),
        template_id=item.template_id if item else None,
        enabled_at=item.enabled_at if item else None,
        coverage_from=item.coverage_from if item else None,
    )


def category(type_: str) -> str:
    return catalog.PER_EVENT[type_].category


def batch_keys(sends: Iterable[Send]) -> list[Keys]:
    return [Keys(Automation, {(s.tenant_id, s.automation_type) for s in sends})]


def configurations(sends: Iterable[Send], found: Mapping[type, list]) -> dict[tuple[str, str], AutomationView]:
    """(tenant, automation id) -> configuration, from the batch read; a type never saved has its defaults."""
    stored = {(a.tenant_id, a.type): a for a in found.get(Automation, ())}
    return {(s.tenant_id, s.automation_id): configuration(spec, stored.get((s.tenant_id, s.automation_type)))
            if (spec := catalog.PER_EVENT.get(s.automation_type)) else AutomationView(type="", settings={}, channels=())
            for s in sends}


def current(tenant_id: str, type_: str) -> AutomationView:
    """One automation's effective configuration as stored now, as the evaluations see it."""
    return configuration(catalog.PER_EVENT[type_], get_or_none(Automation, tenant_id, type_))


def template_id(automation: AutomationView, type_: str) -> str:
    return automation.template_id or catalog.system_template_id(type_)


def discount_code(send: Send) -> str:
    """Unique per send and the same on every retry of it."""
    return "BDAY-" + hashlib.sha256(f"code#{send.ledger_key}".encode()).hexdigest()[:8].upper()


Variables = Callable[[Send, Mapping[str, Any], Mapping[str, Any]], dict]


def _birthday(send: Send, settings: Mapping[str, Any], store: Mapping[str, Any]) -> dict:
    return {"discount_code": discount_code(send)} if settings.get("include_discount_code") else {}


def _reengagement(send: Send, settings: Mapping[str, Any], store: Mapping[str, Any]) -> dict:
    return {"offer": store.get("special_offer")} if settings.get("include_special_offer") else {}


def _post_purchase(send: Send, settings: Mapping[str, Any], store: Mapping[str, Any]) -> dict:
    if not settings.get("request_review"):
        return {}
    return {"review_url": store.get("review_url") or store.get("store_website")}


#: The types whose settings add variables of their own (the others have none beyond the subject's).
TYPE_VARIABLES: Mapping[str, Variables] = {"birthday": _birthday, "reengagement": _reengagement,
                                           "post_purchase": _post_purchase}


def variables(send: Send, automation: AutomationView, store: Mapping[str, Any]) -> dict:
    of_type = TYPE_VARIABLES.get(send.automation_type)
    return of_type(send, automation.settings, store) if of_type else {}


SUBJECT_KINDS = {SaleFact: "sale", RepairFact: "repair", AppointmentFact: "appointment"}


def sends_of(matches: Iterable[Match], tenant_id: str, automation: AutomationView) -> list[Send]:
    """Each match becomes one send per channel of the automation."""
    sends = []
    for m in matches:
        subject_kind = SUBJECT_KINDS.get(type(m.subject))
        subject_id = getattr(m.subject, f"{subject_kind}_id") if subject_kind else None
        for channel in automation.channels:
            sends.append(Send(tenant_id=tenant_id, customer_id=m.customer_id, automation_type=automation.type,
                              automation_id=automation.type, occurrence_key=m.occurrence_key, channel=channel,
                              day=m.day.isoformat(), trigger=dict(m.trigger), subject_kind=subject_kind,
                              subject_id=subject_id))
    return sends

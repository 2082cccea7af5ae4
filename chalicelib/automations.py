"""The ten per-event automations of a tenant (spec section 3): configuration and stats."""
from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib import catalog, templating
from chalicelib import validation as v
from chalicelib.auth import Principal, require_write
from chalicelib.errors import NotFound
from chalicelib.matchers.base import AutomationView
from chalicelib.models import Automation, AutomationStats
from chalicelib.persistence import get_or_none, mutate
from chalicelib.template_store import exists_for_type
from chalicelib.timeutil import local_date, to_iso

STATS_DAYS = 30


def automation_type(type_: str) -> catalog.AutomationType:
    if type_ not in catalog.PER_EVENT:
        raise NotFound(f"no automation type {type_!r}; known types: {', '.join(catalog.PER_EVENT)}", field="type")
    return catalog.PER_EVENT[type_]


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
    )


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


def empty_stats() -> dict:
    return {"sent": 0, "skipped": {}, "failed": 0, "deferred": 0}


def stat_key(day: str, automation_id: str, status: str, reason: str | None) -> str:
    """The counter of one outcome: skips count per reason, the other outcomes in total."""
    outcome = f"{status}:{reason}" if status == "skipped" else status
    return f"{day}#{automation_id}#{outcome}"


class WindowStats:
    """Outcome counts per automation over a window of tenant-local days, from one range query: the totals
    (`sent`, `skipped` by reason, `failed`, `deferred`) and `daily`, one entry per day of the window, oldest
    first, for the admin's chart."""

    def __init__(self, days: list[str], rows: list[tuple[str, str, str, int]]) -> None:
        """`rows`: (day, automation id, outcome, count), as the counters' keys hold them."""
        self.days = days
        self._rows: dict[str, list[tuple[str, str, int]]] = {}
        for day, automation_id, outcome, count in rows:
            self._rows.setdefault(automation_id, []).append((day, outcome, count))

    def of(self, automation_id: str) -> dict:
        stats = empty_stats()
        daily = {day: {"date": day, "sent": 0, "skipped": 0, "failed": 0} for day in self.days}
        for day, outcome, count in self._rows.get(automation_id, ()):
            status, _, reason = outcome.partition(":")
            if status == "skipped":
                stats["skipped"][reason] = stats["skipped"].get(reason, 0) + count
            elif status in stats:
                stats[status] += count
            if day in daily and status in daily[day]:
                daily[day][status] += count
        stats["daily"] = list(daily.values())
        return stats


def window_days(now: datetime, tz_name: str) -> list[str]:
    """The last STATS_DAYS tenant-local dates, oldest first."""
    today = local_date(now, tz_name)
    return [(today - timedelta(days=n)).isoformat() for n in range(STATS_DAYS - 1, -1, -1)]


def stats_since_window(tenant_id: str, now: datetime, tz_name: str) -> WindowStats:
    """Outcome counts per automation id over the last STATS_DAYS tenant-local days."""
    days = window_days(now, tz_name)
    rows = []
    for row in AutomationStats.query(tenant_id, AutomationStats.stat_key >= days[0]):
        day, automation_id, outcome = row.stat_key.split("#", 2)
        rows.append((day, automation_id, outcome, int(row.count)))
    return WindowStats(days, rows)


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


def _settings_check(spec: catalog.AutomationType):
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
        "settings": _settings_check(spec),
        "channels": v.choice_list(catalog.CHANNELS),
        "template_id": v.string(80),
    }, required=("enabled", "channels"), partial=True)
    if changes.get("template_id") is not None:
        exists_for_type(principal.tenant_id, changes["template_id"], type_)

    def change(item: Automation | None) -> Automation:
        item = item or Automation(principal.tenant_id, type_, settings={}, channels=["email"], enabled=False)
        if "enabled" in changes:
            if changes["enabled"] and not item.enabled:
                # The runner never processes a date before the day the automation was last enabled.
                item.enabled_at = to_iso(now)
            item.enabled = changes["enabled"]
            item.enabled_type = type_ if item.enabled else None
        if "settings" in changes:
            stored = item.settings.as_dict() if item.settings else {}
            item.settings = {} if changes["settings"] is None else {**stored, **changes["settings"]}
        if "channels" in changes:
            item.channels = changes["channels"]
        if "template_id" in changes:
            item.template_id = changes["template_id"]
        item.updated_at, item.updated_by = to_iso(now), principal.subject
        return item

    mutate(lambda: get_or_none(Automation, principal.tenant_id, type_), change)
    return get(principal.tenant_id, type_, now, tz_name)

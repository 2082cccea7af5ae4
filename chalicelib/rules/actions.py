"""Action-taken automations' rules (docs/behaviour.md section 4), as pure functions: which events one customer change
is, and which automations those events fire.

An "added" event (birthday_add, email_add, interest_add, app_download) is a field going from empty to
set; it fires at most one automation: among the enabled ones of its type whose audience matches the
customer after the change, the highest priority, ties to the earliest created. Whether it has fired
for the customer before ("once ever") is the caller's to check, as it needs storage. Each enabled
`reward_available` automation fires on its own when the points cross its threshold upwards
(old < threshold <= new), which is also what re-arms it: it can only cross again after falling below.
A write marked as an import fires nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from chalicelib.rules.tags import folded_set

#: The "added" types and the customer field each watches.
ADDED: Mapping[str, str] = {
    "birthday_add": "birthday",
    "email_add": "email",
    "interest_add": "interests",
    "app_download": "app_installed_at",
}
REWARD = "reward_available"

# Why an event fires nothing (the test-run says so).
IMPORT = "import"
NO_AUTOMATION = "no_enabled_automation"
AUDIENCE = "audience_not_matched"
ALREADY_FIRED = "already_fired"


@dataclass(frozen=True)
class CustomerState:
    """What the rules read of one image of a customer."""

    birthday: str | None = None
    email: str | None = None
    interests: tuple[str, ...] = ()
    app_installed_at: str | None = None
    points: int = 0
    tags: tuple[str, ...] = ()
    import_write: bool = False

    @classmethod
    def of(cls, values: Mapping[str, Any] | None) -> "CustomerState":
        """From a customer's attribute values (a model's `attribute_values`); None is no customer."""
        values = values or {}
        return cls(birthday=values.get("birthday") or None, email=values.get("email") or None,
                   interests=tuple(values.get("interests") or ()), app_installed_at=values.get("app_installed_at") or None,
                   points=int(values.get("points_balance") or 0), tags=tuple(values.get("tags") or ()),
                   import_write=bool(values.get("import_write")))

    def has(self, field_name: str) -> bool:
        return bool(getattr(self, field_name))


@dataclass(frozen=True)
class ActionView:
    """One action-taken automation's configuration, as the rules and the dispatcher read it."""

    automation_id: str
    type: str
    name: str
    created_at: str
    enabled: bool = False
    channels: tuple[str, ...] = ("email",)
    template_id: str | None = None
    offer_text: str | None = None
    priority: int = 0
    audience: Mapping[str, Any] = field(default_factory=dict)
    points_threshold: int | None = None


@dataclass(frozen=True)
class Decision:
    """One event of a change: the automation it fires, or why it fires none (`reason`; a reward that
    does not fire still names its automation)."""

    event: str
    automation: ActionView | None = None
    reason: str | None = None

    @property
    def fires(self) -> bool:
        return self.reason is None and self.automation is not None

    def occurrence_key(self, event_id: str) -> str:
        """An "added" event happens once per customer; a reward each time its threshold is crossed
        upwards, which the stream record that crossed it names (a record delivered twice: one key)."""
        if self.event == REWARD:
            return f"reward:{self.automation.points_threshold}@{event_id}"
        return self.event


def audience_matches(audience: Mapping[str, Any] | None, state: CustomerState) -> bool:
    """Empty means everyone; each given part must hold (any of the tags, any of the interests, compared
    without regard to letter case; at least the points)."""
    audience = audience or {}
    if audience.get("tags_any") and not folded_set(audience["tags_any"]) & folded_set(state.tags):
        return False
    if audience.get("interests_any") and not folded_set(audience["interests_any"]) & folded_set(state.interests):
        return False
    if audience.get("min_points") is not None and state.points < int(audience["min_points"]):
        return False
    return True


def added_events(old: CustomerState, new: CustomerState) -> list[str]:
    return [event for event, name in ADDED.items() if not old.has(name) and new.has(name)]


def _choose(event: str, automations: Iterable[ActionView], new: CustomerState) -> Decision:
    enabled = [a for a in automations if a.type == event and a.enabled]
    if not enabled:
        return Decision(event, reason=NO_AUTOMATION)
    eligible = [a for a in enabled if audience_matches(a.audience, new)]
    if not eligible:
        return Decision(event, reason=AUDIENCE)
    return Decision(event, min(eligible, key=lambda a: (-a.priority, a.created_at, a.automation_id)))


def decide(old: CustomerState | None, new: CustomerState, automations: Iterable[ActionView]) -> list[Decision]:
    """The events of a change from `old` (None: a new customer) to `new`, each with what it fires."""
    old = old or CustomerState()
    automations = list(automations)
    events = added_events(old, new)
    rewards = sorted((a for a in automations if a.type == REWARD and a.enabled and a.points_threshold
                      and old.points < a.points_threshold <= new.points),
                     key=lambda a: (a.points_threshold, a.created_at, a.automation_id))
    if new.import_write:
        return [Decision(event, reason=IMPORT) for event in events] + [Decision(REWARD, a, IMPORT) for a in rewards]
    return [_choose(event, automations, new) for event in events] + [
        Decision(REWARD, a, None if audience_matches(a.audience, new) else AUDIENCE) for a in rewards]

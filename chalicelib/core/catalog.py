"""The automation types: names, categories, settings and template variables (docs/behaviour.md sections 3, 4, 6)."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

MARKETING = "marketing"
TRANSACTIONAL = "transactional"
CHANNELS = ("email", "sms")


@dataclass(frozen=True)
class AutomationType:
    """One per-event automation type. `settings` maps each setting to its allowed values, default first."""

    type: str
    name: str
    description: str
    category: str
    settings: Mapping[str, tuple] = field(default_factory=dict)
    daily: bool = True

    def default_settings(self) -> dict:
        return {name: allowed[0] for name, allowed in self.settings.items()}


PER_EVENT_TYPES: tuple[AutomationType, ...] = (
    AutomationType(
        "birthday", "Birthday Wishes",
        "A warm note on, or a few days before, each customer's birthday.",
        MARKETING, MappingProxyType({"days_before": (0, 1, 3, 7), "include_discount_code": (False, True)})),
    AutomationType(
        "anniversary", "Anniversary Wishes",
        "Remember the anniversary a customer shared with you, on the day or ahead of it.",
        MARKETING, MappingProxyType({"days_before": (0, 1, 3, 7)})),
    AutomationType(
        "repair_ready_reminder", "Repair Ready Reminder",
        "A gentle nudge when a finished repair has waited a few days to be collected.",
        TRANSACTIONAL, MappingProxyType({"days_after": (3, 5, 7, 14)})),
    AutomationType(
        "reengagement", "Re-engagement",
        "Reach out to customers who have not visited or bought for a while.",
        MARKETING, MappingProxyType({"months_inactive": (3, 6, 12), "include_special_offer": (False, True)})),
    AutomationType(
        "post_purchase", "Post-Purchase Thank You",
        "Thank customers the day after a purchase, optionally asking for a review.",
        MARKETING, MappingProxyType({"request_review": (False, True)})),
    AutomationType(
        "appointment_24h", "Appointment Reminder 24h",
        "Remind customers of their appointment the day before.",
        TRANSACTIONAL, daily=False),
    AutomationType(
        "appointment_1h", "Appointment Reminder 1h",
        "A short reminder an hour before the appointment.",
        TRANSACTIONAL, daily=False),
    AutomationType(
        "valentines", "Valentine's Day",
        "A note to every customer one week before Valentine's Day (Feb 7).",
        MARKETING),
    AutomationType(
        "mothers_day", "Mother's Day",
        "A note to every customer one week before Mother's Day in the store's country.",
        MARKETING),
    AutomationType(
        "christmas", "Christmas",
        "A seasonal note to every customer on December 18.",
        MARKETING),
)

PER_EVENT: Mapping[str, AutomationType] = MappingProxyType({t.type: t for t in PER_EVENT_TYPES})

#: Action-taken automation types (docs/behaviour.md section 4); all are marketing.
ACTION_TYPES: tuple[str, ...] = ("birthday_add", "email_add", "interest_add", "app_download", "reward_available")

ACTION_NAMES: Mapping[str, str] = MappingProxyType({
    "birthday_add": "Birthday added",
    "email_add": "Email added",
    "interest_add": "Interests added",
    "app_download": "App downloaded",
    "reward_available": "Reward available",
})

#: A campaign (clienteling section 12): a one-off marketing message to a segment's members. Its sends carry
#: this as their `automation_type`; its templates are of this type.
CAMPAIGN = "campaign"

#: Every type a template can be written for.
TEMPLATE_TYPES: tuple[str, ...] = tuple(PER_EVENT) + ACTION_TYPES + (CAMPAIGN,)


def name_of(type_: str) -> str:
    """The type's display name (an action-taken automation and a campaign also have names of their own)."""
    if type_ == CAMPAIGN:
        return "Campaign"
    return PER_EVENT[type_].name if type_ in PER_EVENT else ACTION_NAMES[type_]


def category_of(type_: str) -> str:
    if type_ in PER_EVENT:
        return PER_EVENT[type_].category
    if type_ in ACTION_TYPES or type_ == CAMPAIGN:
        return MARKETING
    raise KeyError(type_)


# Template variables (docs/behaviour.md section 6). Each object variable lists the fields a template may use.
CUSTOMER_FIELDS = ("first_name", "last_name", "full_name", "email", "phone", "birthday", "anniversary",
                   "points_balance", "tags", "interests")
STORE_FIELDS = ("name", "phone", "email", "address", "website")
AUTOMATION_FIELDS = ("type", "name")
REPAIR_FIELDS = ("repair_id", "description", "status", "ready_at", "created_at")
APPOINTMENT_FIELDS = ("appointment_id", "starts_at", "purpose")
SALE_FIELDS = ("sale_id", "completed_at", "total")

BASE_VARIABLES: Mapping[str, tuple | None] = MappingProxyType({
    "customer": CUSTOMER_FIELDS, "store": STORE_FIELDS, "automation": AUTOMATION_FIELDS,
})

# None marks a plain value (no fields).
_EXTRA_VARIABLES: Mapping[str, Mapping[str, tuple | None]] = MappingProxyType({
    "birthday": {"discount_code": None},
    "reengagement": {"offer": None},
    "repair_ready_reminder": {"repair": REPAIR_FIELDS},
    "appointment_24h": {"appointment": APPOINTMENT_FIELDS},
    "appointment_1h": {"appointment": APPOINTMENT_FIELDS},
    "post_purchase": {"sale": SALE_FIELDS, "review_url": None},
    **{t: {"offer": None} for t in ACTION_TYPES},
    CAMPAIGN: {"campaign": None},   # the campaign's name
})


def template_variables(type_: str) -> dict[str, tuple | None]:
    """The variables a template of this type may use, with the fields of object variables."""
    variables: dict[str, tuple | None] = dict(BASE_VARIABLES)
    variables.update(_EXTRA_VARIABLES.get(type_, {}))
    if category_of(type_) == MARKETING:
        variables["unsubscribe_url"] = None
    return variables


#: The shipped template of a type is `system:<type>`; a store's own templates have ids of their own.
SYSTEM_PREFIX = "system:"


def system_template_id(type_: str) -> str:
    return f"{SYSTEM_PREFIX}{type_}"


def is_system(template_id: str) -> bool:
    return template_id.startswith(SYSTEM_PREFIX)

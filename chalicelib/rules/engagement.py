"""What an SES event of a sent email means for its record, and which message a sale is attributed to
(docs/behaviour.md section 14). Pure: no AWS, no clock.

SES publishes one JSON document per event (`eventType`: Send, Delivery, Bounce, Complaint, Reject, Open,
Click, Rendering Failure, DeliveryDelay, Subscription), with the mail's tags in `mail.tags` (each a list of
values). The dispatcher tags every email with the store, the customer and the id of the record the send
will write (`RECORD_TAG`), nothing else: the event finds its record by key, and a tag names no person.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

#: The tags an email carries besides the store's (`tenant_id`, which feedback already reads).
CUSTOMER_TAG, RECORD_TAG = "customer", "record"

SEND, DELIVERY, BOUNCE, COMPLAINT, REJECT, OPEN, CLICK, RENDERING_FAILURE = (
    "Send", "Delivery", "Bounce", "Complaint", "Reject", "Open", "Click", "Rendering Failure")


@dataclass(frozen=True)
class Effect:
    """What an event does to its record, once: `first_field` is set if unset (the event's instant), and
    in the same write `counter` is added to the day's counters and `delivery_status` becomes `status`."""

    first_field: str
    #: None: not counted (SES's send event: the dispatcher's `sent` counter already counts the message).
    counter: str | None
    status: str | None = None


#: Each kind of event, once per message. A machine open (`machine_open`) is kept apart from a person's.
EFFECTS: Mapping[str, Effect] = {
    SEND: Effect("accepted_at", None, "sent"),
    DELIVERY: Effect("delivered_at", "delivered", "delivered"),
    BOUNCE: Effect("bounced_at", "bounced", "bounced"),
    COMPLAINT: Effect("complained_at", "complained", "complained"),
    REJECT: Effect("rejected_at", "rejected", "rejected"),
    RENDERING_FAILURE: Effect("rendering_failed_at", "rendering_failure", "rendering_failure"),
    OPEN: Effect("opened_at", "opened"),
    CLICK: Effect("clicked_at", "clicked"),
}
MACHINE_OPEN = Effect("machine_opened_at", "machine_open")
#: The counters engagement adds (besides the outcome counters `sent`, `skipped`, `failed`, `deferred`).
ENGAGEMENT_COUNTERS = ("delivered", "opened", "machine_open", "clicked", "bounced", "complained", "rejected",
                       "rendering_failure", "attributed_sales", "attributed_revenue")

#: A later status replaces an earlier one, never the other way round: a delivery reported after a complaint
#: (events may arrive in any order) leaves it `complained`.
_RANK = {"sent": 0, "delivered": 1, "rejected": 2, "rendering_failure": 2, "bounced": 3, "complained": 4}


def next_status(current: str | None, new: str | None) -> str | None:
    """The record's delivery status after an event: the event's if it ranks at least as high."""
    if new is None:
        return current
    if current is None or _RANK.get(new, 0) >= _RANK.get(current, 0):
        return new
    return current


# --- mail privacy proxies ------------------------------------------------------------------------------

#: Apple Mail Privacy Protection fetches every image of a message when it reaches the device, through
#: Apple's proxies, which send the bare user agent `Mozilla/5.0` and leave from Apple's own network.
APPLE_NETWORKS = (ipaddress.ip_network("17.0.0.0/8"),)
#: Fetchers that load images without a person opening the message: the proxies of Yahoo and AOL
#: (prefetching), security gateways and link scanners that open every message they pass.
MACHINE_AGENTS = ("yahoomailproxy", "barracuda", "mimecast", "proofpoint", "symantec", "messagelabs",
                  "forcepoint", "trendmicro", "ironport", "googlebot", "bingpreview", "headlesschrome",
                  "python-requests", "curl/", "wget/")


def is_machine_open(user_agent: str | None, ip_address: str | None) -> bool:
    """Whether an open was made by a mail privacy proxy or a scanner rather than a person, from what SES
    reports of the request (`open.userAgent`, `open.ipAddress`)."""
    agent = (user_agent or "").strip()
    if agent == "Mozilla/5.0":
        return True   # Apple MPP's bare agent: no mail client sends only that
    lowered = agent.lower()
    if any(token in lowered for token in MACHINE_AGENTS):
        return True
    try:
        address = ipaddress.ip_address((ip_address or "").strip())
    except ValueError:
        return False
    return any(address in network for network in APPLE_NETWORKS)


# --- events ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EngagementEvent:
    kind: str
    tenant_id: str
    customer_id: str
    record_id: str
    message_id: str
    #: When it happened (the event's own instant), and when the mail was sent.
    at: datetime
    sent_at: datetime
    machine: bool = False
    link: str | None = None

    @property
    def effect(self) -> Effect:
        return MACHINE_OPEN if self.kind == OPEN and self.machine else EFFECTS[self.kind]


class NotOurs(ValueError):
    """An event this runner cannot act on: not an SES event, a kind it does not record, or mail without
    its tags (sent by something else)."""


def parse_instant_text(text: Any) -> datetime:
    value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("no offset")
    return value


def _tag(tags: Mapping[str, Any], name: str, decode) -> str:
    values = tags.get(name)
    if not isinstance(values, list) or not values or not isinstance(values[0], str) or not values[0]:
        raise NotOurs(f"no {name} tag")
    return decode(values[0])


#: The part of the event that holds its own instant, per kind.
_DETAIL = {SEND: "send", DELIVERY: "delivery", BOUNCE: "bounce", COMPLAINT: "complaint", REJECT: "reject",
           OPEN: "open", CLICK: "click", RENDERING_FAILURE: "failure"}
MAX_LINK = 300


def clean_link(url: Any) -> str | None:
    """A clicked link as kept: without its query and fragment (they may carry a token, such as the
    unsubscribe link's, or an address), at most MAX_LINK characters."""
    if not isinstance(url, str) or not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))[:MAX_LINK] or None


def parse(document: Any, decode) -> EngagementEvent:
    """An SES event document as this runner records it; `decode` reverses the tag values' escaping.
    Raises NotOurs for anything else."""
    if not isinstance(document, dict):
        raise NotOurs("not an object")
    kind = document.get("eventType") or document.get("notificationType")
    if kind not in EFFECTS:
        raise NotOurs(f"event type {kind!r} is not recorded")
    mail = document.get("mail")
    if not isinstance(mail, dict) or not isinstance(mail.get("tags"), dict):
        raise NotOurs("no mail tags")
    tags = mail["tags"]
    detail = document.get(_DETAIL[kind]) or {}
    if not isinstance(detail, dict):
        detail = {}
    try:
        sent_at = parse_instant_text(mail.get("timestamp"))
        at = parse_instant_text(detail["timestamp"]) if detail.get("timestamp") else sent_at
    except (TypeError, ValueError):
        raise NotOurs("no instant") from None
    message_id = mail.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise NotOurs("no message id")
    return EngagementEvent(
        kind=kind, tenant_id=_tag(tags, "tenant_id", decode), customer_id=_tag(tags, CUSTOMER_TAG, decode),
        record_id=_tag(tags, RECORD_TAG, decode), message_id=message_id, at=at, sent_at=sent_at,
        machine=kind == OPEN and is_machine_open(detail.get("userAgent"), detail.get("ipAddress")),
        link=clean_link(detail.get("link")) if kind == CLICK else None)


# --- attribution -------------------------------------------------------------------------------------

DEFAULT_ATTRIBUTION_DAYS = 5


@dataclass(frozen=True)
class Candidate:
    """A record of a customer's history as attribution sees it."""

    record_id: str
    sort_key: str
    created_at: str
    status: str
    marketing: bool
    automation_id: str | None
    source: str


def attributed_to(records: Iterable[Candidate], completed_at: str, days: int) -> Candidate | None:
    """The message a sale completed at `completed_at` is attributed to: the latest `sent` marketing message
    sent at or before the sale and no more than `days` days before it; None if there is none."""
    end = parse_instant_text(completed_at)
    start = end - timedelta(days=days)
    best = None
    for record in records:
        if record.status != "sent" or not record.marketing or not record.automation_id:
            continue
        created = parse_instant_text(record.created_at)
        if start <= created <= end and (best is None or record.sort_key > best.sort_key):
            best = record
    return best

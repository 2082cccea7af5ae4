"""What travels on the send queue: a send (a match on one channel), or a pack of up to PACK sends.

Sources queue their sends packed (`pack`): one SendMessageBatch of 10 messages carries 100 sends, and one
dispatch batch of 10 messages works on 100. A send put back alone (a retry after a transient provider
error, a released deferral, a send an invocation had no time for) travels as one send. `unpack` reads both.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, Mapping

from chalicelib.adapters.models import ledger_key
from chalicelib.core.catalog import CHANNELS

VERSION = 1
#: Sends per packed message: 10 sends of about 400 bytes each, far below SQS's 256 KB a message.
PACK = 10
SUBJECT_KINDS = ("sale", "repair", "appointment")


class MalformedMessage(ValueError):
    """A queue message that is not a send this version understands; it can never succeed."""


@dataclass(frozen=True)
class Send:
    """One message to one customer on one channel for one occurrence of one automation."""

    tenant_id: str
    customer_id: str
    automation_type: str
    automation_id: str
    occurrence_key: str
    channel: str
    #: What asked for it: a source registered in `chalicelib.sending.sources` (a per-event automation by default).
    source: str = "automation"
    #: The tenant-local date processed (daily types) or of the evaluation (continuous ones).
    day: str | None = None
    #: Facts the dispatcher re-checks (docs/behaviour.md section 5, check 2).
    trigger: Mapping[str, str] = field(default_factory=dict)
    #: The sale, repair or appointment the message is about: ("repair", "r1").
    subject_kind: str | None = None
    subject_id: str | None = None
    #: Tries so far after transient provider errors.
    attempt: int = 0
    #: Put back on the queue by the release of deferred sends.
    released: bool = False

    @property
    def ledger_key(self) -> str:
        return ledger_key(self.tenant_id, self.customer_id, self.automation_id, self.occurrence_key, self.channel)

    def to_body(self) -> str:
        return json.dumps({"v": VERSION, **asdict(self), "trigger": dict(self.trigger)}, separators=(",", ":"))

    def retried(self) -> "Send":
        return replace(self, attempt=self.attempt + 1, released=False)

    def release(self) -> "Send":
        return replace(self, released=True)


_REQUIRED = ("tenant_id", "customer_id", "automation_type", "automation_id", "occurrence_key", "channel")


def pack(sends: list[Send]) -> list[str]:
    """Message bodies for `sends`, PACK to a message, in order; a customer's sends are kept in one message
    where they fit (the dispatcher runs one customer's sends in order, with the customer's frequency cap)."""
    groups: dict[tuple[str, str], list[Send]] = {}
    for send in sends:
        groups.setdefault((send.tenant_id, send.customer_id), []).append(send)
    packs: list[list[Send]] = [[]]
    for group in groups.values():
        for start in range(0, len(group), PACK):
            part = group[start:start + PACK]
            if len(packs[-1]) + len(part) > PACK:
                packs.append([])
            packs[-1].extend(part)
    return [_pack_body(p) for p in packs if p]


def _pack_body(sends: list[Send]) -> str:
    if len(sends) == 1:
        return sends[0].to_body()
    return json.dumps({"v": VERSION, "sends": [json.loads(s.to_body()) for s in sends]}, separators=(",", ":"))


def unpack(body: str) -> list[Send]:
    """The sends of a message body (one, or a pack); MalformedMessage if any of them is not readable."""
    data = _load(body)
    if "sends" not in data:
        return [_send_of(data)]
    sends = data["sends"]
    if not isinstance(sends, list) or not 1 <= len(sends) <= PACK:
        raise MalformedMessage(f"sends must be a list of 1 to {PACK} sends")
    return [_send_of(item) for item in sends]


def parse(body: str) -> Send:
    """The one send of a message body."""
    return _send_of(_load(body))


def _load(body: str) -> dict:
    try:
        data: Any = json.loads(body)
    except (TypeError, ValueError) as e:
        raise MalformedMessage(f"not JSON ({e})") from None
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise MalformedMessage("not a send message of version 1")
    return data


def _send_of(data: Any) -> Send:
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise MalformedMessage("not a send message of version 1")
    for name in _REQUIRED:
        if not isinstance(data.get(name), str) or not data[name]:
            raise MalformedMessage(f"{name} is missing")
    if data["channel"] not in CHANNELS:
        raise MalformedMessage("unknown channel")
    if not isinstance(data.get("source", ""), str):
        raise MalformedMessage("unknown source")
    if data.get("subject_kind") not in (None, *SUBJECT_KINDS):
        raise MalformedMessage("unknown subject kind")
    trigger = data.get("trigger") or {}
    if not isinstance(trigger, dict) or not all(isinstance(v, str) for v in trigger.values()):
        raise MalformedMessage("trigger must map names to strings")
    attempt = data.get("attempt", 0)
    if not isinstance(attempt, int) or attempt < 0:
        raise MalformedMessage("attempt must be a count")
    day = data.get("day")
    if day is not None:
        try:
            date.fromisoformat(day)
        except (TypeError, ValueError):
            raise MalformedMessage("day is not a date") from None
    known = {f for f in Send.__dataclass_fields__}
    return Send(**{k: val for k, val in data.items() if k in known and k != "trigger"}, trigger=trigger)

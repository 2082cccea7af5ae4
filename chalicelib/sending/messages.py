"""What travels on the send queue: one message per send (a match on one channel)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, Mapping

from chalicelib.adapters.models import ledger_key
from chalicelib.core.catalog import CHANNELS

VERSION = 1
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


def parse(body: str) -> Send:
    try:
        data: Any = json.loads(body)
    except (TypeError, ValueError) as e:
        raise MalformedMessage(f"not JSON ({e})") from None
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

"""The customers stream consumer: each change to a customer fires the action-taken automations it should
(docs/behaviour.md section 4), as sends on the same queue as every other automation's, so consent, suppression,
the frequency cap, quiet hours, templates and records apply to them in the dispatcher alike.

Exactly once. An "added" event claims its once-ever place with a conditional write (`ActionFiring`)
before its sends are queued, naming the stream record that fired it: the same record delivered again
(a retried batch, a duplicate) queues the same sends again, which the send ledger drops or the
dispatcher finds already done; any other record finds the place taken and fires nothing. A reward's
occurrence key names the record that crossed the threshold, so a record delivered twice is one send.

Faults. Records are processed in order; at the first that fails, the consumer stops and reports it
(Lambda's partial batch response for streams), so Lambda retries from that record and the records
before it are not processed again. The sends of the records before it are queued before returning.
In the cloud the event source bisects failing batches, retries a bounded number of times, and then
sends the record's shard and sequence numbers to an on-failure queue (see docs/operations.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

from pynamodb.exceptions import PutError

from chalicelib.adapters.models import ActionFiring, Customer, tenant_customer
from chalicelib.adapters.observability import logger
from chalicelib.adapters.persistence import is_conditional_failure
from chalicelib.adapters.queues import Queue
from chalicelib.core.timeutil import to_iso
from chalicelib.rules import actions
from chalicelib.sending.enqueue import enqueue
from chalicelib.sending.messages import Send
from chalicelib.sending.sources import action

REMOVE = "REMOVE"


class MalformedRecord(ValueError):
    """A stream record that is not a change of a customer."""


@dataclass(frozen=True)
class Change:
    """One stream record, read: whose customer, the images before and after, and the record's id."""

    tenant_id: str
    customer_id: str
    event_id: str
    sequence_number: str
    old: actions.CustomerState | None
    new: actions.CustomerState | None


@dataclass
class StreamResult:
    changes: int = 0
    fired: list[tuple[str, str, str]] = field(default_factory=list)  # (customer_id, event, automation_id)
    queued: int = 0
    #: Sequence numbers to retry from (Lambda's partial batch response for streams).
    failures: list[str] = field(default_factory=list)

    def response(self) -> dict:
        return {"batchItemFailures": [{"itemIdentifier": n} for n in self.failures]}


def _image(dynamodb: Mapping[str, Any], name: str) -> actions.CustomerState | None:
    image = dynamodb.get(name)
    if not image:
        return None
    return actions.CustomerState.of(Customer.from_raw_data(image).attribute_values)


def read(record: Mapping[str, Any]) -> Change | None:
    """The change a record is, or None for one that can fire nothing (a customer deleted)."""
    try:
        dynamodb = record["dynamodb"]
        keys = dynamodb["Keys"]
        tenant_id, customer_id = keys["tenant_id"]["S"], keys["customer_id"]["S"]
        event_id, sequence_number = record["eventID"], dynamodb["SequenceNumber"]
        if record.get("eventName") == REMOVE:
            return None
        new = _image(dynamodb, "NewImage")
        if new is None:
            raise MalformedRecord("no new image: the stream must be NEW_AND_OLD_IMAGES")
        return Change(tenant_id, customer_id, event_id, sequence_number, _image(dynamodb, "OldImage"), new)
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedRecord(f"not a customers stream record ({type(e).__name__}: {e})") from None


def _claim_once(change: Change, event: str, automation: actions.ActionView, now: datetime) -> ActionFiring | None:
    """Take the customer's once-ever place for `event`, or find it taken. Returns what to send: the
    place this record holds (now or from an earlier delivery of it), or None if another record's."""
    firing = ActionFiring(tenant_customer(change.tenant_id, change.customer_id), event, event_id=change.event_id,
                          automation_id=automation.automation_id, channels=list(automation.channels),
                          occurrence_key=event, fired_at=to_iso(now))
    try:
        firing.save(condition=ActionFiring.tenant_customer.does_not_exist())
        return firing
    except PutError as e:
        if not is_conditional_failure(e):
            raise
    held = ActionFiring.get(firing.tenant_customer, event, consistent_read=True)
    return held if held.event_id == change.event_id else None


class _Automations:
    """Each tenant's action-taken automations, read once per batch, and only for a change that can fire."""

    def __init__(self) -> None:
        self._by_tenant: dict[str, list[actions.ActionView]] = {}

    def of(self, tenant_id: str) -> list[actions.ActionView]:
        if tenant_id not in self._by_tenant:
            self._by_tenant[tenant_id] = action.views(tenant_id)
        return self._by_tenant[tenant_id]


def sends_for(change: Change, automations: _Automations, now: datetime) -> list[tuple[str, Send]]:
    """The sends one change fires, each with its event."""
    if change.new.import_write:
        return []
    old = change.old or actions.CustomerState()
    if not actions.added_events(old, change.new) and not change.new.points > old.points:
        return []  # nothing that could fire: no need to read the automations
    sends = []
    for decision in actions.decide(change.old, change.new, automations.of(change.tenant_id)):
        if not decision.fires:
            continue
        automation = decision.automation
        automation_id, occurrence_key, channels = (automation.automation_id, decision.occurrence_key(change.event_id),
                                                   automation.channels)
        if decision.event in actions.ADDED:
            # What the once-ever place holds wins: a redelivered record sends what it first chose.
            held = _claim_once(change, decision.event, automation, now)
            if held is None:
                continue  # fired once already, by another change
            automation_id, occurrence_key, channels = held.automation_id, held.occurrence_key, held.channels
        for channel in channels:
            sends.append((decision.event, Send(
                tenant_id=change.tenant_id, customer_id=change.customer_id, automation_type=decision.event,
                automation_id=automation_id, occurrence_key=occurrence_key, channel=channel, source=action.NAME)))
    return sends


def handle(records: Iterable[Mapping[str, Any]], queue: Queue, now: datetime) -> StreamResult:
    """Process one batch of stream records in order (see the module's note on faults)."""
    result, automations = StreamResult(), _Automations()
    pending: list[tuple[str, list[Send]]] = []  # (sequence number, its sends), not yet queued
    for record in records:
        sequence_number = (record.get("dynamodb") or {}).get("SequenceNumber", "")
        try:
            change = read(record)
            if change is None:
                continue
            result.changes += 1
            fired = sends_for(change, automations, now)
        except Exception:  # noqa: BLE001 - retried from here by Lambda; logged with ids only
            logger.exception("customer change failed", extra={"sequence_number": sequence_number,
                                                              "event_id": record.get("eventID")})
            result.failures.append(sequence_number)
            break
        if fired:
            pending.append((sequence_number, [send for _, send in fired]))
            result.fired += sorted({(change.customer_id, event, send.automation_id) for event, send in fired})
    if pending:
        try:
            result.queued = enqueue([s for _, sends in pending for s in sends], queue)
        except Exception:  # noqa: BLE001 - retried from the first record with sends; the ledger drops repeats
            logger.exception("queueing fired sends failed")
            result.failures = [pending[0][0]]
            return result
    for customer_id, event, automation_id in result.fired:
        logger.info("action fired", extra={"customer_id": customer_id, "event": event, "automation_id": automation_id})
    return result

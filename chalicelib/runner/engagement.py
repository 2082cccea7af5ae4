"""SES events of sent email (send, delivery, bounce, complaint, reject, open, click, rendering failure), from the
configuration set's topic through the engagement queue: each updates its message's record and its
automation's counters once (docs/behaviour.md section 14, `sending.engagement`)."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from chalicelib.adapters.providers import from_tag_value
from chalicelib.adapters.queues import BatchResult
from chalicelib.adapters.tenants import load as load_settings
from chalicelib.rules import engagement as rules
from chalicelib.sending import engagement, ledger


@dataclass
class EngagementResult(BatchResult):
    #: (result, counter) -> how many: `counted`, `duplicate`, `unknown`, `ignored` (not an event we record).
    results: Counter = field(default_factory=Counter)


def document_of(body: str) -> Any:
    """The SES event in a queue message: the body itself (the subscription's raw delivery) or an SNS
    envelope's `Message`."""
    document = json.loads(body)
    if isinstance(document, dict) and document.get("Type") == "Notification" and "Message" in document:
        document = json.loads(document["Message"])
    return document


def handle(records: list[Mapping[str, Any]], now: datetime) -> EngagementResult:
    """One batch of queue messages, each an SES event. A message whose record is not written yet, or whose
    writes stayed contended, is answered as failed: the queue gives it again after its visibility timeout."""
    from chalicelib.adapters.observability import logger

    result = EngagementResult()
    zones: dict[str, str] = {}   # a batch's stores' time zones, one settings read each
    parsed: list[tuple[Mapping[str, Any], rules.EngagementEvent]] = []
    for record in records:
        try:
            event = rules.parse(document_of(record["body"]), from_tag_value)
        except (ValueError, rules.NotOurs) as e:
            result.results["ignored", None] += 1
            logger.info("SES event not recorded", extra={"why": str(e)[:100]})
            continue
        try:
            if event.tenant_id not in zones:
                zones[event.tenant_id] = load_settings(event.tenant_id)["timezone"]
        except Exception:  # noqa: BLE001 - this message alone comes back
            logger.exception("SES event failed", extra=_ids(event))
            result.failures.append(record["messageId"])
            continue
        parsed.append((record, event))
    outcomes = engagement.apply_batch([(event, zones[event.tenant_id]) for _, event in parsed], now)
    for (record, event), applied in zip(parsed, outcomes):
        if isinstance(applied, Exception):
            if isinstance(applied, engagement.RecordNotYet):
                logger.info("SES event before its record; tried again later", extra=_ids(event))
            elif isinstance(applied, ledger.Contended):
                logger.warning("SES event contended; tried again later", extra=_ids(event))
            else:
                logger.error("SES event failed", extra={**_ids(event), "error": type(applied).__name__})
            result.failures.append(record["messageId"])
            continue
        result.results[applied.result, applied.counter] += 1
        if applied.result == "unknown":
            logger.warning("SES event for no record of ours", extra=_ids(event))
    return result


def _ids(event: rules.EngagementEvent) -> dict:
    return {"tenant_id": event.tenant_id, "customer_id": event.customer_id, "record_id": event.record_id,
            "event": event.kind}

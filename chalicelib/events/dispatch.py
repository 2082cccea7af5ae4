"""The send queue's consumer: the dispatcher, ten sends a batch (built on the first call, by `wiring.dispatcher`)."""
from __future__ import annotations

from typing import Any, Callable, Mapping

from chalice import Blueprint

from chalicelib.adapters import resources
from chalicelib.adapters.observability import count_sends, logger
from chalicelib.adapters.queues import BatchResult
from chalicelib.events.wiring import dispatcher, flushed

bp = Blueprint(__name__)


@flushed
def dispatch_records(records: list[Mapping[str, Any]], time_left: Callable[[], float] | None = None) -> BatchResult:
    result = dispatcher().dispatch_records(records, time_left)
    count_sends(result.outcomes)
    for outcome in result.outcomes:
        if outcome.send is not None:
            logger.info("send", extra={"tenant_id": outcome.send.tenant_id, "customer_id": outcome.send.customer_id,
                                       "automation_id": outcome.send.automation_id, "channel": outcome.send.channel,
                                       "occurrence_key": outcome.send.occurrence_key, "outcome": outcome.status,
                                       "reason": outcome.reason, "took_over": outcome.took_over})
    return result


@bp.on_sqs_message(queue=resources.send_queue_name(), batch_size=resources.DISPATCH_BATCH_SIZE,
                    name=resources.DISPATCH_FUNCTION)
def dispatch(event):
    context = getattr(event, "context", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return dispatch_records(event.to_dict()["Records"],
                            (lambda: remaining() / 1000) if callable(remaining) else None).response()

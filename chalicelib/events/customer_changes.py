"""The customers stream's consumer: the action-taken automations each change fires. Its work is imported on the first call: app.py imports every blueprint, and the API function should not pay for
the runner."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from chalice import Blueprint

from chalicelib.adapters import resources
from chalicelib.adapters.observability import logger
from chalicelib.core.clock import utcnow
from chalicelib.events.wiring import flushed, send_queue

if TYPE_CHECKING:
    from chalicelib.runner import customer_changes as consumer

bp = Blueprint(__name__)


@flushed
def handle_records(records: list[Mapping[str, Any]]) -> consumer.StreamResult:
    from chalicelib.runner import customer_changes as consumer

    result = consumer.handle(records, send_queue(), utcnow())
    if result.changes or result.failures:
        logger.info("customer changes", extra={"changes": result.changes, "fired": len(result.fired),
                                               "queued": result.queued, "failed_at": result.failures})
    return result


@bp.on_dynamodb_record(stream_arn=resources.customers_stream_arn(), batch_size=resources.STREAM_BATCH_SIZE,
                       starting_position="TRIM_HORIZON", name=resources.CUSTOMER_CHANGES_FUNCTION)
def customer_changes(event):
    """From the stream's oldest record on first deploy, so no change made before the consumer existed is
    missed."""
    return handle_records(event.to_dict()["Records"]).response()

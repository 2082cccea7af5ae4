"""SES's events of sent email through the engagement queue (the configuration set's topic delivers them there):
each updates its message's record and counters once. Its work is imported on the first call: app.py imports
every blueprint, and the API function should not pay for the runner."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping

from chalice import Blueprint

from chalicelib.adapters import resources
from chalicelib.adapters.observability import logger
from chalicelib.core.clock import utcnow
from chalicelib.events.wiring import flushed

if TYPE_CHECKING:
    from chalicelib.runner.engagement import EngagementResult

bp = Blueprint(__name__)


@flushed
def engagement_records(records: list[Mapping[str, Any]], now: datetime | None = None) -> EngagementResult:
    from chalicelib.runner import engagement

    result = engagement.handle(records, now or utcnow())
    logger.info("SES events", extra={"results": {f"{r}:{c}" if c else r: n for (r, c), n in result.results.items()},
                                     "retried": len(result.failures)})
    return result


@bp.on_sqs_message(queue=resources.engagement_queue_name(), batch_size=resources.ENGAGEMENT_BATCH_SIZE,
                    name=resources.ENGAGEMENT_FUNCTION)
def ses_engagement(event):
    return engagement_records(event.to_dict()["Records"]).response()

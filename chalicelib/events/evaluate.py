"""The evaluations queue's consumer: one job (a tenant and a type at an instant) per message. Its work is imported on the first call: app.py imports every blueprint, and the API function should not pay for
the runner."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Mapping

from chalice import Blueprint

from chalicelib.adapters import resources
from chalicelib.adapters.observability import logger, timing
from chalicelib.adapters.queues import BatchResult
from chalicelib.events.wiring import flushed, send_queue

if TYPE_CHECKING:
    from chalicelib.runner import evaluation

bp = Blueprint(__name__)


@flushed
def evaluate_records(records: list[Mapping[str, Any]]) -> tuple[BatchResult, list[evaluation.Evaluation]]:
    """One job per record, each on its own."""
    from chalicelib.adapters.repository import DynamoRepository
    from chalicelib.runner import evaluation

    result, done = BatchResult(), []
    for record in records:
        started = time.monotonic()
        try:
            job = evaluation.Job.parse(record["body"])
        except evaluation.MalformedJob:
            logger.error("malformed evaluation job", extra={"message_id": record["messageId"]})
            result.failures.append(record["messageId"])
            continue
        try:
            outcome = evaluation.evaluate(job, DynamoRepository(), send_queue())
        except Exception:  # noqa: BLE001 - retried alone through the queue, then its dead-letter queue
            logger.exception("evaluation failed", extra={"tenant_id": job.tenant_id, "type": job.type})
            result.failures.append(record["messageId"])
            continue
        elapsed = (time.monotonic() - started) * 1000
        timing("EvaluationDuration", elapsed, type=job.type)
        logger.info("evaluated", extra={"tenant_id": job.tenant_id, "type": job.type, "dates": outcome.dates,
                                        "matched": outcome.matched, "queued": outcome.queued,
                                        "milliseconds": round(elapsed)})
        done.append(outcome)
    return result, done


@bp.on_sqs_message(queue=resources.evaluation_queue_name(), batch_size=1, name=resources.EVALUATE_FUNCTION)
def evaluate(event):
    return evaluate_records(event.to_dict()["Records"])[0].response()

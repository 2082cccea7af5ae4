"""The evaluations queue's consumer: one job (a tenant and a type at an instant) per message, one page of
matches per job; the job that carries on after a full page goes back on the same queue. Its work is
imported on the first call: app.py imports every blueprint, and the API function should not pay for
the runner."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Mapping

from chalice import Blueprint

from chalicelib.adapters import resources
from chalicelib.adapters.observability import logger, timing
from chalicelib.adapters.queues import BatchResult
from chalicelib.core.clock import utcnow
from chalicelib.events.wiring import evaluation_queue, flushed, send_queue

if TYPE_CHECKING:
    from chalicelib.runner import evaluation

bp = Blueprint(__name__)


@flushed
def evaluate_records(records: list[Mapping[str, Any]],
                     page_size: int | None = None) -> tuple[BatchResult, list[evaluation.Evaluation]]:
    """One job per record, each on its own, each a page of at most `page_size` matches (default:
    `evaluation.PAGE_SIZE`)."""
    from chalicelib.adapters.repository import DynamoRepository
    from chalicelib.runner import campaigns, evaluation
    from chalicelib.services import imports

    result, done = BatchResult(), []
    for record in records:
        started = time.monotonic()
        if imports.ImportJob.is_one(record["body"]):
            if not _import_chunk(record):
                result.failures.append(record["messageId"])
            continue
        if campaigns.CampaignJob.is_one(record["body"]):
            if not _campaign_page(record, page_size):
                result.failures.append(record["messageId"])
            continue
        try:
            job = evaluation.Job.parse(record["body"])
        except evaluation.MalformedJob:
            logger.error("malformed evaluation job", extra={"message_id": record["messageId"]})
            result.failures.append(record["messageId"])
            continue
        try:
            outcome = evaluation.evaluate(job, DynamoRepository(), send_queue(),
                                          page_size or evaluation.PAGE_SIZE, now=utcnow())
            if outcome.continuation is not None:
                # Queued after the page's sends (and its date's progress): a crash before this point
                # retries this page, not the ones before it.
                evaluation_queue().send([outcome.continuation.to_body()])
        except Exception:  # noqa: BLE001 - retried alone through the queue, then its dead-letter queue
            logger.exception("evaluation failed", extra={"tenant_id": job.tenant_id, "type": job.type})
            result.failures.append(record["messageId"])
            continue
        elapsed = (time.monotonic() - started) * 1000
        timing("EvaluationDuration", elapsed, type=job.type)
        logger.info("evaluated", extra={"tenant_id": job.tenant_id, "type": job.type, "dates": outcome.dates,
                                        "matched": outcome.matched, "queued": outcome.queued,
                                        "continued": outcome.continuation is not None,
                                        "milliseconds": round(elapsed)})
        done.append(outcome)
    return result, done


def _campaign_page(record: Mapping[str, Any], page_size: int | None) -> bool:
    """One page of a campaign's members (a job of its own kind: the per-event jobs are as they were)."""
    from chalicelib.adapters.repository import DynamoRepository
    from chalicelib.runner import campaigns

    try:
        job = campaigns.CampaignJob.parse(record["body"])
    except campaigns.MalformedCampaignJob:
        logger.error("malformed campaign job", extra={"message_id": record["messageId"]})
        return False
    try:
        page = campaigns.evaluate(job, DynamoRepository(), send_queue(), page_size or campaigns.PAGE_SIZE,
                                  now=utcnow())
        if page.continuation is not None:
            evaluation_queue().send([page.continuation.to_body()])
    except Exception:  # noqa: BLE001 - retried alone through the queue, then its dead-letter queue
        logger.exception("campaign page failed", extra={"tenant_id": job.tenant_id, "campaign_id": job.campaign_id})
        return False
    logger.info("campaign page", extra={"tenant_id": job.tenant_id, "campaign_id": job.campaign_id,
                                        "members": page.members, "queued": page.queued, "recorded": page.recorded,
                                        "continued": page.continuation is not None})
    return True


def _import_chunk(record: Mapping[str, Any]) -> bool:
    """One chunk of a customer import (a job of its own kind, as the campaigns' pages)."""
    from chalicelib.adapters import clients
    from chalicelib.adapters.files import S3Files
    from chalicelib.core import config
    from chalicelib.services import imports

    try:
        job = imports.ImportJob.parse(record["body"])
    except imports.MalformedImportJob:
        logger.error("malformed import job", extra={"message_id": record["messageId"]})
        return False
    retried = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1")) > 1
    try:
        chunk = imports.run_chunk(job, S3Files(clients.client("s3"), config.imports_bucket()), utcnow(),
                                  retried=retried)
        if chunk.continuation is not None:
            evaluation_queue().send([chunk.continuation.to_body()])
    except Exception:  # noqa: BLE001 - retried alone through the queue, then its dead-letter queue
        logger.exception("import chunk failed", extra={"tenant_id": job.tenant_id, "import_id": job.import_id,
                                                       "chunk": job.chunk})
        return False
    # Counts only: rows hold customers' contact details, which are never logged.
    logger.info("import chunk", extra={"tenant_id": job.tenant_id, "import_id": job.import_id, "run": job.run,
                                       "chunk": job.chunk, "rows": chunk.rows, "recorded": chunk.recorded,
                                       "continued": chunk.continuation is not None})
    return True


@bp.on_sqs_message(queue=resources.evaluation_queue_name(), batch_size=resources.EVALUATE_BATCH_SIZE,
                    name=resources.EVALUATE_FUNCTION)
def evaluate(event):
    return evaluate_records(event.to_dict()["Records"])[0].response()

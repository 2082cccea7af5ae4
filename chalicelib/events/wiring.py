"""The runner's entry points, shared by the Lambda handlers in app.py and the local stack's workers:
each builds its parts here (clients, senders, queues) and calls one function of the domain."""
from __future__ import annotations

import json
import time
from datetime import datetime
from functools import lru_cache
from typing import Any, Mapping

from chalicelib.adapters import clients, resources
from chalicelib.adapters.observability import count_sends, flush, logger, timing
from chalicelib.adapters.providers import SesEmailSender, SnsSmsSender
from chalicelib.adapters.queues import SqsQueue
from chalicelib.adapters.repository import DynamoRepository
from chalicelib.core import config
from chalicelib.core.clock import utcnow
from chalicelib.runner import evaluation, feedback
from chalicelib.sending.dispatcher import BatchResult, Dispatcher, Providers


@lru_cache(maxsize=None)
def send_queue() -> SqsQueue:
    return SqsQueue(clients.client("sqs"), clients.queue_url(resources.send_queue_name()))


@lru_cache(maxsize=None)
def evaluation_queue() -> SqsQueue:
    return SqsQueue(clients.client("sqs"), clients.queue_url(resources.evaluation_queue_name()))


@lru_cache(maxsize=None)
def dispatcher() -> Dispatcher:
    providers = Providers(email=SesEmailSender(clients.client("ses"), config.ses_configuration_set()),
                          sms=SnsSmsSender(clients.client("sns")))
    return Dispatcher(providers, send_queue(), utcnow)


def reset() -> None:
    """Forget built parts (the environment changed: a new local stack)."""
    for cached in (send_queue, evaluation_queue, dispatcher):
        cached.cache_clear()
    clients.reset()


def _flushed(fn):
    """Metrics are flushed at the end of every invocation (Chalice handlers take no Lambda context, so
    Powertools' decorator does not fit them)."""
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            flush()
    run.__name__ = fn.__name__
    return run


@_flushed
def plan(type_: str, at: datetime) -> int:
    """Scheduled, per type: queue one evaluation job per due tenant; returns how many."""
    jobs = evaluation.plan(type_, at)
    if jobs:
        evaluation_queue().send([job.to_body() for job in jobs])
    logger.info("planned", extra={"type": type_, "jobs": len(jobs)})
    return len(jobs)


@_flushed
def evaluate_records(records: list[Mapping[str, Any]]) -> tuple[BatchResult, list[evaluation.Evaluation]]:
    """Evaluation queue consumer: one job per record, each on its own."""
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


@_flushed
def dispatch_records(records: list[Mapping[str, Any]]) -> BatchResult:
    """Send queue consumer."""
    result = dispatcher().dispatch_records(records)
    count_sends(result.outcomes)
    for outcome in result.outcomes:
        if outcome.send is not None:
            logger.info("send", extra={"tenant_id": outcome.send.tenant_id, "customer_id": outcome.send.customer_id,
                                       "automation_id": outcome.send.automation_id, "channel": outcome.send.channel,
                                       "occurrence_key": outcome.send.occurrence_key, "outcome": outcome.status,
                                       "reason": outcome.reason, "took_over": outcome.took_over})
    return result


@_flushed
def release_deferred(at: datetime) -> int:
    """Scheduled: deferred sends whose quiet hours have ended go back on the send queue."""
    released = evaluation.release_deferred(at, send_queue())
    if released:
        logger.info("released deferred sends", extra={"count": released})
    return released


@_flushed
def customer_changes(records: list[Mapping[str, Any]]):
    """Customers stream consumer: the action-taken automations each change fires."""
    from chalicelib.runner import customer_changes as consumer

    result = consumer.handle(records, send_queue(), utcnow())
    if result.changes or result.failures:
        logger.info("customer changes", extra={"changes": result.changes, "fired": len(result.fired),
                                               "queued": result.queued, "failed_at": result.failures})
    return result


def feedback_message(message: str) -> int:
    """An SNS message of SES feedback (bounce, complaint)."""
    return feedback.handle(message, utcnow())


def feedback_records(records: list[Mapping[str, Any]]) -> BatchResult:
    """The local stack's SQS subscription of the feedback topic: each body is an SNS envelope."""
    result = BatchResult()
    for record in records:
        try:
            envelope = json.loads(record["body"])
            feedback_message(envelope.get("Message", "") if isinstance(envelope, dict) else "")
        except Exception:  # noqa: BLE001
            logger.exception("feedback failed")
            result.failures.append(record["messageId"])
    return result

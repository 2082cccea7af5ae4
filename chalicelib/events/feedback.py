"""SES feedback (bounces and complaints) through its SNS topic: the address is suppressed. Its work is imported on the first call: app.py imports every blueprint, and the API function should not pay for
the runner."""
from __future__ import annotations

import json
from typing import Any, Mapping

from chalice import Blueprint

from chalicelib.adapters import resources
from chalicelib.adapters.observability import logger
from chalicelib.adapters.queues import BatchResult
from chalicelib.core.clock import utcnow

bp = Blueprint(__name__)


def feedback_message(message: str) -> int:
    """One SNS message of SES feedback."""
    from chalicelib.runner import feedback

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


@bp.on_sns_message(topic=resources.feedback_topic_name(), name="ses_feedback")
def ses_feedback(event):
    feedback_message(event.message)

"""Non-table resources (queues, sender identity), defined once for the local and cloud stacks."""
from __future__ import annotations

import json
import os

from chalicelib import config

#: A message that fails this many receives goes to the dead-letter queue.
MAX_RECEIVES = 5
SEND_VISIBILITY_SECONDS = 60


def send_queue_name() -> str:
    return os.environ.get("SEND_QUEUE_NAME", f"{config.table_prefix()}sends")


def dead_letter_queue_name() -> str:
    return f"{send_queue_name()}-dlq"


def create_queues(sqs_client) -> dict[str, str]:
    """Create the send queue and its dead-letter queue; returns their URLs by name."""
    dlq_url = sqs_client.create_queue(QueueName=dead_letter_queue_name(),
                                      Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    dlq_arn = sqs_client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs_client.create_queue(QueueName=send_queue_name(), Attributes={
        "VisibilityTimeout": str(SEND_VISIBILITY_SECONDS),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}),
    })["QueueUrl"]
    return {send_queue_name(): url, dead_letter_queue_name(): dlq_url}

"""Non-table resources (queues, topic, sender identity), defined once for the local and cloud stacks."""
from __future__ import annotations

import json
import os

from chalicelib.core import config

#: A message that fails this many receives goes to the dead-letter queue.
MAX_RECEIVES = 5
#: Longer than a dispatcher's batch can take (provider calls are bounded by client timeouts).
SEND_VISIBILITY_SECONDS = 60
#: Longer than one tenant's evaluation can take (a Lambda runs at most 15 minutes).
EVALUATION_VISIBILITY_SECONDS = 960
RETENTION_SECONDS = 1_209_600  # 14 days, the most SQS keeps a message
#: The Lambda functions that consume the queues and the customers stream (their Chalice names).
DISPATCH_FUNCTION, EVALUATE_FUNCTION, CUSTOMER_CHANGES_FUNCTION = "dispatch", "evaluate", "customer_changes"
#: Send-queue messages of one dispatch invocation. A message packs up to 10 sends (`messages.PACK`), so an
#: invocation works on up to 10 sends, and an invocation that dies returns no more than one message's.
DISPATCH_BATCH_SIZE = 1
#: Jobs of one evaluate invocation: each is a page of up to 2,000 customers.
EVALUATE_BATCH_SIZE = 1
#: SES events of one engagement invocation (each one record read and one transaction).
ENGAGEMENT_FUNCTION, ENGAGEMENT_BATCH_SIZE = "ses_engagement", 10
#: An event that arrives before its record is written is tried again after this (the record is written
#: within seconds of the send, or at the send's next delivery, after the send queue's visibility timeout).
ENGAGEMENT_VISIBILITY_SECONDS = 90
#: Stream records of one customer-changes invocation (each is one customer write, small).
STREAM_BATCH_SIZE = 100
#: Lambda retries a failing stream record this many times (bisecting its batch), then hands the
#: record's shard and sequence numbers to the on-failure queue and moves on.
STREAM_MAX_RETRIES = 5
#: A record older than this is not retried any more (the stream itself keeps records 24 hours).
STREAM_MAX_RECORD_AGE_SECONDS = 6 * 3600


def send_queue_name() -> str:
    return os.environ.get("SEND_QUEUE_NAME", f"{config.table_prefix()}sends")


def evaluation_queue_name() -> str:
    return os.environ.get("EVALUATION_QUEUE_NAME", f"{config.table_prefix()}evaluations")


def engagement_queue_name() -> str:
    """SES's events of sent email (the configuration set's topic delivers them here, raw)."""
    return os.environ.get("ENGAGEMENT_QUEUE_NAME", f"{config.table_prefix()}ses-events")


def batch_size_of(queue_name: str) -> int:
    """The messages one invocation of the queue's consumer gets (its event source's batch size)."""
    return {send_queue_name(): DISPATCH_BATCH_SIZE, evaluation_queue_name(): EVALUATE_BATCH_SIZE,
            engagement_queue_name(): ENGAGEMENT_BATCH_SIZE}.get(queue_name, 10)


def customers_stream_arn() -> str:
    """The customers table's stream, which the customer-changes function consumes. Read when app.py is
    imported (Chalice's decorator needs it); the packaged template replaces it with the table's own
    stream, and the local stack reads the stream itself, so a placeholder serves elsewhere."""
    return os.environ.get("CUSTOMERS_STREAM_ARN") or (
        f"arn:aws:dynamodb:{config.region()}:000000000000:table/{config.table_prefix()}customers/stream/unset")


def stream_failure_queue_name() -> str:
    """Cloud only: where Lambda sends the shard and sequence numbers of a record that exhausted its retries."""
    return f"{config.table_prefix()}customer-changes-failed"


def feedback_failure_queue_name() -> str:
    """Cloud only: the SES feedback events the feedback function failed three times (Lambda's own retries of
    an asynchronous invocation), kept for replay rather than lost with the suppression they carry."""
    return f"{config.table_prefix()}ses-feedback-failed"


#: What the configuration set publishes to the feedback topic. Naming `open` and `click` is what switches SES's
#: open and click tracking on for mail sent through the set (a pixel, and links through SES's redirect).
SES_EVENT_TYPES = ("send", "delivery", "bounce", "complaint", "reject", "open", "click", "renderingFailure")


def feedback_topic_name() -> str:
    """SES's events of mail sent through the configuration set arrive on this SNS topic: the feedback function
    takes its bounces and complaints (a subscription filter), the engagement queue every event."""
    return os.environ.get("FEEDBACK_TOPIC_NAME", f"{config.table_prefix()}ses-feedback")


def feedback_queue_name() -> str:
    """Local stack only: the feedback topic's subscriber that the local worker drains (in the cloud the
    topic invokes the handler directly)."""
    return f"{feedback_topic_name()}-local"


def dead_letter_queue_name(queue_name: str) -> str:
    return f"{queue_name}-dlq"


def _create_queue_with_dlq(sqs_client, name: str, visibility: int) -> tuple[str, str]:
    dlq_url = sqs_client.create_queue(QueueName=dead_letter_queue_name(name),
                                      Attributes={"MessageRetentionPeriod": str(RETENTION_SECONDS)})["QueueUrl"]
    dlq_arn = sqs_client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs_client.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": str(visibility),
        "MessageRetentionPeriod": str(RETENTION_SECONDS),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}),
    })["QueueUrl"]
    return url, dlq_url


def work_queues() -> dict[str, tuple[str, int]]:
    """The queues that feed the runner, each with a dead-letter queue: role -> (name, visibility
    timeout). The local stack and the packaged template both create these."""
    return {"sends": (send_queue_name(), SEND_VISIBILITY_SECONDS),
            "evaluations": (evaluation_queue_name(), EVALUATION_VISIBILITY_SECONDS),
            "engagement": (engagement_queue_name(), ENGAGEMENT_VISIBILITY_SECONDS)}


def create_queues(sqs_client) -> dict[str, str]:
    """Create the send and evaluation queues and their dead-letter queues; returns their URLs by name."""
    urls = {}
    for name, visibility in work_queues().values():
        urls[name], urls[dead_letter_queue_name(name)] = _create_queue_with_dlq(sqs_client, name, visibility)
    return urls


def create_local_feedback_route(sns_client, sqs_client) -> dict[str, str]:
    """The feedback topic, and a queue subscribed to it for the local worker to drain."""
    topic_arn = sns_client.create_topic(Name=feedback_topic_name())["TopicArn"]
    url = sqs_client.create_queue(QueueName=feedback_queue_name())["QueueUrl"]
    queue_arn = sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns_client.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    # Every SES event also reaches the engagement queue, raw, as the packaged template subscribes it.
    engagement_url = sqs_client.get_queue_url(QueueName=engagement_queue_name())["QueueUrl"]
    engagement_arn = sqs_client.get_queue_attributes(QueueUrl=engagement_url,
                                                     AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns_client.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=engagement_arn,
                         Attributes={"RawMessageDelivery": "true"})
    return {"topic_arn": topic_arn, "queue_url": url, "engagement_queue_url": engagement_url}


#: Import uploads and their rejects are deleted this many days after they were written: an import is done
#: in minutes, and a file of customers' contact details should not outlive its use.
IMPORT_FILE_DAYS = 7


def imports_bucket_settings() -> dict:
    """The imports bucket's encryption, public access block and lifecycle, for the local stack and the
    packaged template alike (in the S3 API's shapes)."""
    return {
        "encryption": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "public_access_block": {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                                "RestrictPublicBuckets": True},
        "lifecycle": {"Rules": [{"ID": "expire-import-files", "Status": "Enabled", "Filter": {"Prefix": "imports/"},
                                 "Expiration": {"Days": IMPORT_FILE_DAYS},
                                 "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]},
    }


def create_imports_bucket(s3_client, name: str) -> str:
    settings = imports_bucket_settings()
    s3_client.create_bucket(Bucket=name)
    s3_client.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=settings["encryption"])
    s3_client.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=settings["public_access_block"])
    s3_client.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration=settings["lifecycle"])
    return name

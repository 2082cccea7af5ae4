"""`cli engage open|click`: what SES publishes when a person (or a mail privacy proxy) opens a sent email or a
person clicks one of its links, for the customer's latest sent email; then the engagement queue is drained, as
the engagement function would take it, so the record and the counters show it at once."""
from __future__ import annotations

from datetime import datetime, timezone

from local import ses_events


class NoEmail(Exception):
    """The customer has no sent email to open."""


def _email(tenant_id: str, customer_id: str, record_id: str | None):
    from chalicelib.adapters.models import Communication, tenant_customer

    for item in Communication.query(tenant_customer(tenant_id, customer_id), scan_index_forward=False):
        if item.channel == "email" and item.status == "sent" and item.provider_message_id and (
                record_id is None or item.communication_id == record_id):
            return item
    raise NoEmail(f"customer {customer_id!r} of {tenant_id!r} has no sent email"
                  + (f" with the id {record_id!r}" if record_id else ""))


def run(action: str, tenant_id: str, customer_id: str, *, proxy: bool = False, link: str = "https://example.com/",
        record_id: str | None = None, at: datetime | None = None) -> dict:
    from chalicelib.adapters import clients, resources
    from chalicelib.adapters.providers import tag_value
    from chalicelib.core.timeutil import parse_instant
    from chalicelib.events import engagement
    from chalicelib.rules.engagement import CUSTOMER_TAG, RECORD_TAG
    from local.runner import drain

    record = _email(tenant_id, customer_id, record_id)
    at = at or datetime.now(timezone.utc)
    tags = {"tenant_id": tag_value(tenant_id), CUSTOMER_TAG: tag_value(customer_id), RECORD_TAG: record.communication_id}
    if action == "open":
        event = ses_events.document("Open", record.provider_message_id, tags, parse_instant(record.created_at
                                    .replace("Z", "+00:00")), at, **ses_events.open_detail(proxy))
    else:
        event = ses_events.document("Click", record.provider_message_id, tags, parse_instant(record.created_at
                                    .replace("Z", "+00:00")), at, **ses_events.click_detail(link))
    sns = clients.client("sns")
    topic_arn = sns.create_topic(Name=resources.feedback_topic_name())["TopicArn"]
    ses_events.publish(sns, topic_arn, event)
    counted: dict[str, int] = {}

    def handle(records):
        result = engagement.engagement_records(records, at)
        for (applied, counter), n in result.results.items():
            key = f"{applied}:{counter}" if counter else applied
            counted[key] = counted.get(key, 0) + n
        return result
    drain(clients.queue_url(resources.engagement_queue_name()), handle)
    return {"event": event["eventType"], "record_id": record.communication_id, "results": counted}

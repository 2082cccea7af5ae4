"""The local stand-in for SES event publishing: what SES publishes to the configuration set's topic about mail
sent through it (docs/behaviour.md section 14). The emulator's SES accepts mail but publishes nothing, so this
does, in SES's own event format, to the same SNS topic, whose subscriptions deliver the events to the feedback
and engagement queues as in the cloud:

- a Send and a Delivery event for every email SES accepts through the configuration set (`watch`, a hook on
  the SES client's SendRawEmail, published a moment after the call returns, as SES reports a delivery after
  it accepted the mail);
- an Open (by a person or a mail privacy proxy) or a Click when asked (`cli engage open|click`).
"""
from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

#: What a person's mail client and Apple Mail Privacy Protection's proxy send when they fetch the pixel.
PERSON_AGENT = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                "Version/17.0 Safari/605.1.15")
PERSON_IP = "203.0.113.7"
PROXY_AGENT, PROXY_IP = "Mozilla/5.0", "17.58.101.12"
#: The delay between SES accepting a message and its Send and Delivery events.
DELIVERY_DELAY_SECONDS = 1.0


def _stamp(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def document(kind: str, message_id: str, tags: dict[str, str], sent_at: datetime, at: datetime | None = None,
             destination: list[str] | None = None, **detail: Any) -> dict:
    """One SES event as event publishing writes it (`eventType`, `mail` with its tags as lists, and the
    event's own part)."""
    at = at or sent_at
    mail = {"timestamp": _stamp(sent_at), "source": "", "sendingAccountId": "000000000000", "messageId": message_id,
            "destination": destination or [], "tags": {name: [value] for name, value in tags.items()}}
    part = {"Send": "send", "Delivery": "delivery", "Bounce": "bounce", "Complaint": "complaint", "Reject": "reject",
            "Open": "open", "Click": "click", "Rendering Failure": "failure"}[kind]
    body: dict[str, Any] = dict(detail)
    if kind != "Send":
        body.setdefault("timestamp", _stamp(at))
    if kind == "Delivery":
        body.setdefault("processingTimeMillis", 800)
        body.setdefault("recipients", destination or [])
        body.setdefault("smtpResponse", "250 2.0.0 OK")
    return {"eventType": kind, "mail": mail, part: body}


def open_detail(proxy: bool) -> dict:
    return {"userAgent": PROXY_AGENT if proxy else PERSON_AGENT, "ipAddress": PROXY_IP if proxy else PERSON_IP}


def click_detail(link: str) -> dict:
    return {"userAgent": PERSON_AGENT, "ipAddress": PERSON_IP, "link": link, "linkTags": {}}


def publish(sns_client, topic_arn: str, event: dict) -> None:
    sns_client.publish(TopicArn=topic_arn, Message=json.dumps(event))


class Publisher:
    """Publishes SES's events of the mail the watched SES client sends through a configuration set."""

    def __init__(self, sns_client, topic_arn: str, delay: float = DELIVERY_DELAY_SECONDS) -> None:
        self._sns, self._topic, self._delay = sns_client, topic_arn, delay
        #: The instant the mail counts as sent at: the machine's, or `tick --at`'s while it dispatches.
        self.clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        self._pending: list[threading.Timer] = []
        self._lock = threading.Lock()

    def _accepted(self, params: dict, message_id: str) -> None:
        if not params.get("ConfigurationSetName"):
            return   # SES publishes events only of mail sent through a configuration set
        tags = {t["Name"]: t["Value"] for t in params.get("Tags") or []}
        destination = list(params.get("Destinations") or [])
        sent_at = self.clock()

        def deliver() -> None:
            for kind in ("Send", "Delivery"):
                publish(self._sns, self._topic, document(kind, message_id, tags, sent_at, sent_at, destination))
        timer = threading.Timer(self._delay, deliver)
        timer.daemon = True
        with self._lock:
            self._pending = [t for t in self._pending if t.is_alive()] + [timer]
        timer.start()

    def settle(self) -> None:
        """Wait until every event due has been published (`tick` drains the queues after this)."""
        with self._lock:
            pending, self._pending = self._pending, []
        for timer in pending:
            timer.join()

    client = None

    def watch(self, ses_client) -> None:
        """Publish the events of every email this client's SendRawEmail gets accepted."""
        self.client = ses_client
        key = f"local-ses-events-{uuid.uuid4().hex}"

        def keep(params, context, **_):
            context[key] = params

        def after(parsed, context, **_):
            message_id = (parsed or {}).get("MessageId")
            if message_id and key in context:
                self._accepted(context[key], message_id)

        ses_client.meta.events.register("before-parameter-build.ses.SendRawEmail", keep)
        ses_client.meta.events.register("after-call.ses.SendRawEmail", after)


_publisher: Publisher | None = None


def install() -> Publisher:
    """Watch the runner's SES client (`clients.client("ses")`, the one the dispatcher and the 1:1 email send
    through) in this process; idempotent."""
    global _publisher
    from chalicelib.adapters import clients, resources

    ses = clients.client("ses")
    if _publisher is None or _publisher.client is not ses:
        sns = clients.client("sns")
        topic_arn = sns.create_topic(Name=resources.feedback_topic_name())["TopicArn"]   # exists: returns its ARN
        _publisher = Publisher(sns, topic_arn)
        _publisher.watch(ses)
    return _publisher


def settle() -> None:
    if _publisher is not None:
        _publisher.settle()


def reset() -> None:
    """Forget the publisher (the clients were rebuilt: a new stack, or a test's cold start)."""
    global _publisher
    if _publisher is not None:
        _publisher.settle()
    _publisher = None

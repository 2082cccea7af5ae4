"""The SQS adapter: messages go out in batches of 10, and a batch's failed entries are sent again."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

BATCH = 10
ATTEMPTS = 3


class Queue(Protocol):
    """Where messages go: the send queue, or the evaluation queue."""

    def send(self, bodies: Iterable[str], delay_seconds: int = 0) -> None:
        """Put messages on the queue, in batches of up to 10, delivered after `delay_seconds`."""


@dataclass
class BatchResult:
    """What a consumer did with a batch of queue messages: its outcomes, and the messages that failed."""

    outcomes: list[Any] = field(default_factory=list)
    #: Message ids to leave on the queue (SQS partial batch response).
    failures: list[str] = field(default_factory=list)

    def response(self) -> dict:
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in self.failures]}


class QueueSendFailed(Exception):
    """SQS refused some messages on every attempt."""


class SqsQueue:
    def __init__(self, sqs_client, url: str) -> None:
        self._sqs, self.url = sqs_client, url

    def send(self, bodies: Iterable[str], delay_seconds: int = 0) -> None:
        bodies = list(bodies)
        for start in range(0, len(bodies), BATCH):
            pending = {str(i): body for i, body in enumerate(bodies[start:start + BATCH])}
            for _ in range(ATTEMPTS):
                entries = [{"Id": i, "MessageBody": body, "DelaySeconds": delay_seconds} for i, body in pending.items()]
                failed = self._sqs.send_message_batch(QueueUrl=self.url, Entries=entries).get("Failed", [])
                pending = {f["Id"]: pending[f["Id"]] for f in failed}
                if not pending:
                    break
            if pending:
                raise QueueSendFailed(f"{len(pending)} messages were not accepted by the queue")

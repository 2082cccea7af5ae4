"""The runner on this machine: what EventBridge and Lambda's event source mappings do in the cloud.

moto has no schedules and invokes no functions, so the local stack drives the same entry points
(`chalicelib.handlers`) itself: `tick(at)` plans and evaluates every type at an instant and drains
the queues to completion, as `cli tick` and the dev clock do; `Workers` poll the queues in the
background under `serve`. Messages go through the emulator's real SQS queues, with their
visibility timeouts and dead-letter queues, exactly as in the cloud.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime
from typing import Any, Callable, Mapping

from chalicelib import catalog, clients, handlers, resources
from chalicelib.dispatch.dispatcher import BatchResult

#: A message a handler failed becomes visible again this soon (Lambda's event source mapping waits
#: for the queue's visibility timeout; locally there is nothing to wait for).
RETRY_VISIBILITY_SECONDS = 1
#: `tick` gives up waiting for delayed retries after this long.
DRAIN_LIMIT_SECONDS = 600

Handler = Callable[[list[Mapping[str, Any]]], BatchResult]


def _counts(queue_url: str) -> int:
    attributes = clients.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
    ])["Attributes"]
    return sum(int(value) for value in attributes.values())


def poll_once(queue_url: str, handler: Handler, wait_seconds: int = 0) -> int:
    """Receive up to 10 messages, hand them to `handler` as Lambda would, delete what it did not fail."""
    sqs = clients.client("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds,
                                   VisibilityTimeout=RETRY_VISIBILITY_SECONDS,
                                   MessageSystemAttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
    if not messages:
        return 0
    records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m.get("Attributes", {}), "eventSource": "aws:sqs"} for m in messages]
    failed = {f["itemIdentifier"] for f in handler(records).response()["batchItemFailures"]}
    done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=done)
    return len(messages)


def drain(queue_url: str, handler: Handler, limit_seconds: float = DRAIN_LIMIT_SECONDS) -> None:
    """Process the queue until nothing is left in it: visible, in flight or delayed."""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        if poll_once(queue_url, handler):
            continue
        if _counts(queue_url) == 0:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{queue_url} still had messages after {limit_seconds:.0f}s")


class Summary:
    """What a tick did (spec section 9)."""

    def __init__(self) -> None:
        self.evaluated = self.matched = self.released = 0
        self.outcomes: Counter = Counter()
        self.skipped: Counter = Counter()
        self.took_over = 0

    def add_evaluations(self, evaluations) -> None:
        self.evaluated += len(evaluations)
        self.matched += sum(e.matched for e in evaluations)

    def add_sends(self, result: BatchResult) -> BatchResult:
        for outcome in result.outcomes:
            self.outcomes[outcome.status] += 1
            if outcome.status == "skipped":
                self.skipped[outcome.reason] += 1
            self.took_over += outcome.took_over
        return result

    def as_dict(self, at: datetime) -> dict:
        from chalicelib.timeutil import to_iso

        return {"at": to_iso(at), "evaluated": self.evaluated, "matched": self.matched,
                "sent": self.outcomes["sent"], "skipped": dict(sorted(self.skipped.items())),
                "failed": self.outcomes["failed"], "deferred": self.outcomes["deferred"],
                "released": self.released, "duplicates": self.outcomes["duplicate"],
                "retries": self.outcomes["retrying"], "claims_taken_over": self.took_over}


def _evaluation_handler(summary: Summary) -> Handler:
    def handle(records):
        result, evaluations = handlers.evaluate_records(records)
        summary.add_evaluations(evaluations)
        return result
    return handle


def _send_handler(summary: Summary) -> Handler:
    return lambda records: summary.add_sends(handlers.dispatch_records(records))


def evaluate_at(at: datetime, summary: Summary) -> None:
    """What the schedules do at `at`: release due deferred sends, plan every type, run the evaluations."""
    summary.released += handlers.release_deferred(at)
    for spec in catalog.PER_EVENT_TYPES:
        handlers.plan(spec.type, at)
    drain(clients.queue_url(resources.evaluation_queue_name()), _evaluation_handler(summary))


def tick(at: datetime) -> dict:
    """One evaluation of everything due at `at` for every tenant, then every resulting send (and any
    waiting feedback) processed to completion."""
    summary = Summary()
    evaluate_at(at, summary)
    drain(clients.queue_url(resources.send_queue_name()), _send_handler(summary))
    drain(clients.queue_url(resources.feedback_queue_name()), handlers.feedback_records)
    return summary.as_dict(at)


class Workers:
    """`serve`'s background: a clock that evaluates the current instant every minute, and workers that
    drain the send and feedback queues as messages arrive."""

    def __init__(self, clock: Callable[[], datetime], report: Callable[[str], None], period_seconds: int = 60):
        self.clock, self.report, self.period = clock, report, period_seconds
        self.stopping = threading.Event()
        self.summary = Summary()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        send_url = clients.queue_url(resources.send_queue_name())
        feedback_url = clients.queue_url(resources.feedback_queue_name())
        self._spawn(self._clock_loop)
        self._spawn(lambda: self._poll_loop(send_url, self._record_sends))
        self._spawn(lambda: self._poll_loop(feedback_url, handlers.feedback_records))

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _record_sends(self, records) -> BatchResult:
        result = handlers.dispatch_records(records)
        with self._lock:
            self.summary.add_sends(result)
        return result

    def _poll_loop(self, url: str, handler: Handler) -> None:
        while not self.stopping.is_set():
            try:
                poll_once(url, handler, wait_seconds=1)
            except Exception as e:  # noqa: BLE001 - keep the worker alive; say what happened
                self.report(f"worker error: {type(e).__name__}: {e}")
                self.stopping.wait(2)

    def _clock_loop(self) -> None:
        send_url = clients.queue_url(resources.send_queue_name())
        last = None
        while not self.stopping.is_set():
            at = self.clock()
            try:
                evaluations = Summary()
                evaluate_at(at, evaluations)
                with self._lock:
                    self.summary.evaluated += evaluations.evaluated
                    self.summary.matched += evaluations.matched
                    self.summary.released += evaluations.released
                # Report once the sends this minute queued have gone out (or half the period passed).
                deadline = time.monotonic() + self.period / 2
                while _counts(send_url) and time.monotonic() < deadline and not self.stopping.is_set():
                    time.sleep(0.5)
                with self._lock:
                    line = self._line()
                if line != last:
                    self.report(f"[{at:%H:%M} UTC] {line}")
                    last = line
            except Exception as e:  # noqa: BLE001 - keep the clock alive; say what happened
                self.report(f"clock error: {type(e).__name__}: {e}")
            # Wake at the start of the next period.
            self.stopping.wait(self.period - (time.time() % self.period))

    def _line(self) -> str:
        s = self.summary
        skipped = ", ".join(f"{reason} {n}" for reason, n in sorted(s.skipped.items()))
        return (f"since start: {s.evaluated} evaluations, {s.matched} matched, {s.outcomes['sent']} sent, "
                f"{sum(s.skipped.values())} skipped{f' ({skipped})' if skipped else ''}, {s.outcomes['failed']} failed, "
                f"{s.outcomes['deferred']} deferred")

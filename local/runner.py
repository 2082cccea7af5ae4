"""The runner on this machine: what EventBridge and Lambda's event source mappings do in the cloud.

moto has no schedules and invokes no functions, so the local stack drives the same entry points
(`chalicelib.events.wiring`) itself: `tick(at)` reads the customers stream, plans and evaluates every
type at an instant and drains the queues to completion, as `cli tick` and the dev clock do;
`Workers` poll the queues and the stream in the background under `serve`. Messages go through the
emulator's real SQS queues, with their visibility timeouts and dead-letter queues, and customer
changes through the emulator's real DynamoDB stream, exactly as in the cloud.

As Lambda's event sources do, a handler that raises fails its whole batch rather than the runner: the
batch's messages come back and are handled again, up to the queue's receive limit, then go to its
dead-letter queue; a stream batch is read again, halved, until the record that fails is alone, which
is skipped after `STREAM_MAX_RETRIES` retries. `tick` decides everything clock-based by its instant
(`TickClock`), not by the machine's clock.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol

from chalicelib.adapters import clients, resources
from chalicelib.adapters.queues import BatchResult
from chalicelib.core import catalog
from chalicelib.events import (
    customer_changes,
    dispatch,
    engagement,
    evaluate,
    feedback,
    schedules,
    wiring,
)

#: A message a handler failed becomes visible again this soon (Lambda's event source mapping waits
#: for the queue's visibility timeout; locally there is nothing to wait for).
RETRY_VISIBILITY_SECONDS = 1
#: `tick` gives up waiting for delayed retries after this long.
DRAIN_LIMIT_SECONDS = 600

Handler = Callable[[list[Mapping[str, Any]]], BatchResult]
Report = Callable[[str], None]


def to_stderr(line: str) -> None:
    """What the runner has to say, kept off standard output, where `tick` prints its summary."""
    print(line, file=sys.stderr, flush=True)


class TickClock:
    """The clock `tick` decides by: the instant it evaluates, not the machine's clock.

    It moves on only as the cloud's clock would while a failed message waits: Lambda receives a
    failed message again after the queue's visibility timeout (60 seconds for sends), where `tick`
    takes it again after a second. When a message comes back, this clock moves on to when the cloud
    would have received it, so that what depends on time having passed holds as it would there: a
    claim left by a batch that failed has expired when its message is handled again, and is taken
    over."""

    def __init__(self, at: datetime) -> None:
        self.at = self.now = at
        self._back_at: dict[str, datetime] = {}

    def __call__(self) -> datetime:
        return self.now

    def failed(self, message_ids: Iterable[str], visibility_seconds: int) -> None:
        back = self.now + timedelta(seconds=visibility_seconds)
        for message_id in message_ids:
            self._back_at[message_id] = back

    def received(self, message_ids: Iterable[str]) -> None:
        for message_id in message_ids:
            back = self._back_at.pop(message_id, None)
            if back is not None and back > self.now:
                self.now = back


def _visibility_seconds(queue_url: str) -> int:
    return int(clients.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"]["VisibilityTimeout"])


def _counts(queue_url: str) -> int:
    attributes = clients.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
    ])["Attributes"]
    return sum(int(value) for value in attributes.values())


def poll_once(queue_url: str, handler: Handler, wait_seconds: int = 0, *, report: Report = to_stderr,
              clock: TickClock | None = None) -> int:
    """Receive up to 10 messages, hand them to `handler` in batches of the consumer's batch size as Lambda
    would, delete what it did not fail.

    A handler that raises fails the whole batch, as a Lambda invocation that ends in an error does:
    nothing is deleted, every message comes back, and each goes to the dead-letter queue once it has
    been received the queue's maximum number of times (the emulator applies the redrive policy)."""
    sqs = clients.client("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds,
                                   VisibilityTimeout=RETRY_VISIBILITY_SECONDS,
                                   MessageSystemAttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
    if not messages:
        return 0
    if clock is not None:
        clock.received(m["MessageId"] for m in messages)
    size = resources.batch_size_of(queue_url.rsplit("/", 1)[-1])
    failed: set[str] = set()
    for start in range(0, len(messages), size):   # one invocation per batch, as the event source makes them
        failed |= _invoke(queue_url, handler, messages[start:start + size], report)
    if failed and clock is not None:
        clock.failed(failed, _visibility_seconds(queue_url))
    done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=done)
    return len(messages)


def _invoke(queue_url: str, handler: Handler, messages: list[dict], report: Report) -> set[str]:
    """One invocation of the consumer with a batch: the ids of the messages it failed."""
    records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m.get("Attributes", {}), "eventSource": "aws:sqs"} for m in messages]
    try:
        return {f["itemIdentifier"] for f in handler(records).response()["batchItemFailures"]}
    except Exception as e:  # noqa: BLE001 - as Lambda's event source: the batch is received again
        report(f"{queue_url.rsplit('/', 1)[-1]}: the handler failed a batch of {len(messages)} "
               f"({type(e).__name__}: {e}); its messages will be received again")
        return {m["MessageId"] for m in messages}


def drain(queue_url: str, handler: Handler, limit_seconds: float = DRAIN_LIMIT_SECONDS, *,
          report: Report = to_stderr, clock: TickClock | None = None) -> None:
    """Process the queue until nothing is left in it: visible, in flight or delayed."""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        if poll_once(queue_url, handler, report=report, clock=clock):
            continue
        if _counts(queue_url) == 0:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{queue_url} still had messages after {limit_seconds:.0f}s")


# --- the customers stream, as Lambda's DynamoDB event source mapping reads it ---------------------

class Checkpoint(Protocol):
    """The last stream record processed, per shard."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, sequence_number: str) -> None: ...


class MemoryCheckpoint(dict):
    def set(self, key: str, sequence_number: str) -> None:
        self[key] = sequence_number


class FileCheckpoint:
    """Kept in the local stack's state folder, so `tick` in one process carries on where `serve`'s
    worker or an earlier `tick` stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def get(self, key: str) -> str | None:
        return self._read().get(key)

    def set(self, key: str, sequence_number: str) -> None:
        data = self._read()
        data[key] = sequence_number
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}")
        scratch.write_text(json.dumps(data))
        scratch.replace(self.path)

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)


StreamHandler = Callable[[list[Mapping[str, Any]]], Any]  # returns an object with `failures` (sequence numbers)


class StreamReader:
    """Reads a DynamoDB stream in order, a batch per shard at a time, as the event source mapping does:
    after a batch, the checkpoint moves past the records before the first failure the handler reports,
    and the next read starts at that record. A record that fails `max_attempts` times is skipped and
    reported (in the cloud it goes to the on-failure queue).

    A handler that raises has failed its whole batch: as the event source bisects such a batch, the
    same records are read again, half as many each time, until the batch that fails is one record;
    that record counts an attempt each time it fails alone, and is skipped after `max_attempts`."""

    def __init__(self, stream_arn: str, checkpoint: Checkpoint, *, start: str = "TRIM_HORIZON",
                 max_attempts: int = resources.STREAM_MAX_RETRIES + 1,
                 report: Callable[[str], None] = lambda line: None) -> None:
        self.arn, self.checkpoint, self.start = stream_arn, checkpoint, start
        self.max_attempts, self.report = max_attempts, report
        self._next: dict[str, str] = {}
        self._attempts: Counter = Counter()
        #: Per shard, how many records the next read takes while a failing batch is being bisected.
        self._limit: dict[str, int] = {}
        self._client = clients.client("dynamodbstreams")
        # A reader that starts at the end takes its position now, not at its first read.
        for shard in self._shards():
            self._iterator(shard)

    @classmethod
    def for_customers(cls, checkpoint: Checkpoint, **kwargs) -> "StreamReader":
        from chalicelib.adapters.models import Customer

        table = clients.client("dynamodb").describe_table(TableName=Customer.Meta.table_name)["Table"]
        return cls(table["LatestStreamArn"], checkpoint, **kwargs)

    def _shards(self) -> list[str]:
        return [s["ShardId"] for s in self._client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]]

    def _key(self, shard: str) -> str:
        return f"{self.arn}|{shard}"

    def _iterator(self, shard: str) -> str:
        key = self._key(shard)
        if key not in self._next:
            after = self.checkpoint.get(key)
            position = ({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after} if after
                        else {"ShardIteratorType": self.start})
            self._next[key] = self._client.get_shard_iterator(StreamArn=self.arn, ShardId=shard,
                                                              **position)["ShardIterator"]
        return self._next[key]

    def poll(self, handler: StreamHandler) -> int:
        """One batch from each shard; returns how many records were read."""
        read = 0
        for shard in self._shards():
            key = self._key(shard)
            answer = self._client.get_records(ShardIterator=self._iterator(shard),
                                              Limit=self._limit.get(key, resources.STREAM_BATCH_SIZE))
            records = [{**r, "eventSourceARN": self.arn} for r in answer.get("Records", [])]
            if not records:
                self._next[key] = answer["NextShardIterator"]
                continue
            read += len(records)
            first = records[0]["dynamodb"]["SequenceNumber"]
            try:
                failures = handler(records).failures
            except Exception as e:  # noqa: BLE001 - as the event source: the batch is read again
                self.report(f"customers stream: the handler failed the batch of {len(records)} from record {first} "
                            f"({type(e).__name__}: {e}); it is read again")
                if len(records) > 1:
                    self._limit[key] = len(records) // 2
                    self._next[key] = self._client.get_shard_iterator(
                        StreamArn=self.arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                        SequenceNumber=first)["ShardIterator"]
                    continue
                failures = [first]  # alone: an attempt, and read alone again until it passes or is skipped
            else:
                self._limit.pop(key, None)
            if not failures:
                self.checkpoint.set(key, records[-1]["dynamodb"]["SequenceNumber"])
                self._next[key] = answer["NextShardIterator"]
                continue
            failed = min(failures, key=int)
            done = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) < int(failed)]
            if done:
                self.checkpoint.set(key, done[-1]["dynamodb"]["SequenceNumber"])
            self._attempts[failed] += 1
            kind = "AT_SEQUENCE_NUMBER"
            if self._attempts[failed] >= self.max_attempts:
                self.report(f"customers stream record {failed} failed {self._attempts[failed]} times and was "
                            "skipped (in the cloud it would go to the on-failure queue)")
                self.checkpoint.set(key, failed)
                self._limit.pop(key, None)
                kind = "AFTER_SEQUENCE_NUMBER"
            self._next[key] = self._client.get_shard_iterator(StreamArn=self.arn, ShardId=shard, ShardIteratorType=kind,
                                                              SequenceNumber=failed)["ShardIterator"]
        return read

    def drain(self, handler: StreamHandler) -> None:
        while self.poll(handler):
            pass


def stream_checkpoint() -> FileCheckpoint:
    from local.stack import STATE_DIR

    return FileCheckpoint(STATE_DIR / "stream-checkpoint.json")


class Summary:
    """What a tick did (docs/behaviour.md section 9)."""

    def __init__(self) -> None:
        self.evaluated = self.matched = self.released = 0
        #: Customer changes read from the stream, and the action-taken automations they fired.
        self.changes = self.actions_fired = 0
        self.outcomes: Counter = Counter()
        self.skipped: Counter = Counter()
        self.took_over = 0
        #: Campaigns started at the tick's instant, and marked sent once every send of theirs had ended.
        self.campaigns_started = self.campaigns_finished = 0
        #: SES events recorded (delivered, opened, ...), each message's once.
        self.ses_events: Counter = Counter()

    def add_campaigns(self, planned: dict) -> None:
        self.campaigns_started += planned["started"]
        self.campaigns_finished += planned["finished"]

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

    def add_engagement(self, result) -> None:
        for (applied, counter), n in result.results.items():
            if applied == "counted":
                self.ses_events[counter or "send"] += n   # SES's send event: recorded, counted by `sent`

    def add_changes(self, result):
        self.changes += result.changes
        self.actions_fired += len(result.fired)
        return result

    def as_dict(self, at: datetime) -> dict:
        from chalicelib.core.timeutil import to_iso

        return {"at": to_iso(at), "evaluated": self.evaluated, "matched": self.matched,
                "sent": self.outcomes["sent"], "skipped": dict(sorted(self.skipped.items())),
                "failed": self.outcomes["failed"], "deferred": self.outcomes["deferred"],
                "released": self.released, "duplicates": self.outcomes["duplicate"],
                "retries": self.outcomes["retrying"], "claims_taken_over": self.took_over,
                "customer_changes": self.changes, "actions_fired": self.actions_fired,
                "campaigns_started": self.campaigns_started, "campaigns_finished": self.campaigns_finished,
                "ses_events": dict(sorted(self.ses_events.items()))}


def _evaluation_handler(summary: Summary) -> Handler:
    def handle(records):
        result, evaluations = evaluate.evaluate_records(records)
        summary.add_evaluations(evaluations)
        return result
    return handle


def _send_handler(summary: Summary) -> Handler:
    return lambda records: summary.add_sends(dispatch.dispatch_records(records))


def _engagement_handler(summary: Summary, clock: Callable[[], datetime]) -> Handler:
    def handle(records):
        result = engagement.engagement_records(records, clock())
        summary.add_engagement(result)
        return result
    return handle


def evaluate_at(at: datetime, summary: Summary, *, report: Report = to_stderr, clock: TickClock | None = None) -> None:
    """What the schedules do at `at`: release due deferred sends, start the campaigns due, plan every type, run
    the evaluations (the campaigns' pages among them)."""
    summary.released += schedules.release(at)
    summary.add_campaigns(schedules.plan_campaigns_at(at))
    for spec in catalog.PER_EVENT_TYPES:
        schedules.plan(spec.type, at)
    drain(clients.queue_url(resources.evaluation_queue_name()), _evaluation_handler(summary), report=report,
          clock=clock)


def read_customer_changes(summary: Summary, reader: StreamReader | None = None) -> None:
    """Every customer change not read yet: the action-taken automations they fire, queued."""
    reader = reader or StreamReader.for_customers(stream_checkpoint(), report=to_stderr)
    reader.drain(lambda records: summary.add_changes(customer_changes.handle_records(records)))


def tick(at: datetime) -> dict:
    """Every pending customer change, one evaluation of everything due at `at` for every tenant, then
    every resulting send (and any waiting feedback) processed to completion. The sends are dispatched
    on the tick's clock (`TickClock`): quiet hours, the frequency cap and the rest are decided at `at`,
    whatever the time on this machine."""
    from local.stack import verify_store_senders

    from local import ses_events

    summary = Summary()
    clock = TickClock(at)
    verify_store_senders()
    publisher = ses_events.install()
    publisher.clock = clock
    with wiring.deciding_by(clock):
        read_customer_changes(summary)
        evaluate_at(at, summary, clock=clock)
        drain(clients.queue_url(resources.send_queue_name()), _send_handler(summary), clock=clock)
        publisher.settle()   # SES's events of what was sent: on the topic, then in the queues below
        drain(clients.queue_url(resources.engagement_queue_name()), _engagement_handler(summary, clock), clock=clock)
        drain(clients.queue_url(resources.feedback_queue_name()), feedback.feedback_records, clock=clock)
        summary.add_campaigns(schedules.plan_campaigns_at(at))   # a campaign whose every send has ended is marked sent
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
        evaluation_url = clients.queue_url(resources.evaluation_queue_name())
        self._spawn(self._clock_loop)
        self._spawn(lambda: self._poll_loop(send_url, self._record_sends))
        # Jobs queued between the clock's minutes (an import's chunks, a campaign sent now) are taken as they
        # arrive, as the evaluate function's event source takes them in the cloud.
        self._spawn(lambda: self._poll_loop(evaluation_url, self._record_evaluations))
        self._spawn(lambda: self._poll_loop(feedback_url, feedback.feedback_records))
        engagement_url = clients.queue_url(resources.engagement_queue_name())
        self._spawn(lambda: self._poll_loop(engagement_url, _engagement_handler(self.summary, self.clock)))
        self._spawn(self._stream_loop)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _record_sends(self, records) -> BatchResult:
        with wiring.deciding_by(self.clock):
            result = dispatch.dispatch_records(records)
        with self._lock:
            self.summary.add_sends(result)
        return result

    def _record_evaluations(self, records) -> BatchResult:
        done = Summary()
        result = _evaluation_handler(done)(records)
        with self._lock:
            self.summary.evaluated += done.evaluated
            self.summary.matched += done.matched
        return result

    def _poll_loop(self, url: str, handler: Handler) -> None:
        while not self.stopping.is_set():
            try:
                poll_once(url, handler, wait_seconds=1, report=self.report)
            except Exception as e:  # noqa: BLE001 - keep the worker alive; say what happened
                self.report(f"worker error: {type(e).__name__}: {e}")
                self.stopping.wait(2)

    def _stream_loop(self) -> None:
        """Customer changes, as they happen: a change's sends reach the send worker within seconds."""
        reader = None
        while not self.stopping.is_set():
            try:
                reader = reader or StreamReader.for_customers(stream_checkpoint(), report=self.report)
                with self._lock:
                    before = self.summary.actions_fired
                changes = Summary()
                if not reader.poll(lambda records: changes.add_changes(customer_changes.handle_records(records))):
                    self.stopping.wait(0.5)
                with self._lock:
                    self.summary.changes += changes.changes
                    self.summary.actions_fired += changes.actions_fired
                if changes.actions_fired:
                    self.report(f"customer changes fired {changes.actions_fired} action-taken automation(s) "
                                f"({before + changes.actions_fired} since start)")
            except Exception as e:  # noqa: BLE001 - keep the worker alive; say what happened
                self.report(f"stream worker error: {type(e).__name__}: {e}")
                reader = None
                self.stopping.wait(2)

    def _clock_loop(self) -> None:
        send_url = clients.queue_url(resources.send_queue_name())
        last = None
        while not self.stopping.is_set():
            at = self.clock()
            try:
                from local.stack import verify_store_senders

                for domain in verify_store_senders():
                    self.report(f"SES: verified the sender domain {domain} (the local stand-in for its DNS records)")
                evaluations = Summary()
                evaluate_at(at, evaluations, report=self.report)
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

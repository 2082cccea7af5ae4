"""The runner under test: real evaluation, dispatcher, ledger and tables (in-process moto), with
in-memory fakes of our own ports for the providers and the send queue, a clock the test moves, and
a delivery loop that behaves as SQS with Lambda does (redelivery after the visibility timeout, at
least once, up to five receives, then the dead-letter queue)."""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from chalicelib.adapters.providers import (
    Email,
    PermanentProviderError,
    Sms,
    TransientProviderError,
)
from chalicelib.adapters.repository import DynamoRepository
from chalicelib.adapters.resources import DISPATCH_BATCH_SIZE, MAX_RECEIVES, SEND_VISIBILITY_SECONDS
from chalicelib.core import catalog
from chalicelib.runner import evaluation
from chalicelib.sending.dispatcher import Dispatcher, Outcome, Providers
from chalicelib.sending.messages import Send, unpack
from local.runner import MemoryCheckpoint, StreamReader


class Crash(BaseException):
    """The process dies here: nothing catches it, as nothing survives a killed Lambda."""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


Fault = Callable[[object], None]


class FakeProvider:
    """Records what it accepted; `before` and `after` may raise to inject faults around acceptance."""

    def __init__(self, prefix: str) -> None:
        self.prefix, self.accepted, self.calls = prefix, [], 0
        self.before: Fault | None = None
        self.after: Fault | None = None
        self.opted_out_numbers: set[str] = set()

    def send(self, message: Email | Sms) -> str:
        self.calls += 1
        if self.before:
            self.before(message)
        self.accepted.append(message)
        if self.after:
            self.after(message)
        return f"{self.prefix}-{len(self.accepted)}"

    def opted_out(self, phone: str) -> bool:
        return phone in self.opted_out_numbers

    def to(self) -> Counter:
        return Counter(m.to for m in self.accepted)


def throttle_every_other() -> Fault:
    calls = itertools.count()

    def fault(_message) -> None:
        if next(calls) % 2 == 0:
            raise TransientProviderError("Throttling")
    return fault


def reject(_message) -> None:
    raise PermanentProviderError("MessageRejected")


def crash(_message) -> None:
    raise Crash()


def once(fault: Fault) -> Fault:
    """A fault that happens on the first call only."""
    fired = []

    def run(message) -> None:
        if not fired:
            fired.append(True)
            fault(message)
    return run


class MemoryQueue:
    def __init__(self) -> None:
        self.messages: list[tuple[str, int]] = []

    def send(self, bodies, delay_seconds: int = 0) -> None:
        self.messages.extend((body, delay_seconds) for body in bodies)

    @property
    def sends(self) -> list[Send]:
        """The sends the queued messages carry (a message holds one, or a pack)."""
        return [send for body, _ in self.messages for send in unpack(body)]


@dataclass
class Delivery:
    outcomes: list[Outcome] = field(default_factory=list)
    dead_letters: list[str] = field(default_factory=list)
    crashes: int = 0
    #: Invocations that raised (the whole batch comes back, as Lambda's SQS event source does).
    errors: int = 0
    receives: int = 0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def took_over(self) -> int:
        return sum(1 for o in self.outcomes if o.took_over)


class Runner:
    """One tenant's runner: the tests share one emulator, so it evaluates only its own tenant's jobs."""

    def __init__(self, tenant_id: str, now: datetime, workers: int = 1) -> None:
        """`workers`: the dispatcher's concurrency. One by default, so a crash injected into a batch stops
        it where it happens, as a killed Lambda does; the concurrency tests run several."""
        self.tenant_id = tenant_id
        self.clock = Clock(now)
        self.queue = MemoryQueue()
        self.email, self.sms = FakeProvider("ses"), FakeProvider("sns")
        self.dispatcher = Dispatcher(Providers(self.email, self.sms), self.queue, self.clock, workers=workers)
        self._ids = itertools.count()
        # The customers stream from here on (the emulator's stream is shared by every test).
        self.stream = StreamReader.for_customers(MemoryCheckpoint(), start="LATEST")
        self.stream_records: list[dict] = []
        #: Campaign page jobs on the evaluations queue, not run yet.
        self.campaign_jobs: list[str] = []

    def evaluate(self, at: datetime | None = None, types=None) -> list[evaluation.Evaluation]:
        """What the schedules do at `at`: release deferred sends, plan each type, evaluate each job."""
        at = at or self.clock()
        self.clock.now = max(self.clock.now, at)
        self._release_own(at)
        done = []
        for type_ in types or catalog.PER_EVENT:
            for job in evaluation.plan(type_, at):
                if job.tenant_id != self.tenant_id:
                    continue
                done.append(evaluation.evaluate(job, DynamoRepository(), self.queue))
        return done

    def _release_own(self, at: datetime) -> None:
        """The release of deferred sends, for this tenant's only: the tests share one emulator, and another
        test's parked send (a campaign's SMS in quiet hours) must not be delivered, and counted, here."""
        from chalicelib.sending import ledger
        from chalicelib.sending.messages import parse

        mine = [row for row in ledger.due_deferred(at) if row.ledger_key.startswith(f"{self.tenant_id}|")]
        bodies = [parse(row.payload).release().to_body() for row in mine
                  if row.payload and ledger.mark_released(row, at)]
        if bodies:
            self.queue.send(bodies)

    #: Each invocation's remaining time (a new callable per invocation), as Lambda's context gives it; None:
    #: unbounded.
    time_left: Callable[[], Callable[[], float]] | None = None

    def deliver(self, copies: int = 1, batch_size: int = DISPATCH_BATCH_SIZE, extra: list[str] = ()) -> Delivery:
        """Deliver every queued message `copies` times (SQS is at least once), in batches, redelivering
        what a batch failed or a crash lost after the visibility timeout, until the queue is empty."""
        result = Delivery()
        pending = [(f"m{next(self._ids)}", body) for body, _ in self.queue.messages for _ in range(copies)]
        pending += [(f"m{next(self._ids)}", body) for body in extra]
        self.queue.messages = []
        receives: Counter = Counter()
        while pending:
            retry = []
            for start in range(0, len(pending), batch_size):
                batch = pending[start:start + batch_size]
                for message_id, _ in batch:
                    receives[message_id] += 1
                    result.receives += 1
                try:
                    outcome = self.dispatcher.dispatch_records(
                        [{"messageId": message_id, "body": body} for message_id, body in batch],
                        self.time_left() if self.time_left else None)
                except Crash:
                    result.crashes += 1
                    retry += batch
                    continue
                except Exception:  # noqa: BLE001 - a failed invocation: every message of the batch returns
                    result.errors += 1
                    retry += batch
                    continue
                result.outcomes += outcome.outcomes
                retry += [(m, b) for m, b in batch if m in set(outcome.failures)]
            # Retries and requeued messages come back after the visibility timeout or their delay.
            requeued = [(f"m{next(self._ids)}", body) for body, _ in self.queue.messages]
            self.queue.messages = []
            if retry or requeued:
                self.clock.advance(seconds=SEND_VISIBILITY_SECONDS)
            pending = []
            for message_id, body in retry:
                if receives[message_id] >= MAX_RECEIVES:
                    result.dead_letters.append(body)
                else:
                    pending.append((message_id, body))
            pending += requeued
        return result

    def changes(self, copies: int = 1) -> list:
        """What the customers stream's event source does: hand this tenant's new stream records to the
        consumer, in order, in batches (each batch `copies` times, as a retried batch is), queueing the
        sends they fire; returns the consumer's results."""
        from chalicelib.runner import customer_changes

        results = []

        def handle(records):
            mine = [r for r in records if r["dynamodb"]["Keys"]["tenant_id"]["S"] == self.tenant_id]
            self.stream_records += mine
            for _ in range(copies):
                results.append(customer_changes.handle(mine, self.queue, self.clock()))
            return results[-1]
        self.stream.drain(handle)
        return results

    def campaigns(self, at: datetime | None = None, page_size: int | None = None, copies: int = 1,
                  pages: int | None = None) -> list:
        """What the one-minute planner and the evaluations queue do at `at`: start this tenant's due campaigns,
        queue their pages, run each page job `copies` times (SQS is at least once) and the pages they continue
        with, at most `pages` of them (the rest stay in `self.campaign_jobs`); returns the pages."""
        from chalicelib.runner import campaigns

        at = at or self.clock()
        self.clock.now = max(self.clock.now, at)
        jobs = MemoryQueue()
        campaigns.plan(at, jobs)
        self.campaign_jobs += [body for body, _ in jobs.messages if f'"tenant_id": "{self.tenant_id}"' in body
                               for _ in range(copies)]
        return self.campaign_pages(page_size, pages)

    def campaign_pages(self, page_size: int | None = None, pages: int | None = None) -> list:
        """Run the campaign page jobs waiting, and the jobs they continue with (at most `pages`)."""
        from chalicelib.runner import campaigns

        done = []
        while self.campaign_jobs and (pages is None or len(done) < pages):
            job = campaigns.CampaignJob.parse(self.campaign_jobs.pop(0))
            page = campaigns.evaluate(job, DynamoRepository(), self.queue, page_size or campaigns.PAGE_SIZE,
                                      now=self.clock())
            if page.continuation is not None:
                self.campaign_jobs.append(page.continuation.to_body())
            done.append(page)
        return done

    def run(self, at: datetime, copies: int = 1) -> tuple[list[evaluation.Evaluation], Delivery]:
        """Evaluate at `at`, then deliver what it queued."""
        return self.evaluate(at), self.deliver(copies)

"""Paged evaluations against the tables (in-process moto): a store of 300 customers evaluated a page
at a time, each continuation going through the queue's text as the evaluations queue carries it.

Every customer is queued once across the pages, the jobs are ceil(matches / page), a crash after a
page's sends and the job's retry queue that page again and nothing else, the progress moves only with
a date's last page, and each job takes at most a page (and one more, to know whether to go on) from
the matcher's reads: no job holds, or reads, the whole day."""
from __future__ import annotations

import json
import math
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Mapping

import pytest

from chalicelib.adapters.models import Customer, RunState, derive_customer_keys
from chalicelib.adapters.repository import DynamoRepository
from chalicelib.core.timeutil import to_iso
from chalicelib.rules.auth import Principal
from chalicelib.runner import evaluation
from chalicelib.runner.evaluation import Job
from chalicelib.sending.messages import PACK, unpack
from tests.integration.conftest import STORE, take
from tests.integration.runner_kit import Crash

#: 11:00 in Sydney (AEDT) on Dec 18: after the send hour, on Christmas's date.
DEC18 = datetime.fromisoformat("2026-12-18T00:00:00+00:00")
AT = to_iso(DEC18)
CUSTOMERS = 300
#: Birthdays: a quarter of the store on each of Dec 16, 17 and 18 (the last without a year).
BIRTHDAYS = {0: "1990-12-16", 1: "1985-12-17", 2: "--12-18"}
#: Customers last active on Sep 18 (local): re-engaged on Dec 18 after 3 months. They share seven
#: instants, as customers imported together do.
LAPSED = 120
APPOINTMENTS = 30


def customer_id(n: int) -> str:
    return f"c{n:04d}"


@pytest.fixture(scope="module")
def store():
    """The store, switched off and emptied afterwards: the emulator is shared by the session, and a `tick`
    in another test evaluates every store with something switched on."""
    from chalicelib.services import automations, customers, settings

    tenant_id = f"pages-{uuid.uuid4().hex[:8]}"
    owner = Principal(tenant_id=tenant_id, role="owner", subject="test")
    before = DEC18 - timedelta(days=30)
    settings.patch(owner, STORE, before)
    with Customer.batch_write() as batch:
        for n in range(CUSTOMERS):
            cid = customer_id(n)
            item = Customer(tenant_id, cid, first_name=cid.upper(), email=f"{cid}@mail.example",
                            phone=f"+6140{n:07d}", consent={"email": True, "sms": True},
                            birthday=BIRTHDAYS.get(n % 4), created_at="2025-01-01T00:00:00Z",
                            last_activity_at=f"2026-09-18T0{n % 7}:00:00Z" if n < LAPSED else "2025-01-01T00:00:00Z")
            derive_customer_keys(item)
            batch.save(item)
    for n in range(APPOINTMENTS):
        customers.put_appointment(owner, f"a{n:02d}", {
            "customer_id": customer_id(n), "starts_at": to_iso(DEC18 + timedelta(hours=3, minutes=10 * n))}, before)
    both = {"enabled": True, "channels": ["email", "sms"]}
    for type_, change in (("christmas", both), ("birthday", both), ("appointment_24h", {"enabled": True}),
                          ("reengagement", {"enabled": True, "settings": {"months_inactive": 3}})):
        automations.patch(owner, type_, change, before, STORE["timezone"])
    yield tenant_id
    for type_ in ("christmas", "birthday", "appointment_24h", "reengagement"):
        automations.patch(owner, type_, {"enabled": False}, before, STORE["timezone"])
    with Customer.batch_write() as batch:
        for n in range(CUSTOMERS):
            batch.delete(Customer(tenant_id, customer_id(n)))


def progress(store: str, type_: str, first: str = "2026-12-18", through: str | None = None) -> None:
    """The type's run state: its first date (no date before it is processed), and its last one done."""
    RunState(store, type_, first_evaluated_on=first, processed_through=through).save()


def processed_through(store: str, type_: str) -> str | None:
    return RunState.get(store, type_).processed_through


class Sends:
    """The send queue: each call to it (an evaluation makes one per page at most) and its messages."""

    def __init__(self, crash_on_call: int | None = None) -> None:
        self.calls: list[list[str]] = []
        self.crash_on_call = crash_on_call

    def send(self, bodies, delay_seconds: int = 0) -> None:
        self.calls.append(list(bodies))
        if len(self.calls) == self.crash_on_call:
            raise Crash()   # the process dies after SQS took the page's sends

    @property
    def messages(self) -> list[dict]:
        return [json.loads(send.to_body()) for call in self.calls for body in call for send in unpack(body)]


class Counted:
    """The matchers' repository, counting the records its reads hand out: what an evaluation takes
    from the matcher, which reads as it yields."""

    def __init__(self) -> None:
        self.inner, self.taken = DynamoRepository(), 0

    def __getattr__(self, name):
        read = getattr(self.inner, name)

        def counted(*args, **kwargs):
            result = read(*args, **kwargs)
            if isinstance(result, Mapping):
                self.taken += len(result)
                return result
            return self._each(result)
        return counted

    def _each(self, items):
        for item in items:
            self.taken += 1
            yield item


@pytest.fixture
def run_chain(store):
    """What the evaluations queue and its consumer do with a job: evaluate it, put its continuation on
    the queue (as text), evaluate that, until none is left; a job whose process crashed is delivered
    again. Returns each evaluation with the job it ran, the records it took from the reads, and the
    progress recorded after it."""

    def run(type_: str, page: int, sends: Sends, first: Job | None = None, repo=None) -> list[dict]:
        pending, done = [(first or Job(store, type_, AT)).to_body()], []
        while pending:
            body = pending.pop(0)
            job = Job.parse(body)
            counted = repo or Counted()
            counted.taken = 0
            try:
                outcome = evaluation.evaluate(job, counted, sends, page)
            except Crash:
                pending.insert(0, body)   # delivered again after the visibility timeout
                outcome = None
            state = RunState.get(store, type_) if evaluation.catalog.PER_EVENT[type_].daily else None
            done.append({"job": job, "outcome": outcome, "taken": counted.taken, "crashed": outcome is None,
                         "through": state.processed_through if state else None})
            if outcome is not None and outcome.continuation is not None:
                pending.append(outcome.continuation.to_body())
        return done
    return run


def sent_pairs(sends: Sends) -> Counter:
    return Counter((m["customer_id"], m["channel"]) for m in sends.messages)


def pages_of(page: int, channels=("email", "sms")) -> list[list[tuple[str, str]]]:
    """Christmas's sends, page by page: the customers in id order, each on every channel."""
    return [[(customer_id(n), channel) for n in range(first, min(first + page, CUSTOMERS)) for channel in channels]
            for first in range(0, CUSTOMERS, page)]


def calls_of(sends: Sends) -> list[list[tuple[str, str]]]:
    return [[(s.customer_id, s.channel) for body in call for s in unpack(body)] for call in sends.calls]


@pytest.mark.parametrize("page", [60, 120, 299])
def test_christmas_queues_every_customer_once_in_ceil_matches_over_page_jobs(store, run_chain, page):
    progress(store, "christmas")
    sends = Sends()
    done = run_chain("christmas", page, sends)

    jobs = math.ceil(CUSTOMERS / page)   # 5 (no sixth job to find nothing), 3, 2
    assert len(done) == jobs
    assert sent_pairs(sends) == Counter({(customer_id(n), channel): 1 for n in range(CUSTOMERS)
                                         for channel in ("email", "sms")})
    assert all(m["occurrence_key"] == "christmas:2026" for m in sends.messages)
    # One call to the send queue per job, of a page of sends per channel, PACK sends to a message.
    assert calls_of(sends) == pages_of(page)
    assert [len(call) for call in sends.calls] == [math.ceil(len(p) / PACK) for p in pages_of(page)]
    assert [d["outcome"].matched for d in done] == [page] * (jobs - 1) + [CUSTOMERS - page * (jobs - 1)]
    # The date is recorded by its last page only; the jobs before it carry on from their last customer.
    assert [d["through"] for d in done] == [None] * (jobs - 1) + ["2026-12-18"]
    assert [d["outcome"].dates for d in done] == [()] * (jobs - 1) + [("2026-12-18",)]
    assert [d["job"].to_body() for d in done[1:]] == [
        Job(store, "christmas", AT, "2026-12-18", customer_id(page * k - 1), trigger="2026-12-18").to_body()
        for k in range(1, jobs)]
    # The bound is structural: a job takes from the matcher's read at most its page and one customer
    # more (to know whether to carry on), and the next job reads on from the page's last customer (so
    # that one is read again): no job holds, or reads, the whole day.
    assert [d["taken"] for d in done] == [page + 1] * (jobs - 1) + [CUSTOMERS - page * (jobs - 1)]
    assert sum(d["taken"] for d in done) == CUSTOMERS + jobs - 1


@pytest.mark.parametrize("crashed_page", [2, 3])
def test_a_crash_after_a_page_is_queued_retries_that_page_and_nothing_else(store, run_chain, crashed_page):
    """The process dies after SQS took page k's sends, before its continuation (or, on the last page,
    the date's progress) was recorded: the retried job queues page k again, and nothing else twice."""
    progress(store, "christmas")
    sends = Sends(crash_on_call=crashed_page)
    done = run_chain("christmas", 120, sends)

    assert [d["crashed"] for d in done] == [k == crashed_page for k in range(1, 5)]
    assert [d["job"] for d in done][crashed_page - 1] == [d["job"] for d in done][crashed_page]
    pages = pages_of(120)
    assert calls_of(sends) == pages[:crashed_page] + pages[crashed_page - 1:]
    # Progress comes with the last page that completes, not with the crashed one.
    assert [d["through"] for d in done] == [None] * 3 + ["2026-12-18"]


def test_catch_up_dates_share_the_pages_and_each_is_recorded_by_its_own_last_page(store, run_chain):
    """Birthdays on Dec 16, 17 and 18 (75 each), the two first caught up at Dec 18: a page carries on
    into the next date, and each date is recorded when its last page is queued."""
    progress(store, "birthday", first="2026-12-01")
    sends = Sends()
    done = run_chain("birthday", 48, sends)
    due = [n for n in range(CUSTOMERS) if n % 4 in BIRTHDAYS]
    assert len(done) == math.ceil(len(due) / 48) == 5
    assert sent_pairs(sends) == Counter({(customer_id(n), ch): 1 for n in due for ch in ("email", "sms")})
    # 48 of Dec 16; its last 27 and 21 of Dec 17; 48 more; its last 6 and 42 of Dec 18; the rest.
    assert [d["outcome"].matched for d in done] == [48, 48, 48, 48, 33]
    assert [d["outcome"].dates for d in done] == [(), ("2026-12-16",), (), ("2026-12-17",), ("2026-12-18",)]
    assert [d["through"] for d in done] == [None, "2026-12-16", "2026-12-16", "2026-12-17", "2026-12-18"]
    assert [(d["job"].day, d["job"].after) for d in done[1:]] == [
        ("2026-12-16", f"12-16|{customer_id(4 * 47)}"), ("2026-12-17", f"12-17|{customer_id(4 * 20 + 1)}"),
        ("2026-12-17", f"12-17|{customer_id(4 * 68 + 1)}"), ("2026-12-18", f"12-18|{customer_id(4 * 41 + 2)}")]


def test_a_page_that_ends_with_its_date_leaves_no_job_to_find_nothing(store, run_chain):
    progress(store, "birthday", first="2026-12-01")
    done = run_chain("birthday", 75, Sends())
    assert [d["outcome"].dates for d in done] == [("2026-12-16",), ("2026-12-17",), ("2026-12-18",)]
    # A full page at a date's end looks into the next date: it has matches, so a job starts it.
    assert [(d["job"].day, d["job"].after) for d in done] == [(None, None), ("2026-12-17", None),
                                                              ("2026-12-18", None)]


def test_reengagement_carries_on_through_customers_that_share_their_last_activity(store, run_chain):
    progress(store, "reengagement")
    sends = Sends()
    # Instants of 17 or 18 customers and pages of 19: every page ends inside an instant's customers.
    done = run_chain("reengagement", 19, sends)
    assert len(done) == math.ceil(LAPSED / 19) == 7
    assert sent_pairs(sends) == Counter({(customer_id(n), "email"): 1 for n in range(LAPSED)})
    assert {m["occurrence_key"] for m in sends.messages} == {"lapse:2026-09-18"}
    assert sum(d["taken"] for d in done) == LAPSED + len(done) - 1
    assert [d["through"] for d in done] == [None] * 6 + ["2026-12-18"]


def test_appointment_reminders_obey_the_page_too_carried_on_by_count(store, run_chain):
    sends = Sends()
    done = run_chain("appointment_24h", 8, sends)
    assert len(done) == math.ceil(APPOINTMENTS / 8) == 4
    assert Counter(m["occurrence_key"].split("@")[0] for m in sends.messages) == Counter(
        {f"appt24:a{n:02d}": 1 for n in range(APPOINTMENTS)})
    assert [(d["job"].day, d["job"].after, d["job"].skip) for d in done] == [
        (None, None, 0), (None, None, 8), (None, None, 16), (None, None, 24)]


def test_a_continuation_delivered_again_after_its_date_is_done_does_nothing(store, run_chain):
    progress(store, "christmas", through="2026-12-18")
    sends = Sends()
    again = run_chain("christmas", 120, sends, first=Job(store, "christmas", AT, "2026-12-18", customer_id(119)))
    assert [(d["outcome"].matched, d["outcome"].dates, d["outcome"].continuation) for d in again] == [(0, (), None)]
    assert sends.messages == [] and processed_through(store, "christmas") == "2026-12-18"


def test_progress_never_goes_back_when_another_evaluation_is_ahead(store, run_chain):
    """Two evaluations of one store (a redelivered job beside a planned one): the one that finishes Dec 17
    after the other recorded Dec 18 leaves Dec 18 recorded, and stops."""
    progress(store, "birthday", first="2026-12-01", through="2026-12-16")

    class Overtaken(Counted):
        def customers_by_month_day(self, tenant_id, field, month_day, **kwargs):
            if month_day == "12-17":
                progress(store, "birthday", first="2026-12-01", through="2026-12-18")
            return self.__getattr__("customers_by_month_day")(tenant_id, field, month_day, **kwargs)

    done = run_chain("birthday", CUSTOMERS, Sends(), repo=Overtaken())
    assert [(d["outcome"].dates, d["outcome"].continuation) for d in done] == [((), None)]
    assert processed_through(store, "birthday") == "2026-12-18"


def test_the_planner_still_queues_jobs_in_the_old_format(store):
    progress(store, "christmas")
    [job] = [j for j in evaluation.plan("christmas", DEC18) if j.tenant_id == store]
    assert json.loads(job.to_body()) == {"tenant_id": store, "type": "christmas", "at": AT}


# --- the evaluations queue's consumer ---------------------------------------------------------------

@pytest.fixture
def small_store(shop, tenant):
    for n in range(25):
        assert shop.put(f"/customers/{customer_id(n)}", {"email": f"{customer_id(n)}@mail.example",
                                                         "consent": {"email": True}}).status == 200
    assert shop.patch("/automations/christmas", {"enabled": True, "channels": ["email"]}).status == 200
    yield tenant
    assert shop.patch("/automations/christmas", {"enabled": False}).status == 200


def test_the_consumer_puts_the_continuation_on_the_evaluations_queue_after_the_pages_sends(small_store, monkeypatch):
    from chalicelib.adapters import resources
    from chalicelib.events import evaluate as consumer

    def deliver(body: str):
        return consumer.evaluate_records([{"messageId": "m1", "body": body}], page_size=10)

    first = Job(small_store, "christmas", AT).to_body()
    # Putting the continuation fails: the job fails (SQS delivers it again), its page's sends are queued.
    broken = type("Broken", (), {"send": lambda self, bodies, delay_seconds=0: 1 / 0})()
    monkeypatch.setattr(consumer, "evaluation_queue", lambda: broken)
    result, done = deliver(first)
    assert result.failures == ["m1"] and done == []
    assert len([s for m in take(resources.send_queue_name(), small_store) for s in unpack(m["Body"])]) == 10
    monkeypatch.undo()

    bodies, pages = [first], []
    while bodies:
        result, [outcome] = deliver(bodies.pop())
        assert result.failures == []
        pages.append([s.customer_id for m in take(resources.send_queue_name(), small_store) for s in unpack(m["Body"])])
        bodies = [m["Body"] for m in take(resources.evaluation_queue_name(), small_store)]
        assert [Job.parse(b) for b in bodies] == ([outcome.continuation] if outcome.continuation else [])
    assert [sorted(p) for p in pages] == [[customer_id(n) for n in range(k, min(k + 10, 25))] for k in (0, 10, 20)]
    assert processed_through(small_store, "christmas") == "2026-12-18"


def test_the_planner_leaves_a_date_alone_while_its_run_carries_on_page_by_page(store, run_chain):
    """A large date takes many pages: the planner's next schedules must not start it again from its first
    customer while its continuations are alive, and plan it again once the run is over or has died."""
    progress(store, "christmas")
    at = DEC18
    first = evaluation.evaluate(Job(store, "christmas", AT), DynamoRepository(), Sends(), 120)
    assert first.continuation is not None
    planned = lambda minutes: [j.tenant_id for j in evaluation.plan("christmas", at + timedelta(minutes=minutes))]  # noqa: E731
    assert store not in planned(15)                                   # alive: its pages cover the date
    assert store in planned(int(evaluation.PAGING_LEASE.total_seconds() // 60) + 15)   # died: start again
    rest = run_chain("christmas", 120, Sends(), first=Job.parse(first.continuation.to_body()))
    assert rest[-1]["through"] == "2026-12-18" and RunState.get(store, "christmas").paging_until is None
    assert store not in planned(15)                                   # done: nothing left for the day

"""The send ledger: claims, outcomes and deferrals, each one DynamoDB transaction.

A send's row moves: (none) -> claimed -> accepted -> sent, claimed -> failed, or (none) -> skipped |
failed | deferred, and deferred -> claimed | skipped | ... when it is released. Every move is conditional
on the row being as the dispatcher read it, and every final move writes the communication record in the
same transaction, so an outcome is recorded exactly once or not at all.

`accepted` is written the moment the provider has taken the message, by a single-item write (no other
item, so no transaction to be cancelled by a conflict): from then on, whatever fails, an attempt that
finds the row records `sent` from what the row holds and never sends again.

DynamoDB's real failure modes: a transaction that touches an item another transaction holds is
cancelled (`TransactionConflict`), and throttling can outlast the SDK's own retries. Both are retried
here with backoff; past that, `Contended` leaves the send to its queue message's next delivery.

The day's outcome counters are not in the outcome's transaction. The dispatcher adds a batch's outcomes up
(`Counts`) and, when the batch ends, writes them in one transaction that adds to each counter (one of
`STAT_SHARDS` items chosen at random, so no item takes the writes of every send of a busy day) and marks
each counted row (`counted`), conditional on it being unmarked. An invocation that dies before that
transaction leaves its rows unmarked, and the message's next delivery, finding them ended, counts them:
every outcome is counted exactly once, so a campaign's counters can tell when every send has ended.
"""
from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Callable, Iterable, TypeVar

from botocore.exceptions import ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import (
    DeleteError,
    PynamoDBException,
    TransactWriteError,
    UpdateError,
)
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.models import (
    AutomationStats,
    Communication,
    CommunicationContent,
    MarketingLog,
    SendLedger,
    tenant_customer,
)
from chalicelib.adapters.persistence import THROTTLED, Keys, get_or_none, is_conditional_failure, mutate, read_many
from chalicelib.adapters.providers import TENANT_TAG, tag_value
from chalicelib.core import config, store_settings
from chalicelib.core.timeutil import local_date, parse_instant, to_iso
from chalicelib.rules.engagement import CUSTOMER_TAG, RECORD_TAG
from chalicelib.sending.messages import Send
from chalicelib.sending.stats import stat_key

CLAIMED, DEFERRED, ACCEPTED = "claimed", "deferred", "accepted"
SENT, SKIPPED, FAILED = "sent", "skipped", "failed"
FINAL = frozenset({SENT, SKIPPED, FAILED})
#: How long a record's address, subject and body are kept when the store has not said (`retention_days`).
DEFAULT_RETENTION_DAYS = store_settings.DEFAULTS["retention_days"]
#: How long a claim protects a send in flight. Shorter than the send queue's visibility timeout, so a
#: message redelivered after its dispatcher died always finds the dead claim expired.
LEASE = timedelta(seconds=45)
DEFERRED_SHARD = "deferred"
#: A released deferred send is released again only if it has not moved on by then.
RELEASE_RETRY = timedelta(minutes=15)
#: The frequency cap counts back at most this far (per_days is at most 365).
CAP_HORIZON = timedelta(days=366)
#: Writes cancelled by a conflict or throttled past the SDK's retries are tried this many times in all.
WRITE_ATTEMPTS = 8
WRITE_BACKOFF_SECONDS = 0.025
#: Counter items per (day, automation, outcome), one chosen at random by every write.
STAT_SHARDS = 16
#: Error codes that mean "try again": the item was busy, or the table's or partition's rate was passed.
RETRYABLE = THROTTLED | {"TransactionConflict", "TransactionConflictException", "ProvisionedThroughputExceeded",
                         "ThrottlingError", "TransactionInProgressException", "InternalServerError"}

T = TypeVar("T")
#: How the ledger waits between tries (replaced in the fault benchmark and tests to run without waiting).
sleep: Callable[[float], None] = time.sleep


class Superseded(Exception):
    """The ledger row changed since it was read: another dispatcher moved the send on."""


class CapMoved(Exception):
    """The customer's marketing log changed since it was read: check the frequency cap again."""


class Contended(Exception):
    """A write was cancelled by conflicts or throttled on every try: leave the send for a later delivery."""


def _codes(error: BaseException) -> list[str | None]:
    """DynamoDB's codes of a failed write: each cancellation reason of a transaction, or the error's own."""
    if isinstance(error, TransactWriteError) and error.cancellation_reasons:
        return [r.code if r else None for r in error.cancellation_reasons]
    if isinstance(error, PynamoDBException):
        return [error.cause_response_code]
    if isinstance(error, ClientError):
        return [error.response.get("Error", {}).get("Code")]
    return []


codes = _codes


def _retryable(error: BaseException) -> bool:
    codes = [c for c in _codes(error) if c not in (None, "None")]
    return bool(codes) and "ConditionalCheckFailed" not in codes and any(c in RETRYABLE for c in codes)


def with_retries(write: Callable[[], T]) -> T:
    """Run a write, again after a conflict or throttling, with exponential backoff and jitter."""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            return write()
        except (PynamoDBException, ClientError) as e:
            if not _retryable(e):
                raise
            if attempt + 1 == WRITE_ATTEMPTS:
                raise Contended(f"{_codes(e)} on {WRITE_ATTEMPTS} tries") from e
            sleep(WRITE_BACKOFF_SECONDS * 2 ** attempt * (0.5 + random.random() / 2))
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Record:
    """What the communication record of an outcome says."""

    to: str | None = None
    subject: str | None = None
    body: str | None = None
    template_id: str | None = None
    provider_message_id: str | None = None
    deferred_until: str | None = None
    #: A 1:1 message: the user who sent it.
    sent_by: str | None = None
    #: How many days the address, subject and body are kept (the store's `retention_days`); None: the default.
    keep_days: int | None = None


def send_id(send: Send) -> str:
    """A short stable id of a send (its ledger key hashed), for ids derived from it."""
    return hashlib.sha256(send.ledger_key.encode()).hexdigest()[:20]


def read(sends: Iterable[Send]) -> dict[str, SendLedger]:
    """The current ledger rows of these sends, by ledger key (strongly consistent)."""
    keys = sorted({s.ledger_key for s in sends})
    return {row.ledger_key: row for row in SendLedger.batch_get(keys, consistent_read=True)} if keys else {}


def read_one(send: Send) -> SendLedger | None:
    return read([send]).get(send.ledger_key)


def claim_expired(row: SendLedger, now: datetime) -> bool:
    return row.status == CLAIMED and (not row.claimed_at or parse_instant(row.claimed_at) + LEASE <= now)


@lru_cache(maxsize=1)
def _connection() -> Connection:
    """One connection for every transaction of a warm process (building one builds a botocore client)."""
    return Connection(region=config.region())


def _as_read(row: SendLedger | None):
    """The condition that a row is still as it was read."""
    if row is None:
        return SendLedger.ledger_key.does_not_exist()
    if row.status == CLAIMED:
        return (SendLedger.status == CLAIMED) & (SendLedger.claim_token == row.claim_token)
    return SendLedger.status == row.status


def _row(send: Send, status: str, now: datetime, **fields) -> SendLedger:
    return SendLedger(send.ledger_key, tenant_id=send.tenant_id, customer_id=send.customer_id,
                      automation_id=send.automation_id, occurrence_key=send.occurrence_key, channel=send.channel,
                      status=status, updated_at=to_iso(now), **fields)


def transaction_connection() -> Connection:
    return _connection()


def record_id(send: Send, phase: str = "outcome") -> str:
    """The id of the communication record a send's outcome writes: known before the send, so the email can
    carry it in its tags and SES's events about it find the record."""
    return hashlib.sha256(f"{send.ledger_key}#{phase}".encode()).hexdigest()[:24]


def email_tags(send: Send) -> dict[str, str]:
    """The SES tags of a send's email: the store, the customer and the id of the record its outcome writes,
    which SES echoes in every event of the message (`runner.engagement` finds the record by them). Ids only:
    a tag names no person and says nothing of them."""
    return {TENANT_TAG: tag_value(send.tenant_id), CUSTOMER_TAG: tag_value(send.customer_id),
            RECORD_TAG: record_id(send)}


def _communication(send: Send, status: str, reason: str | None, record: Record, now: datetime
                   ) -> list[Communication | CommunicationContent]:
    """The record of an outcome, and its personal part (address, subject, body) as an item of its own that
    DynamoDB's time to live deletes after the store's retention (docs/behaviour.md section 8, "Retention")."""
    phase = f"deferred@{record.deferred_until}" if status == DEFERRED else "outcome"
    communication_id = record_id(send, phase)
    created_at = to_iso(now)
    key = tenant_customer(send.tenant_id, send.customer_id)
    sort_key = f"{created_at}#{communication_id}"
    items: list[Communication | CommunicationContent] = [Communication(
        key, sort_key,
        tenant_id=send.tenant_id, communication_id=communication_id, customer_id=send.customer_id,
        created_at=created_at, channel=send.channel, source=send.source, automation_type=send.automation_type,
        automation_id=send.automation_id, occurrence_key=send.occurrence_key, template_id=record.template_id,
        status=status, reason=reason,
        provider_message_id=record.provider_message_id, deferred_until=record.deferred_until,
        sent_by=record.sent_by,
    )]
    if record.to is not None or record.subject is not None or record.body is not None:
        keep = record.keep_days if record.keep_days is not None else DEFAULT_RETENTION_DAYS
        items.append(CommunicationContent(key, sort_key, to=record.to, subject=record.subject, body=record.body,
                                          expires_at=now + timedelta(days=keep)))
    return items


def _save_all(tx: TransactWrite, items: list) -> None:
    for item in items:
        tx.save(item)


def _commit(build) -> None:
    """Run a transaction, again after a conflict or throttling; a failed condition on the ledger row (the
    first item) is `Superseded`, on the marketing log `CapMoved`."""
    def attempt() -> None:
        with TransactWrite(connection=_connection()) as tx:
            build(tx)
    try:
        with_retries(attempt)
    except TransactWriteError as e:
        reasons = _codes(e)
        if reasons and reasons[0] == "ConditionalCheckFailed":
            raise Superseded() from e
        if "ConditionalCheckFailed" in reasons:
            raise CapMoved() from e
        raise


def _uncounted(outcome: tuple[Send, str, str | None, str]) -> list:
    """The condition and action that mark an outcome's row counted: still that outcome, not counted yet."""
    send, status, _reason, _day = outcome
    return [(SendLedger.status == status) & SendLedger.counted.does_not_exist(), SendLedger.counted.set(status)]


def _count_in_one_transaction(outcomes: list[tuple[Send, str, str | None, str]]) -> int:
    """Add `outcomes` to their counters and mark their rows counted, all or nothing. An outcome whose row
    has moved on or was counted meanwhile (a duplicate delivery counted it) is left out and the rest tried
    again. Returns the number of counter writes."""
    while outcomes:
        totals = Counter((send.tenant_id, day, send.automation_id, status, reason)
                         for send, status, reason, day in outcomes)

        def attempt() -> None:
            with TransactWrite(connection=_connection()) as tx:
                for outcome in outcomes:
                    condition, action = _uncounted(outcome)
                    tx.update(SendLedger(outcome[0].ledger_key), actions=[action], condition=condition)
                for (tenant_id, day, automation_id, status, reason), n in sorted(totals.items(), key=str):
                    key = stat_key(day, automation_id, status, reason, random.randrange(STAT_SHARDS))
                    tx.update(AutomationStats(tenant_id, key), actions=[AutomationStats.count.add(n)])
        try:
            with_retries(attempt)
            return len(totals)
        except TransactWriteError as e:
            codes = _codes(e)
            if "ConditionalCheckFailed" not in codes:
                raise
            outcomes = [o for o, code in zip(outcomes, codes) if code != "ConditionalCheckFailed"]
    return 0


class Counts:
    """A dispatch batch's outcomes, added up as its threads record them and counted when the batch ends
    (`write`): ten sends of one automation make one transaction, not ten counter writes. An outcome found
    ended by an earlier attempt that did not count it (`add_uncounted`) is counted by this one."""

    #: Outcomes per transaction: a row each and at most as many counters, under DynamoDB's 100 items.
    PER_TRANSACTION = 40

    def __init__(self) -> None:
        self._outcomes: dict[str, tuple[Send, str, str | None, str]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._outcomes)

    def add(self, send: Send, status: str, reason: str | None, now: datetime, tz_name: str) -> None:
        day = local_date(now, tz_name).isoformat()
        with self._lock:
            self._outcomes[send.ledger_key] = (send, status, reason, day)

    def add_uncounted(self, send: Send, row: SendLedger, now: datetime, tz_name: str) -> None:
        """A row this batch found ended (or deferred) by an earlier attempt: counted now unless it was."""
        if row.counted != row.status:
            self.add(send, row.status, row.reason, parse_instant(row.updated_at) if row.updated_at else now, tz_name)

    def write(self) -> int:
        """Count the batch's outcomes; returns the number of counter writes. Raises if a transaction could
        not be written (the batch's messages then come back, and their next delivery counts them)."""
        with self._lock:
            outcomes, self._outcomes = list(self._outcomes.values()), {}
        outcomes.sort(key=lambda o: o[0].ledger_key)
        step = self.PER_TRANSACTION
        return sum(_count_in_one_transaction(outcomes[i:i + step]) for i in range(0, len(outcomes), step))


def _counted(counts: Counts | None, send: Send, status: str, reason: str | None, now: datetime,
             tz_name: str) -> None:
    if counts is None:
        counts = Counts()
        counts.add(send, status, reason, now, tz_name)
        counts.write()
    else:
        counts.add(send, status, reason, now, tz_name)


def record(send: Send, as_read: SendLedger | None, status: str, reason: str | None, record: Record,
           now: datetime, tz_name: str, *, claim_token: str | None = None, counts: Counts | None = None) -> None:
    """Record a final outcome: the ledger row, the communication record and the stats, at once.

    From a claim (`claim_token` given: only its holder may finish it) or straight from the row as read.
    """
    expected = ((SendLedger.status == CLAIMED) & (SendLedger.claim_token == claim_token)
                if claim_token else _as_read(as_read))

    def build(tx: TransactWrite) -> None:
        tx.save(_row(send, status, now, reason=reason, provider_message_id=record.provider_message_id),
                condition=expected)
        _save_all(tx, _communication(send, status, reason, record, now))

    _commit(build)
    _counted(counts, send, status, reason, now, tz_name)


def accept(send: Send, claim_token: str, record: Record, now: datetime) -> None:
    """The provider has taken the message: say so on the row at once, with what its record will say, by a
    single-item write that no other transaction can cancel. Raises `Superseded` if the claim was lost."""
    row = SendLedger(send.ledger_key)
    try:
        with_retries(lambda: row.update(
            actions=[SendLedger.status.set(ACCEPTED), SendLedger.provider_message_id.set(record.provider_message_id),
                     SendLedger.accepted_record.set(json.dumps(asdict(record), separators=(",", ":"))),
                     SendLedger.updated_at.set(to_iso(now))],
            condition=(SendLedger.status == CLAIMED) & (SendLedger.claim_token == claim_token)))
    except UpdateError as e:
        if is_conditional_failure(e):
            raise Superseded() from e
        raise


def outcome_of(send: Send, row: SendLedger) -> Communication | None:
    """The communication record a final row's outcome wrote (same id and instant as the row's last move), with
    its personal part laid on it while it is kept (`with_content`)."""
    found = get_or_none(Communication, tenant_customer(send.tenant_id, send.customer_id),
                        f"{row.updated_at}#{record_id(send)}")
    if found is not None:
        with_content([found])
    return found


def with_content(records: list[Communication]) -> list[Communication]:
    """The records with their address, subject and body, read from their `CommunicationContent` (one batch per
    100 records) where they have one: records written before it hold those fields themselves, and one whose
    retention has passed has none."""
    keys = {(r.tenant_customer, r.sort_key) for r in records if r.to is None and r.body is None}
    if not keys:
        return records
    found = {(c.tenant_customer, c.sort_key): c for c in read_many(Keys(CommunicationContent, keys))[CommunicationContent]}
    for r in records:
        content = found.get((r.tenant_customer, r.sort_key))
        if content is not None:
            r.to, r.subject, r.body = content.to, content.subject, content.body
    return records


def accepted_record(row: SendLedger) -> Record:
    """What an accepted row says its record holds."""
    fields = json.loads(row.accepted_record) if row.accepted_record else {}
    return replace(Record(**{k: v for k, v in fields.items() if k in Record.__dataclass_fields__}),
                   provider_message_id=row.provider_message_id)


def record_accepted(send: Send, claim_token: str | None, sent: Record, now: datetime, tz_name: str, *,
                    counts: Counts | None = None) -> None:
    """Record `sent` for a send whose provider accepted it (this attempt, or one that died since: then
    `sent` is `accepted_record(row)`)."""
    def build(tx: TransactWrite) -> None:
        tx.save(_row(send, SENT, now, provider_message_id=sent.provider_message_id),
                condition=(SendLedger.status == ACCEPTED) & (SendLedger.claim_token == claim_token))
        _save_all(tx, _communication(send, SENT, None, sent, now))

    _commit(build)
    _counted(counts, send, SENT, None, now, tz_name)


def defer(send: Send, as_read: SendLedger | None, until: datetime, reason: str, record: Record, now: datetime,
          tz_name: str, *, counts: Counts | None = None) -> None:
    """Park the send until `until`: the release of deferred sends puts it back on the queue then."""
    until_iso = to_iso(until)
    record = replace(record, deferred_until=until_iso)

    def build(tx: TransactWrite) -> None:
        tx.save(_row(send, DEFERRED, now, reason=reason, payload=send.to_body(), deferred_shard=DEFERRED_SHARD,
                     deferred_until=until_iso), condition=_as_read(as_read))
        _save_all(tx, _communication(send, DEFERRED, reason, record, now))

    _commit(build)
    _counted(counts, send, DEFERRED, reason, now, tz_name)


def cap_entry(send: Send, now: datetime) -> str:
    """A marketing log entry: when, and for which send (so a retried send replaces its own entry)."""
    return f"{to_iso(now)}#{send_id(send)}"


def log_with(log: MarketingLog | None, send: Send, now: datetime) -> MarketingLog:
    """The customer's marketing log with this send's entry, older entries pruned."""
    log = log or MarketingLog(tenant_customer(send.tenant_id, send.customer_id), sent_at=[])
    horizon, mine = to_iso(now - CAP_HORIZON), f"#{send_id(send)}"
    log.sent_at = [e for e in (log.sent_at or []) if e >= horizon and not e.endswith(mine)] + [cap_entry(send, now)]
    return log


def claim(send: Send, as_read: SendLedger | None, token: str, now: datetime, log: MarketingLog | None) -> None:
    """Claim the send for this attempt; a marketing send also takes its place in the customer's
    marketing log, under the log's version, so two dispatchers cannot both take the last place under
    the frequency cap."""
    def build(tx: TransactWrite) -> None:
        tx.save(_row(send, CLAIMED, now, claim_token=token, claimed_at=to_iso(now)), condition=_as_read(as_read))
        if log is not None:
            tx.save(log)

    _commit(build)


def release(send: Send, token: str) -> None:
    """Give up a claim whose provider call failed transiently, so a later attempt can claim it again."""
    try:
        with_retries(lambda: SendLedger(send.ledger_key).delete(
            condition=(SendLedger.status == CLAIMED) & (SendLedger.claim_token == token)))
    except DeleteError as e:
        if not is_conditional_failure(e):
            raise


def unlog(send: Send) -> None:
    """Take a send that was not sent out of the customer's marketing log (best effort: a stale entry only
    makes the cap stricter)."""
    mine = f"#{send_id(send)}"

    def change(log: MarketingLog | None) -> MarketingLog | None:
        if log is None or not any(e.endswith(mine) for e in log.sent_at or []):
            return None
        log.sent_at = [e for e in log.sent_at if not e.endswith(mine)]
        return log

    mutate(lambda: get_or_none(MarketingLog, tenant_customer(send.tenant_id, send.customer_id)), change)


def due_deferred(at: datetime) -> Iterable[SendLedger]:
    """Deferred sends whose time has come, of every tenant."""
    return SendLedger.deferred_index.query(DEFERRED_SHARD, SendLedger.deferred_until <= to_iso(at))


def mark_released(row: SendLedger, at: datetime) -> bool:
    """Push a deferred row's release time on, so it is released again only if it does not move on."""
    try:
        row.update(actions=[SendLedger.deferred_until.set(to_iso(at + RELEASE_RETRY))],
                   condition=(SendLedger.status == DEFERRED) & (SendLedger.deferred_until == row.deferred_until))
    except UpdateError as e:
        if is_conditional_failure(e):
            return False
        raise
    return True

"""The dispatcher (docs/behaviour.md section 5): a queue message holds one send or a pack of them; each send
ends as one outcome record.

For each send, in order: re-read the current data; check (1) the automation is still enabled, (2) the
trigger still holds, (3) a valid address, (4) not suppressed, (5) consent and (6) the frequency cap
for marketing, (7) quiet hours for marketing SMS (defer); (8) render; (9) claim the send in the
ledger, call the provider, and record the outcome.

Exactly one `sent` per send: the claim is a conditional write made before the provider is called;
the moment the provider accepts, a single-item write marks the row `accepted` (with what the record
will say), and the outcome with its communication record is then one transaction conditional on that.
A duplicate message finds the row final and is acknowledged; one that finds it `accepted` writes the
record without sending. A message whose dispatcher died before the provider call finds its claim
expired after the lease and takes it over. Conflicts and throttling are retried (see the ledger). The
one window that cannot be closed: a dispatcher that dies after the provider accepted the message and
before the `accepted` write (one DynamoDB call); the takeover then sends it again. Takeovers are counted
(`ClaimsTakenOver`) and the duplicates they can cause are at most that number.
"""
from __future__ import annotations

import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from chalicelib.adapters import observability
from chalicelib.adapters.models import (
    Appointment,
    Customer,
    MarketingLog,
    Repair,
    Sale,
    SendLedger,
    Tenant,
    tenant_customer,
)
from chalicelib.adapters.persistence import Keys, get_or_none, read_many
from chalicelib.adapters.providers import (
    Email,
    EmailSender,
    PermanentProviderError,
    SenderNotVerified,
    Sms,
    SmsSender,
    TransientProviderError,
)
from chalicelib.adapters.queues import BatchResult, Queue
from chalicelib.adapters.repository import person_of
from chalicelib.adapters.tenants import of_tenant
from chalicelib.core import catalog
from chalicelib.core.values import AutomationView, Person
from chalicelib.rules import checks, templating
from chalicelib.sending import content, ledger, unsubscribe
from chalicelib.sending.messages import MalformedMessage, Send, unpack
from chalicelib.sending.sources import source_of
from chalicelib.sending.stores import erased, suppress, suppressed_among

TEMPLATE_ERROR = "template_error"
PROVIDER_ERROR = "provider_error"
#: SES refused the message and the store's sender address (or its domain) is not verified in SES.
SENDER_NOT_VERIFIED = "sender_not_verified"
#: Transient errors went on for every attempt (hours): recorded as failed rather than retried forever.
PROVIDER_UNAVAILABLE = "provider_unavailable"
NO_SENDER = "no_sender_address"
MAX_ATTEMPTS = 10
RETRY_BASE_SECONDS = 2
MAX_DELAY_SECONDS = 900  # SQS's longest delay

#: Outcomes that are not records: the message was a duplicate, will be retried, was unreadable, or was
#: not started because the invocation's time was running out.
DUPLICATE, RETRYING, BUSY, MALFORMED, ERROR, UNSTARTED = "duplicate", "retrying", "busy", "malformed", "error", "unstarted"
#: Sends a batch works on at once (threads: each mostly waits on DynamoDB and the provider).
WORKERS = 8
#: A send is not started with less time than this left in the invocation: claim, provider call, record
#: and their retries fit well inside it, so a timeout does not land in the middle of a send.
SAFE_SECONDS = 10.0
SUBJECT_MODELS = {"sale": Sale, "repair": Repair, "appointment": Appointment}


@dataclass(frozen=True)
class Providers:
    email: EmailSender
    sms: SmsSender


@dataclass(frozen=True)
class Outcome:
    send: Send | None
    status: str
    reason: str | None = None
    #: This attempt took over an expired claim: the attempt that died may have sent already.
    took_over: bool = False


class _Busy(Exception):
    """Another dispatcher holds a live claim on this send: leave the message for later."""


def provider_reason(error: PermanentProviderError) -> str:
    """The reason a send the provider refused is recorded with."""
    return SENDER_NOT_VERIFIED if isinstance(error, SenderNotVerified) else PROVIDER_ERROR


def retry_delay(attempt: int, rng: Callable[[], float] = random.random) -> int:
    """Exponential backoff with jitter, capped at SQS's longest delay."""
    base = min(MAX_DELAY_SECONDS, RETRY_BASE_SECONDS * 2 ** attempt)
    return max(1, min(MAX_DELAY_SECONDS, int(base / 2 + base / 2 * rng())))


class _BatchData:
    """What one batch reads, read at once: its customers, ledger rows, marketing logs (check 6), tenants'
    settings and automations in one batch read, then the suppression entries of the customers'
    addresses (check 4) in a second; templates as they are needed."""

    def __init__(self, sends: Iterable[Send]) -> None:
        sends = list(sends)
        by_source: dict[Any, list[Send]] = {}
        for s in sends:
            by_source.setdefault(source_of(s), []).append(s)
        marketing = {tenant_customer(s.tenant_id, s.customer_id) for source, of_source in by_source.items()
                     for s in of_source if source.category(s.automation_type) == catalog.MARKETING}
        found = read_many(
            Keys(Customer, {(s.tenant_id, s.customer_id) for s in sends}),
            Keys(SendLedger, {(s.ledger_key,) for s in sends}, consistent=True),
            Keys(MarketingLog, {(key,) for key in marketing}),
            Keys(Tenant, {(s.tenant_id,) for s in sends}),
            *(keys for source, of_source in by_source.items() for keys in source.batch_keys(of_source)))
        self.customers = {(c.tenant_id, c.customer_id): c for c in found[Customer]}
        self.ledger = {row.ledger_key: row for row in found[SendLedger]}
        self._logs: dict[str, MarketingLog | None] = {**dict.fromkeys(marketing),
                                                      **{log.tenant_customer: log for log in found[MarketingLog]}}
        tenants = {t.tenant_id: t for t in found[Tenant]}
        self._settings = {s.tenant_id: of_tenant(tenants.get(s.tenant_id)) for s in sends}
        self._automations = {(source.NAME, *key): view for source, of_source in by_source.items()
                             for key, view in source.configurations(of_source, found).items()}
        self._suppressed = suppressed_among({(s.tenant_id, s.channel, address) for s in sends
                                             if (address := self.address(s))})
        self._parts: dict[tuple[str, str], dict] = {}
        #: The batch's outcome counts, written when the batch ends (`ledger.Counts`).
        self.counts = ledger.Counts()

    def settings(self, tenant_id: str) -> dict:
        return self._settings[tenant_id]

    def automation(self, send: Send) -> AutomationView:
        """The send's automation as the batch read it, from its source."""
        return self._automations[(send.source, send.tenant_id, send.automation_id)]

    def person(self, send: Send) -> Person | None:
        customer = self.customers.get((send.tenant_id, send.customer_id))
        return person_of(customer) if customer is not None else None

    def address(self, send: Send) -> str | None:
        person = self.person(send)
        return checks.address_for(person, send.channel) if person else None

    def is_suppressed(self, tenant_id: str, channel: str, address: str) -> bool:
        """From the batch's read, which covers every address a send of the batch is checked against."""
        return (tenant_id, channel, address) in self._suppressed

    def marketing_log(self, send: Send) -> MarketingLog | None:
        """The customer's marketing log as last read or written by this batch (None: there is none)."""
        key = tenant_customer(send.tenant_id, send.customer_id)
        if key not in self._logs:
            self._logs[key] = get_or_none(MarketingLog, key)
        return self._logs[key]

    def wrote_log(self, send: Send, log: MarketingLog) -> None:
        self._logs[tenant_customer(send.tenant_id, send.customer_id)] = log

    def forget_log(self, send: Send) -> None:
        """The log may have moved on (a lost race, a write that failed or undid an entry): read it again."""
        self._logs.pop(tenant_customer(send.tenant_id, send.customer_id), None)

    def parts(self, tenant_id: str, template_id: str) -> dict:
        key = (tenant_id, template_id)
        if key not in self._parts:
            self._parts[key] = content.template_parts(tenant_id, template_id)
        return self._parts[key]


class Dispatcher:
    def __init__(self, providers: Providers, queue: Queue, clock: Callable[[], datetime], workers: int = WORKERS) -> None:
        self.providers, self.queue, self.clock, self.workers = providers, queue, clock, workers
        #: Expired claims taken over by this process, counted as they happen (a batch that then dies
        #: loses its outcomes, not this count).
        self.takeovers = 0
        self._lock = threading.Lock()

    # --- a batch of SQS records -----------------------------------------------------------------

    def dispatch_records(self, records: list[Mapping[str, Any]],
                         time_left: Callable[[], float] | None = None) -> BatchResult:
        """Process an SQS batch (Lambda's event records); failed message ids go back in the result.

        Different customers' sends run concurrently (at most `workers` at once); one customer's run in
        order in one worker, since they share the customer's marketing log and may repeat a send.
        `time_left` (seconds; Lambda's remaining time) stops the batch from starting a send it might not
        finish: what is left goes back to the queue untouched, as new messages."""
        result = BatchResult()
        parsed: list[tuple[str, Send]] = []
        malformed: list[str] = []
        for record in records:
            try:
                sends = unpack(record["body"])
                for send in sends:
                    source_of(send)
            except MalformedMessage:
                # It can never succeed: left on the queue, it goes to the dead-letter queue after its
                # receives, where an alarm shows it.
                malformed.append(record["messageId"])
                continue
            parsed.extend((record["messageId"], send) for send in sends)
        data = _BatchData(send for _, send in parsed)
        by_customer: dict[tuple[str, str], list[tuple[int, str, Send]]] = {}
        for index, (message_id, send) in enumerate(parsed):
            by_customer.setdefault((send.tenant_id, send.customer_id), []).append((index, message_id, send))
        groups = list(by_customer.values())
        try:
            if self.workers > 1 and len(groups) > 1:
                with ThreadPoolExecutor(max_workers=min(self.workers, len(groups)),
                                        thread_name_prefix="dispatch") as pool:
                    done = list(pool.map(lambda group: self._dispatch_group(group, data, time_left), groups))
            else:
                done = [self._dispatch_group(group, data, time_left) for group in groups]
        finally:
            counted = self._write_counts(data.counts)
        failed_messages = set(malformed)
        if not counted:
            # Its outcomes are recorded but not counted: every message comes back, and its next delivery
            # finds the sends ended and counts them.
            failed_messages.update(message_id for message_id, _ in parsed)
        for _, message_id, outcome, failed in sorted(item for group in done for item in group):
            result.outcomes.append(outcome)
            if failed:
                # The whole message comes back; its other sends find their rows final and are acknowledged.
                failed_messages.add(message_id)
        result.outcomes.extend(Outcome(None, MALFORMED) for _ in malformed)
        result.failures.extend(record["messageId"] for record in records if record["messageId"] in failed_messages)
        result.failures = list(dict.fromkeys(result.failures))
        return result

    def _write_counts(self, counts: ledger.Counts) -> bool:
        try:
            counts.write()
        except Exception:  # noqa: BLE001 - the records are written; the messages come back to be counted
            observability.logger.exception("outcome counters not written", extra={"outcomes": len(counts)})
            return False
        return True

    def _dispatch_group(self, group: list[tuple[int, str, Send]], data: _BatchData,
                        time_left: Callable[[], float] | None) -> list[tuple[int, str, Outcome, bool]]:
        """One customer's sends of a batch, in order: (index, message id, outcome, whether it goes back)."""
        # Keys whose row (or its absence) the batch read still tells truly: a send processed earlier
        # in this batch may have changed its row, so a duplicate of it reads the row afresh.
        read_truly = {send.ledger_key for _, _, send in group}
        done = []
        for index, message_id, send in group:
            if time_left is not None and time_left() < SAFE_SECONDS:
                # Put back as a new message, so that its receive count starts again: an invocation that
                # ran out of time is no fault of the send's, and must not bring it nearer the dead letters.
                self.queue.send([send.to_body()])
                done.append((index, message_id, Outcome(send, UNSTARTED), False))
                continue
            try:
                done.append((index, message_id, self._dispatch(send, data.ledger.get(send.ledger_key),
                                                               send.ledger_key in read_truly, data), False))
            except _Busy:
                done.append((index, message_id, Outcome(send, BUSY), True))
            except Exception:  # noqa: BLE001 - one bad send must not fail the batch; it is retried alone
                observability.logger.exception("send failed unexpectedly", extra=_ids(send))
                done.append((index, message_id, Outcome(send, ERROR), True))
            read_truly.discard(send.ledger_key)
        return done

    # --- one send ---------------------------------------------------------------------------------

    def _dispatch(self, send: Send, row, row_is_current: bool, data: _BatchData) -> Outcome:
        """`row` is the batch's read of the ledger row (None: absent); `row_is_current` says whether it
        can be trusted, else the row is read again. After a lost race it is always read again."""
        for _ in range(4):
            if not row_is_current:
                row = ledger.read_one(send)
            row_is_current = False
            try:
                return self._attempt(send, row, data)
            except (ledger.Superseded, ledger.CapMoved):
                data.forget_log(send)
                continue  # someone moved the send (or the customer's cap) on meanwhile: decide again
        raise _Busy()

    def _attempt(self, send: Send, row, data: _BatchData) -> Outcome:
        now = self.clock()
        took_over = False
        if row is not None:
            if row.status in ledger.FINAL:
                data.counts.add_uncounted(send, row, now, data.settings(send.tenant_id)["timezone"])
                return Outcome(send, DUPLICATE)
            if row.status == ledger.ACCEPTED:
                # The provider took it on an earlier attempt whose record was not written: write it now,
                # whatever has changed since; never send again.
                tz_name = data.settings(send.tenant_id)["timezone"]
                sent = ledger.accepted_record(row)
                if data.person(send) is None and erased(send.tenant_id, send.customer_id):
                    # Erased since the provider took it: its record keeps no address, subject or body.
                    sent = ledger.Record(template_id=sent.template_id, provider_message_id=sent.provider_message_id)
                return self._record_sent(send, row.claim_token, sent, now, tz_name, False, data)
            if row.status == ledger.CLAIMED:
                if not ledger.claim_expired(row, now):
                    raise _Busy()
                took_over = True
                with self._lock:
                    self.takeovers += 1
                observability.claim_taken_over(_ids(send))
            if row.status == ledger.DEFERRED and not send.released:
                data.counts.add_uncounted(send, row, now, data.settings(send.tenant_id)["timezone"])
                return Outcome(send, DUPLICATE)  # parked; its release will bring it back

        settings = data.settings(send.tenant_id)
        tz_name = settings["timezone"]
        keep = settings.get("retention_days")
        automation = data.automation(send)
        source = source_of(send)
        category = source.category(send.automation_type)
        customer = data.customers.get((send.tenant_id, send.customer_id))
        person, address = data.person(send), data.address(send)

        def finish(status: str, reason: str | None, record: ledger.Record = ledger.Record()) -> Outcome:
            ledger.record(send, row, status, reason, record, now, tz_name, counts=data.counts)
            return Outcome(send, status, reason, took_over)

        # 1-2: still enabled (a campaign: not cancelled), still eligible.
        if not automation.enabled or send.channel not in automation.channels:
            return finish(ledger.SKIPPED, source.DISABLED_REASON)
        if person is None and erased(send.tenant_id, send.customer_id):
            return finish(ledger.SKIPPED, checks.ERASED)
        subject = self._subject(send)
        if not checks.still_eligible(send.trigger, send.subject_kind, subject, person, tz_name):
            return finish(ledger.SKIPPED, checks.NO_LONGER_ELIGIBLE)

        # 3-6: address, suppression, consent, frequency cap.
        cap = settings.get("frequency_cap")
        log = data.marketing_log(send) if category == catalog.MARKETING else None
        since = checks.cap_window_start(now, cap)
        mine = f"#{ledger.send_id(send)}"
        recent = checks.marketing_sends_since((e for e in (log.sent_at if log else []) if not e.endswith(mine)),
                                              since) if since else 0
        reason = checks.first_failing_check(person, send.channel, category,
                                            is_suppressed=self._suppression_check(send.tenant_id, now, data),
                                            frequency_cap=cap, recent_marketing=recent)
        if reason:
            return finish(ledger.SKIPPED, reason, ledger.Record(to=address, keep_days=keep))

        # 7: quiet hours defer marketing SMS.
        until = checks.quiet_hours_end(send.channel, category, now, tz_name, settings.get("quiet_hours"))
        if until is not None:
            ledger.defer(send, row, until, checks.QUIET_HOURS, ledger.Record(to=address, keep_days=keep), now, tz_name,
                         counts=data.counts)
            return Outcome(send, ledger.DEFERRED, checks.QUIET_HOURS, took_over)

        # 8: render.
        template_id = source.template_id(automation, send.automation_type)
        unsubscribe_url = (unsubscribe.url_for(send.tenant_id, send.customer_id, send.channel)
                           if category == catalog.MARKETING else None)
        try:
            variables = content.extras(send, source.variables(send, automation, settings), settings, send.subject_kind, subject,
                                       unsubscribe_url)
            rendered = content.render(send, data.parts(send.tenant_id, template_id), customer.attribute_values,
                                      settings, automation.name or catalog.name_of(send.automation_type),
                                      variables)
        except templating.TemplateRenderError as e:
            return finish(ledger.FAILED, TEMPLATE_ERROR,
                          ledger.Record(to=address, template_id=template_id, body=e.cause[:500], keep_days=keep))
        body = rendered.body_text if send.channel == "email" else rendered.sms_body
        record = ledger.Record(to=address, subject=rendered.subject if send.channel == "email" else None,
                               body=body, template_id=template_id, keep_days=keep)
        if send.channel == "email" and not settings.get("sender_email"):
            return finish(ledger.FAILED, NO_SENDER, record)

        # 9: claim, send, record.
        token = uuid.uuid4().hex
        claimed_log = ledger.log_with(log, send, now) if category == catalog.MARKETING else None
        try:
            ledger.claim(send, row, token, now, claimed_log)
        except BaseException:
            data.forget_log(send)  # `claimed_log` holds this send's entry, which was not saved
            raise
        if claimed_log is not None:
            data.wrote_log(send, claimed_log)
        try:
            message_id = self._send(send, address, rendered, settings, unsubscribe_url, transactional=(
                category == catalog.TRANSACTIONAL))
        except TransientProviderError:
            if send.attempt + 1 >= MAX_ATTEMPTS:
                return self._finish_claimed(send, token, ledger.FAILED, PROVIDER_UNAVAILABLE, record, now, tz_name,
                                            took_over, data)
            ledger.release(send, token)
            self.queue.send([send.retried().to_body()], delay_seconds=retry_delay(send.attempt))
            return Outcome(send, RETRYING, took_over=took_over)
        except PermanentProviderError as e:
            return self._finish_claimed(send, token, ledger.FAILED, provider_reason(e), record, now, tz_name, took_over,
                                        data)
        sent = replace(record, provider_message_id=message_id)
        try:
            # First of all, the fact that it went out: from here on no attempt sends it again.
            ledger.accept(send, token, sent, now)
        except ledger.Superseded:
            # Our claim outlived its lease and another attempt took it over: it records the outcome,
            # and may send a second time. Counted with the takeovers.
            return Outcome(send, DUPLICATE, "claim_lost_after_send", took_over)
        return self._record_sent(send, token, sent, now, tz_name, took_over, data)

    def _record_sent(self, send: Send, token: str | None, sent: ledger.Record, now: datetime, tz_name: str,
                     took_over: bool, data: _BatchData) -> Outcome:
        try:
            ledger.record_accepted(send, token, sent, now, tz_name, counts=data.counts)
        except ledger.Superseded:
            return Outcome(send, DUPLICATE, None, took_over)  # another attempt recorded it meanwhile
        return Outcome(send, ledger.SENT, None, took_over)

    def _finish_claimed(self, send: Send, token: str, status: str, reason: str, record: ledger.Record,
                        now: datetime, tz_name: str, took_over: bool, data: _BatchData) -> Outcome:
        ledger.record(send, None, status, reason, record, now, tz_name, claim_token=token, counts=data.counts)
        if source_of(send).category(send.automation_type) == catalog.MARKETING:
            ledger.unlog(send)  # not sent: it does not count against the frequency cap
            data.forget_log(send)
        return Outcome(send, status, reason, took_over)

    def _subject(self, send: Send):
        if send.subject_kind is None:
            return None
        return get_or_none(SUBJECT_MODELS[send.subject_kind], send.tenant_id, send.subject_id or "")

    def _suppression_check(self, tenant_id: str, now: datetime, data: _BatchData) -> checks.SuppressionCheck:
        def check(channel: str, address: str) -> bool:
            if data.is_suppressed(tenant_id, channel, address):
                return True
            if channel == "sms" and self.providers.sms.opted_out(address):
                suppress(tenant_id, channel, address, "sms_opt_out", now)
                return True
            return False
        return check

    def _send(self, send: Send, address: str, rendered: templating.Rendered, settings: Mapping[str, Any],
              unsubscribe_url: str | None, *, transactional: bool) -> str:
        if send.channel == "sms":
            return self.providers.sms.send(Sms(to=address, body=rendered.sms_body,
                                               sender_id=settings.get("sms_sender_id"), transactional=transactional))
        return self.providers.email.send(Email(
            sender=settings["sender_email"], sender_name=settings.get("store_name") or "", to=address,
            subject=rendered.subject, text=rendered.body_text, html=rendered.body_html,
            reply_to=settings.get("reply_to"), unsubscribe_url=unsubscribe_url,
            tags=ledger.email_tags(send)))


def _ids(send: Send) -> dict:
    """What logs may say about a send: ids, never contact details."""
    return {"tenant_id": send.tenant_id, "customer_id": send.customer_id, "automation_id": send.automation_id,
            "occurrence_key": send.occurrence_key, "channel": send.channel}



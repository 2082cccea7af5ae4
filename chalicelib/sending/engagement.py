"""What SES reports of a sent email, and the sales attributed to it, written to its communication record and
to its automation's day counters at once (docs/behaviour.md section 14).

Exactly once: an event's first-time field (`delivered_at`, `opened_at`, ...) is set with a condition that it
is unset, in the same transaction as the counter's addition, so an event delivered twice (SNS and SQS both
deliver at least once) finds the field set and adds nothing. A sale's attribution is marked on the sale in
the same way (`Sale.attributed_record`, conditional on its absence) in the transaction that adds to the
message's record and counters.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Callable, Iterator

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.models import AutomationStats, Communication, Sale, tenant_customer
from chalicelib.core.timeutil import local_date, to_iso
from chalicelib.rules import engagement as rules
from chalicelib.sending import ledger
from chalicelib.sending.sources import SOURCES
from chalicelib.sending.stats import stat_key

#: SES's clock and ours differ, and a record is written just after SES accepts its message (or, after a crash
#: between the two, at the send's next delivery, within minutes): a record is looked for from this long before
#: the instant SES gives the mail.
CLOCK_SLACK = timedelta(minutes=15)
#: An event whose record cannot be found yet is tried again (the record may not be written yet) until this
#: long after the mail was sent; after that, it belongs to no record of ours and is dropped.
RECORD_GRACE = timedelta(minutes=30)
#: Clicked links kept per message.
MAX_LINKS = 20


class RecordNotYet(Exception):
    """The event's record is not written yet: try the event again later."""


@dataclass(frozen=True)
class Applied:
    """What an event did: `counted` (its counter added), `duplicate` (its first-time field was set already),
    `unknown` (no record of ours: nothing changed)."""

    result: str
    counter: str | None = None


def find_record(event: rules.EngagementEvent) -> Communication | None:
    """The record the event's tags name, in the store's partition of that customer, and only if SES's message
    id is the one it recorded: a record of another store or another message is never touched. Reads the
    customer's records from just before the mail was sent, oldest first, and stops at the one named."""
    since = to_iso(event.sent_at - CLOCK_SLACK)
    for item in Communication.query(tenant_customer(event.tenant_id, event.customer_id),
                                    Communication.sort_key >= since, consistent_read=True):
        if item.communication_id == event.record_id:
            return item if item.provider_message_id == event.message_id and item.tenant_id == event.tenant_id \
                else None
    return None


def _counter_update(tx: TransactWrite, tenant_id: str, day: str, automation_id: str, counter: str,
                    amount: int = 1) -> None:
    key = stat_key(day, automation_id, counter, None, random.randrange(ledger.STAT_SHARDS))
    tx.update(AutomationStats(tenant_id, key), actions=[AutomationStats.count.add(amount)])


def _record_update(record: Communication, event: rules.EngagementEvent):
    """The update of a record for an event's first time: (actions, condition). The condition: the field unset
    and the delivery status as read."""
    effect = event.effect
    field = getattr(Communication, effect.first_field)
    actions = [field.set(to_iso(event.at))]
    status = rules.next_status(record.delivery_status, effect.status)
    if status != record.delivery_status:
        actions.append(Communication.delivery_status.set(status))
    if effect is rules.MACHINE_OPEN:
        actions.append(Communication.machine_open.set(True))
    if event.link:
        actions.append(Communication.clicked_links.add({event.link}))
    condition = field.does_not_exist() & (
        Communication.delivery_status == record.delivery_status if record.delivery_status
        else Communication.delivery_status.does_not_exist())
    return actions, condition


@dataclass(frozen=True)
class _Pending:
    """An event whose record was found without its first-time field: to be written."""

    index: int
    event: rules.EngagementEvent
    record: Communication
    day: str
    tz_name: str


def _write_together(pending: list[_Pending]) -> None:
    """One transaction: each record's first-time update (one event per record), then each counter the events
    add to once, by their sum: a batch of ten events of a campaign writes its few counters once each, not ten
    times, so the store's counters' partition key takes a fraction of the events' rate."""
    totals: Counter = Counter()
    for p in pending:
        if p.event.effect.counter:
            totals[(p.record.tenant_id, p.day, p.record.automation_id or "", p.event.effect.counter)] += 1

    def attempt() -> None:
        with TransactWrite(connection=ledger.transaction_connection()) as tx:
            for p in pending:
                actions, condition = _record_update(p.record, p.event)
                tx.update(Communication(p.record.tenant_customer, p.record.sort_key), actions=actions,
                          condition=condition)
            for (tenant_id, day, automation_id, counter), n in sorted(totals.items()):
                _counter_update(tx, tenant_id, day, automation_id, counter, n)
    ledger.with_retries(attempt)


def _first_time(record: Communication, event: rules.EngagementEvent, day: str) -> None:
    _write_together([_Pending(0, event, record, day, "")])


def _add_link(record: Communication, link: str) -> None:
    """A later click's link, added to the set (adding a member twice keeps one)."""
    if link in (record.clicked_links or set()) or len(record.clicked_links or ()) >= MAX_LINKS:
        return
    ledger.with_retries(lambda: Communication(record.tenant_customer, record.sort_key).update(
        actions=[Communication.clicked_links.add({link})]))


def apply(event: rules.EngagementEvent, tz_name: str, now: datetime) -> Applied:
    """Record one event on its record and counters, once. Raises RecordNotYet while the record may still be
    on its way; `ledger.Contended` if DynamoDB stayed contended (the event's next delivery carries on)."""
    day = local_date(event.at, tz_name).isoformat()
    for _ in range(4):
        record = find_record(event)
        if record is None:
            if now - event.sent_at < RECORD_GRACE:
                raise RecordNotYet(event.record_id)
            return Applied("unknown")
        if getattr(record, event.effect.first_field):
            if event.link:
                _add_link(record, event.link)
            return Applied("duplicate", event.effect.counter)
        try:
            _first_time(record, event, day)
            return Applied("counted", event.effect.counter)
        except TransactWriteError as e:
            if "ConditionalCheckFailed" not in ledger.codes(e):
                raise
            # Another event of the message moved its status, or this one was counted meanwhile: read again.
    raise ledger.Contended("the record kept changing")


def apply_batch(items: list[tuple[rules.EngagementEvent, str]], now: datetime) -> list[Applied | Exception]:
    """Record a batch of events (each with its store's time zone), once each, in as few transactions as the
    records allow: each event's record is read (one query), duplicates found by their set field write nothing,
    and the rest are written together (`_write_together`), one event per record per transaction. A transaction
    cancelled by a condition (a duplicate that raced, a status moved) leaves out the events it names, which
    are applied alone (`apply`: read again), and is tried again without them. Returns, per event, what it did
    or the exception to answer with (RecordNotYet, Contended, ...)."""
    results: list[Applied | Exception | None] = [None] * len(items)
    pending: list[_Pending] = []
    for index, (event, tz_name) in enumerate(items):
        try:
            record = find_record(event)
            if record is None:
                results[index] = RecordNotYet(event.record_id) if now - event.sent_at < RECORD_GRACE \
                    else Applied("unknown")
            elif getattr(record, event.effect.first_field):
                if event.link:
                    _add_link(record, event.link)
                results[index] = Applied("duplicate", event.effect.counter)
            else:
                pending.append(_Pending(index, event, record, local_date(event.at, tz_name).isoformat(), tz_name))
        except Exception as e:  # noqa: BLE001 - this event's answer; the others go on
            results[index] = e
    while pending:
        seen, this_round, later = set(), [], []
        for p in pending:
            key = (p.record.tenant_customer, p.record.sort_key)
            (later if key in seen else this_round).append(p)
            seen.add(key)
        pending = later
        while this_round:
            try:
                _write_together(this_round)
                for p in this_round:
                    results[p.index] = Applied("counted", p.event.effect.counter)
                this_round = []
            except TransactWriteError as e:
                codes = ledger.codes(e)
                if "ConditionalCheckFailed" not in codes:
                    for p in this_round:
                        results[p.index] = e
                    break
                alone = [p for p, code in zip(this_round, codes) if code == "ConditionalCheckFailed"]
                this_round = [p for p, code in zip(this_round, codes) if code != "ConditionalCheckFailed"]
                for p in alone:
                    try:
                        results[p.index] = apply(p.event, p.tz_name, now)
                    except Exception as failure:  # noqa: BLE001
                        results[p.index] = failure
            except Exception as e:  # noqa: BLE001 - Contended, or DynamoDB failing: each event's answer
                for p in this_round:
                    results[p.index] = e
                break
    return results   # type: ignore[return-value]


# --- attribution --------------------------------------------------------------------------------------

def is_marketing(source: str, automation_type: str | None) -> bool:
    import importlib

    from chalicelib.core import catalog

    module = SOURCES.get(source)
    if module is None:
        return False
    return importlib.import_module(module).category(automation_type or "") == catalog.MARKETING


def candidates(tenant_id: str, customer_id: str, completed_at: str, days: int) -> Iterator[rules.Candidate]:
    """The customer's records from `days` days before the sale up to it, newest first (one query of the
    customer's own partition, bounded by the window)."""
    end = rules.parse_instant_text(completed_at)
    start = to_iso(end - timedelta(days=days))
    # Records at the sale's second sort before `<instant>#~`.
    for item in Communication.query(tenant_customer(tenant_id, customer_id),
                                    Communication.sort_key.between(start, f"{to_iso(end)}#~"),
                                    scan_index_forward=False):
        yield rules.Candidate(record_id=item.communication_id, sort_key=item.sort_key, created_at=item.created_at,
                              status=item.status, marketing=is_marketing(item.source, item.automation_type),
                              automation_id=item.automation_id, source=item.source)


def revenue_cents(total) -> int:
    """A sale's total as the counters keep it: whole cents (counters add integers)."""
    return int((Decimal(str(total or 0)) * 100).to_integral_value())


def attribute(load_sale: Callable[[], Sale | None], days: int, tz_name: str) -> rules.Candidate | None:
    """Attribute a sale to the latest `sent` marketing message of its customer within `days` days before it,
    once: the sale is marked (under its version, so a concurrent write of the sale makes this read it again)
    in the transaction that adds to the message's record (`attributed_sales`, `attributed_revenue`) and its
    automation's counters of the sale's local day. A sale already attributed, or with nothing to attribute it
    to, changes nothing. Returns the message attributed to by this call."""
    for _ in range(ATTRIBUTION_ATTEMPTS):
        sale = load_sale()
        if sale is None or sale.attributed_record or not sale.customer_id or not sale.completed_at:
            return None
        chosen = rules.attributed_to(candidates(sale.tenant_id, sale.customer_id, sale.completed_at, days),
                                     sale.completed_at, days)
        if chosen is None:
            return None
        try:
            ledger.with_retries(lambda: _attribution(sale, chosen, tz_name))
            return chosen
        except TransactWriteError as e:
            if "ConditionalCheckFailed" not in ledger.codes(e):
                raise
            # The sale was written meanwhile (or attributed by a concurrent write): read it again.
    raise ledger.Contended("the sale kept changing")


ATTRIBUTION_ATTEMPTS = 4


def _attribution(sale: Sale, chosen: rules.Candidate, tz_name: str) -> None:
    total = float(sale.total or 0)
    day = local_date(rules.parse_instant_text(sale.completed_at), tz_name).isoformat()
    key = tenant_customer(sale.tenant_id, sale.customer_id)
    marked = Sale(sale.tenant_id, sale.sale_id)
    marked.version = sale.version
    with TransactWrite(connection=ledger.transaction_connection()) as tx:
        tx.update(marked, actions=[Sale.attributed_record.set(chosen.sort_key),
                                   Sale.attributed_automation.set(chosen.automation_id)],
                  condition=Sale.attributed_record.does_not_exist())
        tx.update(Communication(key, chosen.sort_key),
                  actions=[Communication.attributed_sales.add(1), Communication.attributed_revenue.add(total),
                           Communication.attributed_sale_at.set(sale.completed_at),
                           Communication.attributed_sale_total.set(total)],
                  condition=Communication.sort_key.exists())
        _counter_update(tx, sale.tenant_id, day, chosen.automation_id or "", "attributed_sales")
        cents = revenue_cents(sale.total)
        if cents:
            _counter_update(tx, sale.tenant_id, day, chosen.automation_id or "", "attributed_revenue", cents)

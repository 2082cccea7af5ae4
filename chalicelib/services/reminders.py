"""Reminders (docs/behaviour.md section 7, "Reminders"): the birthdays and anniversaries of the coming days, who the
customers are, what they last received and whether an automation will greet them.

Customers are read through the month-day indexes the birthday and anniversary matchers use (one query per
month-day, never a scan); an automation's greeting is the runner's own coverage run forward
(`schedule.coverage_ahead`), so the page says what the runner will do.
"""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta

from chalicelib.adapters.models import Communication, RunState, tenant_customer
from chalicelib.adapters.persistence import get_or_none
from chalicelib.core import catalog
from chalicelib.core.calendar import month_days_celebrated_on
from chalicelib.core.schedule import coverage_ahead, trigger_of
from chalicelib.core.timeutil import local_date, to_iso
from chalicelib.core.values import AutomationView, Person, Repository, TenantView
from chalicelib.rules import validation as v
from chalicelib.rules.checks import first_failing_check
from chalicelib.sending import ledger
from chalicelib.services import automations
from chalicelib.services import settings as tenant_settings

#: The occasions a reminder is for, each an automation type and the customer field it reads.
OCCASIONS = ("birthday", "anniversary")
DEFAULT_DAYS, MAX_DAYS = 30, 90
#: What the history shows of the last message a customer received.
LAST_MESSAGE_FIELDS = ("created_at", "channel", "source", "automation_type", "subject", "status")
#: Histories read at once.
HISTORY_READERS = 8


def days_ahead(text: str | None) -> int:
    """The `days` query parameter: 1-90 days from today on, 30 when absent."""
    if text is None:
        return DEFAULT_DAYS
    if not re.fullmatch(r"[0-9]{1,6}", text):
        raise v.fail("days", "must be a whole number of days")
    days = int(text)
    if not 1 <= days <= MAX_DAYS:
        raise v.fail("days", f"must be between 1 and {MAX_DAYS}")
    return days


def _last_received(tenant_id: str, customer_id: str) -> dict | None:
    """The customer's latest `sent` record (what they last received), newest first through their history."""
    for item in Communication.query(tenant_customer(tenant_id, customer_id), scan_index_forward=False,
                                    filter_condition=Communication.status == "sent", limit=1, page_size=25):
        ledger.with_content([item])   # its subject, while the store's retention keeps it
        return {name: getattr(item, name) for name in LAST_MESSAGE_FIELDS if getattr(item, name) is not None}
    return None


def _last_received_by(tenant_id: str, customer_ids: set[str]) -> dict[str, dict | None]:
    """Each customer's last received message. A busy season lists hundreds of customers: their histories are
    read a few at a time, as the dispatcher sends (botocore clients are safe to share between threads)."""
    ids = sorted(customer_ids)
    if not ids:
        return {}
    with ThreadPoolExecutor(max_workers=min(HISTORY_READERS, len(ids))) as pool:
        return dict(zip(ids, pool.map(lambda customer_id: _last_received(tenant_id, customer_id), ids)))


def _greetings(tenant: TenantView, automation: AutomationView, now: datetime,
               through: date) -> tuple[dict[date, datetime], tuple[date, date] | None]:
    """Celebration date -> when the enabled automation's evaluation that covers it runs; and the celebration
    dates it has covered already (first, last), whose messages are on the customers' histories."""
    if not automation.enabled:
        return {}, None
    state = get_or_none(RunState, tenant.tenant_id, automation.type)
    covered = None
    if state is not None and (state.covered_through or state.processed_through):
        last = (date.fromisoformat(state.covered_through) if state.covered_through
                else trigger_of(automation.type, date.fromisoformat(state.processed_through), automation.settings))
        first = date.fromisoformat(automation.coverage_from) if automation.coverage_from else date.min
        covered = (first, last)
    return coverage_ahead(now, tenant, automation, state, through), covered


def _within(span: tuple[date, date] | None, day: date) -> bool:
    return span is not None and span[0] <= day <= span[1]


def _greeting(occasion: str, automation: AutomationView, person: Person, instant: datetime | None,
              tz_name: str) -> dict | None:
    """The greeting an automation will send, with the customer's record judged by dispatch checks 3 and 5
    (an address, consent); suppression and the frequency cap are judged when it is sent."""
    if instant is None:
        return None
    spec = catalog.PER_EVENT[occasion]
    checks = {channel: first_failing_check(person, channel, spec.category, is_suppressed=lambda *_: False,
                                           frequency_cap=None, recent_marketing=0) or "would_send"
              for channel in automation.channels}
    return {"automation": occasion, "send_on": local_date(instant, tz_name).isoformat(), "send_at": to_iso(instant),
            "days_before": int(automation.settings["days_before"]), "channels": checks}


def reminders(tenant_id: str, days_text: str | None, now: datetime, repo: Repository) -> dict:
    """Each store-local date from today on, for `days` days, with the customers celebrating that day."""
    days = days_ahead(days_text)
    tenant = TenantView(tenant_id, tenant_settings.load(tenant_id))
    today = local_date(now, tenant.timezone)
    dates = [today + timedelta(days=n) for n in range(days)]
    configured = {occasion: automations.current(tenant_id, occasion) for occasion in OCCASIONS}
    greetings = {occasion: _greetings(tenant, configured[occasion], now, dates[-1]) for occasion in OCCASIONS}
    covered = {occasion: greetings[occasion][1] for occasion in OCCASIONS}
    found = [(day, occasion, person) for day in dates for occasion in OCCASIONS
             for month_day in month_days_celebrated_on(day)
             for person in repo.customers_by_month_day(tenant_id, occasion, month_day)]
    last = _last_received_by(tenant_id, {person.customer_id for _, _, person in found})
    listed: dict[date, list[dict]] = {day: [] for day in dates}
    for day, occasion, person in found:
        listed[day].append({
            "customer_id": person.customer_id, "name": person.name, "occasion": occasion,
            "date": getattr(person, occasion), "email": person.email, "phone": person.phone,
            "last_message": last[person.customer_id],
            "greeting": _greeting(occasion, configured[occasion], person, greetings[occasion][0].get(day),
                                  tenant.timezone),
            "greeted_by": occasion if _within(covered[occasion], day) else None,
        })
    answer = [{"date": day.isoformat(), "customers": people} for day, people in listed.items()]
    return {"today": today.isoformat(), "timezone": tenant.timezone, "days": answer}

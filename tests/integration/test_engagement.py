"""SES events of sent email through the engagement handler (behaviour.md section 14), against in-process moto:
each event changes its record and its automation's counters once, an event naming another store's record or
another message changes nothing, and a write DynamoDB cancels or throttles is tried again; a sale is
attributed once to the latest marketing message before it."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.models import AutomationStats, Communication, Sale
from chalicelib.sending import ledger
from chalicelib.sending.messages import Send
from local.ses_events import click_detail, document, open_detail
from tests.integration.dynamodb_faults import CONFLICT, THROTTLED, dynamodb_faults, first

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(ledger, "sleep", lambda _s: None)


def sent_email(tenant: str, customer: str, automation_id: str = "valentines", at: datetime = NOW,
               source: str = "automation") -> tuple[Send, Communication]:
    """A marketing email sent as the dispatcher records one: claimed, accepted by SES, recorded `sent`."""
    send = Send(tenant, customer, automation_id if source == "automation" else "campaign", automation_id,
                f"occ-{uuid.uuid4().hex[:8]}", "email", source=source)
    token = uuid.uuid4().hex
    ledger.claim(send, None, token, at, None)
    record = ledger.Record(to=f"{customer}@customer.example", subject="Hi", body="Hello",
                           provider_message_id=f"ses-{uuid.uuid4().hex}")
    ledger.accept(send, token, record, at)
    ledger.record_accepted(send, token, record, at, "Australia/Sydney")
    return send, ledger.outcome_of(send, ledger.read_one(send))


def sqs(*documents: dict) -> list[dict]:
    return [{"messageId": str(uuid.uuid4()), "body": json.dumps(doc)} for doc in documents]


def event(kind: str, send: Send, record: Communication, at: datetime = NOW, **detail) -> dict:
    return document(kind, record.provider_message_id, ledger.email_tags(send), NOW, at, ["x@customer.example"],
                    **detail)


def counters(tenant: str, automation_id: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in AutomationStats.query(tenant):
        _day, automation, outcome = row.stat_key.split("#")[:3]
        if automation == automation_id:
            totals[outcome] = totals.get(outcome, 0) + int(row.count)
    return totals


def handle(*documents, now: datetime = NOW):
    from chalicelib.runner import engagement

    return engagement.handle(sqs(*documents), now)


def reread(record: Communication) -> Communication:
    return Communication.get(record.tenant_customer, record.sort_key)


@pytest.fixture
def store(shop, tenant):
    return tenant


def test_each_event_sets_its_record_once_and_counts_once_even_delivered_twice(store):
    send, record = sent_email(store, "c1")
    docs = [event("Send", send, record), event("Delivery", send, record, NOW + timedelta(seconds=2)),
            event("Open", send, record, NOW + timedelta(hours=1), **open_detail(proxy=False)),
            event("Click", send, record, NOW + timedelta(hours=1, minutes=1),
                  **click_detail("https://shop.example/valentines?u=abc"))]
    first_result = handle(*docs)
    again = handle(*docs)
    assert not first_result.failures and not again.failures
    assert sum(n for (r, _), n in first_result.results.items() if r == "counted") == 4
    assert {c: n for (r, c), n in again.results.items() if r == "duplicate"} == {
        None: 1, "delivered": 1, "opened": 1, "clicked": 1}   # SES's send event: the `sent` counter counts it
    stored = reread(record)
    assert stored.delivery_status == "delivered"
    assert stored.delivered_at and stored.opened_at and stored.clicked_at
    assert stored.clicked_links == {"https://shop.example/valentines"}
    assert stored.status == "sent" and not stored.machine_open
    assert stored.accepted_at
    assert counters(store, "valentines") == {"sent": 1, "delivered": 1, "opened": 1, "clicked": 1}


def test_a_privacy_proxy_open_is_kept_apart_and_a_later_person_open_still_counts(store):
    send, record = sent_email(store, "c2")
    assert not handle(event("Open", send, record, **open_detail(proxy=True))).failures
    stored = reread(record)
    assert stored.machine_open is True and stored.machine_opened_at and stored.opened_at is None
    handle(event("Open", send, record, NOW + timedelta(minutes=5), **open_detail(proxy=False)))
    assert reread(record).opened_at == (NOW + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert counters(store, "valentines") == {"sent": 1, "machine_open": 1, "opened": 1}


def test_a_complaint_after_delivery_leaves_the_record_complained_whatever_the_order(store):
    send, record = sent_email(store, "c3")
    handle(event("Complaint", send, record), event("Delivery", send, record))
    stored = reread(record)
    assert stored.delivery_status == "complained" and stored.complained_at and stored.delivered_at


def test_an_event_naming_another_stores_record_or_another_message_changes_nothing(store, client_for):
    send, record = sent_email(store, "c4")
    other = f"t-{uuid.uuid4().hex[:12]}"
    forged = dict(ledger.email_tags(send), tenant_id=other)
    late = NOW + timedelta(hours=2)   # past the grace for a record still on its way: nothing to wait for
    results = [
        handle(document("Delivery", record.provider_message_id, forged, NOW), now=late),
        handle(document("Delivery", "another-message", ledger.email_tags(send), NOW), now=late),
    ]
    assert all(not r.failures and r.results == {("unknown", None): 1} for r in results)
    stored = reread(record)
    assert stored.delivered_at is None and stored.delivery_status is None
    assert counters(store, "valentines") == {"sent": 1} and counters(other, "valentines") == {}


def test_an_event_before_its_record_is_written_is_tried_again_later(store):
    send = Send(store, "c5", "valentines", "valentines", "occ-early", "email")
    early = document("Delivery", "ses-early", ledger.email_tags(send), NOW)
    result = handle(early)
    assert len(result.failures) == 1 and not result.results


def test_events_not_ours_are_acknowledged_and_change_nothing(store):
    result = handle({"eventType": "Delivery", "mail": {"messageId": "m", "timestamp": "2026-01-01T00:00:00Z",
                                                       "tags": {}}}, {"notificationType": "AmazonSnsSubscription"})
    assert not result.failures and result.results == {("ignored", None): 2}


@pytest.mark.parametrize("code", [CONFLICT, THROTTLED])
def test_a_cancelled_or_throttled_write_is_tried_again_and_counts_once(store, code):
    send, record = sent_email(store, "c6")
    is_engagement = lambda op, params: op == "TransactWriteItems" and any(   # noqa: E731
        "Update" in item and item["Update"]["TableName"].endswith("communications") for item in params["TransactItems"])
    with dynamodb_faults(first(3, is_engagement, code)) as injected:
        result = handle(event("Delivery", send, record))
    assert sum(injected.faults.values()) == 3
    assert not result.failures and result.results == {("counted", "delivered"): 1}
    assert counters(store, "valentines")["delivered"] == 1


def test_an_sns_envelope_is_read_as_well_as_a_raw_message(store):
    send, record = sent_email(store, "c7")
    envelope = {"Type": "Notification", "Message": json.dumps(event("Delivery", send, record))}
    assert handle(envelope).results == {("counted", "delivered"): 1}


# --- attribution ----------------------------------------------------------------------------------

def test_a_sale_is_attributed_once_to_the_latest_marketing_message_and_shown(shop, store):
    shop.put("/customers/c8", {"first_name": "Ana", "email": "c8@customer.example"})
    sent_email(store, "c8", "birthday", NOW - timedelta(days=3))
    send, latest = sent_email(store, "c8", "valentines", NOW - timedelta(days=2))
    sale = {"customer_id": "c8", "completed_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), "total": 1240}
    first_put = shop.put("/sales/s8", sale)
    again = shop.put("/sales/s8", dict(sale, total=1240))   # a retried request
    assert (first_put.status, again.status) == (200, 200)
    assert first_put.json["attributed_automation"] == "valentines"
    assert again.json["attributed_record"] == first_put.json["attributed_record"]   # kept, not decided again
    assert Sale.get(store, "s8").attributed_record == latest.sort_key   # kept by the PUT that replaced it
    stored = reread(latest)
    assert (stored.attributed_sales, stored.attributed_revenue) == (1, 1240)
    totals = counters(store, "valentines")
    assert (totals["attributed_sales"], totals["attributed_revenue"]) == (1, 124000)
    assert "attributed_sales" not in counters(store, "birthday")
    history = shop.get("/customers/c8/communications").json["communications"]
    assert history[0]["attributed_revenue"] == 1240 and history[0]["attributed_sale_at"] == sale["completed_at"]


def test_a_sale_outside_the_window_is_attributed_to_nothing_and_the_window_is_a_setting(shop, store):
    shop.put("/customers/c9", {"first_name": "Bo", "email": "c9@customer.example"})
    sent_email(store, "c9", "valentines", NOW - timedelta(days=6))
    assert "attributed_record" not in shop.put("/sales/s9", {"customer_id": "c9", "total": 50,
                                                             "completed_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")}).json
    assert shop.patch("/settings", {"attribution_days": 7}).status == 200
    assert shop.put("/sales/s9b", {"customer_id": "c9", "total": 50,
                                   "completed_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")}).json[
        "attributed_automation"] == "valentines"


@pytest.mark.parametrize("value", [0, 91, "5", None.__class__.__name__, 2.5])
def test_attribution_days_out_of_range_is_a_400_naming_it(shop, value):
    response = shop.patch("/settings", {"attribution_days": value})
    assert response.status == 400 and "attribution_days" in json.dumps(response.json)


def test_the_automation_list_shows_the_engagement_and_revenue_of_30_days(shop, store):
    shop.put("/customers/c10", {"first_name": "Cy", "email": "c10@customer.example"})
    send, record = sent_email(store, "c10", "valentines")
    handle(event("Delivery", send, record), event("Open", send, record, **open_detail(proxy=False)),
           event("Open", send, record, **open_detail(proxy=True)))
    shop.put("/sales/s10", {"customer_id": "c10", "total": 99.5, "completed_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")})
    (valentines,) = [a for a in shop.get("/automations").json["automations"] if a["type"] == "valentines"]
    stats = valentines["stats"]
    assert (stats["sent"], stats["delivered"], stats["opened"], stats["machine_open"], stats["attributed_sales"],
            stats["attributed_revenue"], stats["open_rate"]) == (1, 1, 1, 1, 1, 99.5, 1.0)
    assert sum(day["delivered"] for day in stats["daily"]) == 1 and len(stats["daily"]) == 30


def test_a_batch_of_many_messages_events_writes_each_counter_once_and_counts_every_event(store):
    """Ten messages' deliveries in one batch: one transaction, the delivered counter added to once by ten."""
    sent = [sent_email(store, f"b{n}") for n in range(10)]
    seen = []
    from botocore.client import BaseClient
    original = BaseClient._make_api_call

    def spy(client, operation, params):
        if operation == "TransactWriteItems":
            seen.append([next(iter(item.values()))["TableName"] for item in params["TransactItems"]])
        return original(client, operation, params)
    BaseClient._make_api_call = spy
    try:
        result = handle(*[event("Delivery", send, record) for send, record in sent],
                        event("Delivery", *sent[0]), event("Open", *sent[0], **open_detail(proxy=False)))
    finally:
        BaseClient._make_api_call = original
    assert not result.failures
    assert result.results[("counted", "delivered")] == 10 and result.results[("counted", "opened")] == 1
    assert result.results[("duplicate", "delivered")] + result.results[("counted", "delivered")] == 11
    assert counters(store, "valentines")["delivered"] == 10 and counters(store, "valentines")["opened"] == 1
    # The ten first deliveries: one transaction of ten records and one counter (added to by ten), not ten.
    assert sum(t.endswith("communications") for t in seen[0]) == 10
    assert sum(t.endswith("automation_stats") for t in seen[0]) == 1
    assert len(seen) <= 4, seen   # then the same message's second delivery (cancelled: a duplicate) and its open


@pytest.mark.parametrize("code", [CONFLICT, THROTTLED])
def test_an_attribution_cancelled_or_throttled_is_tried_again_and_counts_once(shop, store, code):
    shop.put("/customers/c11", {"first_name": "Di", "email": "c11@customer.example"})
    sent_email(store, "c11", "valentines", NOW - timedelta(hours=3))
    is_attribution = lambda op, params: op == "TransactWriteItems" and any(   # noqa: E731
        next(iter(item.values()))["TableName"].endswith("sales") for item in params["TransactItems"])
    with dynamodb_faults(first(2, is_attribution, code)) as injected:
        response = shop.put("/sales/s11", {"customer_id": "c11", "total": 30,
                                           "completed_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert sum(injected.faults.values()) == 2 and response.json["attributed_automation"] == "valentines"
    from chalicelib.adapters.models import Sale as SaleModel
    from chalicelib.sending import engagement

    # The sale handed to the attribution again (a redelivered request): nothing more is counted.
    assert engagement.attribute(lambda: SaleModel.get(store, "s11"), 5, "UTC") is None
    totals = counters(store, "valentines")
    assert (totals["attributed_sales"], totals["attributed_revenue"]) == (1, 3000)

"""Engagement rules (behaviour.md section 14): what an SES event means for its record, which opens a mail
privacy proxy made, and which message a sale is attributed to."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.adapters.providers import from_tag_value, tag_value
from chalicelib.rules import engagement as rules
from local.ses_events import PERSON_AGENT, click_detail, document, open_detail

SENT = "2026-02-14T09:00:00Z"


def _tags(tenant="t-1", customer="c-1", record="r" * 24):
    return {"tenant_id": tag_value(tenant), rules.CUSTOMER_TAG: tag_value(customer), rules.RECORD_TAG: record}


def _at(text):
    return rules.parse_instant_text(text)


@pytest.mark.parametrize("agent, ip", [
    ("Mozilla/5.0", "17.58.101.12"),                 # Apple Mail Privacy Protection: bare agent, Apple's network
    ("Mozilla/5.0", "104.28.1.1"),                   # the bare agent from a relay outside Apple's network
    (PERSON_AGENT, "17.120.4.4"),                    # any agent from Apple's own network (17.0.0.0/8)
    ("Mozilla/5.0 (compatible; YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html)", "98.1.1.1"),
    ("Barracuda Sentinel (EE)", "64.235.144.1"),
    ("python-requests/2.31", "198.51.100.2"),
])
def test_opens_by_privacy_proxies_and_scanners_are_machine_opens(agent, ip):
    assert rules.is_machine_open(agent, ip)


@pytest.mark.parametrize("agent, ip", [
    (PERSON_AGENT, "203.0.113.7"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
     "203.0.113.8"),
    # Gmail fetches images through its proxy when the person opens the message: a person's open.
    ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", "66.249.84.1"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120", "not-an-ip"),
    (None, None),
])
def test_opens_by_mail_clients_are_a_persons(agent, ip):
    assert not rules.is_machine_open(agent, ip)


def test_an_open_event_parses_with_its_ids_instant_and_machine_mark():
    doc = document("Open", "m-1", _tags(customer="c-1.x"), _at(SENT), _at("2026-02-14T10:00:00Z"),
                   **open_detail(proxy=True))
    event = rules.parse(doc, from_tag_value)
    assert (event.kind, event.tenant_id, event.customer_id, event.record_id, event.message_id) == (
        "Open", "t-1", "c-1.x", "r" * 24, "m-1")
    assert event.machine and event.effect is rules.MACHINE_OPEN and event.effect.counter == "machine_open"
    assert event.at == _at("2026-02-14T10:00:00Z") and event.sent_at == _at(SENT)


def test_a_click_keeps_its_link_without_query_or_fragment():
    doc = document("Click", "m-1", _tags(), _at(SENT), **click_detail("https://shop.example/rings?token=secret#top"))
    event = rules.parse(doc, from_tag_value)
    assert event.link == "https://shop.example/rings" and event.effect.first_field == "clicked_at"


@pytest.mark.parametrize("doc", [
    None, [], {"eventType": "DeliveryDelay", "mail": {"tags": {}}},
    {"eventType": "Delivery", "mail": {"messageId": "m", "timestamp": SENT, "tags": {"tenant_id": ["t"]}}},  # no ids
    {"eventType": "Delivery", "mail": {"messageId": "m", "timestamp": "yesterday", "tags": {}}},
    {"notificationType": "Bounce", "mail": {"messageId": "m"}},                                          # no tags
])
def test_events_that_are_not_ours_to_record_are_refused(doc):
    with pytest.raises(rules.NotOurs):
        rules.parse(doc, from_tag_value)


def test_a_status_never_goes_back():
    assert rules.next_status(None, "sent") == "sent"
    assert rules.next_status("sent", "delivered") == "delivered"
    assert rules.next_status("complained", "delivered") == "complained"
    assert rules.next_status("delivered", "bounced") == "bounced"
    assert rules.next_status("delivered", None) == "delivered"


def _record(n, created_at, status="sent", marketing=True, automation_id="valentines"):
    return rules.Candidate(record_id=f"r{n}", sort_key=f"{created_at}#r{n}", created_at=created_at, status=status,
                           marketing=marketing, automation_id=automation_id, source="automation")


def test_a_sale_is_attributed_to_the_latest_sent_marketing_message_within_the_window():
    records = [_record(1, "2026-02-10T09:00:00Z", automation_id="birthday"),
               _record(2, "2026-02-14T09:00:00Z"),
               _record(3, "2026-02-15T09:00:00Z", marketing=False, automation_id="repair_ready_reminder"),
               _record(4, "2026-02-15T10:00:00Z", status="skipped"),
               _record(5, "2026-02-16T12:00:00Z")]   # after the sale
    chosen = rules.attributed_to(records, "2026-02-16T11:00:00Z", 5)
    assert chosen.record_id == "r2"


def test_a_sale_after_the_window_or_with_only_transactional_mail_is_attributed_to_nothing():
    assert rules.attributed_to([_record(1, "2026-02-10T09:00:00Z")], "2026-02-15T09:00:01Z", 5) is None
    assert rules.attributed_to([_record(1, "2026-02-10T09:00:00Z")], "2026-02-15T09:00:00Z", 5).record_id == "r1"
    assert rules.attributed_to([_record(1, "2026-02-14T09:00:00Z", marketing=False)], "2026-02-15T09:00:00Z", 5) \
        is None


instants = st.integers(0, 20 * 86400).map(lambda s: f"2026-02-{1 + s // 86400:02d}T{s % 86400 // 3600:02d}:"
                                                    f"{s % 3600 // 60:02d}:{s % 60:02d}Z")


@given(st.lists(st.tuples(instants, st.booleans(), st.sampled_from(["sent", "skipped", "failed"])), max_size=12),
       instants, st.integers(1, 10))
def test_the_chosen_message_is_never_after_the_sale_nor_older_than_the_window_and_none_later_qualifies(
        rows, sale, days):
    records = [_record(n, at, status, marketing) for n, (at, marketing, status) in enumerate(rows)]
    chosen = rules.attributed_to(records, sale, days)
    qualifying = [r for r in records if r.status == "sent" and r.marketing
                  and 0 <= (_at(sale) - _at(r.created_at)).total_seconds() <= days * 86400]
    if not qualifying:
        assert chosen is None
    else:
        assert chosen.sort_key == max(r.sort_key for r in qualifying)

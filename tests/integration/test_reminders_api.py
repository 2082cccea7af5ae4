"""GET /reminders (docs/behaviour.md section 7, "Reminders"): the birthdays and anniversaries of the store's coming days,
with the customers' contact, what they last received and when an automation will greet them; read through
the month-day indexes."""
from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.adapters.models import Communication, tenant_customer
from tests.integration.runner_kit import Runner
from tests.integration.test_runner import customer

SYDNEY = "+11:00"   # December and February: daylight saving time


def sydney(text: str) -> datetime:
    return datetime.fromisoformat(text + SYDNEY)


@pytest.fixture
def clock(monkeypatch):
    """The API's clock (the one place that reads it), moved by the test."""
    from chalicelib.api import context

    now = {"at": sydney("2026-12-10T09:00:00")}
    monkeypatch.setattr(context, "utcnow", lambda: now["at"])
    return now


@pytest.fixture
def store(shop, clock):
    assert shop.patch("/settings", {"send_hour": 10}).status == 200
    return shop


def reminders(api, days: int | None = None) -> dict:
    response = api.get("/reminders" if days is None else f"/reminders?days={days}")
    assert response.status == 200, response
    return response.json


def listed(answer: dict) -> dict[str, list[tuple[str, str]]]:
    """date -> [(customer id, occasion)] for the dates that have someone."""
    return {d["date"]: [(c["customer_id"], c["occasion"]) for c in d["customers"]]
            for d in answer["days"] if d["customers"]}


def entry(answer: dict, customer_id: str, occasion: str = "birthday") -> dict:
    return next(c for d in answer["days"] for c in d["customers"]
                if c["customer_id"] == customer_id and c["occasion"] == occasion)


def test_today_is_the_stores_date_not_utcs(store, clock):
    # 01:30 on Dec 11 in Sydney is still Dec 10 in UTC.
    clock["at"] = sydney("2026-12-11T01:30:00")
    customer(store, "yesterday", birthday="1990-12-10")
    customer(store, "today", birthday="1985-12-11", email="today@mail.example", phone="+61412345678")
    customer(store, "tomorrow", birthday="--12-12")
    customer(store, "later", birthday="1990-12-13")
    answer = reminders(store, 2)
    assert answer["today"] == "2026-12-11"
    assert [d["date"] for d in answer["days"]] == ["2026-12-11", "2026-12-12"]
    assert listed(answer) == {"2026-12-11": [("today", "birthday")], "2026-12-12": [("tomorrow", "birthday")]}
    today = entry(answer, "today")
    assert (today["email"], today["phone"], today["date"]) == ("today@mail.example", "+61412345678", "1985-12-11")


def test_days_defaults_to_30_and_reaches_90(store):
    assert len(reminders(store)["days"]) == 30
    days = reminders(store, 90)["days"]
    assert (len(days), days[0]["date"], days[-1]["date"]) == (90, "2026-12-10", "2027-03-09")


@pytest.mark.parametrize("days", ["0", "91", "abc", "-1", "1.5", "", "%2030", "1e2"])
def test_days_outside_1_to_90_is_a_400_naming_days(store, days):
    response = store.get(f"/reminders?days={days}")
    assert response.status == 400 and response.error_field == "days", response


def test_a_feb_29_birthday_is_celebrated_on_feb_28_in_a_non_leap_year_and_on_feb_29_in_a_leap_year(store, clock):
    customer(store, "leapling", birthday="2000-02-29")
    customer(store, "feb28", birthday="1990-02-28")
    clock["at"] = sydney("2027-02-27T12:00:00")
    assert listed(reminders(store, 3)) == {"2027-02-28": [("feb28", "birthday"), ("leapling", "birthday")]}
    clock["at"] = sydney("2028-02-27T12:00:00")
    assert listed(reminders(store, 3)) == {"2028-02-28": [("feb28", "birthday")],
                                           "2028-02-29": [("leapling", "birthday")]}


def test_anniversaries_are_listed_beside_birthdays(store):
    customer(store, "couple", birthday="1980-12-12", anniversary="2001-12-12")
    customer(store, "wed", anniversary="--12-14")
    assert listed(reminders(store, 7)) == {
        "2026-12-12": [("couple", "birthday"), ("couple", "anniversary")],
        "2026-12-14": [("wed", "anniversary")],
    }
    assert entry(reminders(store, 7), "wed", "anniversary")["date"] == "--12-14"


def test_another_stores_customers_are_never_shown(store, client_for, clock):
    other = client_for("other-store-reminders")
    customer(other, "theirs", birthday="1990-12-11")
    customer(store, "ours", birthday="1990-12-11")
    assert listed(reminders(store, 3)) == {"2026-12-11": [("ours", "birthday")]}


def test_every_role_may_read_them_and_no_token_may_not(store, client_for, tenant):
    customer(store, "ours", birthday="1990-12-11")
    for role in ("accountant", "salesperson", "workshop"):
        assert listed(reminders(client_for(tenant, role), 3)) == {"2026-12-11": [("ours", "birthday")]}
    store.token = None
    assert store.get("/reminders").status == 401


def _record(tenant: str, customer_id: str, at: str, status: str, subject: str) -> None:
    Communication(tenant_customer(tenant, customer_id), f"{at}#{subject}", tenant_id=tenant,
                  communication_id=subject, customer_id=customer_id, created_at=at, channel="email",
                  source="campaign", automation_type="campaign", subject=subject, body="Hello",
                  status=status, reason=None if status == "sent" else "no_consent").save()


def test_the_last_message_is_the_latest_one_the_customer_received(store, tenant):
    customer(store, "mail", birthday="1990-12-11")
    customer(store, "none", birthday="1990-12-11")
    _record(tenant, "mail", "2026-11-01T01:00:00Z", "sent", "Older")
    _record(tenant, "mail", "2026-11-20T01:00:00Z", "sent", "Spring sale")
    _record(tenant, "mail", "2026-12-01T01:00:00Z", "skipped", "Skipped later")
    _record(tenant, "none", "2026-12-01T01:00:00Z", "skipped", "Never received")
    answer = reminders(store, 3)
    assert entry(answer, "mail")["last_message"] == {
        "created_at": "2026-11-20T01:00:00Z", "channel": "email", "source": "campaign",
        "automation_type": "campaign", "subject": "Spring sale", "status": "sent"}
    assert entry(answer, "none")["last_message"] is None


def test_no_automation_greets_while_the_birthday_automation_is_off(store):
    customer(store, "someone", birthday="1990-12-11", email="a@mail.example", consent={"email": True})
    assert entry(reminders(store, 3), "someone")["greeting"] is None
    assert entry(reminders(store, 3), "someone")["greeted_by"] is None


def test_with_a_three_day_lead_the_greeting_is_sent_three_days_before_and_the_runner_sends_it_then(
        store, tenant, clock):
    for day in (11, 13, 20):
        customer(store, f"d{day}", birthday=f"1990-12-{day}", email=f"d{day}@mail.example", consent={"email": True})
    customer(store, "quiet", birthday="1990-12-13", email="quiet@mail.example")
    assert store.patch("/automations/birthday", {"enabled": True, "channels": ["email"],
                                                 "settings": {"days_before": 3}}).status == 200
    answer = reminders(store, 14)
    # Switched on today: the birthdays before today's trigger date (Dec 13) are not reached back to.
    assert entry(answer, "d11")["greeting"] is None
    assert entry(answer, "d13")["greeting"] == {
        "automation": "birthday", "send_on": "2026-12-10", "send_at": "2026-12-09T23:00:00Z", "days_before": 3,
        "channels": {"email": "would_send"}}
    assert entry(answer, "quiet")["greeting"]["channels"] == {"email": "no_consent"}
    assert entry(answer, "d20")["greeting"]["send_on"] == "2026-12-17"

    # The runner does at 10:00 what the reminders said, and then the date is covered: no greeting is left.
    runner = Runner(tenant, clock["at"])
    _, delivery = runner.run(sydney("2026-12-10T10:00:00"))
    assert {(o.send.customer_id, o.status) for o in delivery.outcomes} == {("d13", "sent"), ("quiet", "skipped")}
    clock["at"] = sydney("2026-12-10T10:05:00")
    after = reminders(store, 14)
    assert entry(after, "d13")["greeting"] is None and entry(after, "d13")["greeted_by"] == "birthday"
    assert entry(after, "d11")["greeted_by"] is None     # before coverage began: never greeted
    assert entry(after, "d20")["greeted_by"] is None
    assert entry(after, "d13")["last_message"]["automation_type"] == "birthday"
    assert entry(after, "d20")["greeting"]["send_on"] == "2026-12-17"


def test_raising_the_lead_after_today_was_processed_greets_the_days_between_at_the_next_evaluation(store, tenant,
                                                                                                    clock):
    customer(store, "d12", birthday="1990-12-12", email="d12@mail.example", consent={"email": True})
    assert store.patch("/automations/birthday", {"enabled": True, "channels": ["email"]}).status == 200
    Runner(tenant, clock["at"]).run(sydney("2026-12-10T10:00:00"))
    clock["at"] = sydney("2026-12-10T11:00:00")
    assert entry(reminders(store, 5), "d12")["greeting"]["send_on"] == "2026-12-12"
    assert store.patch("/automations/birthday", {"settings": {"days_before": 3}}).status == 200
    greeting = entry(reminders(store, 5), "d12")["greeting"]
    assert (greeting["send_on"], greeting["send_at"]) == ("2026-12-10", "2026-12-10T00:00:00Z")


def test_customers_are_read_by_month_day_never_by_a_scan(store, counter):
    for n in range(30):
        customer(store, f"base{n}", birthday=f"1990-01-{n % 28 + 1:02d}", anniversary=f"--06-{n % 28 + 1:02d}")
    customer(store, "due", birthday="1990-12-11", anniversary="--12-12")
    counter.reset()
    answer = reminders(store, 3)
    assert listed(answer) == {"2026-12-11": [("due", "birthday")], "2026-12-12": [("due", "anniversary")]}
    assert "Scan" not in counter.calls
    # One query per day and occasion, and one for the customer's history; only the matches are read.
    assert counter.calls["Query"] == 3 * 2 + 1
    assert counter.items["Query"] == 2

"""Each matcher against docs/behaviour.md section 3, with an in-memory repository and fixed instants."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib.core import catalog
from chalicelib.core.store_settings import DEFAULTS
from chalicelib.core.timeutil import to_iso
from chalicelib.core.values import (
    AppointmentFact,
    AutomationView,
    Occasion,
    Person,
    RepairFact,
    SaleFact,
    TenantView,
)
from chalicelib.matchers import MATCHERS, matcher_for
from tests.unit.fakes import FakeRepository

UTC = timezone.utc


def tenant(tz="UTC", country="US") -> TenantView:
    return TenantView("t1", {**DEFAULTS, "timezone": tz, "country": country})


def run(type_, repo, day=None, at=None, tz="UTC", country="US", **settings):
    spec = catalog.PER_EVENT[type_]
    automation = AutomationView(type_, {**spec.default_settings(), **settings})
    at = at or datetime.combine(day, datetime.min.time(), ZoneInfo(tz)).replace(hour=10).astimezone(UTC)
    day = day or at.astimezone(ZoneInfo(tz)).date()
    return list(matcher_for(type_)(tenant(tz, country), automation, Occasion(at, day), repo))


def keys(matches):
    return sorted((m.customer_id, m.occurrence_key) for m in matches)


def person(cid, **kw) -> Person:
    kw.setdefault("last_activity_at", "2020-01-01T00:00:00Z")
    return Person(cid, first_name=cid.upper(), **kw)


def test_the_registry_has_one_matcher_per_type_in_the_spec_order():
    assert list(MATCHERS) == [t.type for t in catalog.PER_EVENT_TYPES]


# --- birthday and anniversary -------------------------------------------------------------------

def test_birthday_on_feb_29_is_celebrated_on_feb_28_in_non_leap_years():
    repo = FakeRepository([person("leap", birthday="2000-02-29"), person("feb28", birthday="1990-02-28"),
                           person("noyear", birthday="--02-29")])
    assert keys(run("birthday", repo, date(2027, 2, 28))) == [
        ("feb28", "birthday:2027"), ("leap", "birthday:2027"), ("noyear", "birthday:2027")]
    assert run("birthday", repo, date(2027, 3, 1)) == []


def test_birthday_on_feb_29_is_celebrated_on_feb_29_in_leap_years():
    repo = FakeRepository([person("leap", birthday="2000-02-29"), person("feb28", birthday="1990-02-28")])
    assert keys(run("birthday", repo, date(2028, 2, 28))) == [("feb28", "birthday:2028")]
    assert keys(run("birthday", repo, date(2028, 2, 29))) == [("leap", "birthday:2028")]


def test_days_before_crosses_the_year_end_and_the_occurrence_takes_the_birthdays_year():
    repo = FakeRepository([person("jan5", birthday="1985-01-05"), person("dec31", birthday="--12-31")])
    assert keys(run("birthday", repo, date(2026, 12, 29), days_before=7)) == [("jan5", "birthday:2027")]
    assert keys(run("birthday", repo, date(2026, 12, 30), days_before=1)) == [("dec31", "birthday:2026")]


def test_days_before_crosses_a_month_end():
    repo = FakeRepository([person("a", anniversary="2001-05-02")])
    assert keys(run("anniversary", repo, date(2026, 4, 29), days_before=3)) == [("a", "anniversary:2026")]
    assert run("anniversary", repo, date(2026, 4, 29), days_before=1) == []


def test_birthday_without_a_year_matches_like_one_with_a_year():
    repo = FakeRepository([person("x", birthday="--07-14"), person("y", birthday="1970-07-14")])
    assert keys(run("birthday", repo, date(2026, 7, 14))) == [("x", "birthday:2026"), ("y", "birthday:2026")]


# --- re-engagement ------------------------------------------------------------------------------

def test_reengagement_matches_every_last_activity_date_that_clamps_to_a_month_end():
    people = [person(f"jan{d}", last_activity_at=f"2027-01-{d}T12:00:00Z") for d in (27, 28, 29, 30, 31)]
    repo = FakeRepository(people + [person("feb1", last_activity_at="2027-02-01T00:00:00Z")])
    # Jan 30 and Jan 31 + 3 months both clamp to Apr 30; Jan 29 + 3 months is Apr 29.
    assert keys(run("reengagement", repo, date(2027, 4, 30), months_inactive=3)) == [
        ("jan30", "lapse:2027-01-30"), ("jan31", "lapse:2027-01-31")]
    assert keys(run("reengagement", repo, date(2027, 4, 29), months_inactive=3)) == [("jan29", "lapse:2027-01-29")]
    assert run("reengagement", repo, date(2027, 2, 28), months_inactive=3) == []
    # months_inactive is 3, 6 or 12; with 12, Feb 28 2029 takes Feb 28 and Feb 29 2028.
    leap = FakeRepository([person("a", last_activity_at="2028-02-28T09:00:00Z"),
                           person("b", last_activity_at="2028-02-29T09:00:00Z")])
    assert keys(run("reengagement", leap, date(2029, 2, 28), months_inactive=12)) == [
        ("a", "lapse:2028-02-28"), ("b", "lapse:2028-02-29")]


def test_reengagement_reads_the_last_activity_date_in_the_tenants_time_zone():
    # 2026-03-31T14:30Z is already Apr 1 in Sydney.
    repo = FakeRepository([person("p", last_activity_at="2026-03-31T14:30:00Z")])
    assert keys(run("reengagement", repo, date(2026, 7, 1), tz="Australia/Sydney", months_inactive=3)) == [
        ("p", "lapse:2026-04-01")]
    assert run("reengagement", repo, date(2026, 6, 30), tz="Australia/Sydney", months_inactive=3) == []


# --- repairs ---------------------------------------------------------------------------------------

def test_repair_ready_reminder_matches_repairs_still_ready_days_after_they_became_ready():
    repo = FakeRepository(
        [person("c1"), person("c2")],
        repairs=[RepairFact("r1", "c1", "ready", "2026-06-03T15:00:00Z", "2026-05-20T00:00:00Z"),
                 RepairFact("r2", "c2", "collected", "2026-06-03T15:00:00Z", "2026-05-20T00:00:00Z"),
                 RepairFact("r3", "c2", "ready", "2026-06-04T00:00:00Z", "2026-05-20T00:00:00Z")])
    found = run("repair_ready_reminder", repo, date(2026, 6, 10), days_after=7)
    assert keys(found) == [("c1", "repair:r1")]
    assert found[0].subject.repair_id == "r1"


def test_a_repair_collected_before_its_reminder_date_is_not_reminded():
    collected = RepairFact("r1", "c1", "collected", "2026-06-03T15:00:00Z", "2026-05-20T00:00:00Z")
    repo = FakeRepository([person("c1")], repairs=[collected])
    assert run("repair_ready_reminder", repo, date(2026, 6, 6), days_after=3) == []


def test_a_repair_whose_customer_was_deleted_matches_nobody():
    repo = FakeRepository([], repairs=[RepairFact("r1", "gone", "ready", "2026-06-03T15:00:00Z", "2026-05-20T00:00:00Z")])
    assert run("repair_ready_reminder", repo, date(2026, 6, 6), days_after=3) == []


# --- post-purchase -----------------------------------------------------------------------------------

def test_post_purchase_sends_one_message_per_customer_for_yesterdays_local_sales():
    # Sydney: 2026-06-08T14:00Z .. 2026-06-09T13:59:59Z is Jun 9 local.
    repo = FakeRepository([person("c1"), person("c2"), person("c3")], sales=[
        SaleFact("s1", "c1", "2026-06-08T14:00:00Z"), SaleFact("s2", "c1", "2026-06-09T13:59:59Z"),
        SaleFact("s3", "c2", "2026-06-08T13:59:59Z"), SaleFact("s4", "c3", "2026-06-09T14:00:00Z")])
    found = run("post_purchase", repo, date(2026, 6, 10), tz="Australia/Sydney")
    assert keys(found) == [("c1", "purchase:2026-06-09")]
    assert found[0].subject.sale_id == "s2"


# --- appointments ------------------------------------------------------------------------------------

NOW = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)


def appt(aid, starts: datetime, status="booked", cid="c1") -> AppointmentFact:
    return AppointmentFact(aid, cid, to_iso(starts), status)


@pytest.mark.parametrize("offset, in_24h, in_1h", [
    (timedelta(hours=24), True, False),                   # starts_at - 24h == now: window opens
    (timedelta(hours=24, seconds=1), False, False),
    (timedelta(hours=2, seconds=1), True, False),
    (timedelta(hours=2), False, False),                   # starts_at - 2h == now: window closed
    (timedelta(hours=1), False, True),                    # starts_at - 1h == now
    (timedelta(hours=1, seconds=1), False, False),
    (timedelta(seconds=1), False, True),
    (timedelta(0), False, False),                         # starts_at == now
])
def test_appointment_windows_are_closed_at_the_start_and_open_at_the_end(offset, in_24h, in_1h):
    repo = FakeRepository([person("c1")], appointments=[appt("a1", NOW + offset)])
    assert bool(run("appointment_24h", repo, at=NOW)) is in_24h
    assert bool(run("appointment_1h", repo, at=NOW)) is in_1h


def test_appointment_window_bounds_hold_when_now_has_fractions_of_a_second():
    repo = FakeRepository([person("c1")], appointments=[appt("a1", NOW + timedelta(hours=2))])
    assert run("appointment_24h", repo, at=NOW - timedelta(microseconds=1)) != []
    assert run("appointment_24h", repo, at=NOW + timedelta(microseconds=1)) == []


def test_a_rescheduled_appointment_is_a_new_occurrence_and_a_cancelled_one_is_none():
    first = run("appointment_24h", FakeRepository([person("c1")], appointments=[appt("a1", NOW + timedelta(hours=20))]),
                at=NOW)
    moved = run("appointment_24h", FakeRepository([person("c1")], appointments=[appt("a1", NOW + timedelta(hours=21))]),
                at=NOW)
    assert first[0].occurrence_key == "appt24:a1@2026-06-11T05:00:00Z"
    assert moved[0].occurrence_key == "appt24:a1@2026-06-11T06:00:00Z"
    cancelled = FakeRepository([person("c1")], appointments=[appt("a1", NOW + timedelta(hours=20), "cancelled")])
    assert run("appointment_24h", cancelled, at=NOW) == []


# --- seasonal --------------------------------------------------------------------------------------

EVERYONE = [person("a"), person("b")]


def test_valentines_and_christmas_address_everyone_on_their_day_only():
    repo = FakeRepository(EVERYONE)
    assert keys(run("valentines", repo, date(2027, 2, 7))) == [("a", "valentines:2027"), ("b", "valentines:2027")]
    assert run("valentines", repo, date(2027, 2, 14)) == []
    assert keys(run("christmas", repo, date(2026, 12, 18))) == [("a", "christmas:2026"), ("b", "christmas:2026")]
    assert run("christmas", repo, date(2026, 12, 25)) == []


@pytest.mark.parametrize("year, us_au, gb_ie", [
    (2026, date(2026, 5, 3), date(2026, 3, 8)),
    (2027, date(2027, 5, 2), date(2027, 2, 28)),
    (2028, date(2028, 5, 7), date(2028, 3, 19)),
    (2029, date(2029, 5, 6), date(2029, 3, 4)),
    (2030, date(2030, 5, 5), date(2030, 3, 24)),
])
def test_mothers_day_message_goes_a_week_before_the_countrys_mothers_day(year, us_au, gb_ie):
    repo = FakeRepository(EVERYONE)
    for country in ("US", "AU"):
        assert len(run("mothers_day", repo, us_au, country=country)) == 2
        assert run("mothers_day", repo, gb_ie, country=country) == []
    for country in ("GB", "IE"):
        assert keys(run("mothers_day", repo, gb_ie, country=country))[0] == ("a", f"mothers_day:{year}")
        assert run("mothers_day", repo, us_au, country=country) == []


def test_date_driven_matchers_read_only_what_matches():
    people = [person(f"p{i}", birthday=f"1990-{1 + i % 12:02d}-{1 + i % 28:02d}",
                     last_activity_at=to_iso(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=7 * i)))
              for i in range(2000)]
    repo = FakeRepository(people)
    found = run("birthday", repo, date(2026, 3, 3))
    assert found and repo.reads == len(found)

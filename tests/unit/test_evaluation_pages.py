"""Paged evaluations, the parts that need no tables: the job format (old jobs stay valid, malformed ones
are rejected) and the matchers' positions (carrying on after any match yields exactly the rest, and
reads only the rest)."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from chalicelib.core import catalog
from chalicelib.core.store_settings import DEFAULTS
from chalicelib.core.values import (
    AppointmentFact,
    AutomationView,
    Occasion,
    Person,
    RepairFact,
    SaleFact,
    TenantView,
)
from chalicelib.matchers import matcher_for
from chalicelib.runner.evaluation import Job, MalformedJob
from tests.unit.fakes import FakeRepository

UTC = timezone.utc
AT = "2026-12-18T00:00:00Z"


# --- the job format -------------------------------------------------------------------------------

def test_a_job_without_a_place_is_the_old_format_and_reads_as_before():
    old = json.dumps({"tenant_id": "t1", "type": "christmas", "at": AT})
    job = Job.parse(old)
    assert job == Job("t1", "christmas", AT) and (job.day, job.after, job.skip) == (None, None, 0)
    assert job.to_body() == old


@pytest.mark.parametrize("job", [
    Job("t1", "christmas", AT, "2026-12-18", "c0042"),
    Job("t1", "birthday", AT, "2026-12-17", "12-17|c|with|bars"),
    Job("t1", "birthday", AT, "2026-12-18"),
    Job("t1", "post_purchase", AT, "2026-12-18", skip=2000),
    Job("t1", "appointment_24h", AT, skip=8),
    Job("t1", "appointment_1h", AT, after="a position"),
])
def test_a_continuation_goes_through_the_queue_unchanged(job):
    assert Job.parse(job.to_body()) == job


@pytest.mark.parametrize("body", [
    "not json", "[]", '"christmas"', "{}",
    '{"tenant_id": "t1", "type": "christmas"}',
    '{"tenant_id": "t1", "type": "nope", "at": "2026-12-18T00:00:00Z"}',
    '{"tenant_id": "t1", "type": "christmas", "at": "yesterday"}',
    '{"tenant_id": null, "type": "christmas", "at": "2026-12-18T00:00:00Z"}',
    '{"tenant_id": 7, "type": "christmas", "at": "2026-12-18T00:00:00Z"}',
    '{"tenant_id": "", "type": "christmas", "at": "2026-12-18T00:00:00Z"}',
    '{"tenant_id": "t1", "type": "christmas", "at": "2026-12-18T00:00:00Z", "extra": 1}',
    '{"tenant_id": "t1", "type": "christmas", "at": "2026-12-18T00:00:00Z", "day": "2026-12-1", "after": "c1"}',
    '{"tenant_id": "t1", "type": "christmas", "at": "2026-12-18T00:00:00Z", "day": 20261218}',
    '{"tenant_id": "t1", "type": "christmas", "at": "2026-12-18T00:00:00Z", "day": "2026-12-18", "after": ""}',
    '{"tenant_id": "t1", "type": "christmas", "at": "2026-12-18T00:00:00Z", "day": "2026-12-18", "after": 5}',
    '{"tenant_id": "t1", "type": "christmas", "at": "2026-12-18T00:00:00Z", "day": "2026-12-18", "skip": -1}',
    '{"tenant_id": "t1", "type": "christmas", "at": "2026-12-18T00:00:00Z", "day": "2026-12-18", "skip": true}',
    '{"tenant_id": "t1", "type": "christmas", "at": "2026-12-18T00:00:00Z", "day": "2026-12-18", "skip": "9"}',
    # A place without its date, both kinds of place at once, a date for a type that has none.
    '{"tenant_id": "t1", "type": "christmas", "at": "2026-12-18T00:00:00Z", "after": "c1"}',
    '{"tenant_id": "t1", "type": "post_purchase", "at": "2026-12-18T00:00:00Z", "skip": 5}',
    ('{"tenant_id": "t1", "type": "christmas", "at": "2026-12-18T00:00:00Z", "day": "2026-12-18", "after": "c1",'
     ' "skip": 3}'),
    '{"tenant_id": "t1", "type": "appointment_1h", "at": "2026-12-18T00:00:00Z", "day": "2026-12-18"}',
])
def test_a_malformed_job_is_rejected(body):
    with pytest.raises(MalformedJob):
        Job.parse(body)


# --- positions: carrying on after any match yields exactly the rest ---------------------------------

def run(type_, repo, day, after=None, **settings):
    spec = catalog.PER_EVENT[type_]
    automation = AutomationView(type_, {**spec.default_settings(), **settings})
    at = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    return list(matcher_for(type_)(TenantView("t1", {**DEFAULTS, "timezone": "UTC"}), automation,
                                   Occasion(at, day, after=after), repo))


def person(cid, **kw) -> Person:
    kw.setdefault("last_activity_at", "2020-01-01T00:00:00Z")
    return Person(cid, **kw)


def assert_resumes_after_every_match(type_, repo, day, expected, **settings):
    everything = run(type_, repo, day, **settings)
    assert sorted(m.customer_id for m in everything) == sorted(expected)
    assert all(m.position for m in everything)
    assert len({m.position for m in everything}) == len(everything)
    for k, last in enumerate(everything):
        repo.reads = 0
        rest = run(type_, repo, day, after=last.position, **settings)
        assert [(m.customer_id, m.occurrence_key, m.position) for m in rest] == [
            (m.customer_id, m.occurrence_key, m.position) for m in everything[k + 1:]]
        # It reads on from the match, not from the start (nothing else is in these stores).
        assert repo.reads == len(everything) - k - 1


# Unsorted on purpose: the reads answer in their index's order, whatever the order of writing.
IDS = ["m07", "a01", "z|9", "k3", "b", "a|0", "m06"]


@pytest.mark.parametrize("type_", ["christmas", "valentines", "mothers_day"])
def test_everyone_carries_on_after_any_customer(type_):
    repo = FakeRepository([person(cid) for cid in IDS])
    day = matcher_for(type_).__globals__["send_day"](2026, TenantView("t1", {**DEFAULTS, "country": "US"}))
    assert_resumes_after_every_match(type_, repo, day, IDS)


@pytest.mark.parametrize("type_", ["birthday", "anniversary"])
def test_a_month_day_carries_on_after_any_customer_across_feb_28_and_29(type_):
    # 2027 has no Feb 29: Feb 28 reads the 02-28 and the 02-29 index keys, one after the other.
    people = [person(cid, **{type_: md}) for cid, md in (
        ("z1", "1990-02-28"), ("a1", "--02-29"), ("m|1", "2000-02-29"), ("b1", "--02-28"), ("c1", "1990-03-01"),
        ("a2", "1991-02-28"))]
    assert_resumes_after_every_match(type_, FakeRepository(people), date(2027, 2, 28), ["z1", "a1", "m|1", "b1", "a2"])


def test_reengagement_carries_on_after_any_customer_among_equal_instants_and_clamped_dates():
    # Nov 28, 29 and 30 + 3 months are all Feb 28 2027 (a month's end clamps): three lapse dates, read
    # in one range; and customers imported together share their last-activity instant.
    people = [person("late1", last_activity_at="2026-11-30T08:00:00Z"),
              person("b", last_activity_at="2026-11-28T00:00:00Z"),
              person("a", last_activity_at="2026-11-28T00:00:00Z"),
              person("c|x", last_activity_at="2026-11-28T00:00:00Z"),
              person("mid", last_activity_at="2026-11-29T12:00:00Z"),
              person("a0", last_activity_at="2026-11-30T08:00:00Z")]
    assert_resumes_after_every_match("reengagement", FakeRepository(people), date(2027, 2, 28),
                                     ["late1", "b", "a", "c|x", "mid", "a0"], months_inactive=3)


@pytest.mark.parametrize("type_,after", [
    ("christmas", None), ("birthday", "07-01|a1"), ("birthday", "garbage"), ("reengagement", "2020-01-01T00:00:00Z|a"),
    ("reengagement", "no bar"), ("birthday", "12-18|"),
])
def test_a_position_the_matcher_does_not_recognise_starts_from_the_beginning(type_, after):
    repo = FakeRepository([person(cid, birthday="1990-12-18", last_activity_at="2026-09-18T03:00:00Z")
                           for cid in IDS])
    day = date(2026, 12, 18)
    assert [m.customer_id for m in run(type_, repo, day, after=after, months_inactive=3)] == sorted(IDS)


def test_the_matchers_that_give_no_position_are_carried_on_by_count():
    """repair_ready_reminder, post_purchase and the appointment reminders read a day's (or a window's)
    records, which stay small; the evaluation carries them on by counting matches."""
    day = date(2026, 6, 10)
    repo = FakeRepository(
        [person("c1")],
        sales=[SaleFact("s1", "c1", "2026-06-09T12:00:00Z")],
        repairs=[RepairFact("r1", "c1", "ready", "2026-06-07T12:00:00Z", "2026-06-01T00:00:00Z")],
        appointments=[AppointmentFact("a1", "c1", "2026-06-10T20:00:00Z", "booked"),
                      AppointmentFact("a2", "c1", "2026-06-10T10:30:00Z", "booked")])
    for type_ in ("post_purchase", "repair_ready_reminder", "appointment_24h", "appointment_1h"):
        matches = run(type_, repo, day, days_after=3)
        assert len(matches) == 1 and matches[0].position is None, type_


def test_a_position_is_not_part_of_what_a_match_is():
    repo = FakeRepository([person("c1", birthday="1990-12-18")])
    [match] = run("birthday", repo, date(2026, 12, 18))
    assert match.position == "12-18|c1"
    assert match == type(match)(match.customer_id, match.occurrence_key, match.day, match.person,
                                trigger=match.trigger)


def test_the_evaluate_function_may_put_its_continuation_on_the_evaluations_queue():
    from infra.permissions import GRANTS

    assert set(GRANTS["evaluate"].sends_to) == {"sends", "evaluations"}

"""Segments' rules and their reading of members (docs/behaviour.md section 10), over the in-memory repository."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.timeutil import to_iso
from chalicelib.core.values import Profile, TenantView
from chalicelib.matchers.segment import count, counts, members
from chalicelib.rules.segments import (
    BUILT_IN,
    BUILT_IN_IDS,
    Moment,
    is_member,
    parse_filter,
    plan,
)
from tests.segment_strategies import TAGS
from tests.segment_strategies import filters as segment_filters
from tests.unit.fakes import FakeRepository

SYDNEY = "Australia/Sydney"
#: 10:00 on 10 June 2026 in Sydney (00:00 UTC).
AT = datetime(2026, 6, 10, 0, 0, tzinfo=timezone.utc)


def sydney(text: str) -> str:
    """A stored instant from a Sydney wall-clock time."""
    return to_iso(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(SYDNEY)))


def person(customer_id: str = "c1", **fields) -> Profile:
    return Profile(customer_id, **{"created_at": "2024-01-01T00:00:00Z", "last_activity_at": "2024-01-01T00:00:00Z",
                                   **fields})


def member(conditions: dict, profile: Profile, at: datetime = AT, tz: str = SYDNEY) -> bool:
    return is_member(conditions, profile, Moment(at, tz))


# --- the filter as a request gives it -------------------------------------------------------------

@pytest.mark.parametrize(("value", "field"), [
    ("vip", "filter"),
    ({"nope": True}, "filter.nope"),
    ({"vip": "true"}, "filter.vip"),
    ({"vip": 1}, "filter.vip"),
    ({"tags_any": "gold"}, "filter.tags_any"),
    ({"tags_any": []}, "filter.tags_any"),
    ({"tags_all": ["gold", 3]}, "filter.tags_all[1]"),
    ({"tags_none": ["x" * 51]}, "filter.tags_none[0]"),
    ({"interests_any": ["pearls\n"]}, "filter.interests_any[0]"),
    ({"points_min": -1}, "filter.points_min"),
    ({"points_max": 1.5}, "filter.points_max"),
    ({"points_min": 10, "points_max": 5}, "filter.points_max"),
    ({"inactive_days_min": 0}, "filter.inactive_days_min"),
    ({"active_within_days": 3651}, "filter.active_within_days"),
    ({"created_within_days": "30"}, "filter.created_within_days"),
    ({"purchased_within_days": True}, "filter.purchased_within_days"),
    ({"birthday_month": 13}, "filter.birthday_month"),
    ({"anniversary_month": 0}, "filter.anniversary_month"),
    ({"has_email": "yes"}, "filter.has_email"),
    ({"has_phone": None, "consent_sms": 0}, "filter.consent_sms"),
    ({"consent_email": []}, "filter.consent_email"),
])
def test_an_unknown_condition_or_a_value_of_the_wrong_type_is_refused_naming_it(value, field):
    with pytest.raises(ValidationFailed) as refused:
        parse_filter(value)
    assert refused.value.field == field


def test_a_filter_keeps_its_conditions_and_an_empty_one_is_everyone():
    assert parse_filter({}) == {}
    assert parse_filter({"tags_any": ["Gold", "gold"], "vip": False, "points_min": 5, "points_max": 5,
                         "birthday_month": 2}) == {"tags_any": ["Gold"], "vip": False, "points_min": 5,
                                                   "points_max": 5, "birthday_month": 2}
    assert is_member({}, person(), Moment(AT, SYDNEY))


# --- conditions ------------------------------------------------------------------------------------

def test_tags_and_interests_conditions_compare_without_regard_to_case():
    p = person(tags=("Gold", "walk-in"), interests=("Pearls",))
    assert member({"tags_any": ["GOLD", "silver"]}, p)
    assert member({"tags_all": ["gold", "WALK-IN"]}, p)
    assert not member({"tags_all": ["gold", "silver"]}, p)
    assert member({"tags_none": ["silver"]}, p) and not member({"tags_none": ["gold"]}, p)
    assert member({"interests_any": ["pearls"]}, p) and not member({"interests_any": ["gold"]}, p)


def test_vip_is_the_tag_in_any_case():
    assert member({"vip": True}, person(tags=("vIp",)))
    assert member({"vip": False}, person(tags=("gold",)))
    assert not member({"vip": True}, person())


def test_points_bounds_are_inclusive_and_no_points_is_zero():
    assert member({"points_min": 0, "points_max": 0}, person())
    assert member({"points_min": 100, "points_max": 100}, person(points=100))
    assert not member({"points_min": 101}, person(points=100))


def test_contacts_and_consent_conditions_say_whether_they_hold():
    reachable = person(email="a@b.example", consent_email=True)
    assert member({"has_email": True, "has_phone": False, "consent_email": True, "consent_sms": False}, reachable)
    assert not member({"has_phone": True}, reachable)
    assert not member({"consent_email": False}, reachable)


def test_inactive_counts_local_dates_so_activity_on_the_90th_date_before_today_is_inactive():
    # Today in Sydney is 10 June; 90 dates before it is 12 March.
    assert member({"inactive_days_min": 90}, person(last_activity_at=sydney("2026-03-12T23:59:59")))
    assert not member({"inactive_days_min": 90}, person(last_activity_at=sydney("2026-03-13T00:00:00")))
    # In UTC the last instant of 12 March is 11 hours later (Sydney keeps daylight time in March).
    assert member({"inactive_days_min": 90}, person(last_activity_at="2026-03-12T23:59:59Z"), tz="UTC")
    assert not member({"inactive_days_min": 90}, person(last_activity_at="2026-03-12T23:59:59Z"))


def test_within_days_means_the_last_n_local_dates_today_included():
    for condition, attribute in (("created_within_days", "created_at"), ("active_within_days", "last_activity_at"),
                                 ("purchased_within_days", "last_purchase_at")):
        assert member({condition: 30}, person(**{attribute: sydney("2026-05-12T00:00:00")}))
        assert not member({condition: 30}, person(**{attribute: sydney("2026-05-11T23:59:59")}))
        assert member({condition: 1}, person(**{attribute: sydney("2026-06-10T23:59:59")}))
        assert not member({condition: 1}, person(**{attribute: sydney("2026-06-11T00:00:00")}))
    assert not member({"purchased_within_days": 3650}, person())


def test_a_month_condition_reads_the_month_of_a_date_with_or_without_its_year():
    assert member({"birthday_month": 2}, person(birthday="--02-29"))
    assert member({"birthday_month": 2}, person(birthday="1992-02-29"))
    assert not member({"birthday_month": 3}, person(birthday="1992-02-29"))
    assert member({"anniversary_month": 12}, person(anniversary="2001-12-24"))
    assert not member({"anniversary_month": 12}, person())


days = st.integers(1, 400)
instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 6, 10, 23),
                        timezones=st.just(timezone.utc)).map(to_iso)


@given(days, instants, st.sampled_from(["UTC", SYDNEY, "America/Los_Angeles", "Pacific/Kiritimati"]))
def test_active_within_n_days_is_exactly_not_inactive_for_n_days_for_activity_up_to_today(n, activity, tz):
    moment = Moment(AT, tz)
    if activity > moment.within(1)[1]:
        return
    p = person(last_activity_at=activity)
    assert is_member({"active_within_days": n}, p, moment) is not is_member({"inactive_days_min": n}, p, moment)


# --- built-in segments --------------------------------------------------------------------------

def test_the_built_in_segments_in_order():
    assert [b.segment_id for b in BUILT_IN] == ["vip", "inactive_90", "birthday_this_month", "new_30"]


def test_birthday_this_month_is_the_stores_month_at_the_instant_asked():
    # 31 January 14:00 UTC is already 1 February in Sydney.
    at = datetime(2026, 1, 31, 14, 0, tzinfo=timezone.utc)
    feb29 = person(birthday="--02-29")
    for tz, expected in ((SYDNEY, True), ("UTC", False)):
        moment = Moment(at, tz)
        assert is_member(BUILT_IN_IDS["birthday_this_month"].filter_on(moment.today), feb29, moment) is expected


def test_new_30_and_inactive_90_are_their_conditions():
    today = Moment(AT, SYDNEY).today
    assert BUILT_IN_IDS["new_30"].filter_on(today) == {"created_within_days": 30}
    assert BUILT_IN_IDS["inactive_90"].filter_on(today) == {"inactive_days_min": 90}
    assert BUILT_IN_IDS["vip"].filter_on(today) == {"vip": True}


# --- the plan: the smallest read that holds every member ---------------------------------------

@pytest.mark.parametrize(("conditions", "index"), [
    ({}, "all"),
    ({"vip": False, "tags_any": ["gold"], "purchased_within_days": 30}, "all"),
    ({"vip": True, "inactive_days_min": 90}, "vip"),
    ({"vip": True, "birthday_month": 3}, "birthday"),
    ({"birthday_month": 3, "created_within_days": 7}, "created"),
    ({"anniversary_month": 3, "inactive_days_min": 90}, "anniversary"),
    ({"active_within_days": 30, "vip": True}, "last_activity"),
    ({"inactive_days_min": 90}, "last_activity"),
])
def test_the_plan_reads_the_most_selective_indexed_condition(conditions, index):
    assert plan(conditions, Moment(AT, SYDNEY)).read.name == index


# --- members through the repository, against the predicate over everyone --------------------------

month_days = st.dates(min_value=datetime(2000, 1, 1).date(), max_value=datetime(2000, 12, 31).date())
profiles = st.builds(
    lambda n, tags, interests, points, created, activity, purchase, birthday, anniversary, email, phone, ce, cs:
    Profile(f"c{n:03d}", email=email, phone=phone, consent_email=ce, consent_sms=cs, birthday=birthday,
            anniversary=anniversary, last_activity_at=max(created, activity), tags=tuple(dict.fromkeys(tags)),
            interests=tuple(interests), points=points, created_at=created, last_purchase_at=purchase),
    st.integers(0, 999), st.lists(st.sampled_from(TAGS), max_size=3), st.lists(st.sampled_from(["Pearls", "gold"]),
                                                                             max_size=2),
    st.sampled_from([0, 10, 500]), instants, instants, st.none() | instants,
    st.none() | month_days.map(lambda d: d.strftime("--%m-%d")) | month_days.map(lambda d: d.strftime("1990-%m-%d")),
    st.none() | month_days.map(lambda d: d.strftime("2001-%m-%d")),
    st.none() | st.just("a@b.example"), st.none() | st.just("+61400000000"), st.booleans(), st.booleans())
stores = st.lists(profiles, max_size=40, unique_by=lambda p: p.customer_id)
filters = segment_filters(days)
built_ins = st.sampled_from(BUILT_IN).map(lambda b: b.filter_on(Moment(AT, SYDNEY).today))
zones = st.sampled_from(["UTC", SYDNEY, "America/New_York"])


def everyone(repo: FakeRepository, conditions: dict, tz: str) -> list[str]:
    return sorted(p.customer_id for p in repo.people if is_member(conditions, p, Moment(AT, tz)))


@settings(max_examples=300)
@given(stores, filters | built_ins, zones)
def test_the_members_read_are_exactly_the_customers_the_predicate_admits(people, conditions, tz):
    repo = FakeRepository(people=people)
    found = [m.profile.customer_id for m in members(TenantView("t1", {"timezone": tz}), conditions, AT, repo)]
    assert len(found) == len(set(found))
    assert sorted(found) == everyone(repo, conditions, tz)


@settings(max_examples=200)
@given(stores, filters | built_ins, zones, st.integers(1, 5))
def test_reading_page_by_page_from_each_position_gives_the_members_once_in_the_same_order(people, conditions, tz,
                                                                                           page):
    repo = FakeRepository(people=people)
    tenant = TenantView("t1", {"timezone": tz})
    whole = [m.profile.customer_id for m in members(tenant, conditions, AT, repo)]
    paged, after = [], None
    while True:
        got = []
        for m in members(tenant, conditions, AT, repo, after=after):
            got.append(m)
            if len(got) == page:
                break
        paged += [m.profile.customer_id for m in got]
        if len(got) < page:
            break
        after = got[-1].position
    assert paged == whole


def test_an_index_read_reads_only_what_it_may_admit():
    people = [person(f"c{n:02d}", tags=("VIP",) if n < 3 else ()) for n in range(30)]
    repo = FakeRepository(people=people)
    assert len(list(members(TenantView("t1", {"timezone": SYDNEY}), {"vip": True}, AT, repo))) == 3
    assert repo.reads == 3


def test_a_position_of_another_read_starts_from_the_first_member():
    people = [person(f"c{n}", tags=("VIP",)) for n in range(3)]
    tenant = TenantView("t1", {"timezone": SYDNEY})
    assert [m.profile.customer_id for m in members(tenant, {"vip": True}, AT, FakeRepository(people=people),
                                                   after="birthday|02-29|c0")] == ["c0", "c1", "c2"]
    assert [m.profile.customer_id for m in members(tenant, {"vip": True}, AT, FakeRepository(people=people),
                                                   after="vip||c0")] == ["c1", "c2"]


@settings(max_examples=100)
@given(stores, st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), filters | built_ins, max_size=4), zones)
def test_the_counts_of_a_list_are_each_segments_members(people, segments, tz):
    repo = FakeRepository(people=people)
    tenant = TenantView("t1", {"timezone": tz})
    assert counts(tenant, segments, AT, repo) == {
        segment_id: len(everyone(repo, conditions, tz)) for segment_id, conditions in segments.items()}


def test_the_segments_no_index_serves_share_one_read_of_the_base():
    repo = FakeRepository(people=[person(f"c{n}", points=n) for n in range(10)])
    tenant = TenantView("t1", {"timezone": SYDNEY})
    found = counts(tenant, {"a": {"points_min": 5}, "b": {"points_max": 2}, "c": {"has_email": False}}, AT, repo)
    assert found == {"a": 5, "b": 3, "c": 10}
    assert repo.reads == 10 and repo.counted == 0


def test_a_segment_its_read_holds_exactly_is_counted_without_handing_its_customers_over():
    people = [person(f"c{n}", tags=("VIP",) if n < 4 else (), birthday="--06-01" if n % 2 else None)
              for n in range(10)]
    tenant = TenantView("t1", {"timezone": SYDNEY})
    built_in = {b.segment_id: b.filter_on(Moment(AT, SYDNEY).today) for b in BUILT_IN}
    repo = FakeRepository(people=people)
    assert counts(tenant, {**built_in, "everyone": {}}, AT, repo) == {
        "vip": 4, "inactive_90": 10, "birthday_this_month": 5, "new_30": 0, "everyone": 10}
    # One count per read: the VIP index, last activity, the 30 month-days of June, creation, the partition.
    assert repo.counted == 1 + 1 + 30 + 1 + 1
    assert count(tenant, {"vip": True, "has_email": False}, AT, repo) == 4 and repo.counted == 34

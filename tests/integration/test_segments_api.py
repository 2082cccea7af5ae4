"""Segments through the API (docs/behaviour.md section 10): built-in and custom, counts now, members a page at a
time, validation, roles and tenant isolation; and the members the API answers are exactly the customers the
segment's predicate admits, read independently through `GET /customers`."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chalicelib.core.timeutil import local_date, to_iso, zone
from chalicelib.core.values import Profile
from chalicelib.rules.auth import ROLES
from chalicelib.rules.segments import BUILT_IN_IDS, Moment, is_member, parse_filter
from chalicelib.services.paging import encode_cursor
from tests.segment_strategies import TAGS
from tests.segment_strategies import filters as segment_filters

BUILT_IN = ["vip", "inactive_90", "birthday_this_month", "new_30"]
SYDNEY = "Australia/Sydney"


def now() -> datetime:
    return datetime.now(timezone.utc)


def ago(days: float) -> str:
    return to_iso(now() - timedelta(days=days))


def segment_ids(api) -> list[str]:
    return [s["segment_id"] for s in api.get("/segments").json["segments"]]


def counts(api) -> dict[str, int]:
    return {s["segment_id"]: s["count"] for s in api.get("/segments").json["segments"]}


def all_members(api, segment_id: str, limit: int = 200) -> list[dict]:
    found, cursor = [], None
    while True:
        page = api.get(f"/segments/{segment_id}/members?limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert page.status == 200, page
        found += page.json["members"]
        cursor = page.json["next_cursor"]
        if cursor is None:
            return found


# --- the list and the built-in segments ---------------------------------------------------------

def test_a_new_store_lists_the_four_built_in_segments_with_nobody_in_them(owner):
    listed = owner.get("/segments").json["segments"]
    assert [s["segment_id"] for s in listed] == BUILT_IN
    assert all(s["built_in"] and s["count"] == 0 and s["name"] and s["description"] for s in listed)


def test_the_built_in_segments_count_the_stores_customers_now(owner):
    assert owner.patch("/settings", {"timezone": SYDNEY}).status == 200
    this_month = local_date(now(), SYDNEY).month
    other_month = this_month % 12 + 1
    owner.put("/customers/vip", {"tags": ["vip"], "created_at": ago(400)})
    owner.put("/customers/new", {"is_vip": True, "created_at": ago(2)})
    owner.put("/customers/idle", {"birthday": f"--{this_month:02d}-01", "created_at": ago(120)})
    owner.put("/customers/busy", {"birthday": f"1990-{other_month:02d}-01", "created_at": ago(120)})
    owner.put("/sales/s1", {"customer_id": "busy", "completed_at": ago(1)})
    assert counts(owner) == {"vip": 2, "inactive_90": 2, "birthday_this_month": 1, "new_30": 1}
    listed = {s["segment_id"]: s for s in owner.get("/segments").json["segments"]}
    assert listed["birthday_this_month"]["filter"] == {"birthday_month": this_month}
    assert [m["customer_id"] for m in all_members(owner, "inactive_90")] == ["vip", "idle"]   # by last activity
    assert owner.get("/segments/vip").json == {**listed["vip"], "count": 2}


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_a_built_in_segment_cannot_be_changed_or_deleted(owner, method):
    response = owner.call(method, "/segments/vip", {"name": "Mine"} if method == "PATCH" else None)
    assert response.status == 409 and response.json["error"]["code"] == "conflict"
    assert segment_ids(owner) == BUILT_IN


# --- custom segments ----------------------------------------------------------------------------

def test_a_custom_segment_is_created_listed_after_the_built_in_ones_changed_and_deleted(owner):
    owner.put("/customers/c1", {"tags": ["Gold"], "points_balance": 500, "email": "c1@mail.example"})
    owner.put("/customers/c2", {"tags": ["gold"], "points_balance": 50})
    made = owner.post("/segments", {"name": "Gold spenders", "filter": {"tags_any": ["GOLD"], "points_min": 100}})
    assert made.status == 201, made
    segment = made.json
    assert segment["segment_id"].startswith("seg_") and not segment["built_in"]
    assert segment["filter"] == {"tags_any": ["GOLD"], "points_min": 100} and segment["count"] == 1
    assert segment["created_at"] and segment["updated_by"]
    second = owner.post("/segments", {"name": "Everyone", "filter": {}}).json
    assert segment_ids(owner) == BUILT_IN + [segment["segment_id"], second["segment_id"]]
    assert counts(owner)[second["segment_id"]] == 2

    changed = owner.patch(f"/segments/{segment['segment_id']}", {"filter": {"tags_all": ["gold"]}})
    assert changed.status == 200 and changed.json["name"] == "Gold spenders" and changed.json["count"] == 2
    assert owner.patch(f"/segments/{segment['segment_id']}", {"name": "Gold"}).json["filter"] == {"tags_all": ["gold"]}
    assert owner.get(f"/segments/{segment['segment_id']}").json["name"] == "Gold"

    assert owner.delete(f"/segments/{segment['segment_id']}").status == 204
    assert owner.get(f"/segments/{segment['segment_id']}").status == 404
    assert owner.delete(f"/segments/{segment['segment_id']}").status == 404
    assert segment_ids(owner) == BUILT_IN + [second["segment_id"]]


@pytest.mark.parametrize(("body", "field"), [
    ({"filter": {}}, "name"),
    ({"name": "X"}, "filter"),
    ({"name": "", "filter": {}}, "name"),
    ({"name": "x" * 101, "filter": {}}, "name"),
    ({"name": "Line\nbreak", "filter": {}}, "name"),
    ({"name": "X", "filter": {}, "colour": "red"}, "colour"),
    ({"name": "X", "filter": []}, "filter"),
    ({"name": "X", "filter": {"spend_min": 10}}, "filter.spend_min"),
    ({"name": "X", "filter": {"vip": "yes"}}, "filter.vip"),
    ({"name": "X", "filter": {"tags_any": ["gold", None]}}, "filter.tags_any[1]"),
    ({"name": "X", "filter": {"birthday_month": 0}}, "filter.birthday_month"),
    ({"name": "X", "filter": {"inactive_days_min": 1.5}}, "filter.inactive_days_min"),
    ({"name": "X", "filter": {"points_min": 9, "points_max": 1}}, "filter.points_max"),
])
def test_a_malformed_segment_is_a_400_naming_the_field_and_nothing_is_stored(owner, body, field):
    response = owner.post("/segments", body)
    assert response.status == 400, response
    assert response.error_field == field
    assert segment_ids(owner) == BUILT_IN


@pytest.mark.parametrize("role", ROLES)
def test_a_filters_count_is_the_count_its_segment_would_have_and_nothing_is_stored(client_for, owner, tenant, role):
    owner.put("/customers/c1", {"tags": ["Gold"], "points_balance": 500})
    owner.put("/customers/c2", {"tags": ["gold"], "points_balance": 50})
    owner.put("/customers/c3", {"points_balance": 900})
    api = client_for(tenant, role)
    conditions = {"tags_any": ["GOLD"], "points_min": 100}
    answered = api.post("/segments/count", {"filter": conditions})
    assert answered.status == 200, answered
    assert answered.json == {"filter": conditions, "count": 1}
    assert api.post("/segments/count", {"filter": {}}).json["count"] == 3
    assert segment_ids(owner) == BUILT_IN
    made = owner.post("/segments", {"name": "Gold", "filter": conditions}).json
    assert made["count"] == answered.json["count"]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "filter"), ({"filter": []}, "filter"), ({"filter": {"spend_min": 1}}, "filter.spend_min"),
    ({"filter": {"points_min": 9, "points_max": 1}}, "filter.points_max"), ({"filter": {}, "name": "X"}, "name"),
])
def test_a_malformed_filter_to_count_is_a_400_naming_the_field(owner, body, field):
    response = owner.post("/segments/count", body)
    assert response.status == 400 and response.error_field == field, response


@pytest.mark.parametrize(("body", "field"), [
    ({"name": None}, "name"), ({"filter": None}, "filter"), ({"filter": {"nope": 1}}, "filter.nope"),
    ({"built_in": True}, "built_in"),
])
def test_a_malformed_change_is_a_400_naming_the_field_and_changes_nothing(owner, body, field):
    segment = owner.post("/segments", {"name": "Mine", "filter": {"vip": True}}).json
    response = owner.patch(f"/segments/{segment['segment_id']}", body)
    assert response.status == 400 and response.error_field == field, response
    assert owner.get(f"/segments/{segment['segment_id']}").json == segment


def test_unknown_or_malformed_segment_ids_are_404_or_400(owner):
    assert owner.get("/segments/seg_missing").status == 404
    assert owner.get("/segments/seg_missing/members").status == 404
    assert owner.patch("/segments/seg_missing", {"name": "X"}).status == 404
    assert owner.get("/segments/bad%20id").status == 400


# --- members ------------------------------------------------------------------------------------

def test_members_come_a_page_at_a_time_with_what_the_list_shows(owner):
    for n in range(7):
        owner.put(f"/customers/m{n}", {"first_name": f"M{n}", "last_name": "Lee" if n else None,
                                       "email": f"m{n}@mail.example", "phone": f"+6140000000{n}",
                                       "tags": ["VIP"] if n % 2 else ["regular"]})
    segment = owner.post("/segments", {"name": "All", "filter": {}}).json["segment_id"]
    first = owner.get(f"/segments/{segment}/members?limit=3").json
    assert [m["customer_id"] for m in first["members"]] == ["m0", "m1", "m2"]
    assert first["members"][1] == {"customer_id": "m1", "name": "M1 Lee", "email": "m1@mail.example",
                                   "phone": "+61400000001", "vip": True,
                                   "last_activity_at": owner.get("/customers/m1").json["last_activity_at"]}
    assert first["members"][0]["name"] == "M0" and first["members"][0]["vip"] is False
    second = owner.get(f"/segments/{segment}/members?limit=3&cursor={first['next_cursor']}").json
    third = owner.get(f"/segments/{segment}/members?limit=3&cursor={second['next_cursor']}").json
    assert [m["customer_id"] for m in second["members"] + third["members"]] == ["m3", "m4", "m5", "m6"]
    assert third["next_cursor"] is None
    assert [m["customer_id"] for m in all_members(owner, "vip", limit=1)] == ["m1", "m3", "m5"]
    assert owner.get(f"/segments/{segment}/members").json["next_cursor"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=ten", "cursor=%25%25%25", "cursor=dmlwfHw",
                                   "cursor=" + "QUFB" * 80])
def test_a_malformed_page_request_is_a_400(owner, query):
    response = owner.get(f"/segments/vip/members?{query}")
    assert response.status == 400, response
    assert response.error_field in ("limit", "cursor")


# --- roles and tenants --------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_owners_and_managers_write_segments_and_every_role_reads_them(client_for, owner, tenant, role):
    owner.put("/customers/c1", {"tags": ["VIP"]})
    mine = owner.post("/segments", {"name": "Mine", "filter": {"vip": True}}).json["segment_id"]
    api = client_for(tenant, role)
    assert api.get("/segments").status == 200
    assert api.get(f"/segments/{mine}").json["count"] == 1
    assert [m["customer_id"] for m in api.get(f"/segments/{mine}/members").json["members"]] == ["c1"]
    writes = [api.post("/segments", {"name": "Theirs", "filter": {}}),
              api.patch(f"/segments/{mine}", {"name": "Renamed"}), api.delete(f"/segments/{mine}")]
    if role in ("owner", "manager"):
        assert [w.status for w in writes] == [201, 200, 204]
    else:
        assert [w.status for w in writes] == [403, 403, 403]
        assert owner.get(f"/segments/{mine}").json["name"] == "Mine"


def test_one_store_never_sees_or_counts_anothers_segments_or_customers(client_for, owner):
    owner.put("/customers/c1", {"tags": ["VIP"]})
    mine = owner.post("/segments", {"name": "Mine", "filter": {}}).json["segment_id"]
    other = client_for(f"t-{uuid.uuid4().hex[:12]}")
    assert segment_ids(other) == BUILT_IN
    assert counts(other) == dict.fromkeys(BUILT_IN, 0)
    assert other.get("/segments/vip/members").json["members"] == []
    for response in (other.get(f"/segments/{mine}"), other.get(f"/segments/{mine}/members"),
                     other.patch(f"/segments/{mine}", {"name": "Theirs"}), other.delete(f"/segments/{mine}")):
        assert response.status == 404 and response.error_field == "segment_id", response
    assert [m["customer_id"] for m in owner.get("/segments/vip/members").json["members"]] == ["c1"]
    assert owner.get(f"/segments/{mine}").json["name"] == "Mine" and counts(owner)[mine] == 1


# --- the API's members are the predicate's: a brute-force reading of the same customers ---------

def profile_of(customer: dict) -> Profile:
    """A customer as `GET /customers` shows them, as the predicate reads them."""
    consent = customer.get("consent") or {}
    return Profile(customer["customer_id"], first_name=customer.get("first_name"), last_name=customer.get("last_name"),
                   email=customer.get("email"), phone=customer.get("phone"),
                   consent_email=bool(consent.get("email")), consent_sms=bool(consent.get("sms")),
                   birthday=customer.get("birthday"), anniversary=customer.get("anniversary"),
                   last_activity_at=customer["last_activity_at"], tags=tuple(customer.get("tags") or ()),
                   interests=tuple(customer.get("interests") or ()), points=customer.get("points_balance", 0),
                   created_at=customer["created_at"], last_purchase_at=customer.get("last_purchase_at"))


def everyone(api) -> list[Profile]:
    found, cursor = [], None
    while True:
        page = api.get("/customers?limit=200" + (f"&cursor={cursor}" if cursor else "")).json
        found += [profile_of(c) for c in page["customers"]]
        if not (cursor := page["next_cursor"]):
            return found


def truth(people: list[Profile], conditions: dict, tz: str) -> list[str] | None:
    """The members the predicate admits at this instant, or None if the store's date changes meanwhile."""
    before = now()
    admitted = sorted(p.customer_id for p in people if is_member(parse_filter(conditions), p, Moment(before, tz)))
    return admitted if local_date(now(), tz) == local_date(before, tz) else None


days_ago = st.floats(0, 500)
customers = st.fixed_dictionaries({"created": days_ago}, optional={
    "tags": st.lists(st.sampled_from(TAGS), max_size=3),
    "is_vip": st.booleans(),
    "interests": st.lists(st.sampled_from(["Pearls", "gold"]), max_size=2),
    "points_balance": st.sampled_from([0, 10, 500]),
    "birthday": st.dates().map(lambda d: d.strftime("--%m-%d")),
    "anniversary": st.dates().map(lambda d: d.strftime("2001-%m-%d")),
    "email": st.just("a@mail.example"),
    "phone": st.just("+61400000000"),
    "consent": st.fixed_dictionaries({"email": st.booleans(), "sms": st.booleans()}),
    "sale": days_ago,
})
days = st.sampled_from([1, 7, 30, 90, 365])
filters = segment_filters(days).filter(lambda f: f.get("points_min", 0) <= f.get("points_max", 10**9))


def write(api, customer_id: str, customer: dict) -> None:
    body = {k: val for k, val in customer.items() if k not in ("created", "sale")}
    assert api.put(f"/customers/{customer_id}", {**body, "created_at": ago(customer["created"])}).status == 200
    if "sale" in customer:
        assert api.put(f"/sales/s-{customer_id}", {"customer_id": customer_id,
                                                    "completed_at": ago(customer["sale"])}).status == 200


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=st.lists(customers, max_size=8), conditions=st.lists(filters, min_size=1, max_size=3),
       tz=st.sampled_from(["UTC", SYDNEY, "America/New_York"]))
def test_the_apis_members_and_counts_are_the_customers_the_predicate_admits(client_for, people, conditions, tz):
    api = client_for(f"t-{uuid.uuid4().hex[:12]}")
    assert api.patch("/settings", {"timezone": tz}).status == 200
    for n, customer in enumerate(people):
        write(api, f"c{n}", customer)
    base = everyone(api)
    mine = [api.post("/segments", {"name": f"S{n}", "filter": f}).json["segment_id"] for n, f in enumerate(conditions)]
    listed = counts(api)
    today = local_date(now(), tz)
    wanted = {**{b: BUILT_IN_IDS[b].filter_on(today) for b in BUILT_IN}, **dict(zip(mine, conditions))}
    for segment_id, segment_filter in wanted.items():
        expected = truth(base, segment_filter, tz)
        assume(expected is not None)
        found = [m["customer_id"] for m in all_members(api, segment_id, limit=3)]
        assert len(found) == len(set(found))
        assert sorted(found) == expected, (segment_id, segment_filter)
        assert listed[segment_id] == len(expected) == api.get(f"/segments/{segment_id}").json["count"]


def test_inactive_90_counts_the_stores_own_dates(client_for):
    """The last minute of the 90th date before today is inactive and the first of the 89th is not, in a store ahead
    of UTC and in one behind it."""
    at = now()
    for tz in (SYDNEY, "Pacific/Honolulu"):
        api = client_for(f"t-{uuid.uuid4().hex[:12]}")
        api.patch("/settings", {"timezone": tz})
        day = local_date(at, tz) - timedelta(days=90)
        start = datetime.combine(day, datetime.min.time(), tzinfo=zone(tz))
        api.put("/customers/edge", {"created_at": to_iso(start + timedelta(days=1))})
        api.put("/customers/in", {"created_at": to_iso(start + timedelta(hours=23, minutes=59))})
        if local_date(now(), tz) != local_date(at, tz):
            pytest.skip("the store's date changed during the test")
        assert [m["customer_id"] for m in all_members(api, "inactive_90")] == ["in"], tz


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.text(max_size=60) | st.builds("|".join, st.lists(
           st.sampled_from(["vip", "all", "birthday", "created", "last_activity", "", "02-29", "c1",
                            "2026-01-01T00:00:00Z", "\x00", "zz"]), max_size=4)),
       segment=st.sampled_from(BUILT_IN + ["seg_missing"]))
def test_any_cursor_is_answered_or_refused_never_a_500(owner, position, segment):
    response = owner.get(f"/segments/{segment}/members?limit=2&cursor={quote(encode_cursor(position))}")
    assert response.status in (200, 400, 404), (position, response)

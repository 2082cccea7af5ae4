"""Finding a customer (docs/behaviour.md, "Finding a customer"): `GET /customers?q=` by the start of a name, the
full name or the email, in any case and without accents, or by digits of the phone number; paged; through search
keys kept in step with every write of the customer."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from bench.emulator import metered
from chalicelib.adapters.models import Customer, CustomerSearch

PEOPLE = {
    "c1": {"first_name": "Leo", "last_name": "Martin", "email": "leo.martin@example.com", "phone": "+61412345678"},
    "c2": {"first_name": "Zoë", "last_name": "Åberg", "email": "zoe@example.org", "phone": "+447700900123"},
    "c3": {"first_name": "Leonie", "last_name": "Adams", "email": "ladams@example.net"},
    "c4": {"first_name": "Mia", "last_name": "Leopold", "email": "MIA@Example.com", "phone": "+61499912345"},
}


def ids(api, text: str, **params) -> list[str]:
    query = "&".join([f"q={quote(text)}", *(f"{k}={quote(str(v))}" for k, v in params.items())])
    answer = api.get(f"/customers?{query}")
    assert answer.status == 200, answer
    return [c["customer_id"] for c in answer.json["customers"]]


@pytest.fixture
def people(owner):
    for customer_id, body in PEOPLE.items():
        assert owner.put(f"/customers/{customer_id}", body).status == 200
    return owner


@pytest.mark.parametrize("text, found", [
    ("leo", {"c1", "c3", "c4"}),          # first names Leo and Leonie, last name Leopold
    ("LEO M", {"c1"}),                     # the full name
    ("leo  martin", {"c1"}),               # runs of spaces are one
    ("martin", {"c1"}),
    ("zoe", {"c2"}),                       # accents do not matter
    ("ZOË ÅB", {"c2"}),
    ("aberg", {"c2"}),
    ("mia@exa", {"c4"}),                   # the email, in any case
    ("ladams@", {"c3"}),
    ("2345", {"c1", "c4"}),                # digits anywhere in the phone number
    ("(61) 412-345", {"c1"}),              # phone punctuation is ignored
    ("+44 7700", {"c2"}),
    ("nobody", set()),
])
def test_a_search_finds_customers_by_the_start_of_a_name_or_email_or_by_phone_digits(people, text, found):
    assert set(ids(people, text)) == found


def test_each_customer_is_answered_once_even_when_found_by_several_keys(people):
    # Leo Martin is found by "leo", "leo martin" and "leo.martin@example.com".
    assert sorted(ids(people, "leo")) == ["c1", "c3", "c4"]
    assert ids(people, "5") == []   # one digit is a text search: no name or email starts with it


def test_pages_of_a_search_hold_every_customer_found_exactly_once(owner):
    for n in range(13):
        assert owner.put(f"/customers/k{n:02d}", {"first_name": "Kim", "last_name": f"Kent{n:02d}",
                                                  "email": f"kim{n}@example.com"}).status == 200
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        answer = owner.get("/customers?q=ki&" + "&".join(f"{k}={quote(str(v))}" for k, v in params.items())).json
        assert len(answer["customers"]) <= 4
        seen += [c["customer_id"] for c in answer["customers"]]
        pages += 1
        cursor = answer["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"k{n:02d}" for n in range(13)] and len(seen) == 13
    assert pages >= 4


def test_an_edit_changes_what_the_customer_is_found_by_and_a_deletion_removes_them(people, tenant):
    assert people.patch("/customers/c1", {"last_name": "Moreau", "phone": "+61400000111"}).status == 200
    assert ids(people, "leo mar") == [] and ids(people, "leo mor") == ["c1"]
    assert "c1" not in ids(people, "2345") and ids(people, "0000111") == ["c1"]
    assert people.put("/customers/c1", {"first_name": "Theo"}).status == 200   # a PUT replaces every field
    assert "c1" not in ids(people, "leo") and ids(people, "theo") == ["c1"] and ids(people, "0000111") == []
    assert people.delete("/customers/c1").status == 204
    assert ids(people, "theo") == []
    # No search key is left behind for a customer that is gone, nor for fields they no longer hold.
    keys = [k.search_key for k in CustomerSearch.query(tenant) if k.customer_id == "c1"]
    assert keys == []


def test_the_search_keys_are_exactly_those_of_the_stored_fields_after_any_write(people, tenant):
    people.patch("/customers/c2", {"email": None, "first_name": "Zoé"})
    people.patch("/customers/c2", {"tags": ["VIP"]})   # a write that changes no searched field
    stored = Customer.get(tenant, "c2")
    keys = {k.search_key.rsplit("#", 1)[0] for k in CustomerSearch.query(tenant) if k.customer_id == "c2"}
    assert keys == set(stored.search_keys()) and "t:zoe" in keys and not any("@" in k for k in keys)


def test_another_tenants_customers_are_never_found(people, client_for, tenant):
    other = client_for(f"{tenant}-other")
    assert other.put("/customers/x1", {"first_name": "Leopold", "phone": "+61412345678"}).status == 200
    assert ids(people, "leopold") == ["c4"] and ids(people, "2345678") == ["c1"]
    assert ids(other, "leo") == ["x1"]


@pytest.mark.parametrize("query, field", [
    ("q=", "q"), ("q=%20%20", "q"), ("q=" + "a" * 101, "q"), ("q=leo&limit=0", "limit"),
    ("q=leo&limit=abc", "limit"), ("q=leo&limit=201", "limit"), ("q=leo&cursor=%25%25", "cursor"),
])
def test_a_bad_search_is_a_400_naming_the_field(people, query, field):
    answer = people.get(f"/customers?{query}")
    assert answer.status == 400 and answer.error_field == field


def test_a_cursor_of_another_search_is_refused(people):
    for n in range(3):
        people.put(f"/customers/l{n}", {"first_name": f"Leon{n}"})
    cursor = people.get("/customers?q=leo&limit=1").json["next_cursor"]
    assert cursor
    answer = people.get(f"/customers?q=mia&cursor={cursor}")
    assert answer.status == 400 and answer.error_field == "cursor"


def test_the_email_look_up_still_works(people):
    assert [c["customer_id"] for c in people.get("/customers?email=mia@example.COM").json["customers"]] == ["c4"]


def test_a_search_reads_only_the_keys_that_start_with_it_and_their_customers(owner):
    for n in range(60):
        owner.put(f"/customers/b{n:02d}", {"first_name": f"Other{n}", "last_name": "Person",
                                           "email": f"other{n}@example.com", "phone": f"+6140000{n:04d}"})
    for n in range(3):
        owner.put(f"/customers/s{n}", {"first_name": "Sasha", "last_name": f"Sample{n}"})
    with metered() as meter:
        assert sorted(ids(owner, "sash")) == ["s0", "s1", "s2"]
    # Three customers each found by two keys (first and full name): six keys and three customers, never the
    # 60 others.
    assert meter.items_read <= 9
    with metered() as meter:
        assert len(ids(owner, "pers", limit=10)) == 10
    # A page of 10 reads at most 2 x 10 + 1 keys and their customers.
    assert meter.items_read <= 2 * 21


def test_a_salesperson_may_search_and_an_unauthenticated_caller_may_not(people, client_for, tenant, gateway):
    assert ids(client_for(tenant, "salesperson"), "leo")
    from tests.integration.conftest import Api
    assert Api(gateway, None).get("/customers?q=leo").status == 401


def test_a_write_over_a_stale_read_fails_as_a_plain_write_would_and_changes_no_key(people, tenant):
    from pynamodb.exceptions import PutError

    from chalicelib.adapters.persistence import is_conditional_failure

    stale = Customer.get(tenant, "c3")
    assert people.patch("/customers/c3", {"first_name": "Lena"}).status == 200
    stale.first_name = "Ottilie"
    with pytest.raises(PutError) as failed:
        stale.save()
    assert is_conditional_failure(failed.value)   # the writers' read-and-retry loops retry it
    assert ids(people, "ottilie") == [] and ids(people, "lena") == ["c3"] and "c3" not in ids(people, "leonie")


def test_concurrent_edits_of_a_name_leave_the_keys_of_the_last_one(people, tenant):
    from concurrent.futures import ThreadPoolExecutor

    names = [f"Name{n}" for n in range(6)]
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda name: people.patch("/customers/c4", {"first_name": name}), names))
    assert all(a.status in (200, 409) for a in answers)
    final = Customer.get(tenant, "c4")
    keys = {k.search_key.rsplit("#", 1)[0] for k in CustomerSearch.query(tenant) if k.customer_id == "c4"}
    assert keys == set(final.search_keys())
    assert ids(people, final.first_name) == ["c4"]

"""No update is lost to a concurrent write; any valid customer reads back as written."""
from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.adapters.models import Customer
from chalicelib.adapters.persistence import get_or_none, mutate
from chalicelib.rules.tags import distinct, is_vip, with_vip


def test_a_concurrent_write_between_read_and_save_is_not_lost(owner, tenant):
    owner.put("/customers/c1", {"first_name": "Ada", "last_name": "Byron"})
    calls = []

    def change(item: Customer) -> Customer:
        if not calls:
            # Another writer changes a different field after we read and before we save.
            other = Customer.get(tenant, "c1")
            other.last_name = "King"
            other.save()
        calls.append(item.version)
        item.first_name = "Augusta"
        return item

    mutate(lambda: get_or_none(Customer, tenant, "c1"), change)
    stored = Customer.get(tenant, "c1")
    assert (stored.first_name, stored.last_name) == ("Augusta", "King")
    assert len(calls) == 2 and calls[1] == calls[0] + 1


# Names are single lines: no control characters, line or paragraph separators, or lone surrogates.
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=100)
customers = st.fixed_dictionaries({}, optional={
    "first_name": names,
    "last_name": names,
    "email": st.from_regex(r"[a-z0-9]{1,20}@[a-z]{1,10}\.(com|au|example)", fullmatch=True),
    "phone": st.from_regex(r"\+61[0-9]{9}", fullmatch=True),
    "birthday": st.dates(min_value=datetime(1900, 1, 1).date()).map(lambda d: d.isoformat())
    | st.dates().map(lambda d: d.strftime("--%m-%d")),
    "tags": st.lists(st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=50),
                     max_size=5, unique=True),
    "is_vip": st.booleans(),
    "points_balance": st.integers(0, 10**9),
    "consent": st.fixed_dictionaries({"email": st.booleans(), "sms": st.booleans()}),
    "app_installed_at": st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                                     timezones=st.just(timezone.utc)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=customers)
def test_any_valid_customer_reads_back_as_written(owner, body):
    put = owner.put("/customers/roundtrip", body)
    assert put.status == 200, put
    got = owner.get("/customers/roundtrip").json
    # As written, except that VIP is a tag (docs/behaviour.md section 7): `is_vip`, when given, adds or removes
    # it, and otherwise follows the tags.
    tags = with_vip(body.get("tags"), body["is_vip"]) if "is_vip" in body else distinct(body.get("tags") or [])
    expected = {k: val for k, val in {**body, "tags": tags, "is_vip": is_vip(tags)}.items() if val != []}
    assert {k: got.get(k) for k in expected} == expected
    # Besides what was written, only fields the server keeps: ids, times, and when consent last changed (per channel too).
    assert not set(got) - set(body) - {"customer_id", "created_at", "updated_at", "last_activity_at",
                                       "consent_updated_at", "consent_updated_by", "consent_channels", "is_vip",
                                       "tags"}

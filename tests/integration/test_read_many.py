"""`persistence.read_many`: items of several tables in one BatchGetItem call per 100 keys."""
from __future__ import annotations

from bench.emulator import metered
from chalicelib.adapters import clients
from chalicelib.adapters.models import Customer, SendLedger, Tenant
from chalicelib.adapters.persistence import Keys, read_many


def test_items_of_several_tables_come_back_in_one_call_per_hundred_keys_and_missing_ones_are_absent(tenant):
    for n in range(120):
        Customer(tenant, f"c{n:03d}", created_at="2026-01-01T00:00:00Z", last_activity_at="2026-01-01T00:00:00Z").save()
    Tenant(tenant, settings={"store_name": "Opal"}, created_at="2026-01-01T00:00:00Z").save()

    with metered() as meter:
        found = read_many(Keys(Customer, {(tenant, f"c{n:03d}") for n in range(130)}),
                          Keys(Tenant, {(tenant,), ("nobody-" + tenant,)}),
                          Keys(SendLedger, {("no-such-send",)}, consistent=True))

    assert sorted(c.customer_id for c in found[Customer]) == [f"c{n:03d}" for n in range(120)]
    assert [t.settings.as_dict() for t in found[Tenant]] == [{"store_name": "Opal"}]
    assert found[SendLedger] == []
    assert meter.calls == {("dynamodb", "BatchGetItem"): 2}


def test_keys_left_unprocessed_are_asked_again(tenant, monkeypatch):
    Tenant(tenant, settings={}, created_at="2026-01-01T00:00:00Z").save()
    real = clients.client("dynamodb")
    asked, waits = [], []

    class Throttled:
        """Answers the first call with every key unprocessed, as DynamoDB does under throttling."""

        def batch_get_item(self, RequestItems):
            asked.append(RequestItems)
            if len(asked) == 1:
                return {"Responses": {}, "UnprocessedKeys": RequestItems}
            return real.batch_get_item(RequestItems=RequestItems)

    monkeypatch.setattr(clients, "client", lambda service: Throttled())
    found = read_many(Keys(Tenant, {(tenant,)}), sleep=waits.append)

    assert [t.tenant_id for t in found[Tenant]] == [tenant]
    assert len(asked) == 2 and asked[0] == asked[1] and len(waits) == 1

"""VIP is one source of truth: the tag `VIP` in any case, with `is_vip` derived on every write; tags and
interests compare without regard to letter case (docs/behaviour.md section 7)."""
from __future__ import annotations

import pytest

from chalicelib.adapters.models import Customer
from chalicelib.sending.unsubscribe import token_for


def vip_ids(tenant: str) -> list[str]:
    return [c.customer_id for c in Customer.vip_index.query(tenant)]


def test_writing_is_vip_true_adds_the_vip_tag_and_puts_the_customer_in_the_vip_index(owner, tenant):
    body = owner.put("/customers/c1", {"first_name": "Ada", "tags": ["gold"], "is_vip": True}).json
    assert body["tags"] == ["gold", "VIP"] and body["is_vip"] is True
    assert vip_ids(tenant) == ["c1"]


def test_a_write_that_sets_only_the_tag_makes_the_customer_vip_in_any_case(owner, tenant):
    assert owner.put("/customers/c1", {"tags": ["vip"]}).json["is_vip"] is True
    assert owner.put("/customers/c2", {"tags": ["walk-in"]}).json["is_vip"] is False
    assert owner.patch("/customers/c2", {"tags": ["Vip", "walk-in"]}).json["is_vip"] is True
    assert vip_ids(tenant) == ["c1", "c2"]


@pytest.mark.parametrize("vip", [False, None])
def test_writing_is_vip_false_or_null_removes_the_tag_in_whatever_case_it_was_written(owner, tenant, vip):
    owner.put("/customers/c1", {"tags": ["vIp", "gold"]})
    body = owner.patch("/customers/c1", {"is_vip": vip}).json
    assert body["tags"] == ["gold"] and body["is_vip"] is False
    assert vip_ids(tenant) == []


def test_removing_the_tag_removes_vip(owner, tenant):
    owner.put("/customers/c1", {"is_vip": True})
    assert owner.patch("/customers/c1", {"tags": None}).json["is_vip"] is False
    assert vip_ids(tenant) == []


def test_a_patch_of_is_vip_keeps_the_other_tags_and_one_of_tags_keeps_vip_only_if_it_holds_it(owner):
    owner.put("/customers/c1", {"tags": ["gold"]})
    assert owner.patch("/customers/c1", {"is_vip": True}).json["tags"] == ["gold", "VIP"]
    assert owner.patch("/customers/c1", {"tags": ["silver"]}).json == {**owner.get("/customers/c1").json,
                                                                        "tags": ["silver"], "is_vip": False}


def test_when_both_are_written_is_vip_decides(owner):
    assert owner.put("/customers/c1", {"tags": ["VIP"], "is_vip": False}).json["is_vip"] is False
    body = owner.patch("/customers/c1", {"tags": ["gold"], "is_vip": True}).json
    assert body["tags"] == ["gold", "VIP"] and body["is_vip"] is True


def test_an_already_vip_tag_in_another_case_is_kept_as_written(owner):
    assert owner.put("/customers/c1", {"tags": ["vip"], "is_vip": True}).json["tags"] == ["vip"]


def test_tags_and_interests_are_kept_as_first_written_without_repeats_in_another_case(owner):
    body = owner.put("/customers/c1", {"tags": ["Gold", "gold", "GOLD", "walk-in"],
                                       "interests": ["Pearls", "pearls"]}).json
    assert body["tags"] == ["Gold", "walk-in"] and body["interests"] == ["Pearls"]


def test_a_put_without_vip_leaves_the_customer_not_vip(owner, tenant):
    owner.put("/customers/c1", {"tags": ["VIP"]})
    body = owner.put("/customers/c1", {"first_name": "Ada"}).json
    assert body["is_vip"] is False and "tags" not in body
    assert vip_ids(tenant) == []


def _stored_before_the_rule(tenant: str, customer_id: str, tags: list[str]) -> None:
    """A customer written before VIP was derived: its tags say VIP, and nothing else does."""
    from chalicelib.adapters import clients

    clients.client("dynamodb").put_item(TableName=Customer.Meta.table_name, Item={
        "tenant_id": {"S": tenant}, "customer_id": {"S": customer_id}, "created_at": {"S": "2025-01-01T00:00:00Z"},
        "last_activity_at": {"S": "2025-01-01T00:00:00Z"}, "tags": {"L": [{"S": t} for t in tags]},
        "email": {"S": f"{customer_id}@mail.example"}, "consent": {"M": {"email": {"BOOL": True}}}})


def test_a_sales_write_of_the_customers_activity_derives_vip_as_the_api_does(owner, tenant):
    _stored_before_the_rule(tenant, "old", ["Vip"])
    assert vip_ids(tenant) == []
    owner.put("/sales/s1", {"customer_id": "old", "completed_at": "2026-01-01T00:00:00Z"})
    item = Customer.get(tenant, "old")
    assert item.is_vip is True and item.last_purchase_at == "2026-01-01T00:00:00Z"
    assert vip_ids(tenant) == ["old"]


def test_the_unsubscribe_link_writes_the_customer_with_its_vip_derived(owner, gateway, tenant):
    from local.api import handle

    _stored_before_the_rule(tenant, "old", ["VIP", "vip"])
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert handle(gateway, "POST", f"/unsubscribe/{token_for(tenant, 'old', 'email')}", form, b"")[0] == 200
    item = Customer.get(tenant, "old")
    assert item.is_vip is True and item.tags == ["VIP"] and vip_ids(tenant) == ["old"]


def test_last_purchase_is_the_latest_sale_and_moves_with_it(owner):
    owner.put("/customers/c1", {"created_at": "2025-01-01T00:00:00Z"})
    assert "last_purchase_at" not in owner.get("/customers/c1").json
    owner.put("/sales/s1", {"customer_id": "c1", "completed_at": "2025-06-01T00:00:00Z"})
    owner.put("/sales/s2", {"customer_id": "c1", "completed_at": "2025-03-01T00:00:00Z"})
    assert owner.get("/customers/c1").json["last_purchase_at"] == "2025-06-01T00:00:00Z"
    owner.put("/customers/c2", {"created_at": "2025-01-01T00:00:00Z"})
    owner.put("/sales/s1", {"customer_id": "c2", "completed_at": "2025-06-01T00:00:00Z"})
    assert owner.get("/customers/c1").json["last_purchase_at"] == "2025-03-01T00:00:00Z"
    assert owner.put("/customers/c1", {"first_name": "Ada"}).json["last_purchase_at"] == "2025-03-01T00:00:00Z"


def test_the_action_test_run_sees_the_tags_a_write_of_is_vip_would_leave(owner):
    owner.put("/customers/c1", {"first_name": "Ada", "email": "ada@example.com", "consent": {"email": True},
                                "tags": ["Vip"]})
    vips = owner.post("/action-automations", {"type": "birthday_add", "enabled": True,
                                              "audience": {"tags_any": ["VIP"]}}).json["automation_id"]

    def fired(change: dict) -> list[str]:
        return owner.post("/action-automations/test-run", {"customer_id": "c1", "change": change}).json["would_fire"]

    assert fired({"birthday": "--05-01"}) == [vips]
    assert fired({"birthday": "--05-01", "is_vip": False}) == []
    owner.patch("/customers/c1", {"is_vip": False})
    assert fired({"birthday": "--05-01", "is_vip": True}) == [vips]
    assert fired({"birthday": "--05-01", "tags": ["vip"]}) == [vips]


# --- customers stored before the derivations: the backfill ----------------------------------------

def _stored_by_an_older_version(tenant: str, customer_id: str, tags: list[str], **raw) -> None:
    """A customer item as a version without the VIP derivation wrote it: tags, no `is_vip`, no index keys."""
    from chalicelib.adapters import clients

    item = {"tenant_id": {"S": tenant}, "customer_id": {"S": customer_id}, "created_at": {"S": "2025-01-01T00:00:00Z"},
            "last_activity_at": {"S": "2025-01-01T00:00:00Z"}, "version": {"N": "1"},
            "tags": {"L": [{"S": t} for t in tags]}, **raw}
    clients.client("dynamodb").put_item(TableName=Customer.Meta.table_name, Item=item)


def test_the_backfill_makes_customers_stored_before_the_derivations_count_and_found_and_rewrites_nothing_twice(
        owner, tenant):
    from chalicelib.services import backfill

    _stored_by_an_older_version(tenant, "old-vip", ["vip", "gold", "Gold"], birthday={"S": "--03-14"},
                                first_name={"S": "Oriane"})
    assert owner.put("/customers/old-plain", {"tags": ["walk-in"]}).status == 200
    assert owner.put("/sales/s1", {"customer_id": "old-plain", "completed_at": "2026-11-30T10:00:00Z"}).status == 200
    _stored_by_an_older_version(tenant, "old-plain", ["walk-in"])     # its sale is older than `last_purchase_at`
    assert vip_ids(tenant) == [] and owner.get("/segments/vip").json["count"] == 0
    assert owner.get("/customers?q=orian").json["customers"] == []       # stored without search keys

    totals = backfill.customers(segments=2)

    assert totals["read"] >= 2 and totals["rewritten"] >= 2
    assert vip_ids(tenant) == ["old-vip"] and owner.get("/segments/vip").json["count"] == 1
    vip = Customer.get(tenant, "old-vip")
    assert (vip.is_vip, vip.tags, vip.birthday_key) == (True, ["vip", "gold"], f"{tenant}#03-14")
    plain = Customer.get(tenant, "old-plain")
    assert (plain.is_vip, plain.last_purchase_at, plain.last_activity_at) == (
        False, "2026-11-30T10:00:00Z", "2026-11-30T10:00:00Z")
    assert [c["customer_id"] for c in owner.get("/customers?q=orian").json["customers"]] == ["old-vip"]
    # Again: everything is up to date, nothing is written.
    assert [backfill.customer(tenant, c) for c in ("old-vip", "old-plain", "gone")] == [False, False, False]
    assert Customer.get(tenant, "old-vip").version == vip.version

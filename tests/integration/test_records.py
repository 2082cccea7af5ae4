"""Customers, sales, repairs and appointments: PUT/PATCH semantics, derived index keys, last activity."""
from __future__ import annotations

from chalicelib.adapters.models import Appointment, Customer, Repair


def test_put_creates_then_replaces_keeping_the_server_set_created_at(owner, tenant):
    first = owner.put("/customers/c1", {"first_name": "Ada", "email": "Ada@Example.com", "tags": ["vip"]}).json
    second = owner.put("/customers/c1", {"first_name": "Ada", "last_name": "Byron"}).json
    assert second["created_at"] == first["created_at"]
    assert "email" not in second and "tags" not in second
    assert second["last_name"] == "Byron"


def test_patch_changes_only_given_fields_and_null_removes(owner):
    owner.put("/customers/c1", {"first_name": "Ada", "email": "ada@example.com", "phone": "+61400000001"})
    body = owner.patch("/customers/c1", {"phone": None, "last_name": "King"}).json
    assert body["first_name"] == "Ada" and body["email"] == "ada@example.com"
    assert body["last_name"] == "King" and "phone" not in body


def test_patch_of_a_missing_customer_is_404(owner):
    assert owner.patch("/customers/nobody", {"first_name": "X"}).status == 404


def test_birthday_and_anniversary_index_keys_follow_the_fields(owner, tenant):
    assert owner.put("/customers/c1", {"birthday": "1992-02-29", "anniversary": "--12-24"}).status == 200
    item = Customer.get(tenant, "c1")
    assert item.birthday_key == f"{tenant}#02-29" and item.anniversary_key == f"{tenant}#12-24"
    owner.patch("/customers/c1", {"birthday": None})
    item = Customer.get(tenant, "c1")
    assert item.birthday_key is None
    assert [c.customer_id for c in Customer.anniversary_index.query(f"{tenant}#12-24")] == ["c1"]
    assert list(Customer.birthday_index.query(f"{tenant}#02-29")) == []


def test_last_activity_is_the_latest_of_creation_sales_and_repairs(owner, tenant):
    owner.put("/customers/c1", {"first_name": "Ada", "created_at": "2025-01-01T00:00:00Z"})
    assert owner.get("/customers/c1").json["last_activity_at"] == "2025-01-01T00:00:00Z"
    owner.put("/sales/s1", {"customer_id": "c1", "completed_at": "2025-06-01T10:00:00+10:00", "total": 250})
    assert owner.get("/customers/c1").json["last_activity_at"] == "2025-06-01T00:00:00Z"
    owner.put("/repairs/r1", {"customer_id": "c1", "status": "intake", "created_at": "2025-07-01T00:00:00Z"})
    assert owner.get("/customers/c1").json["last_activity_at"] == "2025-07-01T00:00:00Z"
    owner.patch("/repairs/r1", {"status": "collected", "collected_at": "2025-08-01T00:00:00Z"})
    assert owner.get("/customers/c1").json["last_activity_at"] == "2025-08-01T00:00:00Z"
    # Moving the sale to another customer takes its activity away from the first.
    owner.put("/customers/c2", {"first_name": "Bo", "created_at": "2024-01-01T00:00:00Z"})
    owner.put("/sales/s2", {"customer_id": "c1", "completed_at": "2025-09-01T00:00:00Z"})
    owner.put("/sales/s2", {"customer_id": "c2", "completed_at": "2025-09-01T00:00:00Z"})
    assert owner.get("/customers/c1").json["last_activity_at"] == "2025-08-01T00:00:00Z"
    assert owner.get("/customers/c2").json["last_activity_at"] == "2025-09-01T00:00:00Z"
    queried = [c.customer_id for c in Customer.last_activity_index.query(
        tenant, Customer.last_activity_at.between("2025-08-01T00:00:00Z", "2025-08-01T23:59:59Z"))]
    assert queried == ["c1"]


def test_a_ready_repair_is_in_the_ready_index_until_collected(owner, tenant):
    owner.put("/customers/c1", {"first_name": "Ada"})
    owner.put("/repairs/r1", {"customer_id": "c1", "status": "ready", "ready_at": "2026-11-10T02:00:00Z"})
    assert [r.repair_id for r in Repair.ready_index.query(tenant)] == ["r1"]
    body = owner.patch("/repairs/r1", {"status": "collected"}).json
    assert body["collected_at"] and body["ready_at"] == "2026-11-10T02:00:00Z"
    assert list(Repair.ready_index.query(tenant)) == []


def test_marking_a_repair_ready_without_a_time_uses_now(owner):
    owner.put("/customers/c1", {"first_name": "Ada"})
    owner.put("/repairs/r1", {"customer_id": "c1", "status": "in_progress"})
    body = owner.patch("/repairs/r1", {"status": "ready"}).json
    assert body["ready_at"] == body["updated_at"]


def test_a_cancelled_or_rescheduled_appointment_leaves_or_moves_in_the_booked_index(owner, tenant):
    owner.put("/customers/c1", {"first_name": "Ada"})
    owner.put("/appointments/a1", {"customer_id": "c1", "starts_at": "2026-12-01T10:00:00+11:00"})
    assert [a.booked_starts_at for a in Appointment.booked_index.query(tenant)] == ["2026-11-30T23:00:00Z"]
    owner.patch("/appointments/a1", {"starts_at": "2026-12-02T10:00:00+11:00"})
    assert [a.booked_starts_at for a in Appointment.booked_index.query(tenant)] == ["2026-12-01T23:00:00Z"]
    owner.patch("/appointments/a1", {"status": "cancelled"})
    assert list(Appointment.booked_index.query(tenant)) == []


def test_records_need_an_existing_customer(owner):
    response = owner.put("/sales/s1", {"customer_id": "ghost", "completed_at": "2026-11-01T10:00:00Z"})
    assert response.status == 404 and response.error_field == "customer_id"


def test_delete_removes_the_customer(owner):
    owner.put("/customers/c1", {"first_name": "Ada"})
    assert owner.delete("/customers/c1").status == 204
    assert owner.get("/customers/c1").status == 404
    assert owner.delete("/customers/c1").status == 404


def test_communications_are_empty_until_the_runner_writes_some_and_paging_is_checked(owner):
    owner.put("/customers/c1", {"first_name": "Ada"})
    assert owner.get("/customers/c1/communications").json == {"communications": [], "next_cursor": None}
    assert owner.get("/customers/c1/communications?limit=0").error_field == "limit"
    assert owner.get("/customers/c1/communications?limit=ten").error_field == "limit"
    assert owner.get("/customers/nobody/communications").status == 404


def test_communications_are_newest_first_and_paged(owner, tenant):
    from chalicelib.adapters.models import Communication, tenant_customer

    owner.put("/customers/c1", {"first_name": "Ada"})
    for n in range(5):
        created = f"2026-11-0{n + 1}T10:00:00Z"
        Communication(tenant_customer(tenant, "c1"), f"{created}#m{n}", tenant_id=tenant, communication_id=f"m{n}",
                      customer_id="c1", created_at=created, channel="email", source="automation",
                      status="sent").save()
    page = owner.get("/customers/c1/communications?limit=3").json
    assert [c["communication_id"] for c in page["communications"]] == ["m4", "m3", "m2"]
    rest = owner.get(f"/customers/c1/communications?limit=3&cursor={page['next_cursor']}").json
    assert [c["communication_id"] for c in rest["communications"]] == ["m1", "m0"]


def test_a_customer_recreated_under_the_same_id_keeps_the_activity_of_their_records(owner):
    owner.put("/customers/c1", {"first_name": "Ada", "created_at": "2025-01-01T00:00:00Z"})
    owner.put("/sales/s1", {"customer_id": "c1", "completed_at": "2025-05-01T00:00:00Z"})
    owner.delete("/customers/c1")
    body = owner.put("/customers/c1", {"first_name": "Ada", "created_at": "2025-02-01T00:00:00Z"}).json
    assert body["last_activity_at"] == "2025-05-01T00:00:00Z"

"""A customer's personal data (docs/behaviour.md section 7, "Erasure", "Audit trail"; section 8, "Retention"): what
an erasure leaves in every table, that it finishes after a crash, that the suppression list still holds an erased
address, that a queued send to an erased customer ends as one record; the audit trail of each writer and who reads
it; the time to live of a record's address, subject and body."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import pytest

from chalicelib.adapters import clients
from chalicelib.adapters.models import (
    ALL_MODELS,
    ActionFiring,
    Communication,
    CommunicationContent,
    CustomerAudit,
    CustomerSearch,
    MarketingLog,
    Note,
    SendLedger,
    Suppression,
    ledger_key,
    tenant_customer,
)
from chalicelib.adapters.persistence import get_or_none
from chalicelib.rules.checks import suppression_key
from chalicelib.sending.stores import TenantSuppressions, is_suppressed, suppress
from tests.integration.conftest import history
from tests.integration.runner_kit import Runner
from tests.integration.test_imports import excel_utf8, run, upload

#: 11:00 in Sydney on Dec 18 (the runner tests' day).
DEC18 = datetime.fromisoformat("2026-12-18T00:00:00+00:00")


@pytest.fixture
def runner(tenant) -> Runner:
    return Runner(tenant, DEC18)


def contact(tenant: str, name: str) -> tuple[str, str]:
    """An email address and a phone number that no other test's customer has (the checks scan whole tables)."""
    digits = int(hashlib.sha256(f"{tenant}{name}".encode()).hexdigest(), 16) % 10**8
    return f"{name}.{tenant}@mail.example", f"+614{digits:08d}"


def birthday_customer(owner, tenant: str, customer_id: str, **fields) -> tuple[str, str]:
    email, phone = contact(tenant, customer_id)
    body = {"first_name": "Ada", "last_name": "Quill", "email": email, "phone": phone, "birthday": "1990-12-18",
            "created_at": "2025-01-01T00:00:00Z", "consent": {"email": True, "sms": True}, **fields}
    assert owner.put(f"/customers/{customer_id}", body).status == 200
    return email, phone


def enable_birthday(owner, channels=("email", "sms")) -> None:
    assert owner.patch("/automations/birthday", {"enabled": True, "channels": list(channels)}).status == 200


def items_holding(*texts: str) -> dict[str, int]:
    """How many items of each table hold any of `texts` anywhere (a whole-table scan of every model's table)."""
    dynamodb = clients.client("dynamodb")
    found: dict[str, int] = {}
    for model in ALL_MODELS:
        pages = dynamodb.get_paginator("scan").paginate(TableName=model.Meta.table_name)
        hits = sum(1 for page in pages for item in page["Items"]
                   if any(t.lower() in json.dumps(item).lower() for t in texts))
        if hits:
            found[model.Meta.table_name.rsplit("-", 1)[-1]] = hits
    return found


# --- erasure ---------------------------------------------------------------------------------------------------

def test_an_erasure_leaves_each_record_its_ids_dates_status_and_reason_and_no_address_or_text_in_any_table(
        shop, tenant, runner):
    email, phone = birthday_customer(shop, tenant, "ada", tags=["bridal"])
    enable_birthday(shop)
    runner.run(DEC18)
    assert shop.post("/customers/ada/notes", {"body": "Lives at 4 Elm St; size N"}).status == 201
    assert shop.patch("/customers/ada", {"is_vip": True}).status == 200
    suppress(tenant, "email", email.upper(), "hard_bounce", DEC18)
    key = tenant_customer(tenant, "ada")
    # A record written before the personal part was kept apart holds it itself.
    Communication(key, "2026-01-02T00:00:00Z#old1", tenant_id=tenant, communication_id="old1", customer_id="ada",
                  created_at="2026-01-02T00:00:00Z", channel="email", source="automation", status="sent",
                  to=email, subject="Hello Ada Quill", body="Dear Ada, 4 Elm St").save()
    before = {(r["communication_id"], r["created_at"], r["status"], r.get("reason"), r["channel"])
              for r in history(shop, "ada")}
    assert len(before) == 3 and {r["to"] for r in history(shop, "ada")} == {email, phone}
    assert items_holding(email, phone).keys() >= {"customers", "communications", "communication_contents",
                                                  "suppressions", "customer_search"}

    assert shop.delete("/customers/ada").status == 204

    assert shop.get("/customers/ada").status == 404
    assert items_holding(email, phone, "Elm St", "Quill") == {}
    records = list(Communication.query(key))
    assert {(r.communication_id, r.created_at, r.status, r.reason, r.channel) for r in records} == before
    assert all(r.to is None and r.subject is None and r.body is None and r.customer_id == "ada" for r in records)
    assert list(CommunicationContent.query(key)) == [] and list(Note.query(key)) == []
    assert get_or_none(MarketingLog, key) is None
    assert [k.search_key for k in CustomerSearch.query(tenant) if k.customer_id == "ada"] == []
    # The once-ever places hold ids only, and stay: the same customer id re-created fires nothing again.
    assert all(f.tenant_customer == key for f in ActionFiring.query(key))
    # The ledger rows stay (every send keeps exactly one outcome), with ids only.
    rows = SendLedger.batch_get([ledger_key(tenant, "ada", r.automation_id, r.occurrence_key, r.channel)
                                 for r in records if r.occurrence_key])
    assert {row.status for row in rows} == {"sent"} and all(row.accepted_record is None for row in rows)
    # The suppression list keeps the address as its keyed hash only, and it still suppresses.
    entries = list(Suppression.query(tenant))
    assert [e.address_key.split(":")[0] for e in entries] == ["email"] and ":#" in entries[0].address_key
    assert entries[0].reason == "hard_bounce" and is_suppressed(tenant, "email", email)
    # The audit trail keeps that an erasure happened, by whom and when.
    [erased] = shop.get("/customers/ada/audit").json["entries"]
    assert (erased["kind"], erased["by"]) == ("erased", f"{tenant}:owner") and erased["at"].endswith("Z")
    assert [e.entry_key for e in CustomerAudit.query(key)] == ["erased"]
    assert shop.get("/customers/ada/communications").status == 404


def test_an_erasure_cut_short_by_a_crash_is_finished_by_its_retry_and_a_finished_one_is_not_found(
        shop, tenant, runner, monkeypatch):
    from chalicelib.services import erasure

    email, phone = birthday_customer(shop, tenant, "bea")
    enable_birthday(shop)
    runner.run(DEC18)
    suppress(tenant, "sms", phone, "sms_opt_out", DEC18)
    assert shop.post("/customers/bea/notes", {"body": "Call after 5"}).status == 201

    def crash(*_args, **_kwargs):
        raise RuntimeError("the function died here")

    # Dies after the customer is gone, before their records are scrubbed.
    monkeypatch.setattr(erasure.notes, "delete_customer_notes", crash)
    assert shop.delete("/customers/bea").status == 500
    assert shop.get("/customers/bea").status == 404
    assert items_holding(email, phone).keys() == {"communication_contents"}   # the suppression is hashed already
    assert get_or_none(CustomerAudit, tenant_customer(tenant, "bea"), "erased").finished_at is None
    monkeypatch.undo()

    assert shop.delete("/customers/bea").status == 204     # the retry finishes the job
    assert items_holding(email, phone, "Call after 5") == {}
    assert is_suppressed(tenant, "sms", phone)
    assert get_or_none(CustomerAudit, tenant_customer(tenant, "bea"), "erased").finished_at is not None
    assert shop.delete("/customers/bea").status == 404     # nothing left to erase
    assert shop.delete("/customers/never-was").status == 404


def test_an_erasure_that_dies_before_the_customer_is_removed_is_done_whole_by_its_retry(shop, tenant, monkeypatch):
    from chalicelib.services import erasure

    email, phone = birthday_customer(shop, tenant, "cal")
    suppress(tenant, "email", email, "complaint", DEC18)
    real = erasure.remove_customer
    monkeypatch.setattr(erasure, "remove_customer", lambda *a: (_ for _ in ()).throw(RuntimeError("died")))
    assert shop.delete("/customers/cal").status == 500
    assert shop.get("/customers/cal").status == 200          # still there: the retry starts again
    monkeypatch.setattr(erasure, "remove_customer", real)
    assert shop.delete("/customers/cal").status == 204
    assert items_holding(email, phone) == {} and is_suppressed(tenant, "email", email)


def test_an_erased_address_that_comes_back_as_a_new_customer_is_still_suppressed(shop, tenant, runner):
    email, phone = birthday_customer(shop, tenant, "dee")
    suppress(tenant, "email", email, "hard_bounce", DEC18)
    assert shop.delete("/customers/dee").status == 204
    assert get_or_none(Suppression, tenant, suppression_key("email", email)) is None   # not kept in clear

    # The same person, as a new customer with the address in other letters.
    assert shop.put("/customers/dee-again", {"first_name": "Dee", "email": email.upper(), "phone": phone,
                                             "birthday": "1990-12-18", "created_at": "2025-01-01T00:00:00Z",
                                             "consent": {"email": True, "sms": True}}).status == 200
    enable_birthday(shop)
    _, delivery = runner.run(DEC18)
    assert sorted((o.send.channel, o.status, o.reason) for o in delivery.outcomes) == [
        ("email", "skipped", "suppressed"), ("sms", "sent", None)]
    assert runner.email.accepted == []
    # The test-run's whole-list read and a 1:1 message's check see it too; another store's list does not.
    assert TenantSuppressions(tenant)("email", email) and is_suppressed(tenant, "email", email.upper())
    assert not is_suppressed(f"{tenant}-other", "email", email)


def test_a_send_queued_before_the_erasure_ends_as_one_skipped_record_with_reason_erased(shop, tenant, runner):
    email, phone = birthday_customer(shop, tenant, "eve")
    enable_birthday(shop)
    runner.evaluate(DEC18)
    assert len(runner.queue.sends) == 2
    assert shop.delete("/customers/eve").status == 204
    delivery = runner.deliver(copies=2)
    assert sorted((o.status, o.reason) for o in delivery.outcomes if o.status == "skipped") == [
        ("skipped", "erased"), ("skipped", "erased")]
    assert runner.email.accepted == [] and runner.sms.accepted == []
    records = list(Communication.query(tenant_customer(tenant, "eve")))
    assert sorted((r.channel, r.status, r.reason, r.to) for r in records) == [
        ("email", "skipped", "erased", None), ("sms", "skipped", "erased", None)]
    assert items_holding(email, phone) == {}


# --- audit trail ----------------------------------------------------------------------------------------------

def changes_of(owner, customer_id: str) -> list[tuple]:
    """(by, source, field, from, to) of each change, oldest first."""
    entries = owner.get(f"/customers/{customer_id}/audit").json["entries"]
    return [(e["by"], e["source"], c["field"], c["from"], c["to"]) for e in reversed(entries) for c in e["changes"]]


def test_each_writer_of_consent_tags_and_vip_leaves_an_audit_entry_saying_who_how_and_from_what_to_what(
        shop, tenant, client_for, gateway):
    from chalicelib.sending.unsubscribe import token_for
    from local.api import handle

    ana = client_for(tenant, "salesperson")
    assert ana.put("/customers/fay", {"first_name": "Fay", "email": contact(tenant, "fay")[0],
                                      "consent": {"email": True}, "consent_source": "in_store_form"}).status == 200
    assert ana.patch("/customers/fay", {"tags": ["bridal"], "is_vip": True}).status == 200
    assert ana.patch("/customers/fay", {"first_name": "Fay-Lee"}).status == 200          # nothing audited
    status, _, _ = handle(gateway, "POST", f"/unsubscribe/{token_for(tenant, 'fay', 'email')}",
                          {"content-type": "application/x-www-form-urlencoded"}, b"List-Unsubscribe=One-Click")
    assert status == 200
    import_id = upload(shop, excel_utf8(["fay,Fay,,,,,watches,,"]))
    assert run(shop, tenant, import_id, "commit", mapping={
        "Customer ID": "customer_id", "First Name": "first_name", "Tags": "tags"})["updated"] == 1

    user = f"{tenant}:salesperson"
    assert changes_of(shop, "fay") == [
        (user, "in_store_form", "consent.email", False, True),
        (user, "api", "tags", [], ["bridal", "VIP"]),
        (user, "api", "is_vip", False, True),
        ("unsubscribe_link", "unsubscribe_link", "consent.email", True, False),
        (f"{tenant}:owner", f"import:{import_id}", "tags", ["bridal", "VIP"], ["bridal", "VIP", "watches"]),
    ]
    entries = shop.get("/customers/fay/audit").json["entries"]
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)   # newest first
    # The same file imported again changes nothing, and so writes no entry.
    again = upload(shop, excel_utf8(["fay,Fay,,,,,watches,,"]))
    assert run(shop, tenant, again, "commit", mapping={
        "Customer ID": "customer_id", "First Name": "first_name", "Tags": "tags"})["unchanged"] == 1
    assert len(shop.get("/customers/fay/audit").json["entries"]) == 4


def test_the_audit_entry_is_written_in_the_customers_own_transaction(shop, tenant):
    """A write whose transaction fails leaves neither the change nor its entry (here: a stale version)."""
    from chalicelib.adapters.models import Customer

    assert shop.put("/customers/gus", {"first_name": "Gus", "tags": ["a"]}).status == 200
    stale = Customer.get(tenant, "gus")
    assert shop.patch("/customers/gus", {"tags": ["b"]}).status == 200
    stale.tags = ["c"]
    stale.audited_as("someone", "api", "2026-12-18T00:00:00Z")
    with pytest.raises(Exception):
        stale.save()
    assert Customer.get(tenant, "gus").tags == ["b"]
    assert [c[4] for c in changes_of(shop, "gus")] == [["a"], ["b"]]


@pytest.mark.parametrize("role,status", [("owner", 200), ("manager", 200), ("salesperson", 403), ("workshop", 403),
                                         ("accountant", 403), ("integration", 403)])
def test_owners_and_managers_read_the_audit_trail_and_no_other_role_does(shop, tenant, client_for, role, status):
    assert shop.put("/customers/hal", {"first_name": "Hal", "is_vip": True}).status == 200
    answer = client_for(tenant, role).get("/customers/hal/audit")
    assert answer.status == status, answer
    if status == 200:
        assert [c["field"] for c in answer.json["entries"][0]["changes"]] == ["tags", "is_vip"]
    # Another store's owner finds no such customer.
    assert client_for(f"{tenant}-x", "owner").get("/customers/hal/audit").status == 404


# --- retention --------------------------------------------------------------------------------------------------

def test_a_records_address_subject_and_body_expire_after_the_stores_retention_and_the_record_stays(
        shop, tenant, runner):
    assert shop.patch("/settings", {"retention_days": 30}).json["settings"]["retention_days"] == 30
    birthday_customer(shop, tenant, "ivy")
    enable_birthday(shop, channels=("email",))
    runner.run(DEC18)
    key = tenant_customer(tenant, "ivy")
    [record], [content] = list(Communication.query(key)), list(CommunicationContent.query(key))
    assert record.status == "sent" and record.to is None and record.body is None
    assert content.sort_key == record.sort_key and content.to.startswith("ivy.") and "Ivy" not in (content.body or "x")
    raw = clients.client("dynamodb").get_item(TableName=CommunicationContent.Meta.table_name,
                                              Key={"tenant_customer": {"S": key}, "sort_key": {"S": record.sort_key}})
    expires = int(raw["Item"]["expires_at"]["N"])
    assert expires == int((DEC18 + timedelta(days=30)).timestamp())
    # Once DynamoDB's time to live deletes it, the history shows the record without them.
    content.delete()
    [shown] = history(shop, "ivy")
    assert shown["status"] == "sent" and "to" not in shown and "body" not in shown


def test_the_default_retention_is_400_days_and_a_bad_value_is_refused_naming_the_field(shop, tenant, runner):
    assert shop.get("/settings").json["settings"]["retention_days"] == 400
    for bad in (0, 3651, "400", 1.5, True):
        answer = shop.patch("/settings", {"retention_days": bad})
        assert (answer.status, answer.error_field) == (400, "retention_days"), bad
    birthday_customer(shop, tenant, "jo")
    enable_birthday(shop, channels=("email",))
    runner.run(DEC18)
    [content] = list(CommunicationContent.query(tenant_customer(tenant, "jo")))
    assert content.expires_at == DEC18 + timedelta(days=400)


def test_the_contents_table_has_its_time_to_live_on_in_the_stack_and_in_the_template():
    from infra.template import table_resources

    table = CommunicationContent.Meta.table_name
    described = clients.client("dynamodb").describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert (described["TimeToLiveStatus"], described["AttributeName"]) == ("ENABLED", "expires_at")
    with_ttl = {r["Properties"]["TableName"]: r["Properties"]["TimeToLiveSpecification"]
                for r in table_resources().values() if "TimeToLiveSpecification" in r["Properties"]}
    assert with_ttl == {table: {"AttributeName": "expires_at", "Enabled": True}}

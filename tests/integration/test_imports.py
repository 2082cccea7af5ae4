"""Customer imports through the API and the chunk jobs (clienteling section 14): the upload through the
pre-signed address, dry run, commit, re-run, blanks, matching, consent, the stream's decision, rejects, a crash
mid-chunk, and another store's import."""
from __future__ import annotations

import codecs
import uuid

import pytest
import requests

from chalicelib.adapters import resources
from chalicelib.adapters.models import Customer, Import
from chalicelib.events import evaluate
from chalicelib.rules import actions as action_rules
from chalicelib.services import imports
from tests.integration.conftest import take

HEADER = "Customer ID,First Name,Last Name,E-mail,Mobile,DOB,Tags,Accepts Email Marketing,Notes\r\n"


def excel_utf8(lines: list[str]) -> bytes:
    return codecs.BOM_UTF8 + (HEADER + "".join(line + "\r\n" for line in lines)).encode("utf-8")


FILE = excel_utf8([
    ",Zoë,Müller,zoe@example.com,+33612345678,31/12/1990,VIP,yes,",
    ',Anaïs,"O\'Brien, jr",anais@example.com,,--02-29,,no,',
    ",Björn,,not-an-email,,,,,",
    'c-42,Chloé,Durand,,,,bridal;watches,,"ring resized\r\ncollect Friday"',
    ",,,,,,,,",
    ",Dora,,dora@example.com,,31/02/1990,,,",
    ",,,,,,,,just a note",
])


def work(tenant: str) -> int:
    """Run this store's queued chunk jobs (as the evaluations queue's consumer), until none is left."""
    jobs = 0
    while messages := take(resources.evaluation_queue_name(), tenant):
        records = [{"messageId": m["MessageId"], "body": m["Body"], "attributes": {}} for m in messages]
        result, _ = evaluate.evaluate_records(records)
        assert result.failures == []
        jobs += len(records)
    return jobs


def upload(owner, data: bytes) -> str:
    created = owner.post("/imports")
    assert created.status == 201, created
    assert requests.put(created.json["upload_url"], data=data).status_code == 200
    return created.json["import_id"]


def run(owner, tenant, import_id, mode="commit", **body) -> dict:
    started = owner.post(f"/imports/{import_id}/start", {"mode": mode, **body})
    assert started.status == 200, started
    work(tenant)
    return owner.get(f"/imports/{import_id}").json


def counts(job: dict) -> tuple:
    return tuple(job[k] for k in ("status", "rows_total", "rows_done", "created", "updated", "unchanged", "rejected"))


def customers_of(tenant: str) -> dict[str, Customer]:
    return {c.customer_id: c for c in Customer.query(tenant)}


def rejects_csv(gateway, owner, import_id) -> str:
    from local.api import handle

    status, _, data = handle(gateway, "GET", f"/imports/{import_id}/rejects",
                             {"authorization": f"Bearer {owner.token}"}, b"")
    assert status == 200
    return data.decode("utf-8")


def test_the_preview_suggests_the_mapping_from_the_header_and_shows_the_first_rows(owner):
    import_id = upload(owner, FILE)
    preview = owner.get(f"/imports/{import_id}/preview").json
    assert preview["encoding"] == "utf-8-sig" and preview["delimiter"] == ","
    assert preview["suggested_mapping"]["E-mail"] == "email" and preview["suggested_mapping"]["DOB"] == "birthday"
    assert preview["suggested_mapping"]["Notes"] == "ignore"
    assert preview["rows"][0][1] == "Zoë" and preview["rows"][3][8] == "ring resized\r\ncollect Friday"


def test_a_dry_run_reports_what_a_commit_does_and_writes_nothing(owner, tenant, gateway):
    import_id = upload(owner, FILE)
    dry = run(owner, tenant, import_id, "dry_run")
    assert counts(dry) == ("done", 6, 6, 3, 0, 0, 3)   # the blank line is no row
    assert customers_of(tenant) == {}
    committed = run(owner, tenant, import_id, "commit")
    assert counts(committed)[3:] == counts(dry)[3:]
    found = customers_of(tenant)
    assert len(found) == 3 and "c-42" in found
    zoe = next(c for c in found.values() if c.email == "zoe@example.com")
    assert (zoe.first_name, zoe.birthday, zoe.is_vip, zoe.consent.email) == ("Zoë", "1990-12-31", True, True)
    assert zoe.consent_channels.as_dict()["email"]["source"] == f"import:{import_id}" and zoe.source == "import"
    assert found["c-42"].last_name == "Durand" and found["c-42"].tags == ["bridal", "watches"]
    assert rejects_csv(gateway, owner, import_id) == (
        "line,reason\r\n4,E-mail: must be an email address\r\n"
        "8,DOB: '31/02/1990' is not a calendar date\r\n9,every mapped cell is blank\r\n")


def test_running_the_same_file_again_changes_nothing(owner, tenant):
    run(owner, tenant, upload(owner, FILE))
    before = {cid: c.version for cid, c in customers_of(tenant).items()}
    again = run(owner, tenant, upload(owner, FILE))
    assert counts(again)[3:] == (0, 0, 3, 3)
    assert {cid: c.version for cid, c in customers_of(tenant).items()} == before


def test_blank_cells_never_overwrite_and_emails_match_in_any_letter_case(owner, tenant):
    assert owner.put("/customers/ava", {"first_name": "Ava", "email": "Ava.Stone@Example.com", "phone": "+61400000000",
                                        "tags": ["gold"]}).status == 200
    data = excel_utf8([",Ava Rose,,ava.stone@EXAMPLE.com,,,VIP,,"])
    job = run(owner, tenant, upload(owner, data))
    assert counts(job)[3:] == (0, 1, 0, 0)
    ava = Customer.get(tenant, "ava")
    assert (ava.first_name, ava.email, ava.phone, ava.tags, ava.is_vip) == (
        "Ava Rose", "Ava.Stone@Example.com", "+61400000000", ["gold", "VIP"], True)
    assert len(customers_of(tenant)) == 1


def test_an_import_never_gives_back_consent_withdrawn_through_an_unsubscribe_link(owner, tenant):
    assert owner.put("/customers/ava", {"email": "ava@example.com", "consent": {"email": False}}).status == 200
    item = Customer.get(tenant, "ava")
    # As the customer's unsubscribe link leaves it: email withdrawn, and how.
    item.consent_channels = {"email": {"updated_at": "2026-11-01T00:00:00Z", "updated_by": "unsubscribe_link",
                                       "source": "unsubscribe_link"}}
    item.consent_updated_by = "unsubscribe_link"
    item.save()
    job = run(owner, tenant, upload(owner, excel_utf8([",,,ava@example.com,,,,yes,"])))
    assert counts(job)[3:] == (0, 0, 1, 0)
    assert Customer.get(tenant, "ava").consent.email is False


def test_import_writes_are_marked_so_the_stream_fires_no_action_taken_automation(owner, tenant):
    enabled = [action_rules.ActionView(f"a-{event}", event, event, "2026-01-01T00:00:00Z", enabled=True)
               for event in action_rules.ADDED]
    run(owner, tenant, upload(owner, FILE))
    decisions = [d for item in customers_of(tenant).values()
                 for d in action_rules.decide(None, action_rules.CustomerState.of(item.attribute_values), enabled)]
    assert {d.event for d in decisions} >= {"email_add", "birthday_add"}   # each would fire but for the import
    assert all(d.reason == action_rules.IMPORT and not d.fires for d in decisions)


def test_a_chunk_that_crashes_part_way_is_done_again_and_counted_once(owner, tenant, monkeypatch):
    lines = [f",Name{i},,c{i}@example.com,,,,," for i in range(7)]
    import_id = upload(owner, excel_utf8(lines))
    monkeypatch.setattr(imports, "CHUNK_ROWS", 3)
    assert owner.post(f"/imports/{import_id}/start", {"mode": "commit"}).status == 200
    saves = {"n": 0}
    original = Customer.save

    def crashing(self, *args, **kwargs):
        saves["n"] += 1
        if saves["n"] == 5:    # the second chunk's second row
            raise RuntimeError("the Lambda ran out of time")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Customer, "save", crashing)
    messages = take(resources.evaluation_queue_name(), tenant)
    assert evaluate.evaluate_records(_records(messages))[0].failures == []     # chunk 0
    second = take(resources.evaluation_queue_name(), tenant)
    assert evaluate.evaluate_records(_records(second))[0].failures != []       # chunk 1 crashes after one write
    job = owner.get(f"/imports/{import_id}").json
    assert (job["rows_done"], job["created"]) == (3, 3)
    assert evaluate.evaluate_records(_records(second, retried=True))[0].failures == []   # received again
    work(tenant)
    job = owner.get(f"/imports/{import_id}").json
    assert counts(job) == ("done", 7, 7, 7, 0, 0, 0)
    assert len(customers_of(tenant)) == 7


def test_a_chunk_job_received_twice_counts_once(owner, tenant):
    import_id = upload(owner, excel_utf8([",Ann,,ann@example.com,,,,,"]))
    assert owner.post(f"/imports/{import_id}/start", {"mode": "commit"}).status == 200
    messages = take(resources.evaluation_queue_name(), tenant)
    evaluate.evaluate_records(_records(messages))
    evaluate.evaluate_records(_records(messages, retried=True))
    assert counts(owner.get(f"/imports/{import_id}").json) == ("done", 1, 1, 1, 0, 0, 0)


def _records(messages, retried=False):
    return [{"messageId": m["MessageId"], "body": m["Body"],
             "attributes": {"ApproximateReceiveCount": "2" if retried else "1"}} for m in messages]


def test_another_stores_import_is_not_found(owner, client_for):
    import_id = upload(owner, FILE)
    other = client_for(f"t-{uuid.uuid4().hex[:12]}", "owner")
    for path in (f"/imports/{import_id}", f"/imports/{import_id}/preview"):
        assert other.get(path).status == 404
    assert other.post(f"/imports/{import_id}/start", {"mode": "commit"}).status == 404


@pytest.mark.parametrize("body, field", [({"mode": "now"}, "mode"), ({}, "mode"),
                                         ({"mode": "commit", "mapping": {"Nope": "email"}}, "mapping"),
                                         ({"mode": "commit", "date_order": "ymd"}, "date_order")])
def test_a_bad_start_is_refused_naming_the_field_and_starts_nothing(owner, tenant, body, field):
    import_id = upload(owner, FILE)
    answer = owner.post(f"/imports/{import_id}/start", body)
    assert (answer.status, answer.error_field) == (400, field)
    assert Import.get(tenant, import_id).status == "awaiting_upload"
    assert take(resources.evaluation_queue_name(), tenant) == []


def test_only_owners_and_managers_import(client_for, tenant):
    assert client_for(tenant, "salesperson").post("/imports").status == 403
    assert client_for(tenant, "manager").post("/imports").status == 201


def test_starting_before_the_upload_is_a_conflict(owner):
    import_id = owner.post("/imports").json["import_id"]
    assert owner.post(f"/imports/{import_id}/start", {"mode": "dry_run"}).status == 409


def test_a_committed_import_cannot_be_started_again(owner, tenant):
    import_id = upload(owner, FILE)
    run(owner, tenant, import_id)
    assert owner.post(f"/imports/{import_id}/start", {"mode": "commit"}).status == 409


def _saved(rows: list[list[str]], delimiter: str, encoding: str, terminator: str = "\r\n") -> bytes:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=terminator).writerows(rows)
    return out.getvalue().encode(encoding)


SHEET = [["First Name", "Surname", "E-mail", "Birthday", "VIP", "SMS opt-in"],
         ["Zoë", "Lefèvre", "zoe@example.com", "31/12/1990", "Oui", "1"],
         ["Jürgen", "Weiß", "juergen@example.com", "--02-29", "", "0"]]


@pytest.mark.parametrize("saved", [
    _saved(SHEET, ",", "utf-8-sig"),                   # Excel "CSV UTF-8"
    _saved(SHEET, ";", "cp1252"),                      # Excel "CSV" in a French or German locale
    _saved(SHEET, "\t", "utf-16"),                     # Excel "Unicode Text"
    _saved(SHEET, ",", "utf-8", "\n"),                 # LibreOffice, Google Sheets
], ids=["excel-utf8", "excel-european", "excel-unicode-text", "libreoffice"])
def test_the_same_sheet_saved_by_each_spreadsheet_program_imports_the_same_customers(owner, tenant, saved):
    job = run(owner, tenant, upload(owner, saved))
    assert counts(job) == ("done", 2, 2, 2, 0, 0, 0)
    found = sorted(((c.first_name, c.last_name, c.email, c.birthday, c.is_vip, c.consent.sms)
                    for c in customers_of(tenant).values()))
    assert found == [("Jürgen", "Weiß", "juergen@example.com", "--02-29", False, False),
                     ("Zoë", "Lefèvre", "zoe@example.com", "1990-12-31", True, True)]


BROKEN_UTF16 = codecs.BOM_UTF16_LE + "Email\r\nzoe@example.com".encode("utf-16-le") + b"\x00"   # cut mid-character


def test_a_file_that_cannot_be_read_is_refused_naming_the_file_and_starts_nothing(owner, tenant):
    import_id = upload(owner, BROKEN_UTF16)
    for answer in (owner.get(f"/imports/{import_id}/preview"),
                   owner.post(f"/imports/{import_id}/start", {"mode": "commit"})):
        assert (answer.status, answer.error_field) == (400, "file") and "utf-16" in answer.json["error"]["message"]
    assert take(resources.evaluation_queue_name(), tenant) == []


def test_a_file_replaced_by_an_unreadable_one_after_the_start_fails_the_import_and_writes_nothing(owner, tenant):
    created = owner.post("/imports").json
    assert requests.put(created["upload_url"], data=excel_utf8([",Zoë,,zoe@example.com,,,,,"])).ok
    assert owner.post(f"/imports/{created['import_id']}/start", {"mode": "commit"}).status == 200
    assert requests.put(created["upload_url"], data=BROKEN_UTF16).ok
    work(tenant)
    job = owner.get(f"/imports/{created['import_id']}").json
    assert job["status"] == "failed" and "utf-16" in job["error"]
    assert customers_of(tenant) == {}


def test_an_empty_file_has_no_header_to_map(owner):
    import_id = upload(owner, b"")
    answer = owner.get(f"/imports/{import_id}/preview")
    assert (answer.status, answer.error_field) == (400, "file")


def test_a_file_whose_header_reads_differently_as_a_whole_fails_the_run_instead_of_retrying_forever(owner, tenant):
    created = owner.post("/imports").json
    assert requests.put(created["upload_url"], data="Prénom,Email\r\nZoë,zoe@example.com\r\n".encode("utf-8")).ok
    assert owner.post(f"/imports/{created['import_id']}/start", {"mode": "commit"}).status == 200
    # Saved again with one Windows-1252 byte further on: the whole file is read as Windows-1252.
    again = "Prénom,Email\r\nZoë,zoe@example.com\r\n".encode("utf-8") + "Anaïs,anais@example.com\r\n".encode("cp1252")
    assert requests.put(created["upload_url"], data=again).ok
    work(tenant)
    job = owner.get(f"/imports/{created['import_id']}").json
    assert job["status"] == "failed" and "UTF-8" in job["error"]
    assert customers_of(tenant) == {}


def numbered(rows: int) -> bytes:
    """A file of `rows` new customers, each with its own address, some with a birthday, VIP or consent."""
    return excel_utf8([f",Zoë{n},Müller,customer{n}@example.com,+336{n:08d},{'01/02/1990' if n % 10 == 0 else ''},"
                       f"{'VIP' if n % 7 == 0 else ''},{'yes' if n % 3 else 'no'}," for n in range(rows)])


def chunk_calls(made, tenant: str) -> dict[str, int]:
    """The DynamoDB calls of an import's chunks, by what they touch: the customers and their keys, or the job."""
    from chalicelib.core import config

    customer_tables = {f"{config.table_prefix()}customers", f"{config.table_prefix()}customer_search"}
    found = {"customer reads": 0, "customer writes": 0, "queries": 0, "other": 0}
    for call in made:
        if call.service != "dynamodb":
            continue
        if call.operation in ("Query", "Scan"):
            found["queries"] += 1
        elif set(call.tables) & customer_tables:
            found["customer writes" if call.operation in ("PutItem", "TransactWriteItems", "UpdateItem")
                  else "customer reads"] += 1
        else:
            found["other"] += 1
    return found


def test_a_chunk_reads_its_customers_in_a_few_batches_whatever_its_rows_and_a_rerun_writes_nothing(owner, tenant):
    from tests.integration.aws_calls import calls

    rows, chunks = 2_000, 4   # 500 rows a chunk
    data = numbered(rows)
    import_id = upload(owner, data)
    assert owner.post(f"/imports/{import_id}/start", {"mode": "commit"}).status == 200
    with calls() as made:
        jobs = work(tenant)
    assert jobs == chunks and counts(owner.get(f"/imports/{import_id}").json) == ("done", rows, rows, rows, 0, 0, 0)
    first = chunk_calls(made, tenant)
    # Per chunk: the addresses' items and the customers, 100 keys a call (5 + 5); no index query, no read a row.
    assert first["queries"] == 0 and first["customer reads"] <= 10 * chunks
    assert first["customer writes"] == rows   # one write a new customer (with its keys, one transaction)
    assert first["other"] <= 3 * chunks       # the job: read, recorded
    before = {cid: c.version for cid, c in customers_of(tenant).items()}

    again_id = upload(owner, data)
    assert owner.post(f"/imports/{again_id}/start", {"mode": "commit"}).status == 200
    with calls() as made:
        work(tenant)
    assert counts(owner.get(f"/imports/{again_id}").json) == ("done", rows, rows, 0, 0, rows, 0)
    again = chunk_calls(made, tenant)
    assert again["queries"] == 0 and again["customer writes"] == 0 and again["customer reads"] <= 10 * chunks
    assert {cid: c.version for cid, c in customers_of(tenant).items()} == before


def test_rows_of_one_chunk_see_what_the_rows_before_them_wrote(owner, tenant):
    assert owner.put("/customers/ann", {"first_name": "Ann", "email": "ann@example.com"}).status == 200
    data = excel_utf8([
        ",Bea,,bea@example.com,,,,,",                # new: bea@
        ",,Baker,BEA@example.com,,,,,",              # the customer the row above made
        "ann,,,ann.new@example.com,,,,,",            # Ann moves to a new address...
        ",,Smith,ann.new@example.com,,,,,",          # ...where the next row finds her
        ",Other,,ann@example.com,,,,,",              # nobody holds Ann's old address any more: new
    ])
    job = run(owner, tenant, upload(owner, data))
    assert counts(job)[3:] == (2, 3, 0, 0)
    found = customers_of(tenant)
    assert len(found) == 3
    bea = next(c for c in found.values() if c.first_name == "Bea")
    assert (bea.last_name, bea.email) == ("Baker", "bea@example.com")
    assert (found["ann"].email, found["ann"].last_name) == ("ann.new@example.com", "Smith")
    assert next(c for c in found.values() if c.first_name == "Other").email == "ann@example.com"


def test_an_address_item_lists_exactly_the_customers_holding_the_address(owner, tenant):
    from chalicelib.adapters.models import CustomerEmail
    from chalicelib.services import customers

    assert owner.put("/customers/a", {"email": "Same@Example.com"}).status == 200
    assert owner.put("/customers/b", {"email": "same@example.com", "first_name": "B"}).status == 200
    assert customers.customers_by_email(tenant, ["SAME@example.com"]) == {"e:same@example.com": {"a", "b"}}
    assert owner.patch("/customers/a", {"email": "other@example.com"}).status == 200
    assert owner.delete("/customers/b").status == 204
    found = customers.customers_by_email(tenant, ["same@example.com", "other@example.com"])
    assert found == {"e:other@example.com": {"a"}}
    with pytest.raises(CustomerEmail.DoesNotExist):   # emptied, then deleted: its key is the address itself
        CustomerEmail.get(tenant, "e:same@example.com")


def test_the_backfill_lists_a_customer_stored_before_address_items_existed(owner, tenant):
    from chalicelib.adapters.models import CustomerEmail
    from chalicelib.services import backfill, customers

    assert owner.put("/customers/old", {"email": "old@example.com"}).status == 200
    CustomerEmail(tenant, "e:old@example.com").delete()   # as an earlier version stored it
    assert customers.customers_by_email(tenant, ["old@example.com"]) == {}
    assert backfill.customer(tenant, "old") is True
    assert customers.customers_by_email(tenant, ["old@example.com"]) == {"e:old@example.com": {"old"}}
    assert backfill.customer(tenant, "old") is False

"""Notes on a customer (docs/behaviour.md section 7, "Customer notes"): who writes, edits and deletes them, the
400s, newest first a page at a time, concurrent writers each keeping their note, stale edits refused, another
store's or an unknown customer's notes 404, and a deleted customer's notes gone with them."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.rules.auth import ROLES, issue_local_token
from tests.integration.conftest import Api

STAFF = [role for role in ROLES if role != "accountant"]


def as_user(gateway, tenant: str, role: str, subject: str) -> Api:
    return Api(gateway, issue_local_token(os.environ["LOCAL_JWT_SECRET"], tenant, role, subject=subject))


@pytest.fixture
def ada(owner):
    assert owner.put("/customers/ada", {"first_name": "Ada"}).status == 200
    return "/customers/ada/notes"


def test_a_note_keeps_its_line_breaks_author_and_times(gateway, tenant, ada, owner):
    ana = as_user(gateway, tenant, "salesperson", "ana")
    body = "Ring size N.\n\nLikes  rose gold;\r\nanniversary in May."
    made = ana.post(ada, {"body": body})
    assert made.status == 201, made
    note = made.json
    assert (note["body"], note["author"], note["author_role"], note["edited_at"]) == (body, "ana", "salesperson", None)
    assert note["created_at"].endswith("Z") and note["version"] == 1
    assert owner.get(ada).json["notes"] == [note]


@pytest.mark.parametrize("role", ROLES)
def test_everyone_but_the_accountant_writes_notes_and_everyone_reads_them(gateway, tenant, ada, role):
    api = as_user(gateway, tenant, role, f"{role}-user")
    made = api.post(ada, {"body": f"From {role}"})
    if role in STAFF:
        assert made.status == 201, made
    else:
        assert made.status == 403 and made.json["error"]["code"] == "forbidden"
    listed = api.get(ada)
    assert listed.status == 200
    assert [n["body"] for n in listed.json["notes"]] == ([f"From {role}"] if role in STAFF else [])


@pytest.mark.parametrize("role", ROLES)
def test_only_the_author_an_owner_or_a_manager_edits_or_deletes_a_note(gateway, tenant, ada, owner, role):
    ana = as_user(gateway, tenant, "salesperson", "ana")
    note = ana.post(ada, {"body": "Ana's note"}).json
    path = f"{ada}/{note['note_id']}"
    other = as_user(gateway, tenant, role, f"{role}-someone-else")
    edited = other.patch(path, {"body": "Changed", "version": note["version"]})
    if role in ("owner", "manager"):
        assert edited.status == 200, edited
        assert (edited.json["body"], edited.json["edited_by"], edited.json["author"]) == ("Changed", f"{role}-someone-else", "ana")
        assert other.delete(path).status == 204
        assert owner.get(ada).json["notes"] == []
    else:
        assert edited.status == 403, edited
        assert other.delete(path).status == 403
        assert [n["body"] for n in owner.get(ada).json["notes"]] == ["Ana's note"]


def test_the_author_edits_their_own_note_and_deletes_it(gateway, tenant, ada, owner):
    ana = as_user(gateway, tenant, "salesperson", "ana")
    note = ana.post(ada, {"body": "First"}).json
    path = f"{ada}/{note['note_id']}"
    edited = ana.patch(path, {"body": "First\nand second line", "version": note["version"]})
    assert edited.status == 200, edited
    assert edited.json["body"] == "First\nand second line"
    assert edited.json["edited_at"] >= note["created_at"] and edited.json["version"] == note["version"] + 1
    assert edited.json["created_at"] == note["created_at"]
    assert ana.delete(path).status == 204
    assert ana.delete(path).status == 404
    assert owner.get(ada).json["notes"] == []


def test_an_edit_of_a_version_read_before_another_edit_is_a_409_and_changes_nothing(gateway, tenant, ada, owner):
    ana = as_user(gateway, tenant, "salesperson", "ana")
    note = ana.post(ada, {"body": "Original"}).json
    path = f"{ada}/{note['note_id']}"
    assert owner.patch(path, {"body": "Owner's edit", "version": note["version"]}).status == 200
    stale = ana.patch(path, {"body": "Ana's edit", "version": note["version"]})
    assert stale.status == 409 and stale.error_field == "version"
    assert owner.get(ada).json["notes"][0]["body"] == "Owner's edit"


def test_staff_writing_at_once_each_keep_their_note(gateway, tenant, ada, owner):
    writers = [as_user(gateway, tenant, "salesperson", f"clerk-{n}") for n in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(lambda pair: pair[1].post(ada, {"body": f"Note {pair[0]}"}), enumerate(writers)))
    assert [m.status for m in made] == [201] * 8
    listed = owner.get(f"{ada}?limit=200").json["notes"]
    assert sorted(n["body"] for n in listed) == sorted(f"Note {n}" for n in range(8))
    assert {n["author"] for n in listed} == {f"clerk-{n}" for n in range(8)}
    assert len({n["note_id"] for n in listed}) == 8


def test_notes_come_newest_first_a_page_at_a_time(ada, owner):
    ids = [owner.post(ada, {"body": f"Note {n}"}).json["note_id"] for n in range(5)]
    first = owner.get(f"{ada}?limit=2").json
    assert [n["note_id"] for n in first["notes"]] == ids[::-1][:2]
    seen = [n["note_id"] for n in first["notes"]]
    cursor = first["next_cursor"]
    while cursor:
        page = owner.get(f"{ada}?limit=2&cursor={cursor}").json
        seen += [n["note_id"] for n in page["notes"]]
        cursor = page["next_cursor"]
    assert seen == ids[::-1]


@pytest.mark.parametrize("body,field", [
    ({}, "body"),
    ({"body": ""}, "body"),
    ({"body": " \n\t "}, "body"),
    ({"body": "x" * 5001}, "body"),
    ({"body": 12}, "body"),
    ({"body": "bell \x07"}, "body"),
    ({"body": "ok", "pinned": True}, "pinned"),
])
def test_a_bad_note_is_a_400_naming_the_field_and_stores_nothing(ada, owner, body, field):
    made = owner.post(ada, body)
    assert made.status == 400, made
    assert made.error_field == field
    assert owner.get(ada).json["notes"] == []


def test_a_note_of_5000_characters_is_kept_whole(ada, owner):
    assert owner.post(ada, {"body": "é" * 5000}).json["body"] == "é" * 5000


@pytest.mark.parametrize("body,field", [
    ({"body": "new"}, "version"),
    ({"version": 1}, "body"),
    ({"body": "", "version": 1}, "body"),
    ({"body": "new", "version": "1"}, "version"),
    ({"body": "new", "version": 0}, "version"),
])
def test_a_bad_edit_is_a_400_naming_the_field_and_changes_nothing(ada, owner, body, field):
    note = owner.post(ada, {"body": "Kept"}).json
    edited = owner.patch(f"{ada}/{note['note_id']}", body)
    assert edited.status == 400, edited
    assert edited.error_field == field
    assert owner.get(ada).json["notes"] == [note]


@pytest.mark.parametrize("query,field", [("limit=0", "limit"), ("limit=x", "limit"), ("cursor=%25%25", "cursor")])
def test_bad_paging_is_a_400(ada, owner, query, field):
    response = owner.get(f"{ada}?{query}")
    assert response.status == 400 and response.error_field == field


def test_unknown_customers_notes_and_another_stores_are_404(client_for, tenant, ada, owner):
    note = owner.post(ada, {"body": "Ours"}).json
    path = f"{ada}/{note['note_id']}"
    other = client_for(f"{tenant}-other", "owner")
    other.put("/customers/ada", {"first_name": "Another Ada"})   # the same customer id in another store
    for response in (other.patch(path, {"body": "Theirs", "version": 1}), other.delete(path)):
        assert response.status == 404, response
    assert other.get(ada).json["notes"] == []
    assert owner.get("/customers/nobody/notes").status == 404
    assert owner.post("/customers/nobody/notes", {"body": "x"}).status == 404
    assert owner.patch(f"/customers/nobody/notes/{note['note_id']}", {"body": "x", "version": 1}).status == 404
    assert owner.put("/customers/bo", {"first_name": "Bo"}).status == 200
    assert owner.delete(f"/customers/bo/notes/{note['note_id']}").status == 404   # another customer's note
    assert owner.patch(f"{ada}/n-unknown", {"body": "x", "version": 1}).status == 404
    assert owner.get(ada).json["notes"] == [note]


def test_deleting_a_customer_deletes_their_notes(ada, owner):
    for n in range(3):
        owner.post(ada, {"body": f"Note {n}"})
    assert owner.delete("/customers/ada").status == 204
    assert owner.get(ada).status == 404
    # A customer written again under the same id starts without the old notes.
    owner.put("/customers/ada", {"first_name": "Ada again"})
    assert owner.get(ada).json["notes"] == []

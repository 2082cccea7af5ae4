"""Notes on a customer's page (docs/behaviour.md section 7, "Customer notes"): staff write them, newest first;
only the author, an owner or a manager edits or deletes one.

Each note is its own item under the customer (`tenant#customer`), created on condition that its id is new, so
staff writing at the same moment each keep their note. An edit names the version it read and is refused (409)
if the note changed since, so no edit is written over another. Deleting the customer deletes their notes
(`delete_customer_notes`); a note written while the customer was being deleted is taken back, so no note
outlives its customer.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from chalicelib.adapters.models import Customer, Note, tenant_customer
from chalicelib.adapters.persistence import (
    create_only,
    delete_current,
    get_or_none,
    save_if_unchanged,
)
from chalicelib.core.errors import Conflict, Forbidden, NotFound
from chalicelib.core.timeutil import to_iso
from chalicelib.rules import validation as v
from chalicelib.rules.auth import NOTE_MODERATORS, Principal, require_write
from chalicelib.services.paging import decode_cursor, encode_cursor, page_size

MAX_BODY = 5000


def _body(value, field: str) -> str:
    """1-5,000 characters, line breaks kept as written; a body of nothing but spaces and line breaks says nothing."""
    text = v.string(MAX_BODY, min_len=1, multiline=True)(value, field)
    if not text.strip():
        raise v.fail(field, "must not be blank")
    return text


NEW_FIELDS = {"body": _body}
EDIT_FIELDS = {"body": _body, "version": v.integer(1)}


def _gone() -> NotFound:
    return NotFound("no such note", field="note_id")


def new_id(now: datetime) -> str:
    """Sorts by creation time (to the microsecond); the random part keeps two notes of one instant apart."""
    return f"n{int(now.timestamp() * 1_000_000):014x}{uuid.uuid4().hex[:8]}"


def _view(note: Note) -> dict:
    return {"note_id": note.note_id, "customer_id": note.customer_id, "body": note.body, "author": note.author,
            "author_role": note.author_role, "created_at": note.created_at, "edited_at": note.edited_at,
            "edited_by": note.edited_by, "version": note.version}


def _require_customer(tenant_id: str, customer_id: str) -> None:
    if get_or_none(Customer, tenant_id, v.check_id(customer_id, "customer_id")) is None:
        raise NotFound("no such customer", field="customer_id")


def _note(tenant_id: str, customer_id: str, note_id: str) -> Note:
    _require_customer(tenant_id, customer_id)
    note = get_or_none(Note, tenant_customer(tenant_id, customer_id), v.check_id(note_id, "note_id"))
    if note is None:
        raise NotFound("no such note", field="note_id")
    return note


def list_notes(tenant_id: str, customer_id: str, *, limit: str | None, cursor: str | None) -> dict:
    """The customer's notes, newest first, a page at a time."""
    _require_customer(tenant_id, customer_id)
    size = page_size(limit)
    key = tenant_customer(tenant_id, customer_id)
    start = {"tenant_customer": {"S": key}, "note_id": {"S": decode_cursor(cursor)}} if cursor else None
    results = Note.query(key, scan_index_forward=False, limit=size, last_evaluated_key=start)
    items = [_view(note) for note in results]
    last = results.last_evaluated_key
    return {"notes": items, "next_cursor": encode_cursor(last["note_id"]["S"]) if last else None}


def add_note(principal: Principal, customer_id: str, body: dict, now: datetime) -> dict:
    require_write(principal, "notes")
    fields = v.parse(body, NEW_FIELDS, required=("body",))
    _require_customer(principal.tenant_id, customer_id)
    note = create_only(Note(tenant_customer(principal.tenant_id, customer_id), new_id(now),
                            tenant_id=principal.tenant_id, customer_id=customer_id, body=fields["body"],
                            author=principal.subject, author_role=principal.role, created_at=to_iso(now)))
    # The customer was read before the note was written: if they were deleted meanwhile, the deletion may
    # have looked for their notes before this one was there.
    if get_or_none(Customer, principal.tenant_id, customer_id) is None:
        note.delete()
        raise NotFound("no such customer", field="customer_id")
    return _view(note)


def _may_change(principal: Principal, note: Note) -> None:
    require_write(principal, "notes")
    if note.author != principal.subject and principal.role not in NOTE_MODERATORS:
        raise Forbidden("only the note's author, an owner or a manager may change it")


def edit_note(principal: Principal, customer_id: str, note_id: str, body: dict, now: datetime) -> dict:
    """Replace the body; the edit names the `version` it read, and a note changed since is a 409."""
    require_write(principal, "notes")
    fields = v.parse(body, EDIT_FIELDS, required=("body", "version"))
    note = _note(principal.tenant_id, customer_id, note_id)
    _may_change(principal, note)
    if note.version != fields["version"]:
        raise Conflict("the note was changed since you read it: read it again", field="version")
    note.body, note.edited_at, note.edited_by = fields["body"], to_iso(now), principal.subject
    save_if_unchanged(note, Conflict("the note was changed or deleted since you read it: read it again",
                                     field="version"))
    return _view(note)


def delete_note(principal: Principal, customer_id: str, note_id: str) -> None:
    require_write(principal, "notes")
    note = _note(principal.tenant_id, customer_id, note_id)
    _may_change(principal, note)
    # Under the version last read, read again if an edit came in between (its author cannot change).
    delete_current(lambda: get_or_none(Note, note.tenant_customer, note.note_id), _gone())


def delete_customer_notes(tenant_id: str, customer_id: str) -> None:
    """Every note of the customer, when the customer is deleted (each as last read: an edit meanwhile is read
    again and deleted all the same)."""
    key = tenant_customer(tenant_id, customer_id)
    for found in Note.query(key):
        try:
            delete_current(lambda note_id=found.note_id: get_or_none(Note, key, note_id), _gone())
        except NotFound:
            pass   # deleted meanwhile


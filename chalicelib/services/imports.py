"""Customer imports (clienteling section 14; docs/behaviour.md, "Customer import"): a job per file, uploaded to
S3 through a pre-signed address, started as a dry run or a commit, and worked through in the background a chunk
at a time.

A chunk job (on the evaluations queue, as a job of its own kind) reads the file, lays the next `CHUNK_ROWS` rows
over the customers through the customer write path (`customers.import_customer`), writes the chunk's rejects
beside the file, then records the chunk with a write conditional on the run and the chunk number still being
the ones it started from: a chunk run twice counts once, and only the job whose write moved the run on queues
the next chunk. A chunk that crashes part-way is received again and done again from its start: rows it had
written are found equal and counted as the first attempt counted them (the customer notes the run and the
outcome). A retried job that finds its chunk recorded queues the chunk after it again, in case queueing it is
what failed.
"""
from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.files import FileMissing, Files, FileTooLarge, import_key
from chalicelib.adapters.models import Customer, Import, connect_customer_writes
from chalicelib.adapters.persistence import (
    create_only,
    get_or_none,
    is_conditional_failure,
)
from chalicelib.adapters.queues import Queue
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.jobs import kind_of
from chalicelib.core.timeutil import to_iso
from chalicelib.rules import imports as rules
from chalicelib.rules import search
from chalicelib.rules import validation as v
from chalicelib.rules.auth import Principal, require_write
from chalicelib.services import customers

#: Rows per chunk job: a few seconds of writes on DynamoDB, far inside a Lambda's time limit.
CHUNK_ROWS = 500
#: Customers a chunk writes at once (each customer's rows one after another): DynamoDB's writes take
#: milliseconds each, so a chunk waits on the network far more than it computes.
WRITERS = 8
#: How much of the file the preview reads: the header and the first rows.
PREVIEW_BYTES = 64 * 1024
PREVIEW_ROWS = 5
MODES = ("dry_run", "commit")
AWAITING, RUNNING, DONE, FAILED = "awaiting_upload", "running", "done", "failed"
REJECTS_HEADER = "line,reason\r\n"


class MalformedImportJob(ValueError):
    """An evaluations queue message that says it is an import job but is not one."""


@dataclass(frozen=True)
class ImportJob:
    """One chunk of an import's run."""

    tenant_id: str
    import_id: str
    run: int
    chunk: int

    def to_body(self) -> str:
        return json.dumps({"kind": "import", "tenant_id": self.tenant_id, "import_id": self.import_id,
                           "run": self.run, "chunk": self.chunk})

    @staticmethod
    def is_one(body: str) -> bool:
        """An import chunk job says so (`core.jobs`)."""
        return kind_of(body) == "import"

    @classmethod
    def parse(cls, body: str) -> "ImportJob":
        try:
            data = json.loads(body)
            if set(data) != {"kind", "tenant_id", "import_id", "run", "chunk"}:
                raise KeyError("fields")
            ids, numbers = (data["tenant_id"], data["import_id"]), (data["run"], data["chunk"])
            if not all(isinstance(i, str) and i for i in ids) or not all(
                    type(n) is int and n >= 0 for n in numbers):
                raise TypeError("ids are strings, run and chunk whole numbers")
            return cls(*ids, *numbers)
        except (TypeError, ValueError, KeyError) as e:
            raise MalformedImportJob(str(e)) from None


# --- the API's side ------------------------------------------------------------------------------

def _upload_key(tenant_id: str, import_id: str) -> str:
    return import_key(tenant_id, import_id, "upload.csv")


def _rejects_key(tenant_id: str, import_id: str, run: int, chunk: int) -> str:
    return import_key(tenant_id, import_id, f"run-{run}/rejects-{chunk:06d}.csv")


def _view(item: Import) -> dict:
    body: dict[str, Any] = {
        "import_id": item.import_id, "status": item.status, "mode": item.mode, "created_at": item.created_at,
        "started_at": item.started_at, "finished_at": item.finished_at, "rows_total": item.rows_total,
        "rows_done": int(item.rows_done), "created": int(item.created), "updated": int(item.updated),
        "unchanged": int(item.unchanged), "rejected": int(item.rejected),
        "mapping": item.mapping.as_dict() if item.mapping is not None else None, "date_order": item.date_order}
    if item.rows_total is not None:
        body["rows_total"] = int(item.rows_total)
    if item.error:
        body["error"] = item.error
    return {k: val for k, val in body.items() if val is not None}


def _load(tenant_id: str, import_id: str) -> Import:
    item = get_or_none(Import, tenant_id, v.check_id(import_id, "import_id"))
    if item is None:
        raise NotFound("no such import", field="import_id")
    return item


def create(principal: Principal, now: datetime, files: Files) -> dict:
    """A new import waiting for its file: its id and the address to PUT the file to."""
    require_write(principal, "imports")
    item = create_only(Import(principal.tenant_id, uuid.uuid4().hex, created_at=to_iso(now),
                              created_by=principal.subject))
    return {**_view(item), "upload_url": files.upload_url(_upload_key(principal.tenant_id, item.import_id))}


def get(tenant_id: str, import_id: str) -> dict:
    return _view(_load(tenant_id, import_id))


def _header(tenant_id: str, import_id: str, files: Files, rows: int = 0) -> tuple[list[str], list[list[str]], dict]:
    """The uploaded file's header, its first `rows` rows and how it was read, from its first bytes only."""
    try:
        head = files.read(_upload_key(tenant_id, import_id), first=PREVIEW_BYTES)
    except FileMissing:
        raise Conflict("the file has not been uploaded yet") from None
    if len(head) == PREVIEW_BYTES:   # cut at the last line break, whole characters either side of it
        cut = max(head.rfind(b"\n"), 0)
        head = head[:cut + (2 if head[cut + 1:cut + 2] == b"\x00" else 1)] if cut else head
    try:
        text, encoding = rules.decode(head)
    except rules.UnreadableFile as e:
        raise ValidationFailed(str(e), field="file") from None
    delimiter = rules.sniff_delimiter(text)
    found = []
    for record in rules.records(text, delimiter):
        if isinstance(record, rules.Record):
            found.append(record.cells)
        if len(found) > rows:
            break
    if not found:
        raise ValidationFailed("the file has no header line", field="file")
    return found[0], found[1:], {"encoding": encoding, "delimiter": delimiter}


def preview(tenant_id: str, import_id: str, files: Files) -> dict:
    """What the mapping is chosen from: the header, the mapping it suggests and the first rows."""
    _load(tenant_id, import_id)
    header, rows, read = _header(tenant_id, import_id, files, PREVIEW_ROWS)
    return {"header": header, "suggested_mapping": rules.suggest_mapping(header), "rows": rows, **read}


def start(principal: Principal, import_id: str, body: dict, now: datetime, files: Files, queue: Queue) -> dict:
    """Start a run (`mode` `dry_run` or `commit`) with the mapping (the suggested one when none is given); a dry
    run's import may be started again, a commit's may not."""
    require_write(principal, "imports")
    item = _load(principal.tenant_id, import_id)
    fields = v.parse(body, {"mode": v.choice(MODES), "mapping": lambda value, field: value,
                            "date_order": v.choice(rules.DATE_ORDERS)}, required=("mode",))
    if item.status == RUNNING:
        raise Conflict("the import is running")
    if item.mode == "commit" and item.status == DONE:
        raise Conflict("the import was committed; upload the file to a new import to import it again")
    header, _, _ = _header(principal.tenant_id, item.import_id, files)
    mapping = rules.check_mapping(fields.get("mapping", rules.suggest_mapping(header)), header)
    run = int(item.run) + 1
    actions = [Import.status.set(RUNNING), Import.mode.set(fields["mode"]), Import.mapping.set(mapping),
               Import.date_order.set(fields.get("date_order", "dmy")), Import.run.set(run), Import.chunk.set(0),
               Import.offset.set(0), Import.line.set(2), Import.rows_total.remove(), Import.rows_done.set(0),
               Import.created.set(0), Import.updated.set(0), Import.unchanged.set(0), Import.rejected.set(0),
               Import.reject_chunks.remove(), Import.error.remove(), Import.finished_at.remove(),
               Import.started_at.set(to_iso(now)), Import.started_by.set(principal.subject)]
    if not _moved(item, actions, Import.run == item.run):
        raise Conflict("the import was started meanwhile")
    queue.send([ImportJob(principal.tenant_id, item.import_id, run, 0).to_body()])
    return _view(item)


def rejects(tenant_id: str, import_id: str, files: Files) -> str:
    """The last run's rejected rows as CSV: `line` and `reason`, in the file's order."""
    item = _load(tenant_id, import_id)
    parts = [REJECTS_HEADER]
    for chunk in sorted(int(n) for n in item.reject_chunks or []):
        parts.append(files.read(_rejects_key(tenant_id, import_id, int(item.run), chunk)).decode("utf-8"))
    return "".join(parts)


def _moved(item: Import, actions: list, condition) -> bool:
    try:
        item.update(actions=actions, condition=condition, add_version_condition=False)
    except UpdateError as e:
        if not is_conditional_failure(e):
            raise
        return False
    return True


# --- the chunk jobs ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Chunk:
    """What one chunk job did."""

    rows: int = 0
    recorded: bool = False
    continuation: ImportJob | None = None


def _current(item: Import | None, job: ImportJob) -> bool:
    return (item is not None and item.status == RUNNING and int(item.run) == job.run
            and int(item.chunk) == job.chunk)


def run_chunk(job: ImportJob, files: Files, now: datetime, *, retried: bool = False,
              size: int | None = None) -> Chunk:
    """Do one chunk (of `size` rows, default `CHUNK_ROWS`) of an import's run and record it (module
    docstring). `retried`: the job's message was received before."""
    size = size or CHUNK_ROWS
    item = get_or_none(Import, job.tenant_id, job.import_id)
    if not _current(item, job):
        if retried and item is not None and item.status == RUNNING and int(item.run) == job.run \
                and int(item.chunk) == job.chunk + 1:
            return Chunk(continuation=ImportJob(job.tenant_id, job.import_id, job.run, job.chunk + 1))
        return Chunk()
    try:
        text = rules.decode(files.read(_upload_key(job.tenant_id, job.import_id)))[0]
    except (FileMissing, FileTooLarge, rules.UnreadableFile) as e:
        reason = {FileMissing: "the file is gone (uploads expire)",
                  FileTooLarge: "the file is larger than 64 MB"}.get(type(e), str(e))
        return _fail(item, job, reason, now)
    delimiter = rules.sniff_delimiter(text)
    everything = rules.records(text, delimiter)
    header_record = next(everything, None)
    if not isinstance(header_record, rules.Record):
        return _fail(item, job, "the file has no readable header line", now)
    header = header_record.cells
    mapping = item.mapping.as_dict() if item.mapping is not None else {}
    missing = [column for column in mapping if column not in header]
    if missing:
        # The whole file read differently from its first 64 KB (a byte further on that is not UTF-8 makes it
        # Windows-1252): the mapping's columns are not its header's.
        return _fail(item, job, "the file's header reads differently as a whole than in its first lines: save it "
                                "as UTF-8 and import it again", now)
    actions: list = []
    offset, line = int(item.offset), int(item.line)
    if job.chunk == 0:
        offset, line = header_record.end, header_record.next_line
        actions.append(Import.rows_total.set(sum(1 for _ in everything)))
    counts = {customers.CREATED: 0, customers.UPDATED: 0, customers.UNCHANGED: 0}
    rejected: list[tuple[int, str]] = []
    reading = rules.records(text, delimiter, start=offset, line=line)
    read: list[tuple[int, dict | str]] = []   # each record's line, and its fields or why it is rejected
    rows = 0
    last = True
    for record in reading:
        read.append((record.line, record.reason if isinstance(record, rules.Broken)
                     else _fields(item, header, record, mapping)))
        rows += 1
        offset, line = record.end, record.next_line
        if rows == size:
            last = _at_end(text, offset)
            break
    outcomes = _lay_over(job, item, [(n, fields) for n, fields in read if isinstance(fields, dict)], now)
    for number, fields in read:
        outcome = outcomes[number] if isinstance(fields, dict) else fields
        if outcome in counts:
            counts[outcome] += 1
        else:
            rejected.append((number, outcome))
    if rejected:
        files.write_text(_rejects_key(job.tenant_id, job.import_id, job.run, job.chunk), rules.rejects_csv(rejected))
        actions.append(Import.reject_chunks.set((Import.reject_chunks | []).append([job.chunk])))
    actions += [Import.chunk.set(job.chunk + 1), Import.offset.set(offset), Import.line.set(line),
                Import.rows_done.add(rows), Import.created.add(counts[customers.CREATED]),
                Import.updated.add(counts[customers.UPDATED]), Import.unchanged.add(counts[customers.UNCHANGED]),
                Import.rejected.add(len(rejected))]
    if last:
        actions += [Import.status.set(DONE), Import.finished_at.set(to_iso(now))]
    recorded = _moved(item, actions, (Import.status == RUNNING) & (Import.run == job.run) & (Import.chunk == job.chunk))
    follow = ImportJob(job.tenant_id, job.import_id, job.run, job.chunk + 1) if recorded and not last else None
    return Chunk(rows, recorded, follow)


def _fail(item: Import, job: ImportJob, reason: str, now: datetime) -> Chunk:
    """The run cannot go on (the file itself): `failed` with the reason, once, by the chunk that found it."""
    _moved(item, [Import.status.set(FAILED), Import.error.set(reason), Import.finished_at.set(to_iso(now))],
           (Import.status == RUNNING) & (Import.run == job.run) & (Import.chunk == job.chunk))
    return Chunk()


def _fields(item: Import, header: list[str], record: rules.Record, mapping: dict) -> dict | str:
    """A row's fields, or why it is rejected."""
    try:
        fields = rules.row_fields(header, record.cells, mapping, item.date_order or "dmy", customers.CUSTOMER_FIELDS)
    except rules.RowRejected as e:
        return str(e)
    return fields or "every mapped cell is blank"


def _lay_over(job: ImportJob, item: Import, rows: list[tuple[int, dict]], now: datetime) -> dict[int, str]:
    """What each row (by line) did to its customer (`created`, `updated`, `unchanged`), or why it was rejected:
    the chunk's customers read in batches (`_Customers`), then the rows written, different customers' at once
    (`WRITERS`), each customer's rows in the file's order."""
    known = _Customers(job, rows)
    groups = known.groups(rows)
    outcomes: dict[int, str] = {}

    def lay(group: list[tuple[int, dict]]) -> list[tuple[int, str]]:
        return [(number, known.lay(number, fields, item, now)) for number, fields in group]

    if item.mode == "commit" and len(groups) > 1:
        connect_customer_writes()
        with ThreadPoolExecutor(max_workers=min(WRITERS, len(groups)), thread_name_prefix="import") as pool:
            for done in pool.map(lay, groups):
                outcomes.update(done)
    else:
        for group in groups:
            outcomes.update(lay(group))
    return outcomes


class _Customers:
    """The customers a chunk's rows are laid over, as the chunk knows them: read up front in batches (the
    addresses' items, then the customers, `BatchGetItem` each), then kept as the chunk writes them, so that a
    row sees what the rows before it in the file wrote, as if the rows were written one after another.

    A row is matched by the id in its `customer_id` cell, else by its email (the first customer, by id, holding
    the address), else it makes a new customer whose id is `<import id>-<line>` (so that a row done again makes
    the same one). Rows that may touch one customer, or one address, are one group, written in order; the
    groups are independent of each other."""

    def __init__(self, job: ImportJob, rows: list[tuple[int, dict]]) -> None:
        self.job = job
        self.lock = threading.Lock()
        self.by_email = customers.customers_by_email(
            job.tenant_id, [fields["email"] for _, fields in rows if "customer_id" not in fields and "email" in fields])
        wanted = {self._target(number, fields) for number, fields in rows}
        self.customers: dict[str, Customer | None] = dict.fromkeys(wanted)
        self.customers.update(customers.customers_by_id(job.tenant_id, wanted))
        self.email_of = {cid: search.email_key(c.email) for cid, c in self.customers.items() if c is not None}

    def _target(self, number: int, fields: dict) -> str:
        if "customer_id" in fields:
            return fields["customer_id"]
        holders = self.by_email.get(search.email_key(fields.get("email")) or "")
        return min(holders) if holders else f"{self.job.import_id}-{number}"

    def groups(self, rows: list[tuple[int, dict]]) -> list[list[tuple[int, dict]]]:
        """The rows in groups that share no customer and no address (each group in the file's order): a row's
        customer as first matched, its email's address, and that customer's address as stored. A row's match
        can change only by a write of a row sharing one of these, so it is in the same group."""
        parent = list(range(len(rows)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        first: dict[str, int] = {}
        for i, (number, fields) in enumerate(rows):
            target = self._target(number, fields)
            for token in ("id:" + target, search.email_key(fields.get("email")), self.email_of.get(target)):
                if token is None:
                    continue
                if token in first:
                    parent[root(i)] = root(first[token])
                else:
                    first[token] = i
        grouped: dict[int, list[tuple[int, dict]]] = {}
        for i, row in enumerate(rows):
            grouped.setdefault(root(i), []).append(row)
        return list(grouped.values())

    def lay(self, number: int, fields: dict, item: Import, now: datetime) -> str:
        """One row laid over its customer: its outcome, or why it is rejected."""
        with self.lock:
            customer_id = self._target(number, fields)
            current = self.customers[customer_id] if customer_id in self.customers else customers.UNREAD
        if current is None and "customer_id" not in fields and not any(
                fields.get(name) for name in ("first_name", "last_name", "phone", "email")):
            return "a new customer needs a name, an email or a phone"
        outcome, written = customers.import_customer(
            self.job.tenant_id, customer_id, fields, import_id=self.job.import_id, run=self.job.run,
            by=item.started_by or "import", now=now, commit=item.mode == "commit",
            id_from_file="customer_id" in fields, current=current)
        if written is not None:
            with self.lock:
                self.customers[customer_id] = written
                before, after = self.email_of.get(customer_id), search.email_key(written.email)
                if before != after:
                    if before in self.by_email:
                        self.by_email[before].discard(customer_id)
                    if after:
                        self.by_email.setdefault(after, set()).add(customer_id)
                    self.email_of[customer_id] = after
        return outcome


def _at_end(text: str, offset: int) -> bool:
    return not text[offset:].strip()

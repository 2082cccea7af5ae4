"""A customer import of N rows (default 100,000) through the local stack, as `cli import` runs it, and the
scale model of a 1,000,000-row import on AWS built from what it measures.

    .venv/bin/python -m bench.imports [--rows 100000] [--chunk 500] [--mode commit|dry_run] [--again]
                                      [--model-rows 1000000] [--json]

The stack runs in a child process (`cli serve --manual --no-seed`: the API and the emulator, moto in server
mode over HTTP); this process is the worker: it creates the import through the API, PUTs the file to the
pre-signed address, starts it, and works the chunk jobs from the evaluations queue (`local.runner.poll_once`
with the evaluate function's handler) until the import is done. So its peak resident memory is the worker's
(the file, decoded once per chunk, and the clients), and the time is the import's from start to done.

The file is Excel's "CSV UTF-8": a byte-order mark, CRLF, names with accents, a tenth of the rows with a
birthday in DD/MM/YYYY, a few quoted fields with commas, and 1 % bad emails (rejected).

Every AWS call the worker makes is counted (botocore's, so PynamoDB's too), and each DynamoDB write's items
with their write units (`write_units`): what the chunks cost in requests, and what they ask of each partition
key. `--again` runs a second import of the same file after the first (a commit's re-run: every row
`unchanged`), measured the same way. The model (`model`, pure) turns the measurement into a 1,000,000-row
import on AWS: the chunk jobs are a chain (each queues the next once it is recorded), so one import runs one
chunk at a time, and its rows go to a few partition keys (every table is partitioned by store), each of which
DynamoDB holds to 1,000 write units a second.
"""
from __future__ import annotations

import argparse
import codecs
import io
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_file(rows: int) -> bytes:
    lines = ["First Name,Last Name,E-mail,Mobile,DOB,VIP,Accepts Email Marketing,Notes"]
    for n in range(rows):
        email = f"customer{n}@example.com" if n % 100 else f"customer{n}-at-example.com"
        dob = f"{n % 28 + 1:02d}/{n % 12 + 1:02d}/19{50 + n % 50}" if n % 10 == 0 else ""
        note = '"likes pearls, gold"' if n % 50 == 0 else ""
        lines.append(f"Zoë{n},Müller,{email},+336{n:08d},{dob},{'yes' if n % 10 == 1 else ''},"
                     f"{'yes' if n % 3 else 'no'},{note}")
    return codecs.BOM_UTF8 + ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _serve(state: str) -> subprocess.Popen:
    env = {**os.environ, "LOCAL_STATE_DIR": state, "TABLE_PREFIX": "bench-imports-"}
    process = subprocess.Popen([sys.executable, "-m", "local.cli", "serve", "--manual", "--no-seed",
                                "--port", str(_free_port()), "--aws-port", "0"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stack = Path(state) / "stack.json"
    deadline = time.monotonic() + 120
    while not stack.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("error: the local stack did not start:\n" + (process.stdout.read() if process.stdout else ""))
        time.sleep(0.2)
    return process


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- counting what the worker asks of AWS ------------------------------------------------------------

#: Attributes of a customer item that key a global secondary index (each index the item is in is written
#: with it): the index, and whether its partition key is the store itself (one key for the whole import).
CUSTOMER_INDEXES = {"birthday_key": ("birthday_index", False), "anniversary_key": ("anniversary_index", False),
                    "last_activity_at": ("last_activity_index", True), "email_key": ("email_index", False),
                    "vip_key": ("vip_index", True), "created_at": ("created_index", True)}
KEYS_ONLY_INDEXES = {"email_index"}


def _item_bytes(item: dict) -> int:
    """An item's size as DynamoDB counts it, near enough: attribute names and values."""
    return sum(len(name.encode()) + len(json.dumps(value, ensure_ascii=False).encode()) for name, value in item.items())


def write_units(operation: str, params: dict) -> Counter:
    """The write units one DynamoDB write call consumes, by table (and `table/index` for the indexes it writes):
    1 per KB of each item written, twice that in a transaction; a customer item put also writes each index it
    has the key of (an update that moves a key deletes and puts: counted as one)."""
    units: Counter = Counter()
    if operation == "TransactWriteItems":
        writes = [(kind, body) for entry in params["TransactItems"] for kind, body in entry.items()
                  if kind != "ConditionCheck"]
        factor = 2
    elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
        writes, factor = [({"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}[operation], params)], 1
    else:
        return units
    for kind, body in writes:
        table = body["TableName"].rsplit("-", 1)[-1] if "-" in body["TableName"] else body["TableName"]
        item = body.get("Item") or body.get("Key", {})
        size = _item_bytes(item) if kind == "Put" else _item_bytes(item) + 40
        units[table] += factor * max(1, math.ceil(size / 1024))
        if kind == "Put" and table == "customers":
            for attribute, (index, _) in CUSTOMER_INDEXES.items():
                if attribute in item:
                    units[f"customers/{index}"] += 1 if index in KEYS_ONLY_INDEXES else max(1, math.ceil(size / 1024))
    return units


#: Tables and indexes whose partition key is the store: all of one import's writes to them go to one key.
STORE_KEYED = {"customers", "customer_search", "imports",
               *(f"customers/{index}" for index, by_store in CUSTOMER_INDEXES.values() if by_store)}


class Recorder:
    """Every call made through botocore while it is installed: counts by `service:operation`, DynamoDB write
    units by table and index."""

    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self.units: Counter = Counter()

    def __enter__(self) -> "Recorder":
        from botocore.client import BaseClient

        self._original = original = BaseClient._make_api_call
        recorder = self

        def record(client, operation, params):
            service = client.meta.service_model.service_name
            recorder.calls[f"{service}:{operation}"] += 1
            if service == "dynamodb":
                recorder.units.update(write_units(operation, params))
            return original(client, operation, params)

        BaseClient._make_api_call = record
        return self

    def __exit__(self, *exc) -> None:
        from botocore.client import BaseClient

        BaseClient._make_api_call = self._original


def file_seconds(data: bytes) -> float:
    """This machine's CPU for what every chunk does to the whole file before its rows: decode it, and set up
    the reading of the rest from a chunk's offset (the middle of the file, on average)."""
    from chalicelib.rules import imports as rules

    started = time.process_time()
    text = rules.decode(data)[0]
    io.StringIO(text[len(text) // 2:], newline="").readline()
    return time.process_time() - started


def file_memory_ratio(data: bytes, chunk_rows: int) -> float:
    """Python's peak allocation while a first chunk reads the file (tracemalloc), per byte of file: the bytes,
    their text, the count of every row, then the reading of the chunk's rows from its offset (each a copy of
    the rest of the text in a `StringIO`, which holds 4 bytes a character). What a chunk holds for the file
    grows with it; the rest of the worker's memory does not."""
    import tracemalloc

    from chalicelib.rules import imports as rules

    tracemalloc.start()
    try:
        copy = bytes(bytearray(data))
        text = rules.decode(copy)[0]
        del copy
        delimiter = rules.sniff_delimiter(text)
        everything = rules.records(text, delimiter)
        header = next(everything)
        sum(1 for _ in everything)
        reading = rules.records(text, delimiter, start=header.end, line=header.next_line)
        for _, _record in zip(range(chunk_rows), reading):
            pass
        return tracemalloc.get_traced_memory()[1] / len(data)
    finally:
        tracemalloc.stop()


# --- the model (pure: the measurement in, a 1,000,000-row import on AWS out) -------------------------

#: Published figures, named so they can be argued with (as in bench/scale.py).
DYNAMODB_ITEM_SECONDS = 0.005        # GetItem, PutItem, UpdateItem
DYNAMODB_TRANSACTION_SECONDS = 0.0125  # TransactWriteItems
DYNAMODB_BATCH_GET_SECONDS = 0.010   # BatchGetItem of up to 100 keys
S3_GET_MB_PER_SECOND = 90.0          # one GetObject stream into a Lambda function
SQS_HANDOVER_SECONDS = 0.030         # the next chunk's SendMessage and the event source's hand-over, warm
PARTITION_WCU_PER_SECOND = 1000      # DynamoDB's limit on one partition (one partition key, until split)
TABLE_WCU_PER_SECOND = 40_000        # an on-demand table's default write quota (per table, account level)
EVALUATE_MEMORY_MB = 1024            # .chalice/config.json: the evaluate function runs the chunk jobs
LAMBDA_VCPU = EVALUATE_MEMORY_MB / 1769   # Lambda gives a full vCPU at 1,769 MB
LAMBDA_TIMEOUT_SECONDS = 900
MAX_FILE_MB = 64                     # the largest file an import reads (chalicelib/adapters/files.py)
LATENCY = {"dynamodb:GetItem": DYNAMODB_ITEM_SECONDS, "dynamodb:PutItem": DYNAMODB_ITEM_SECONDS,
           "dynamodb:UpdateItem": DYNAMODB_ITEM_SECONDS, "dynamodb:TransactWriteItems": DYNAMODB_TRANSACTION_SECONDS,
           "dynamodb:BatchGetItem": DYNAMODB_BATCH_GET_SECONDS, "dynamodb:Query": DYNAMODB_ITEM_SECONDS}
ROW_WRITES = {"dynamodb:PutItem", "dynamodb:TransactWriteItems"}


def model(measured: dict, rows: int) -> dict:
    """A `rows`-row import of the measured file's kind on AWS: its chunk jobs one after another, each reading
    the file, reading its customers in batches and writing its rows `writers` at a time, against DynamoDB's
    write limit on the partition keys every row writes to."""
    per_row_calls = {op: n / measured["rows"] for op, n in measured["calls"].items()}
    per_row_units = {key: n / measured["rows"] for key, n in measured["write_units"].items()}
    chunks = math.ceil(rows / measured["chunk_rows"])
    file_mb = measured["file_bytes"] / measured["rows"] * rows / 1e6
    chunk_rows = min(measured["chunk_rows"], rows)
    # One chunk: the file from S3 and decoded; its rows' own CPU; its calls, the writes spread over the threads.
    file_s = file_mb / S3_GET_MB_PER_SECOND + measured["file_cpu_seconds_per_mb"] * file_mb / LAMBDA_VCPU
    cpu_s = measured["row_cpu_seconds"] * chunk_rows / LAMBDA_VCPU
    read_s = sum(LATENCY.get(op, 0) * n * chunk_rows for op, n in per_row_calls.items() if op not in ROW_WRITES)
    write_s = sum(LATENCY.get(op, 0) * n * chunk_rows for op, n in per_row_calls.items() if op in ROW_WRITES) \
        / measured["writers"]
    chunk_s = file_s + max(cpu_s, write_s) + read_s + SQS_HANDOVER_SECONDS
    chain_s = chunks * chunk_s
    hot = {key: units for key, units in per_row_units.items() if key in STORE_KEYED}
    hottest = max(hot, key=hot.get) if hot else None
    floor_s = rows * hot[hottest] / PARTITION_WCU_PER_SECOND if hottest else 0.0
    table_units = Counter()
    for key, units in per_row_units.items():
        table_units[key.split("/")[0]] += units
    # The worker's peak as measured, and what a chunk holds for the file grown to the modeled file's size.
    memory_mb = measured["rss_peak_mb"] + measured["file_memory_ratio"] * (file_mb - measured["file_bytes"] / 1e6)
    return {
        "rows": rows, "chunks": chunks, "invocations": chunks, "concurrency": 1,
        "file_mb": round(file_mb, 1), "file_fits": file_mb <= MAX_FILE_MB,
        "chunk_seconds": round(chunk_s, 2), "chunk_parts": {"file": round(file_s, 2), "cpu": round(cpu_s, 2),
                                                            "reads": round(read_s, 3), "writes": round(write_s, 2)},
        "chain_seconds": round(chain_s), "rows_per_second_chain": round(rows / chain_s, 1),
        "hottest_key": hottest, "hottest_wcu_per_row": round(hot[hottest], 2) if hottest else 0,
        "partition_floor_seconds": round(floor_s), "total_seconds": round(max(chain_s, floor_s)),
        "bound_by": "the partition key's write limit" if floor_s > chain_s else "the chain of chunk jobs",
        "peak_wcu_per_second": {key: round(units * rows / max(chain_s, floor_s))
                                for key, units in sorted(per_row_units.items())},
        "table_wcu_per_second": {t: round(u * rows / max(chain_s, floor_s)) for t, u in sorted(table_units.items())},
        "calls_per_row": {op: round(n, 4) for op, n in sorted(per_row_calls.items())},
        "dynamodb_calls_per_row": round(sum(n for op, n in per_row_calls.items() if op.startswith("dynamodb:")), 4),
        "peak_memory_mb_per_invocation": round(memory_mb), "memory_limit_mb": EVALUATE_MEMORY_MB,
        "chunk_within_timeout": chunk_s < LAMBDA_TIMEOUT_SECONDS,
    }


def report(result: dict, command: str) -> list[str]:
    """The BENCHMARKS.md section of one run (with `--again` and the model)."""
    lines = [f"`{command}`", "",
             "| run | rows | time | rows/s | worker peak RSS | DynamoDB calls per row | created | updated | unchanged | rejected |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run in result["runs"]:
        lines.append(f"| {run['label']} | {run['rows']:,} | {run['seconds']:,.1f} s | {run['rows_per_second']:,.1f} | "
                     f"{run['worker_peak_rss_mb']} MB | {run['dynamodb_calls_per_row']} | {run['created']:,} | "
                     f"{run['updated']:,} | {run['unchanged']:,} | {run['rejected']:,} |")
    lines += ["", "Calls per row (the worker's, every service):", "",
              "| call | " + " | ".join(run["label"] for run in result["runs"]) + " |",
              "|---|" + "---:|" * len(result["runs"])]
    operations = sorted({op for run in result["runs"] for op in run["calls_per_row"]})
    for op in operations:
        lines.append(f"| {op} | " + " | ".join(f"{run['calls_per_row'].get(op, 0):.4f}" for run in result["runs"])
                     + " |")
    m = result.get("model")
    if m:
        lines += ["", f"Modeled: {m['rows']:,} rows on AWS, from the `{m['from']}` run's measurement "
                      f"({m['file_mb']} MB of file{'' if m['file_fits'] else ', over the 64 MB an import reads: such a file must be split, or its rows shorter'}).", "",
                  "| | |", "|---|---:|",
                  f"| chunk jobs (Lambda invocations), one at a time | {m['invocations']:,} |",
                  f"| one chunk: file {m['chunk_parts']['file']} s + max(CPU {m['chunk_parts']['cpu']} s, writes "
                  f"{m['chunk_parts']['writes']} s over the threads) + reads {m['chunk_parts']['reads']} s + hand-over | "
                  f"{m['chunk_seconds']} s |",
                  f"| the chain of chunks | {m['chain_seconds']:,} s ({m['rows_per_second_chain']:,} rows/s) |",
                  f"| write units per row into the hottest store-keyed partition (`{m['hottest_key']}`) | "
                  f"{m['hottest_wcu_per_row']} |",
                  f"| that partition key's floor at {PARTITION_WCU_PER_SECOND:,} WCU/s | {m['partition_floor_seconds']:,} s |",
                  f"| **total** (bound by {m['bound_by']}) | **{m['total_seconds']:,} s ({m['total_seconds'] / 3600:.1f} h)** |",
                  f"| DynamoDB calls per row | {m['dynamodb_calls_per_row']} |",
                  f"| peak memory per invocation (the measured peak, plus what a chunk holds per MB of file) | "
                  f"{m['peak_memory_mb_per_invocation']} MB of "
                  f"{m['memory_limit_mb']} MB |",
                  f"| write units/s per table at that pace (on-demand quota {TABLE_WCU_PER_SECOND:,} per table) | "
                  + ", ".join(f"{t} {u:,}" for t, u in m["table_wcu_per_second"].items()) + " |",
                  "", "Every table is partitioned by store, so each of an import's rows writes to the same partition key of "
                  "`customers`, of two of its indexes and of `customer_search`; a new customer's transaction writes it with "
                  "each of its search keys (names, email, each ending of the phone's digits) and its address item, at twice "
                  "the units a plain write costs. The floor assumes the 1,000 write units a second DynamoDB holds one "
                  "partition to; DynamoDB may split a hot partition key's items by sort key under sustained load, which "
                  "would lower the floor, and the model does not count on it. One import runs one chunk at a time (each "
                  "queues the next once recorded); different stores' imports run side by side, each its own chain."]
    return lines


# --- the run -------------------------------------------------------------------------------------------

def _one_import(api, data: bytes, mode: str, label: str) -> dict:
    import requests

    from chalicelib.adapters import clients, resources
    from local.runner import Summary, _evaluation_handler, poll_once

    created = api.call("POST", "/imports")
    assert requests.put(created["upload_url"], data=data, timeout=300).ok
    import_id = created["import_id"]
    cpu_before = time.process_time()
    started = time.perf_counter()
    api.call("POST", f"/imports/{import_id}/start", {"mode": mode})
    url = clients.queue_url(resources.evaluation_queue_name())
    handler = _evaluation_handler(Summary())
    jobs = 0
    with Recorder() as recorder:
        while True:
            jobs += poll_once(url, handler, report=lambda line: print(line, file=sys.stderr))
            job = api.call("GET", f"/imports/{import_id}")
            if job["status"] in ("done", "failed"):
                break
    seconds = time.perf_counter() - started
    rows = job["rows_total"] or 1
    dynamodb = sum(n for op, n in recorder.calls.items() if op.startswith("dynamodb:"))
    return {"label": label, "mode": mode, "rows": rows, "chunk_jobs": jobs, "seconds": round(seconds, 1),
            "rows_per_second": round(rows / seconds, 1), "cpu_seconds": round(time.process_time() - cpu_before, 1),
            "worker_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "calls": dict(recorder.calls), "write_units": dict(recorder.units),
            "calls_per_row": {op: round(n / rows, 4) for op, n in sorted(recorder.calls.items())},
            "dynamodb_calls_per_row": round(dynamodb / rows, 4),
            **{k: job[k] for k in ("status", "rows_total", "created", "updated", "unchanged", "rejected")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=None, help="rows per chunk job (default: the service's)")
    parser.add_argument("--mode", choices=("commit", "dry_run"), default="commit")
    parser.add_argument("--again", action="store_true", help="then import the same file again (a re-run)")
    parser.add_argument("--model-rows", type=int, default=1_000_000, help="rows of the modeled import (0: none)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    state = tempfile.mkdtemp(prefix="bench-imports-")
    os.environ["LOCAL_STATE_DIR"] = state
    os.environ["TABLE_PREFIX"] = "bench-imports-"
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    server = _serve(state)
    try:
        from local import stack as localstack

        running = json.loads((Path(state) / "stack.json").read_text())
        localstack.configure_environment(running["aws_endpoint_url"], localstack.local_secret(), running["api_url"])
        from chalicelib.rules.auth import issue_local_token
        from chalicelib.services import imports
        from local.imports import Client

        if args.chunk:
            imports.CHUNK_ROWS = args.chunk
        data = make_file(args.rows)
        api = Client(running["api_url"], issue_local_token(localstack.local_secret(), "bench-store", "owner"))
        base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        runs = [_one_import(api, data, args.mode, args.mode)]
        if args.again:
            runs.append(_one_import(api, data, args.mode, f"{args.mode} again"))
    finally:
        server.terminate()
        server.wait(timeout=30)
    first = runs[0]
    file_mb = len(data) / 1e6
    measured = {"rows": first["rows"], "chunk_rows": imports.CHUNK_ROWS, "writers": imports.WRITERS,
                "file_bytes": len(data), "calls": first["calls"], "write_units": first["write_units"],
                "file_cpu_seconds_per_mb": file_seconds(data) / file_mb,
                "rss_peak_mb": first["worker_peak_rss_mb"], "file_memory_ratio": file_memory_ratio(data, imports.CHUNK_ROWS)}
    chunks = first["chunk_jobs"]
    measured["row_cpu_seconds"] = max(0.0, first["cpu_seconds"] - chunks * measured["file_cpu_seconds_per_mb"] * file_mb) \
        / first["rows"]
    result = {"rows": args.rows, "file_bytes": len(data), "chunk_rows": imports.CHUNK_ROWS, "writers": imports.WRITERS,
              "worker_rss_before_mb": round(base_mb, 1), "runs": runs, "measured": measured}
    if args.model_rows:
        result["model"] = {**model(measured, args.model_rows), "from": first["label"]}
    if args.json:
        print(json.dumps(result))
    else:
        shown = " ".join([".venv/bin/python", "-m", "bench.imports", *(argv if argv is not None else sys.argv[1:])])
        print("\n".join(report(result, shown)))
        for run in runs:
            print(json.dumps({k: v for k, v in run.items() if k not in ("calls", "calls_per_row", "write_units")}))
    return 0 if all(run["status"] == "done" for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())

"""A customer import of N rows (default 100,000) through the local stack, as `cli import` runs it.

    .venv/bin/python -m bench.imports [--rows 100000] [--chunk 500] [--mode commit|dry_run] [--json]

The stack runs in a child process (`cli serve --manual --no-seed`: the API and the emulator, moto in server
mode over HTTP); this process is the worker: it creates the import through the API, PUTs the file to the
pre-signed address, starts it, and works the chunk jobs from the evaluations queue (`local.runner.poll_once`
with the evaluate function's handler) until the import is done. So its peak resident memory is the worker's
(the file, decoded once per chunk, and the clients), and the time is the import's from start to done.

The file is Excel's "CSV UTF-8": a byte-order mark, CRLF, names with accents, a tenth of the rows with a
birthday in DD/MM/YYYY, a few quoted fields with commas, and 1 % bad emails (rejected).
"""
from __future__ import annotations

import argparse
import codecs
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=None, help="rows per chunk job (default: the service's)")
    parser.add_argument("--mode", choices=("commit", "dry_run"), default="commit")
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
        import requests

        from chalicelib.adapters import clients, resources
        from chalicelib.rules.auth import issue_local_token
        from chalicelib.services import imports
        from local.imports import Client
        from local.runner import Summary, _evaluation_handler, poll_once

        if args.chunk:
            imports.CHUNK_ROWS = args.chunk
        data = make_file(args.rows)
        api = Client(running["api_url"], issue_local_token(localstack.local_secret(), "bench-store", "owner"))
        created = api.call("POST", "/imports")
        assert requests.put(created["upload_url"], data=data, timeout=300).ok
        import_id = created["import_id"]
        before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        api.call("POST", f"/imports/{import_id}/start", {"mode": args.mode})
        url = clients.queue_url(resources.evaluation_queue_name())
        handler = _evaluation_handler(Summary())
        jobs = 0
        while True:
            jobs += poll_once(url, handler, report=lambda line: print(line, file=sys.stderr))
            job = api.call("GET", f"/imports/{import_id}")
            if job["status"] in ("done", "failed"):
                break
        seconds = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = {"rows": args.rows, "file_bytes": len(data), "mode": args.mode, "chunk_rows": imports.CHUNK_ROWS,
              "chunk_jobs": jobs, "seconds": round(seconds, 1), "rows_per_second": round(args.rows / seconds, 1),
              "worker_peak_rss_mb": round(peak_kb / 1024, 1), "worker_rss_before_mb": round(before_kb / 1024, 1),
              **{k: job[k] for k in ("status", "rows_total", "created", "updated", "unchanged", "rejected")}}
    if args.json:
        print(json.dumps(result))
    else:
        for name, value in result.items():
            print(f"{name:<22} {value}")
    return 0 if job["status"] == "done" else 1


if __name__ == "__main__":
    sys.exit(main())

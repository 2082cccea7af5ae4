"""`cli import FILE --tenant T`: a customer file through the local stack's API, as the admin page sends it.

It creates the import, PUTs the file to the pre-signed address, shows the mapping (suggested from the header,
with `--map COLUMN=FIELD` laid over it), starts a dry run or a commit, follows the progress with a bar, and ends
with the counts (the rejected rows saved beside the file). The chunk jobs ride the evaluations queue: under
`make run` serve's workers take them; under `serve --manual` nothing else would, so this command works them
itself through the local runner (`--work` chooses; either way a chunk counts once).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import requests

from local import stack as localstack

POLL_SECONDS = 0.5
WAIT_SECONDS = 6 * 3600


class ApiError(Exception):
    """The API refused a call; the message is its error."""


class Client:
    def __init__(self, api_url: str, token: str) -> None:
        self.api, self.session = api_url, requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: dict | None = None, *, text: bool = False):
        answer = self.session.request(method, self.api + path, json=body, timeout=60)
        if answer.status_code >= 400:
            try:
                error = answer.json()["error"]
                raise ApiError(f"{error.get('field', '')}: {error['message']}".lstrip(": "))
            except (ValueError, KeyError):
                raise ApiError(f"{method} {path} answered {answer.status_code}") from None
        return answer.text if text else answer.json()


def _work_here(work: str) -> bool:
    return work == "here" or (work == "auto" and bool(localstack.stack_file().get("manual")))


def run(file: str, tenant: str, *, dry_run: bool, mapping: dict[str, str], date_order: str, work: str,
        api: str | None = None, out=sys.stdout) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from chalicelib.rules.auth import issue_local_token

    console = Console(file=out)
    path = Path(file)
    try:
        data = path.read_bytes()
    except OSError as e:
        console.print(f"error: cannot read {file} ({e.strerror})")
        return 2
    api = api or localstack.stack_file().get("api_url")
    if not api:
        console.print("error: no local stack found: start one with `make run`")
        return 2
    client = Client(api, issue_local_token(localstack.local_secret(), tenant, "owner", subject=f"{tenant}:cli"))
    try:
        created = client.call("POST", "/imports")
        import_id = created["import_id"]
        uploaded = requests.put(created["upload_url"], data=data, timeout=300)
        if not uploaded.ok:
            console.print(f"error: the upload was refused ({uploaded.status_code})")
            return 2
        preview = client.call("GET", f"/imports/{import_id}/preview")
        unknown = [column for column in mapping if column not in preview["header"]]
        if unknown:
            console.print(f"error: --map names columns the file does not have: {', '.join(unknown)} "
                          f"(its columns: {', '.join(preview['header'])})")
            return 2
        chosen = {**preview["suggested_mapping"], **mapping}
        console.print(f"{path.name}: {preview['encoding']}, delimiter {json.dumps(preview['delimiter'])}")
        for column, field in chosen.items():
            console.print(f"  {column:<30} -> {field}")
        client.call("POST", f"/imports/{import_id}/start",
                    {"mode": "dry_run" if dry_run else "commit", "mapping": chosen, "date_order": date_order})
        job = _follow(client, import_id, _work_here(work), Progress(
            TextColumn("dry run" if dry_run else "importing"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console))
    except ApiError as e:
        console.print(f"error: {e}")
        return 2
    except requests.RequestException as e:
        console.print(f"error: the local stack did not answer ({e}); is `make run` still running?")
        return 2
    if job["status"] == "failed":
        console.print(f"error: the import failed: {job.get('error', 'unknown reason')}")
        return 1
    counts = {name: job[name] for name in ("created", "updated", "unchanged", "rejected")}
    console.print(("would be: " if dry_run else "") + ", ".join(f"{name} {n}" for name, n in counts.items()))
    if job["rejected"]:
        rejects = path.with_name(f"{path.stem}.rejects.csv")
        rejects.write_text(client.call("GET", f"/imports/{import_id}/rejects", text=True), encoding="utf-8",
                          newline="")
        console.print(f"rejected rows, with their line and reason: {rejects}")
    out.write(json.dumps({"import_id": import_id, "status": job["status"], "rows_total": job.get("rows_total"),
                          **counts}) + "\n")
    return 0


def _follow(client: Client, import_id: str, work_here: bool, progress) -> dict:
    """Poll the import until it is done, moving the bar; work its chunks here when asked."""
    handle = None
    if work_here:
        from chalicelib.adapters import clients, resources
        from local.runner import Summary, _evaluation_handler, poll_once

        url = clients.queue_url(resources.evaluation_queue_name())
        handle = (url, _evaluation_handler(Summary()))
    deadline = time.monotonic() + WAIT_SECONDS
    with progress:
        task = progress.add_task("rows", total=None)
        while time.monotonic() < deadline:
            job = client.call("GET", f"/imports/{import_id}")
            progress.update(task, total=job.get("rows_total"), completed=job["rows_done"])
            if job["status"] in ("done", "failed"):
                return job
            if handle is not None:
                poll_once(*handle, report=lambda line: progress.console.print(line))
            else:
                time.sleep(POLL_SECONDS)
    raise ApiError(f"the import was still running after {WAIT_SECONDS // 3600} hours")

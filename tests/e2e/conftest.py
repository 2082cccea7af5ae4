"""The local stack as a newcomer runs it: `python -m local.cli serve` in a subprocess, over HTTP."""
from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
# The test tiers above set these for in-process moto; the real stack must not inherit them.
_TEST_ONLY = ("LOCAL_JWT_SECRET", "TABLE_PREFIX", "AUTH_MODE", "AWS_ACCOUNT_ID_ENDPOINT_MODE",
              "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN", "PUBLIC_API_URL",
              "POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_LOG_LEVEL")


#: The stack under test keeps its secrets and addresses here, not in the checkout's `.local/`, so a
#: developer's own running `make run` is left alone.
STATE_DIR = tempfile.mkdtemp(prefix="automations-e2e-")


def clean_env(**extra: str) -> dict:
    env = {k: val for k, val in os.environ.items() if k not in _TEST_ONLY and not k.startswith("AWS_ENDPOINT_URL")}
    env.update({"PYTHONUNBUFFERED": "1", "LOCAL_STATE_DIR": STATE_DIR, **extra})
    return env


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str, env: dict | None = None, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "local.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, env=env or clean_env(), timeout=timeout)


class Stack:
    def __init__(self, api: str, endpoint: str, output: str, startup_seconds: float):
        self.api, self.endpoint, self.output, self.startup_seconds = api, endpoint, output, startup_seconds

    def token(self, tenant: str = "demo-store", role: str = "owner") -> str:
        result = cli("token", "--tenant", tenant, "--role", role)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def tick(self, at: str) -> dict:
        """`cli tick --at` against this stack, reached through AWS_ENDPOINT_URL as docs/behaviour.md section 9 says."""
        import json

        result = cli("tick", "--at", at, env=clean_env(AWS_ENDPOINT_URL=self.endpoint), timeout=600)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def outbox(self) -> dict:
        return requests.get(self.api + "/_local/outbox", timeout=30).json()

    def call(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, self.api + path, headers=headers, timeout=30, **kwargs)


def _start(*options: str):
    """Run `serve` with `options` until it says it is up; yields the Stack, stops it afterwards."""
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "local.cli", "serve", *options, "--port", str(port),
                                "--aws-port", "0"], cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    output = []
    deadline = time.monotonic() + 300   # a loaded CI machine seeds the demo store slowly
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        output.append(line)
        if line.startswith("Ctrl-C"):
            break
    text = "".join(output)
    if not text.rstrip().endswith("in memory only)."):
        process.kill()
        pytest.fail(f"local stack did not start:\n{text}")
    endpoint = re.search(r"AWS_ENDPOINT_URL\s+(\S+)", text).group(1)
    stack = Stack(f"http://127.0.0.1:{port}", endpoint, text, time.monotonic() - started)
    stack.lines = lines
    yield stack
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def stack():
    """`serve --manual`: no clock; the tests tick the instants they choose."""
    yield from _start("--manual")


@pytest.fixture
def live_stack():
    """`serve` as `make run` runs it: the clock and the workers on."""
    yield from _start()


@pytest.fixture(scope="session")
def aws(stack):
    """boto3 clients pointed at the stack's emulator, as the README tells a developer to do."""
    import boto3

    def client(service: str):
        return boto3.client(service, endpoint_url=stack.endpoint, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")
    return client

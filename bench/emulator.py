"""What the benchmarks run against and how they count: the local stack's emulator (moto in server mode
on loopback, reached over HTTP, with every resource created from its definition) and a meter of every
AWS call made through botocore (boto3's clients and PynamoDB's alike).

`start()` must run before any `chalicelib` module is imported: table names and clients are read from
the environment it sets.
"""
from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

SENDER_DOMAIN = "store.example"


def start():
    """A fresh emulator with the system's tables, queues and sender identity; returns it (`.stop()`)."""
    os.environ["LOCAL_STATE_DIR"] = tempfile.mkdtemp(prefix="bench-state-")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(name, None)
    os.environ.update({"TABLE_PREFIX": "bench-", "POWERTOOLS_LOG_LEVEL": "ERROR",
                       "POWERTOOLS_METRICS_DISABLED": "true"})
    from moto.dynamodb.models import table

    from local import stack as localstack

    # The emulator pages a query at 1 MB as DynamoDB does, but sorts the whole table again for every
    # page, so reading a 100,000-item partition takes minutes. The benchmarks count items read, which
    # paging does not change, so pages are made larger; the number of calls a long read takes is smaller
    # here than in DynamoDB (one per 1 MB).
    table.RESULT_SIZE_LIMIT = 4 * 1024 * 1024
    emulator = localstack.start_emulator("127.0.0.1", 0)
    localstack.configure_environment(emulator.endpoint, "bench-only-secret-of-at-least-32-bytes")
    localstack.create_resources([SENDER_DOMAIN])
    return emulator


@dataclass
class Meter:
    """AWS calls by (service, operation), and the DynamoDB items they read: a query's or scan's
    `ScannedCount` (what DynamoDB reads, and bills, before any filter), a get's item, a batch get's items."""

    calls: Counter = field(default_factory=Counter)
    items_read: int = 0
    #: Wall time of the block, and the part of it spent inside AWS calls (the emulator's answer included).
    seconds: float = 0.0
    call_seconds: Counter = field(default_factory=Counter)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def by_service(self) -> dict[str, int]:
        services: Counter = Counter()
        for (service, _), n in self.calls.items():
            services[service] += n
        return dict(services)


def _items_read(operation: str, response: dict) -> int:
    if operation in ("Query", "Scan"):
        return int(response.get("ScannedCount", 0))
    if operation == "GetItem":
        return 1 if response.get("Item") else 0
    if operation == "BatchGetItem":
        return sum(len(items) for items in response.get("Responses", {}).values())
    if operation == "TransactGetItems":
        return sum(1 for r in response.get("Responses", []) if r.get("Item"))
    return 0


@contextmanager
def metered() -> Iterator[Meter]:
    """Count every AWS call made inside the block, and the wall time it took."""
    from botocore.client import BaseClient

    meter = Meter()
    original = BaseClient._make_api_call

    def counted(client, operation, params):
        service = client.meta.service_model.service_name
        started = time.perf_counter()
        response = original(client, operation, params)
        meter.call_seconds[(service, operation)] += time.perf_counter() - started
        meter.calls[(service, operation)] += 1
        if service == "dynamodb":
            meter.items_read += _items_read(operation, response)
        return response

    BaseClient._make_api_call = counted
    started = time.perf_counter()
    try:
        yield meter
    finally:
        meter.seconds = time.perf_counter() - started
        BaseClient._make_api_call = original

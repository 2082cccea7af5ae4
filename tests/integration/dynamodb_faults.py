"""DynamoDB's real failure modes, injected into the real adapters at the botocore boundary (boto3's clients
and PynamoDB's alike): a transaction cancelled because another transaction holds one of its items
(`TransactionConflict`), and throttling that outlasted the SDK's own retries. The emulator shows neither."""
from __future__ import annotations

import itertools
from collections import Counter
from contextlib import contextmanager
from typing import Callable, Iterator

from botocore.client import BaseClient
from botocore.exceptions import ClientError

#: (operation, params) -> None to let the call through, or the code of the error to answer instead.
Policy = Callable[[str, dict], "str | None"]
CONFLICT, THROTTLED = "TransactionConflict", "ProvisionedThroughputExceededException"


def _error(operation: str, params: dict, code: str) -> ClientError:
    if code == CONFLICT:
        items = params.get("TransactItems", [])
        reasons = [{"Code": "None"}] * (len(items) - 1) + [{"Code": CONFLICT, "Message": "Transaction is ongoing"}]
        return ClientError({"Error": {"Code": "TransactionCanceledException",
                                      "Message": f"Transaction cancelled [{', '.join(r['Code'] for r in reasons)}]"},
                            "CancellationReasons": reasons}, operation)
    return ClientError({"Error": {"Code": code, "Message": "Rate exceeded (after the SDK's retries)"}}, operation)


def tables(params: dict) -> set[str]:
    """The tables a call touches."""
    if "TransactItems" in params:
        return {body["TableName"] for item in params["TransactItems"] for body in item.values()}
    if "RequestItems" in params:
        return set(params["RequestItems"])
    return {params.get("TableName", "")}


def is_outcome(operation: str, params: dict) -> bool:
    """The transaction that records an outcome (it writes a communication record)."""
    return operation == "TransactWriteItems" and any(t.endswith("communications") for t in tables(params))


def is_count(operation: str, params: dict) -> bool:
    """The transaction that adds a batch's outcomes to the counters and marks their rows counted."""
    return operation == "TransactWriteItems" and any(t.endswith("automation_stats") for t in tables(params))


def is_claim(operation: str, params: dict) -> bool:
    return (operation == "TransactWriteItems" and not is_outcome(operation, params)
            and not is_count(operation, params))


def every(n: int, which: Callable[[str, dict], bool], code: str) -> Policy:
    """Every n-th call that `which` selects fails with `code` (the first of them included)."""
    seen = itertools.count()

    def policy(operation: str, params: dict) -> str | None:
        return code if which(operation, params) and next(seen) % n == 0 else None
    return policy


def first(n: int, which: Callable[[str, dict], bool], code: str) -> Policy:
    """The first n calls that `which` selects fail with `code`, then every one goes through."""
    seen = itertools.count()

    def policy(operation: str, params: dict) -> str | None:
        return code if which(operation, params) and next(seen) < n else None
    return policy


class Injected:
    def __init__(self) -> None:
        self.faults: Counter = Counter()


@contextmanager
def dynamodb_faults(*policies: Policy) -> Iterator[Injected]:
    """While open, each DynamoDB call is put to the policies in turn; the first that names a code fails it."""
    original = BaseClient._make_api_call
    injected = Injected()

    def call(self, operation, params):
        if self.meta.service_model.service_name == "dynamodb":
            for policy in policies:
                code = policy(operation, params)
                if code:
                    injected.faults[(operation, code)] += 1
                    raise _error(operation, params, code)
        return original(self, operation, params)

    BaseClient._make_api_call = call
    try:
        yield injected
    finally:
        BaseClient._make_api_call = original

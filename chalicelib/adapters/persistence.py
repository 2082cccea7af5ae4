"""Small helpers over PynamoDB shared by the services."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Collection, Iterator, TypeVar

from botocore.exceptions import ClientError
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError
from pynamodb.models import Model

from chalicelib.core.errors import Conflict

M = TypeVar("M", bound=Model)
T = TypeVar("T")

ATTEMPTS = 4


def is_conditional_failure(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def get_or_none(model: type[M], hash_key: str, range_key: str | None = None) -> M | None:
    try:
        return model.get(hash_key, range_key) if range_key is not None else model.get(hash_key)
    except DoesNotExist:
        return None


#: DynamoDB's most keys in one BatchGetItem call.
BATCH_GET_KEYS = 100


@dataclass(frozen=True)
class Keys:
    """Items of one model to read: their keys, as (hash,) or (hash, range) tuples of strings."""

    model: type[Model]
    keys: Collection[tuple[str, ...]]
    consistent: bool = False


def _key_item(model: type[Model], key: tuple[str, ...]) -> dict:
    attributes = [model._hash_key_attribute(), model._range_key_attribute()][:len(key)]
    return {a.attr_name: {a.attr_type: a.serialize(value)} for a, value in zip(attributes, key)}


def _chunks(wanted: list[tuple[Keys, dict]]) -> Iterator[dict]:
    for start in range(0, len(wanted), BATCH_GET_KEYS):
        request: dict[str, dict] = {}
        for keys, key in wanted[start:start + BATCH_GET_KEYS]:
            table = request.setdefault(keys.model.Meta.table_name, {"Keys": [], "ConsistentRead": keys.consistent})
            table["Keys"].append(key)
        yield request


#: Codes of a request refused for the table's or the account's rate: worth asking again after a pause.
THROTTLED = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})


def read_many(*wanted: Keys, sleep: Callable[[float], None] = time.sleep) -> dict[type[Model], list]:
    """Items of several tables, in one BatchGetItem call per 100 keys rather than one per table (or per
    item); keys DynamoDB leaves unprocessed, and calls throttled past the SDK's own retries, are asked
    again, with backoff. Items that do not exist are not in the answer."""
    from chalicelib.adapters import clients

    by_table = {keys.model.Meta.table_name: keys.model for keys in wanted}
    found: dict[type[Model], list] = {keys.model: [] for keys in wanted}
    pending = [(keys, _key_item(keys.model, key)) for keys in wanted for key in sorted(set(keys.keys))]
    for request in _chunks(pending):
        for attempt in range(10):
            try:
                answer = clients.client("dynamodb").batch_get_item(RequestItems=request)
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") not in THROTTLED:
                    raise
                answer = {"UnprocessedKeys": request}   # throttled past the SDK's own retries: ask again
            for table, items in answer.get("Responses", {}).items():
                found[by_table[table]] += [by_table[table].from_raw_data(item) for item in items]
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
            sleep(min(2.0, 0.05 * 2 ** attempt))
        else:
            raise RuntimeError("DynamoDB left keys unprocessed after 10 attempts")
    return found


def _under_version(step: Callable[[], T], doing: str) -> T:
    """Run a read-then-write step, again from its read whenever the item's version moved meanwhile."""
    for _ in range(ATTEMPTS):
        try:
            return step()
        except (PutError, DeleteError) as e:
            if not is_conditional_failure(e):
                raise
    raise Conflict(f"the record kept changing while it was being {doing}; try again")


def mutate(load: Callable[[], M | None], change: Callable[[M | None], M | None]) -> M | None:
    """Read, change and write back under the item's version, re-reading after a concurrent write.

    `change` receives the current item (or None) and returns the item to save (or None to save
    nothing). It must be a pure function of what it is given, as it may run more than once.
    """
    def step() -> M | None:
        item = change(load())
        if item is not None:
            item.save()
        return item

    return _under_version(step, "saved")


def create_only(item: M) -> M:
    """Save a new item, failing with Conflict if one with its key exists."""
    try:
        item.save()  # a new versioned item is saved on condition that it does not exist yet
    except PutError as e:
        if is_conditional_failure(e):
            raise Conflict("a record with this id exists already") from e
        raise
    return item


def delete_current(load: Callable[[], M | None], missing: Exception) -> None:
    """Delete the item as last read, under its version; raises `missing` if there is none."""
    def step() -> None:
        item = load()
        if item is None:
            raise missing
        item.delete()

    _under_version(step, "deleted")


def save_if_unchanged(item: M, changed: Exception) -> M:
    """Save an item read earlier, on condition that its version is still the one read; raises `changed`
    if someone else wrote or deleted it since (no re-read: the caller's change was made on what it read)."""
    try:
        item.save()
    except PutError as e:
        if is_conditional_failure(e):
            raise changed from e
        raise
    return item


"""Small helpers over PynamoDB shared by the services."""
from __future__ import annotations

from typing import Callable, TypeVar

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError
from pynamodb.models import Model

from chalicelib.errors import Conflict

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

"""Tags and interests (docs/behaviour.md section 7): short strings compared without regard to letter case,
kept as first written, without duplicates. VIP is one of the tags, not a field of its own: a customer is VIP
exactly when their tags hold `VIP` in any letter case, so that no writer (the API, an import) can make a
customer VIP in one place and not in the other."""
from __future__ import annotations

from typing import Iterable

VIP = "VIP"


def folded(value: str) -> str:
    """The form two tags are compared in."""
    return value.casefold()


def distinct(values: Iterable[str]) -> list[str]:
    """The values in their order, each kept as first written, without a later one that differs only in case."""
    seen: set[str] = set()
    kept: list[str] = []
    for value in values:
        key = folded(value)
        if key not in seen:
            seen.add(key)
            kept.append(value)
    return kept


def folded_set(values: Iterable[str] | None) -> frozenset[str]:
    return frozenset(folded(value) for value in values or ())


def is_vip(tags: Iterable[str] | None) -> bool:
    return folded(VIP) in folded_set(tags)


def with_vip(tags: Iterable[str] | None, vip: bool) -> list[str]:
    """The tags with the VIP tag added (kept as written if it is there in another case) or removed."""
    tags = distinct(tags or ())
    if vip:
        return tags if is_vip(tags) else [*tags, VIP]
    return [tag for tag in tags if folded(tag) != folded(VIP)]

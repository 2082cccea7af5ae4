"""Paged lists (docs/behaviour.md section 7): `limit` (1-200) and an opaque `cursor`, the position of the last item
of the page before."""
from __future__ import annotations

import base64

from chalicelib.rules import validation as v


def page_size(limit: str | None, default: int = 50) -> int:
    try:
        size = int(limit) if limit is not None else default
    except ValueError:
        raise v.fail("limit", "must be an integer") from None
    if not 1 <= size <= 200:
        raise v.fail("limit", "must be between 1 and 200")
    return size


def encode_cursor(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        position = base64.urlsafe_b64decode(cursor.encode("ascii") + b"==").decode("utf-8")
    except (ValueError, UnicodeError):
        raise v.fail("cursor", "is not a cursor this API gave out") from None
    if not position or len(position) > 200:
        raise v.fail("cursor", "is not a cursor this API gave out")
    return position

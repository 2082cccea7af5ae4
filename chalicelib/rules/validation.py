"""Declarative checks of request bodies. Each failure names the field it is about.

Strings are single-line unless a check says otherwise: no control character (C0, DEL, C1), no line or
paragraph separator, no lone surrogate. A single-line value can end up in an email header (a subject,
the sender's name) or a log line, where a line break is an injection. Multi-line values (template
bodies) may hold tabs and line breaks, and no other control character. Every pattern is matched whole
(`fullmatch`, and each ends with `\\Z`): `$` would also match before a final line break.
"""
from __future__ import annotations

import json
import math
import re
from datetime import date
from typing import Any, Callable, Mapping

from chalicelib.core.contacts import E164_RE, EMAIL_RE, ID_RE  # noqa: F401 - the API checks what the runner checks
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.timeutil import parse_instant, to_iso
from chalicelib.rules import tags

Check = Callable[[Any, str], Any]

DATE_RE = re.compile(r"^(\d{4}|-)-(\d{2})-(\d{2})\Z")
HHMM_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])\Z")

#: What a single-line string may not hold: C0 controls (line breaks and tab among them), DEL, C1 controls
#: (NEL among them), the line and paragraph separators, and lone surrogates (not characters at all).
NOT_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
#: What a multi-line string may not hold: the same, less tab, line feed, carriage return and the separators.
NOT_MULTI_LINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
SURROGATE = re.compile(r"[\ud800-\udfff]")

#: A request body larger than this is refused before it is parsed.
MAX_BODY_BYTES = 256 * 1024
#: A request body nested deeper than this (objects and lists) is refused. The API's deepest body is 3.
MAX_DEPTH = 32


def fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", field=field)


def parse_json_body(raw: bytes | str | None, *, required: bool = True) -> dict:
    """The request body as a JSON object; malformed JSON, a non-object, nesting deeper than MAX_DEPTH or
    a lone surrogate in any string (`"\\ud800"` is valid JSON but no character) is a 400."""
    if raw is None or raw in (b"", ""):
        if required:
            raise fail("body", "a JSON object is required")
        return {}
    if len(raw) > MAX_BODY_BYTES:
        raise fail("body", f"larger than {MAX_BODY_BYTES} bytes")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise fail("body", f"nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise fail("body", "not valid JSON") from None
    if not isinstance(value, dict):
        raise fail("body", "must be a JSON object")
    _check_tree(value, "", 1)
    return value


def _check_tree(value: Any, path: str, depth: int) -> None:
    """Nesting within MAX_DEPTH (the recursion is bounded by it) and no lone surrogate in a name or a string."""
    if depth > MAX_DEPTH:
        raise fail("body", f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if SURROGATE.search(key):
                raise fail(path or "body", "holds a field name with a lone surrogate, which is not a character")
            _check_tree(item, f"{path}.{key}" if path else key, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_tree(item, f"{path}[{i}]", depth + 1)
    elif isinstance(value, str):
        found = SURROGATE.search(value)
        if found:
            raise fail(path, f"holds a lone surrogate ({_code_point(found.group())}), which is not a character")


def _code_point(char: str) -> str:
    return f"U+{ord(char):04X}"


def check_id(value: Any, field: str = "id") -> str:
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise fail(field, "must be 1-64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit")
    return value


# --- value checks: each takes (value, field path) and returns the normalised value ---------------

def characters(value: str, field: str, *, multiline: bool = False) -> str:
    """Refuse the control characters (and lone surrogates) a single-line, or a multi-line, value may not hold."""
    found = (NOT_MULTI_LINE if multiline else NOT_SINGLE_LINE).search(value)
    if found:
        char = found.group()
        if SURROGATE.fullmatch(char):
            raise fail(field, f"holds a lone surrogate ({_code_point(char)}), which is not a character")
        if multiline:
            raise fail(field, f"must not hold control characters other than tab and line breaks "
                              f"(found {_code_point(char)})")
        raise fail(field, f"must be a single line without control characters (found {_code_point(char)})")
    return value


def string(max_len: int, *, min_len: int = 0, pattern: re.Pattern | None = None, what: str = "",
           multiline: bool = False) -> Check:
    """A string of bounded length; single-line unless `multiline` (then tab, LF and CR are allowed too)."""
    def check(value: Any, field: str) -> str:
        if not isinstance(value, str):
            raise fail(field, "must be a string")
        if len(value) > max_len:
            raise fail(field, f"longer than {max_len} characters")
        if len(value) < min_len:
            raise fail(field, "must not be empty" if min_len == 1 else f"shorter than {min_len} characters")
        characters(value, field, multiline=multiline)
        if pattern is not None and not pattern.fullmatch(value):
            raise fail(field, f"must be {what or 'well formed'}")
        return value
    return check


def email() -> Check:
    base = string(254, pattern=EMAIL_RE, what="an email address")
    return lambda value, field: base(value, field).strip()


def phone() -> Check:
    return string(16, pattern=E164_RE, what="a phone number in E.164 form, such as +61412345678")


def boolean() -> Check:
    def check(value: Any, field: str) -> bool:
        if not isinstance(value, bool):
            raise fail(field, "must be true or false")
        return value
    return check


def integer(minimum: int | None = None, maximum: int | None = None) -> Check:
    def check(value: Any, field: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(field, "must be an integer")
        if minimum is not None and value < minimum:
            raise fail(field, f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise fail(field, f"must be at most {maximum}")
        return value
    return check


def number(minimum: float | None = None, maximum: float = 1e12) -> Check:
    def check(value: Any, field: str) -> float | int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise fail(field, "must be a number")
        if minimum is not None and value < minimum:
            raise fail(field, f"must be at least {minimum}")
        if value > maximum:
            raise fail(field, f"must be at most {maximum:g}")
        return value
    return check


def choice(allowed: tuple) -> Check:
    def check(value: Any, field: str) -> Any:
        # `True == 1` in Python: compare types too, so `1` is not accepted for `true`.
        for option in allowed:
            if type(value) is type(option) and value == option:
                return value
        raise fail(field, "must be one of " + ", ".join(json.dumps(a) for a in allowed))
    return check


def instant() -> Check:
    def check(value: Any, field: str) -> str:
        if not isinstance(value, str) or len(value) > 40:
            raise fail(field, "must be an ISO-8601 date-time with an offset")
        characters(value, field)  # datetime.fromisoformat lets some control characters through
        try:
            return to_iso(parse_instant(value))
        except (ValueError, OverflowError):
            raise fail(field, "must be an ISO-8601 date-time with an offset, such as 2026-05-01T10:00:00+10:00") from None
    return check


def calendar_day() -> Check:
    """`YYYY-MM-DD`, or `--MM-DD` when the year is unknown."""
    def check(value: Any, field: str) -> str:
        match = DATE_RE.fullmatch(value) if isinstance(value, str) else None
        if not match:
            raise fail(field, "must be YYYY-MM-DD, or --MM-DD when the year is unknown")
        year = 2000 if match.group(1) == "-" else int(match.group(1))  # 2000 is a leap year: --02-29 is valid
        try:
            date(year, int(match.group(2)), int(match.group(3)))
        except ValueError:
            raise fail(field, "is not a calendar date") from None
        if match.group(1) != "-" and year < 1900:
            raise fail(field, "year must be 1900 or later")
        return value
    return check


def hhmm() -> Check:
    return string(5, pattern=HHMM_RE, what="a time HH:MM")


def tag_list(max_items: int, max_len: int, *, min_items: int = 0) -> Check:
    """Tags or interests: short strings, kept as first written, without a later one that differs only in
    letter case (`chalicelib.rules.tags`)."""
    item = string(max_len, min_len=1)

    def check(value: Any, field: str) -> list[str]:
        if not isinstance(value, list):
            raise fail(field, "must be a list of strings")
        if len(value) > max_items:
            raise fail(field, f"more than {max_items} items")
        if len(value) < min_items:
            raise fail(field, f"must hold at least {min_items} item{'s' if min_items != 1 else ''}")
        return tags.distinct(item(entry, f"{field}[{i}]") for i, entry in enumerate(value))
    return check


def choice_list(allowed: tuple, *, min_items: int = 1) -> Check:
    one = choice(allowed)

    def check(value: Any, field: str) -> list:
        if not isinstance(value, list):
            raise fail(field, "must be a list")
        if len(value) < min_items:
            raise fail(field, f"must hold at least {min_items} item{'s' if min_items != 1 else ''}")
        result: list = []
        for i, entry in enumerate(value):
            entry = one(entry, f"{field}[{i}]")
            if entry in result:
                raise fail(f"{field}[{i}]", "is repeated")
            result.append(entry)
        return result
    return check


def obj(fields: Mapping[str, Check], *, required: tuple = (), nullable: bool = False) -> Check:
    def check(value: Any, field: str) -> dict | None:
        if value is None and nullable:
            return None
        if not isinstance(value, dict):
            raise fail(field, "must be an object" + (" or null" if nullable else ""))
        return parse(value, fields, required=required, prefix=f"{field}.")
    return check


def nullable(inner: Check) -> Check:
    """Accepts null as a value in its own right (not as 'remove')."""
    return lambda value, field: None if value is None else inner(value, field)


# --- whole bodies ----------------------------------------------------------------------------------

def parse(body: Mapping[str, Any], fields: Mapping[str, Check], *, required: tuple = (),
          partial: bool = False, prefix: str = "") -> dict:
    """Check a body against its fields.

    Unknown fields are rejected. With `partial` (PATCH), a field given as null is kept as
    None, meaning "remove it"; otherwise null is the same as leaving the field out.
    """
    for name in body:
        if name not in fields:
            raise fail(f"{prefix}{name}", "is not a known field")
    result: dict = {}
    for name, check in fields.items():
        if name not in body:
            continue
        value = body[name]
        if value is None:
            if partial:
                result[name] = None
            continue
        result[name] = check(value, f"{prefix}{name}")
    if not partial:
        for name in required:
            if result.get(name) is None:
                raise fail(f"{prefix}{name}", "is required")
    else:
        for name in required:
            if name in result and result[name] is None:
                raise fail(f"{prefix}{name}", "is required and cannot be removed")
    return result

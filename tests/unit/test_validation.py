"""Field checks: exact types, allowed sets, dates, control characters, whole-string patterns, PATCH null semantics,
and what a JSON body may hold."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core import contacts
from chalicelib.core.errors import ValidationFailed
from chalicelib.rules import validation as v
from chalicelib.services import settings as settings_service


@pytest.mark.parametrize("value", ["2024-02-29", "--02-29", "--12-31", "1990-01-01"])
def test_calendar_days_accept_real_dates_and_yearless_ones(value):
    assert v.calendar_day()(value, "birthday") == value


@pytest.mark.parametrize("value", ["2023-02-29", "--02-30", "--13-01", "1990-1-1", "19900101", 19900101, None, "1850-01-01"])
def test_calendar_days_reject_what_is_not_a_date(value):
    with pytest.raises(ValidationFailed) as e:
        v.calendar_day()(value, "birthday")
    assert e.value.field == "birthday"


def test_choice_distinguishes_true_from_one_and_seven_from_seven_point_oh():
    check = v.choice((0, 1, 3, 7))
    assert check(7, "f") == 7
    for wrong in (True, 7.0, "7"):
        with pytest.raises(ValidationFailed):
            check(wrong, "f")
    with pytest.raises(ValidationFailed):
        v.choice((False, True))(1, "f")


def test_instants_need_an_offset_and_are_stored_in_utc():
    assert v.instant()("2026-03-01T10:30:00+11:00", "at") == "2026-02-28T23:30:00Z"
    assert v.instant()("2026-03-01T10:30:00Z", "at") == "2026-03-01T10:30:00Z"
    with pytest.raises(ValidationFailed):
        v.instant()("2026-03-01T10:30:00", "at")


def test_partial_parse_keeps_null_as_remove_and_full_parse_drops_it():
    fields = {"a": v.string(5), "b": v.integer()}
    assert v.parse({"a": None, "b": 2}, fields, partial=True) == {"a": None, "b": 2}
    assert v.parse({"a": None, "b": 2}, fields) == {"b": 2}


def test_unknown_fields_are_named_with_their_path():
    with pytest.raises(ValidationFailed) as e:
        v.parse({"q": {"start": "10:00", "end": "11:00", "x": 1}},
                {"q": v.obj({"start": v.hhmm(), "end": v.hhmm()})})
    assert e.value.field == "q.x"


def test_required_fields_cannot_be_removed_by_patch():
    with pytest.raises(ValidationFailed) as e:
        v.parse({"status": None}, {"status": v.string(5)}, partial=True, required=("status",))
    assert e.value.field == "status"


@pytest.mark.parametrize("raw", [b"{", b"[]", b"1", b"\xff", b"x" * (v.MAX_BODY_BYTES + 1)])
def test_bodies_must_be_json_objects_of_bounded_size(raw):
    with pytest.raises(ValidationFailed) as e:
        v.parse_json_body(raw)
    assert e.value.field == "body"


@pytest.mark.parametrize("value,ok", [("+61412345678", True), ("+1 212 555 0100", False), ("0412345678", False),
                                      ("+0412345678", False)])
def test_phones_must_be_e164(value, ok):
    if ok:
        assert v.phone()(value, "phone") == value
    else:
        with pytest.raises(ValidationFailed):
            v.phone()(value, "phone")


# --- control characters and whole-string patterns ------------------------------------------------

#: Every character a single-line field refuses: C0 controls, DEL, C1 controls, the line and paragraph
#: separators, lone surrogates.
REFUSED_IN_A_LINE = (st.characters(min_codepoint=0, max_codepoint=0x1F) | st.characters(min_codepoint=0x7F,
                                                                                           max_codepoint=0x9F)
                     | st.sampled_from(["\u2028", "\u2029"]) | st.characters(categories=["Cs"]))
#: Every character a multi-line field refuses: the same less tab, LF, CR and the separators.
REFUSED_IN_LINES = REFUSED_IN_A_LINE.filter(lambda c: c not in "\t\n\r\u2028\u2029")
PLAIN = st.text(alphabet=st.characters(exclude_categories=["Cc", "Cs", "Zl", "Zp"]), max_size=20)


@given(before=PLAIN, bad=REFUSED_IN_A_LINE, after=PLAIN)
def test_a_single_line_string_with_any_control_character_is_refused_naming_the_field(before, bad, after):
    with pytest.raises(ValidationFailed) as e:
        v.string(100)(before + bad + after, "first_name")
    assert e.value.field == "first_name"


@given(text=PLAIN)
def test_a_single_line_string_without_control_characters_is_accepted_as_it_is(text):
    assert v.string(100)(text, "first_name") == text


@given(before=PLAIN, bad=REFUSED_IN_LINES, after=PLAIN)
def test_a_multi_line_string_refuses_every_other_control_character(before, bad, after):
    with pytest.raises(ValidationFailed) as e:
        v.string(100, multiline=True)(before + bad + after, "body_text")
    assert e.value.field == "body_text"


@given(lines=st.lists(PLAIN, max_size=5), breaks=st.sampled_from(["\n", "\r\n", "\t", "\r", "\u2028"]))
def test_a_multi_line_string_keeps_tabs_and_line_breaks(lines, breaks):
    text = breaks.join(lines)
    assert v.string(200, multiline=True)(text, "body_text") == text


@pytest.mark.parametrize("check,value", [
    (v.phone(), "+61400000777\n"), (v.email(), "ava@example.com\n"), (v.email(), "a\x00va@example.com"),
    (v.email(), "ava@example.com\r\nBcc: x@y.example"), (v.check_id, "c1\n"), (v.calendar_day(), "2024-02-29\n"),
    (v.calendar_day(), "--02-29\n"), (v.hhmm(), "21:00\n"), (v.instant(), "2026-05-01T10:00:00\x00+10:00"),
    (v.instant(), "2026-05-01T10:00:00+10:00\n"),
    (settings_service.FIELDS["country"], "au\n"), (settings_service.FIELDS["country"], "\u00df"),
    (settings_service.FIELDS["sms_sender_id"], "OpalCo\n"),
    (settings_service.FIELDS["store_website"], "https://opal.example\n"),
    (settings_service.FIELDS["review_url"], "https://opal.example/review\n"),
    (settings_service.FIELDS["store_name"], "Opal\r\nBcc: x@y.example"),
])
def test_a_value_with_a_line_break_at_the_end_or_a_control_character_is_refused(check, value):
    with pytest.raises(ValidationFailed) as e:
        check(value, "f")
    assert e.value.field == "f"


@pytest.mark.parametrize("pattern,value", [
    (contacts.E164_RE, "+61400000777\n"), (contacts.EMAIL_RE, "ava@example.com\n"), (contacts.ID_RE, "c1\n"),
    (contacts.EMAIL_RE, "a\x00va@example.com"), (contacts.EMAIL_RE, "a\x85va@example.com"),
])
def test_the_contact_patterns_the_dispatcher_checks_again_refuse_a_final_line_break(pattern, value):
    # The dispatcher and the feedback handler call .match(): the pattern itself must refuse.
    assert pattern.match(value) is None


def _anchored_patterns():
    """Every `re.compile("^...")` in chalicelib, read from the source: (file, line, pattern)."""
    root = Path(__file__).resolve().parents[2] / "chalicelib"
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "compile"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "re" and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                    and node.args[0].value.startswith("^")):
                yield f"{path.relative_to(root.parent)}:{node.lineno}", node.args[0].value


def test_every_anchored_validation_pattern_ends_with_backslash_z_not_dollar():
    patterns = list(_anchored_patterns())
    assert len(patterns) >= 8  # contacts (3), validation (2), settings (3)
    wrong = [(where, p) for where, p in patterns if not p.endswith(r"\Z")]
    assert wrong == []


def test_the_refused_characters_are_named_by_code_point_not_echoed():
    with pytest.raises(ValidationFailed) as e:
        v.string(100)("Ada\r\nBcc: x@y.example", "first_name")
    assert "U+000D" in e.value.message and "Bcc" not in e.value.message
    assert not re.search(r"[\x00-\x1f]", e.value.message)


# --- what a JSON body may hold: no lone surrogate, bounded nesting ----------------------------------

@pytest.mark.parametrize("body,field", [
    ({"first_name": "\ud800"}, "first_name"),
    ({"first_name": "Ada\udfff"}, "first_name"),
    ({"tags": ["vip", "x\udc00y"]}, "tags[1]"),
    ({"audience": {"tags_any": ["\ud83d"]}}, "audience.tags_any[0]"),
    ({"change": {"\ud800": 1}}, "change"),
    ({"\ud800": 1}, "body"),
])
def test_a_lone_surrogate_anywhere_in_a_body_is_a_400_naming_where(body, field):
    raw = json.dumps(body).encode()  # "\ud800" escapes: valid JSON, but not a character
    with pytest.raises(ValidationFailed) as e:
        v.parse_json_body(raw)
    assert e.value.field == field
    assert "surrogate" in e.value.message


def test_a_surrogate_encoded_as_utf8_bytes_is_refused_too():
    # json.loads decodes bytes with 'surrogatepass', so these three bytes become a lone surrogate.
    with pytest.raises(ValidationFailed) as e:
        v.parse_json_body(b'{"first_name": "\xed\xa0\x80"}')
    assert e.value.field == "first_name"


def test_a_surrogate_pair_is_one_character_and_is_accepted():
    assert v.parse_json_body(b'{"first_name": "Ada \\ud83d\\ude00"}') == {"first_name": "Ada \U0001F600"}


@pytest.mark.parametrize("raw", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' + b"[" * 99_999 + b"]" * 99_999 + b"}",
    # Objects 100,000 deep are over MAX_BODY_BYTES (refused for that); 40,000 deep is under it.
    b'{"":' * 40_000 + b"1" + b"}" * 40_000,
], ids=["lists", "object-of-lists", "objects"])
def test_json_nested_100000_deep_is_a_400_naming_the_body(raw):
    assert len(raw) <= v.MAX_BODY_BYTES
    with pytest.raises(ValidationFailed) as e:
        v.parse_json_body(raw)
    assert e.value.field == "body"
    assert "nested deeper" in e.value.message


def _nested(depth: int) -> bytes:
    """An object `depth` levels deep: {"a": {"a": ... {} }}."""
    return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


def test_nesting_is_allowed_up_to_the_limit_and_refused_beyond_it():
    assert v.parse_json_body(_nested(v.MAX_DEPTH))
    for depth in (v.MAX_DEPTH + 1, 500):  # 500: below Python's own recursion limit, still refused
        with pytest.raises(ValidationFailed) as e:
            v.parse_json_body(_nested(depth))
        assert e.value.field == "body"

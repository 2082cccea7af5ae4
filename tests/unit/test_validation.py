"""Field checks: exact types, allowed sets, dates, and PATCH null semantics."""
from __future__ import annotations

import pytest

from chalicelib.core.errors import ValidationFailed
from chalicelib.rules import validation as v


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

"""The search rules (chalicelib.rules.search): what a customer is found by, and what a query asks."""
from __future__ import annotations

import unicodedata

from hypothesis import assume, given
from hypothesis import strategies as st

from chalicelib.rules.search import PHONE, TEXT, digits, fold, parse_query, search_keys, stored_key

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30)
numbers = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)


def found(text: str, first=None, last=None, email=None, phone=None) -> bool:
    query = parse_query(text)
    return query is not None and query.first_found(search_keys(first, last, email, phone), "c1") is not None


def test_folding_drops_accents_and_case_and_collapses_spaces():
    assert fold("  Zoë   ÅBERG ") == "zoe aberg"
    assert fold("Straße") == "strasse"
    assert fold("Chloé") == fold("CHLOE") == "chloe"


@given(names)
def test_folding_leaves_no_combining_mark_and_a_query_folded_again_is_the_same(text):
    once = fold(text)
    assert not any(unicodedata.combining(c) for c in once)
    assert fold(once) == once and fold(text.upper()) == fold(text.lower()) or not text.isascii()


def test_a_key_is_bounded_whatever_a_name_decomposes_into():
    name = "\ufdfa" * 100     # one character that decomposes into 18
    (key,) = search_keys(name, None, None, None)
    assert len(key.encode()) < 1024 - 70
    assert found(name, name)


@given(names, names)
def test_a_customer_is_found_by_every_prefix_of_their_first_last_and_full_name(first, last):
    full = f"{first} {last}"
    for name in (first, last, full):
        for end in range(1, len(name) + 1):
            prefix = name[:end]
            if not fold(prefix) or parse_query(prefix).prefix.startswith(PHONE):
                continue
            assert found(prefix, first, last), (prefix, first, last)


@given(names, names)
def test_any_letter_case_and_accents_of_a_name_find_it(first, last):
    shown = unicodedata.normalize("NFD", f"{first} {last}".upper())
    # Letters whose capital folds to another letter (Turkish dotless "ı" -> "I" -> "i") are not their capital.
    assume(fold(shown) == fold(f"{first} {last}"))
    if fold(shown) and parse_query(shown).prefix.startswith(TEXT):
        assert found(shown, first, last)


@given(numbers, st.data())
def test_any_four_or_more_consecutive_digits_of_a_phone_number_find_it(number, data):
    held = digits(number)
    start = data.draw(st.integers(0, len(held) - 4))
    end = data.draw(st.integers(start + 4, len(held)))
    assert found(held[start:end], phone=number)
    assert found(f"({held[start:start + 2]}) {held[start + 2:end]}", phone=number)


@given(numbers, st.from_regex(r"[0-9]{4,8}", fullmatch=True))
def test_digits_the_number_does_not_hold_do_not_find_it(number, wanted):
    assert found(wanted, phone=number) == (wanted in digits(number))


def test_fewer_than_four_digits_find_no_phone():
    assert not found("123", phone="+61412312345")
    assert parse_query("123").prefix == TEXT + "123"


def test_an_email_is_found_by_its_start_in_any_case_and_not_by_its_middle():
    assert found("ADA@EX", email="ada@example.com")
    assert not found("example", email="ada@example.com")


@given(names, names, st.one_of(st.none(), st.emails()), st.one_of(st.none(), numbers), names)
def test_a_customer_is_answered_at_the_first_key_they_hold_that_the_query_finds(first, last, email, phone, text):
    keys = search_keys(first, last, email, phone)
    query = parse_query(text)
    if query is None:
        return
    finding = sorted(stored_key(k, "c9") for k in keys if k.startswith(query.prefix))
    assert query.first_found(keys, "c9") == (finding[0] if finding else None)


def test_text_without_a_letter_or_digit_is_no_query():
    assert parse_query("   ") is None
    assert parse_query("") is None


def test_a_customer_without_searched_fields_has_no_keys():
    assert search_keys(None, None, None, None) == frozenset()

"""Tags and interests compare without regard to letter case, and VIP is the tag `VIP` (docs/behaviour.md section 7)."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.rules import tags
from chalicelib.rules.actions import CustomerState, audience_matches
from chalicelib.rules.validation import tag_list

words = st.lists(st.sampled_from(["vip", "VIP", "Vip", "gold", "Gold", "GOLD", "walk-in", "Straße", "STRASSE", "x"]),
                 max_size=8)


def test_a_list_keeps_each_tag_as_first_written_and_drops_later_ones_differing_only_in_case():
    assert tags.distinct(["Gold", "vip", "gold", "VIP", "walk-in"]) == ["Gold", "vip", "walk-in"]


@given(words)
def test_distinct_tags_are_unique_in_folded_form_and_keep_the_first_spelling(values):
    kept = tags.distinct(values)
    assert len({t.casefold() for t in kept}) == len(kept)
    assert {t.casefold() for t in kept} == {t.casefold() for t in values}
    for tag in kept:
        assert tag == next(v for v in values if v.casefold() == tag.casefold())


@given(words)
def test_vip_exactly_when_the_tags_hold_vip_in_any_case(values):
    assert tags.is_vip(values) == any(v.lower() == "vip" for v in values)


@given(words, st.booleans())
def test_setting_vip_adds_or_removes_only_the_vip_tag(values, vip):
    after = tags.with_vip(values, vip)
    assert tags.is_vip(after) is vip
    others = [t for t in tags.distinct(values) if t.casefold() != "vip"]
    assert [t for t in after if t.casefold() != "vip"] == others


def test_a_vip_tag_already_there_in_another_case_is_kept_as_written():
    assert tags.with_vip(["vip", "gold"], True) == ["vip", "gold"]
    assert tags.with_vip(["gold"], True) == ["gold", "VIP"]
    assert tags.with_vip(["Vip", "gold"], False) == ["gold"]
    assert tags.with_vip(None, False) == []


def test_a_tag_list_in_a_request_drops_repeats_in_any_case():
    assert tag_list(50, 50)(["Pearls", "pearls", "PEARLS", "gold"], "interests") == ["Pearls", "gold"]


def test_an_action_audience_matches_tags_and_interests_in_any_case():
    state = CustomerState(tags=("VIP",), interests=("Pearls",))
    assert audience_matches({"tags_any": ["vip"]}, state)
    assert audience_matches({"interests_any": ["PEARLS"]}, state)
    assert not audience_matches({"tags_any": ["gold"]}, state)

"""Hypothesis strategies for segment filters, shared by the rules' unit tests and the API's: one list of the
conditions a filter can hold (docs/behaviour.md section 10), so a condition added is tried by both."""
from __future__ import annotations

from hypothesis import strategies as st

#: Tags in several letter cases: a filter compares them without regard to case.
TAGS = ["VIP", "vip", "Gold", "gold", "walk-in"]


def filters(days: st.SearchStrategy[int]) -> st.SearchStrategy[dict]:
    """Custom segment filters with any of the conditions; `days` draws the day counts."""
    return st.fixed_dictionaries({}, optional={
        "tags_any": st.lists(st.sampled_from(TAGS), min_size=1, max_size=2),
        "tags_all": st.lists(st.sampled_from(TAGS), min_size=1, max_size=2),
        "tags_none": st.lists(st.sampled_from(TAGS), min_size=1, max_size=2),
        "interests_any": st.lists(st.sampled_from(["pearls", "GOLD"]), min_size=1, max_size=2),
        "vip": st.booleans(),
        "points_min": st.sampled_from([0, 10, 100]),
        "points_max": st.sampled_from([10, 100, 1000]),
        "inactive_days_min": days,
        "active_within_days": days,
        "created_within_days": days,
        "purchased_within_days": days,
        "birthday_month": st.integers(1, 12),
        "anniversary_month": st.integers(1, 12),
        "has_email": st.booleans(),
        "has_phone": st.booleans(),
        "consent_email": st.booleans(),
        "consent_sms": st.booleans(),
    })

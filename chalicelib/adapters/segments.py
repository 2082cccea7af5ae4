"""Segments as stored: a segment's filter at a date, whether built in or the store's own, for the API and for a
campaign's evaluation, which read members through `chalicelib.matchers.segment` alike."""
from __future__ import annotations

from datetime import date

from chalicelib.adapters.models import Segment
from chalicelib.adapters.persistence import get_or_none
from chalicelib.core.contacts import ID_RE
from chalicelib.rules.segments import BUILT_IN_IDS


def stored_filter(item: Segment) -> dict:
    return item.filter.as_dict() if item.filter is not None else {}


def filter_of(tenant_id: str, segment_id: str, today: date) -> dict | None:
    """The conditions of the segment on the store's local date `today`; None if the store has no such segment."""
    built_in = BUILT_IN_IDS.get(segment_id)
    if built_in is not None:
        return built_in.filter_on(today)
    if not ID_RE.fullmatch(segment_id):
        return None
    item = get_or_none(Segment, tenant_id, segment_id)
    return stored_filter(item) if item is not None else None

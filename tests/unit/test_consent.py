"""The consent rule (chalicelib/rules/consent.py): which channels a write changes, with what provenance, and
that a channel withdrawn through an unsubscribe link is given again only with a source."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.errors import Conflict
from chalicelib.rules.consent import UNSUBSCRIBE_LINK, ConsentChange, changes

AT = "2026-12-02T10:00:00Z"
consents = st.fixed_dictionaries({"email": st.booleans(), "sms": st.booleans()})
sources = st.sampled_from(["api", "in_store_form", UNSUBSCRIBE_LINK])


@given(before=consents, after=consents, source=st.one_of(st.none(), st.just("in_store_form")),
       last_sources=st.fixed_dictionaries({"email": sources, "sms": sources}))
def test_exactly_the_channels_whose_consent_changes_get_a_new_provenance(before, after, source, last_sources):
    last = {c: ConsentChange("2026-01-01T00:00:00Z", "someone", s) for c, s in last_sources.items()}
    regiven_after_link = [c for c in after if after[c] and not before[c] and last_sources[c] == UNSUBSCRIBE_LINK]
    if regiven_after_link and source is None:
        with pytest.raises(Conflict) as refused:
            changes(before, after, after, last, by="ana", source=source, default_source="api", at=AT)
        assert refused.value.field == "consent_source"
        return
    found = changes(before, after, after, last, by="ana", source=source, default_source="api", at=AT)
    assert set(found) == {c for c in after if after[c] != before[c]}
    assert all(change == ConsentChange(AT, "ana", source or "api") for change in found.values())


def test_a_new_customer_records_the_channels_it_states_even_when_false():
    found = changes(None, {"email": False, "sms": False}, {"email": False}, {}, by="ana", source=None,
                    default_source="import", at=AT)
    assert found == {"email": ConsentChange(AT, "ana", "import")}

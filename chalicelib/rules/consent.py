"""Consent per channel and where it came from (docs/behaviour.md section 7, "Consent").

Each channel keeps its own last change: when, by whom and how (`consent_source`). A channel the customer
withdrew through an unsubscribe link is given again only by a write that says how the customer gave it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from chalicelib.core.catalog import CHANNELS
from chalicelib.core.errors import Conflict

#: The source, and the author, of a withdrawal through the customer's own unsubscribe link.
UNSUBSCRIBE_LINK = "unsubscribe_link"
#: The source of a change whose write did not say how: an import's, or any other write's.
IMPORT_SOURCE, DEFAULT_SOURCE = "import", "api"


@dataclass(frozen=True)
class ConsentChange:
    """One channel's last change of consent."""

    updated_at: str
    updated_by: str
    source: str


def values(consent: Mapping[str, bool] | None) -> dict[str, bool]:
    """Consent per channel; a channel never given is not given."""
    return {channel: bool((consent or {}).get(channel)) for channel in CHANNELS}


def changes(before: Mapping[str, bool] | None, after: Mapping[str, bool], stated: Mapping[str, bool] | None,
            last: Mapping[str, ConsentChange], *, by: str, source: str | None, default_source: str,
            at: str) -> dict[str, ConsentChange]:
    """The channels whose consent this write changes, each with its new provenance.

    `before` is the consent before the write (None for a new customer), `after` the consent it leaves,
    `stated` the channels the write named (a new customer's stated channels are recorded even when false),
    `last` each channel's last change and `source` how the write says the customer gave it (None: not said).
    Giving again a channel withdrawn through an unsubscribe link without a `source` is a Conflict naming
    `consent_source`: the customer's own withdrawal is not undone by a write that does not say how they
    changed their mind.
    """
    found: dict[str, ConsentChange] = {}
    for channel in CHANNELS:
        if before is None:
            changed = channel in (stated or {})
        else:
            changed = bool(before.get(channel)) != bool(after.get(channel))
        if not changed:
            continue
        previous = last.get(channel)
        if after.get(channel) and source is None and previous is not None and previous.source == UNSUBSCRIBE_LINK:
            raise Conflict(f"the customer withdrew {channel} consent through an unsubscribe link: say how they gave "
                           f"it again (consent_source, such as in_store_form)", field="consent_source")
        found[channel] = ConsentChange(updated_at=at, updated_by=by, source=source or default_source)
    return found

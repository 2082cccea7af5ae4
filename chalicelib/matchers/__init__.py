"""Who is due, per automation type (docs/behaviour.md section 3): one module per type and a registry that the
test-run and the runner both use, so a preview cannot drift from what is sent."""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from chalicelib.core import catalog
from chalicelib.core.values import Matcher
from chalicelib.matchers import (
    anniversary,
    appointment_1h,
    appointment_24h,
    birthday,
    christmas,
    mothers_day,
    post_purchase,
    reengagement,
    repair_ready_reminder,
    valentines,
)

MATCHERS: Mapping[str, Matcher] = MappingProxyType({
    "birthday": birthday.match,
    "anniversary": anniversary.match,
    "repair_ready_reminder": repair_ready_reminder.match,
    "reengagement": reengagement.match,
    "post_purchase": post_purchase.match,
    "appointment_24h": appointment_24h.match,
    "appointment_1h": appointment_1h.match,
    "valentines": valentines.match,
    "mothers_day": mothers_day.match,
    "christmas": christmas.match,
})

#: Continuous types: how long before an appointment's start its reminder window opens and closes.
APPOINTMENT_WINDOWS = MappingProxyType({
    "appointment_24h": (appointment_24h.EARLIEST, appointment_24h.LATEST),
    "appointment_1h": (appointment_1h.EARLIEST, appointment_1h.LATEST),
})

assert tuple(MATCHERS) == tuple(catalog.PER_EVENT), "one matcher per per-event type, in the catalog's order"


def matcher_for(type_: str) -> Matcher:
    return MATCHERS[type_]

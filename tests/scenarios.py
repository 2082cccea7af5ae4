"""A store whose data gives each of the ten per-event types a known number of matches, written through
the HTTP API, so the in-process and the local-stack tests check the same thing."""
from __future__ import annotations

from typing import Callable

#: 11:00 on 2026-06-10 in Sydney, after the default send hour.
AT = "2026-06-10T01:00:00Z"
#: For each type, an instant to test-run at and the count expected there.
EXPECTED = {
    "birthday": (AT, 1), "anniversary": (AT, 1), "repair_ready_reminder": (AT, 1), "reengagement": (AT, 1),
    "post_purchase": (AT, 1), "appointment_24h": (AT, 1), "appointment_1h": (AT, 1),
    "valentines": ("2027-02-07T01:00:00Z", 6), "mothers_day": ("2027-05-02T01:00:00Z", 6),  # AU: May 9, 2027
    "christmas": ("2026-12-18T01:00:00Z", 6),
}
#: Days on which the seasonal types match nobody.
OFF_SEASON = {"valentines": AT, "mothers_day": "2027-02-28T01:00:00Z", "christmas": AT}

Call = Callable[[str, str, dict], int]


def build_store(call: Call) -> None:
    """Six customers in a Sydney store, one due for each date-driven type at `AT`."""
    writes = [
        ("PATCH", "/settings", {"timezone": "Australia/Sydney", "country": "AU"}),
        ("PATCH", "/automations/anniversary", {"settings": {"days_before": 7}}),
        ("PUT", "/customers/bday", {"first_name": "Bea", "birthday": "1990-06-10", "email": "b@example.com",
                                    "created_at": "2025-01-01T00:00:00Z"}),
        ("PUT", "/customers/anniv", {"first_name": "Ann", "anniversary": "--06-17", "created_at": "2025-01-01T00:00:00Z"}),
        ("PUT", "/customers/lapsed", {"first_name": "Lee", "created_at": "2026-03-10T02:00:00Z"}),
        ("PUT", "/customers/buyer", {"first_name": "Bo", "created_at": "2025-01-01T00:00:00Z"}),
        ("PUT", "/sales/s1", {"customer_id": "buyer", "completed_at": "2026-06-09T03:00:00+10:00"}),
        ("PUT", "/customers/fixer", {"first_name": "Fen", "created_at": "2025-01-01T00:00:00Z"}),
        ("PUT", "/repairs/r1", {"customer_id": "fixer", "status": "ready", "ready_at": "2026-06-07T09:00:00+10:00",
                                "created_at": "2026-05-01T00:00:00Z"}),
        ("PUT", "/repairs/r2", {"customer_id": "fixer", "status": "collected", "ready_at": "2026-06-07T09:00:00+10:00",
                                "collected_at": "2026-06-08T09:00:00+10:00", "created_at": "2026-05-01T00:00:00Z"}),
        ("PUT", "/customers/visitor", {"first_name": "Vi", "created_at": "2025-01-01T00:00:00Z"}),
        ("PUT", "/appointments/a1", {"customer_id": "visitor", "starts_at": "2026-06-11T09:00:00+10:00"}),
        ("PUT", "/appointments/a2", {"customer_id": "visitor", "starts_at": "2026-06-10T11:30:00+10:00"}),
        ("PUT", "/appointments/a3", {"customer_id": "visitor", "starts_at": "2026-06-11T10:00:00+10:00",
                                     "status": "cancelled"}),
    ]
    for method, path, body in writes:
        status = call(method, path, body)
        assert status == 200, (method, path, status)

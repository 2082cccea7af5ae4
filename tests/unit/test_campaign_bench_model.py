"""bench.campaigns' model: a campaign's page jobs from what was measured, through bench.scale's simulation."""
from __future__ import annotations

from bench import campaigns
from bench.scale import Measured


def _run(items_read: int, cpu: float, members: int = 10_000) -> dict:
    return {"item_bytes": 400, "campaigns": [{"segment": "s", "members": members, "sends_queued": 2 * members,
                                              "items_read": items_read, "client_cpu_seconds": cpu}]}


def test_a_campaign_at_the_rate_never_beats_the_floor_and_a_whole_base_read_makes_pages_longer():
    indexed = campaigns.model(_run(10_000, 10.0), Measured(), 1_000_000, [100.0, 1000.0])
    whole_base = campaigns.model(_run(100_000, 10.0), Measured(), 1_000_000, [100.0, 1000.0])
    for rows in (indexed, whole_base):
        assert [r["rate"] for r in rows] == [100.0, 1000.0]
        assert all(r["total_seconds"] >= r["floor_seconds"] == 2_000_000 / r["rate"] for r in rows)
    assert whole_base[0]["page_seconds"] > indexed[0]["page_seconds"]
    assert (indexed[0]["items_read_per_member"], whole_base[0]["items_read_per_member"]) == (1.0, 10.0)


def test_a_campaign_that_found_nobody_is_not_modeled():
    assert campaigns.model(_run(500, 0.1, members=0), Measured(), 1_000_000, [100.0]) == []

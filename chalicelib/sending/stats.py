"""The outcome counters of every source of sends: items per tenant-local day, source and outcome (spread over
shards), added to after the outcomes' transactions (`ledger.Counts`) and read over a window of days."""
from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.adapters.models import AutomationStats
from chalicelib.core.timeutil import local_date

STATS_DAYS = 30


#: What SES reported and the sales attributed (docs/behaviour.md section 14), counted beside the outcomes:
#: each message once per kind. `opened` counts people only; `machine_open` the opens of mail privacy proxies.
ENGAGEMENT = ("delivered", "opened", "machine_open", "clicked", "bounced", "complained", "rejected",
              "rendering_failure", "attributed_sales")
#: Attributed revenue is counted in cents (counters add integers) and shown in the store's currency units.
REVENUE_COUNTER = "attributed_revenue"


def empty_stats() -> dict:
    return {"sent": 0, "skipped": {}, "failed": 0, "deferred": 0, **{name: 0 for name in ENGAGEMENT},
            "attributed_revenue": 0}


def add_count(stats: dict, outcome: str, count: int) -> None:
    """Add one counter's count to a stats dict (`empty_stats` or a day of `daily`)."""
    status, _, reason = outcome.partition(":")
    if status == "skipped":
        if isinstance(stats.get("skipped"), dict):
            stats["skipped"][reason] = stats["skipped"].get(reason, 0) + count
        elif "skipped" in stats:
            stats["skipped"] += count
    elif status == REVENUE_COUNTER:
        stats[status] = round(stats.get(status, 0) + count / 100, 2)
    elif status in stats:
        stats[status] += count


def with_rates(stats: dict) -> dict:
    """The rates the admin shows: opens by people and clicks per delivered message (None before any)."""
    delivered = stats.get("delivered") or 0
    stats["open_rate"] = round(stats["opened"] / delivered, 4) if delivered else None
    stats["click_rate"] = round(stats["clicked"] / delivered, 4) if delivered else None
    return stats


def stat_key(day: str, automation_id: str, status: str, reason: str | None, shard: int = 0) -> str:
    """The counter of one outcome: skips count per reason, the other outcomes in total; each is spread over
    shards (`#<n>` after the outcome), summed when read."""
    outcome = f"{status}:{reason}" if status == "skipped" else status
    return f"{day}#{automation_id}#{outcome}#{shard}"


#: The engagement counts of each day of the chart.
DAILY_ENGAGEMENT = ("delivered", "opened", "clicked", "bounced", "complained", "attributed_sales")


class WindowStats:
    """Outcome counts per automation over a window of tenant-local days, from one range query: the totals
    (`sent`, `skipped` by reason, `failed`, `deferred`) and `daily`, one entry per day of the window, oldest
    first, for the admin's chart."""

    def __init__(self, days: list[str], rows: list[tuple[str, str, str, int]]) -> None:
        """`rows`: (day, automation id, outcome, count), as the counters' keys hold them."""
        self.days = days
        self._rows: dict[str, list[tuple[str, str, int]]] = {}
        for day, automation_id, outcome, count in rows:
            self._rows.setdefault(automation_id, []).append((day, outcome, count))

    def of(self, automation_id: str) -> dict:
        stats = empty_stats()
        daily = {day: {"date": day, "sent": 0, "skipped": 0, "failed": 0, **{name: 0 for name in DAILY_ENGAGEMENT},
                       "attributed_revenue": 0} for day in self.days}
        for day, outcome, count in self._rows.get(automation_id, ()):
            add_count(stats, outcome, count)
            if day in daily:
                add_count(daily[day], outcome, count)
        stats["daily"] = list(daily.values())
        return with_rates(stats)


def window_days(now: datetime, tz_name: str) -> list[str]:
    """The last STATS_DAYS tenant-local dates, oldest first."""
    today = local_date(now, tz_name)
    return [(today - timedelta(days=n)).isoformat() for n in range(STATS_DAYS - 1, -1, -1)]


def stats_since_window(tenant_id: str, now: datetime, tz_name: str) -> WindowStats:
    """Outcome counts per automation id over the last STATS_DAYS tenant-local days."""
    days = window_days(now, tz_name)
    rows = []
    for row in AutomationStats.query(tenant_id, AutomationStats.stat_key >= days[0]):
        day, automation_id, outcome = row.stat_key.split("#")[:3]
        rows.append((day, automation_id, outcome, int(row.count)))
    return WindowStats(days, rows)

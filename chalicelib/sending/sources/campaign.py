"""Campaigns as a source of sends (clienteling section 12): one marketing message to each member of a segment,
per channel, once. The campaign's id is its sends' `automation_id`, `campaign:<id>` their occurrence key.

Here too is what the API and the runner both need of a running campaign: its progress from the outcome
counters, and the one write that marks it `sent`, only once its last page is queued and every send it
queued has ended.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Iterable, Mapping

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.models import AutomationStats, Campaign
from chalicelib.adapters.persistence import Keys, is_conditional_failure
from chalicelib.adapters.segments import filter_of
from chalicelib.core import catalog
from chalicelib.core.timeutil import local_date, parse_instant, to_iso
from chalicelib.core.values import AutomationView, Profile
from chalicelib.sending.messages import Send
from chalicelib.sending.stats import add_count, empty_stats, with_rates

NAME = "campaign"
#: A send of a campaign cancelled after it was queued ends skipped with this reason.
DISABLED_REASON = "campaign_cancelled"

DRAFT, SCHEDULED, SENDING, SENT, CANCELLED = "draft", "scheduled", "sending", "sent", "cancelled"
STATUSES = (DRAFT, SCHEDULED, SENDING, SENT, CANCELLED)
#: `Campaign.phase` while it waits for its instant, and while it is being sent.
DUE, RUNNING = "due", "sending"


def occurrence_key(campaign_id: str) -> str:
    return f"campaign:{campaign_id}"


def category(type_: str) -> str:
    return catalog.MARKETING


def batch_keys(sends: Iterable[Send]) -> list[Keys]:
    return [Keys(Campaign, {(s.tenant_id, s.automation_id) for s in sends})]


def view_of(item: Campaign | None) -> AutomationView:
    """As the dispatcher sees it: only a campaign being sent (or just finished) sends; a cancelled or deleted
    one is switched off."""
    if item is None:
        return AutomationView(type=catalog.CAMPAIGN, settings={}, enabled=False, channels=())
    return AutomationView(type=catalog.CAMPAIGN, settings={}, enabled=item.status in (SENDING, SENT),
                          channels=tuple(item.channels or ("email",)), template_id=item.template_id, name=item.name)


def configurations(sends: Iterable[Send], found: Mapping[type, list]) -> dict[tuple[str, str], AutomationView]:
    stored = {(c.tenant_id, c.campaign_id): c for c in found.get(Campaign, ())}
    return {(s.tenant_id, s.automation_id): view_of(stored.get((s.tenant_id, s.automation_id))) for s in sends}


def template_id(automation: AutomationView, type_: str) -> str:
    return automation.template_id or catalog.system_template_id(catalog.CAMPAIGN)


def variables(send: Send, automation: AutomationView, store: Mapping[str, Any]) -> dict:
    return {"campaign": automation.name}


def sends_of(tenant_id: str, campaign: Campaign, customer_ids: Iterable[str], day: str) -> list[Send]:
    """One send per member and channel."""
    return [Send(tenant_id=tenant_id, customer_id=customer_id, automation_type=catalog.CAMPAIGN,
                 automation_id=campaign.campaign_id, occurrence_key=occurrence_key(campaign.campaign_id),
                 channel=channel, source=NAME, day=day)
            for customer_id in customer_ids for channel in (campaign.channels or ["email"])]


def segment_filter(tenant_id: str, segment_id: str, today: date) -> dict | None:
    """The conditions of the segment (built in or the store's own) on the store's local date `today`; None if
    the store has none such."""
    return filter_of(tenant_id, segment_id, today)


def conditions_at_start(item: Campaign, tz_name: str) -> dict | None:
    """The filter the campaign's pages read members by: the one kept when it started (so that editing or
    deleting the segment meanwhile changes no page), else the segment's as at the start."""
    if item.segment_filter is not None:
        return item.segment_filter.as_dict()
    if not item.segment_id or not item.started_at:
        return None
    return segment_filter(item.tenant_id, item.segment_id, local_date(parse_instant(item.started_at), tz_name))


def using_segment(tenant_id: str, segment_id: str) -> str | None:
    """A scheduled or sending campaign that targets the segment, named; None if there is none (a store has
    a few dozen campaigns: one query of its partition)."""
    for item in Campaign.query(tenant_id, filter_condition=(Campaign.segment_id == segment_id)
                               & Campaign.status.is_in(SCHEDULED, SENDING)):
        return f"the {item.status} campaign {item.name!r} ({item.campaign_id})"
    return None


def joined_by(profile: Profile, at: datetime) -> bool:
    """A customer created after the campaign started is not one of its members (the snapshot)."""
    return not profile.created_at or profile.created_at <= to_iso(at)


# --- progress -------------------------------------------------------------------------------------------

def outcome_counts(item: Campaign, tz_name: str) -> dict:
    """`sent`, `skipped` by reason, `failed` and `deferred` of the campaign's sends, from the outcome counters
    of its id since the local date it started (one range query of the store's counters)."""
    counts = empty_stats()
    if not item.started_at:
        return with_rates(counts)
    since = local_date(parse_instant(item.started_at), tz_name).isoformat()
    for row in AutomationStats.query(item.tenant_id, AutomationStats.stat_key >= since):
        _day, automation_id, outcome = row.stat_key.split("#")[:3]
        if automation_id != item.campaign_id:
            continue
        add_count(counts, outcome, int(row.count))
    return with_rates(counts)


def ended(counts: Mapping[str, Any]) -> int:
    """How many sends have their final outcome (a deferred send has not: it is sent or skipped later)."""
    return counts["sent"] + counts["failed"] + sum(counts["skipped"].values())


def is_done(item: Campaign, counts: Mapping[str, Any]) -> bool:
    """Its last page is queued and every send it queued has ended: never before everyone was sent."""
    return item.status == SENDING and bool(item.paged) and ended(counts) >= int(item.queued or 0)


def finish(item: Campaign, now: datetime) -> bool:
    """Mark a done campaign `sent`, once (conditional on it still sending, with every page queued)."""
    try:
        item.update(actions=[Campaign.status.set(SENT), Campaign.finished_at.set(to_iso(now)),
                             Campaign.phase.remove(), Campaign.phase_at.remove()],
                    condition=(Campaign.status == SENDING) & (Campaign.paged == True),
                    add_version_condition=False)
    except UpdateError as e:
        if not is_conditional_failure(e):
            raise
        return False
    return True

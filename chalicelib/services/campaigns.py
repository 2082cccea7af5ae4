"""A tenant's campaigns (clienteling section 12): drafts, their schedule, sending now, cancelling, progress and
the test-run. The runner starts and sends them (`chalicelib.runner.campaigns`); this module only moves their
status, under the item's version, so an edit and a start never both win."""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.models import Campaign
from chalicelib.adapters.persistence import (
    create_only,
    delete_current,
    get_or_none,
    mutate,
)
from chalicelib.core import catalog
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.timeutil import local_date, parse_instant, to_iso, zone
from chalicelib.core.values import Match, Repository, TenantView
from chalicelib.rules import validation as v
from chalicelib.rules.auth import Principal, require_write
from chalicelib.sending.sources import campaign as source
from chalicelib.sending.stats import ENGAGEMENT, stats_since_window
from chalicelib.services import settings as tenant_settings
from chalicelib.services.templates import exists_for_type
from chalicelib.services.testrun import DEFERRED, SAMPLE_SIZE, WOULD_SEND, decide

#: A schedule is at least this far ahead, so the one-minute planner cannot miss it.
MIN_LEAD = timedelta(minutes=1)
#: How many members a test-run judges: the dispatch checks read each one's marketing log.
TEST_RUN_MEMBERS = 5_000
RESOURCE = "campaigns"

FIELDS = {
    "name": v.string(100, min_len=1),
    "segment_id": v.check_id,
    "channels": v.choice_list(catalog.CHANNELS),
    "template_id": v.nullable(v.string(80)),
}
EDITABLE = (source.DRAFT, source.SCHEDULED)


def new_id(now: datetime) -> str:
    """Sorts in creation order; holds no `#` (the outcome counters' keys are split on it)."""
    return f"cmp_{int(now.timestamp() * 1_000_000):014x}{uuid.uuid4().hex[:6]}"


def _tenant(tenant_id: str) -> TenantView:
    return TenantView(tenant_id, tenant_settings.load(tenant_id))


def _local(instant: str | None, tz_name: str) -> str | None:
    """An instant as the store reads it: ISO-8601 with the store's offset at that instant."""
    if not instant:
        return None
    return parse_instant(instant).astimezone(zone(tz_name)).isoformat()


def _as_json(item: Campaign, tz_name: str, counts: dict | None = None) -> dict:
    counts = counts or source.outcome_counts(item, tz_name)
    return {
        "campaign_id": item.campaign_id, "name": item.name, "segment_id": item.segment_id,
        "channels": list(item.channels or ["email"]), "template_id": item.template_id,
        "effective_template_id": item.template_id or catalog.system_template_id(catalog.CAMPAIGN),
        "status": item.status, "scheduled_at": _local(item.scheduled_at, tz_name),
        "created_by": item.created_by, "created_at": item.created_at, "updated_at": item.updated_at,
        "started_at": _local(item.started_at, tz_name), "finished_at": _local(item.finished_at, tz_name),
        "cancelled_at": _local(item.cancelled_at, tz_name),
        "members": int(item.members or 0), "queued": int(item.queued or 0),
        "sent": counts["sent"], "skipped": dict(sorted(counts["skipped"].items())), "failed": counts["failed"],
        "deferred": counts["deferred"],
        # What SES reported and the sales attributed (behaviour.md section 14); opens by people only.
        **{name: counts[name] for name in (*ENGAGEMENT, "attributed_revenue", "open_rate", "click_rate")},
    }


def _load(tenant_id: str, campaign_id: str) -> Campaign:
    item = get_or_none(Campaign, tenant_id, v.check_id(campaign_id, "campaign_id"))
    if item is None:
        raise NotFound("no such campaign", field="campaign_id")
    return item


def _settled(item: Campaign, tz_name: str, now: datetime) -> dict:
    """The campaign as it stands; a sending one whose every send has ended is marked `sent` on the way."""
    counts = source.outcome_counts(item, tz_name)
    if source.is_done(item, counts) and source.finish(item, now):
        item = get_or_none(Campaign, item.tenant_id, item.campaign_id) or item
    return _as_json(item, tz_name, counts)


def list_campaigns(tenant_id: str, now: datetime) -> list[dict]:
    tz_name = _tenant(tenant_id).timezone
    items = sorted(Campaign.query(tenant_id), key=lambda c: c.created_at, reverse=True)
    return [_settled(item, tz_name, now) if item.status == source.SENDING else _as_json(item, tz_name)
            for item in items]


def get(tenant_id: str, campaign_id: str, now: datetime) -> dict:
    """The campaign, with its last 30 days day by day in the store's time zone (`daily`, for the chart)."""
    tz_name = _tenant(tenant_id).timezone
    view = _settled(_load(tenant_id, campaign_id), tz_name, now)
    view["daily"] = stats_since_window(tenant_id, now, tz_name).of(campaign_id)["daily"]
    return view


def _check_segment(tenant_id: str, segment_id: str, now: datetime) -> None:
    today = local_date(now, _tenant(tenant_id).timezone)
    if source.segment_filter(tenant_id, segment_id, today) is None:
        raise v.fail("segment_id", "is not a segment of this store")


def _check(tenant_id: str, fields: dict, now: datetime) -> None:
    if fields.get("segment_id") is not None:
        _check_segment(tenant_id, fields["segment_id"], now)
    if fields.get("template_id") is not None:
        exists_for_type(tenant_id, fields["template_id"], catalog.CAMPAIGN)


def create(principal: Principal, body: dict, now: datetime) -> dict:
    require_write(principal, RESOURCE)
    fields = v.parse(body, FIELDS, required=("name",))
    _check(principal.tenant_id, fields, now)
    item = Campaign(principal.tenant_id, new_id(now), name=fields["name"], segment_id=fields.get("segment_id"),
                    channels=fields.get("channels") or ["email"], template_id=fields.get("template_id"),
                    status=source.DRAFT, created_at=to_iso(now), created_by=principal.subject,
                    updated_at=to_iso(now), updated_by=principal.subject)
    return _as_json(create_only(item), _tenant(principal.tenant_id).timezone, source.outcome_counts(item, "UTC"))


def _change(principal: Principal, campaign_id: str, now: datetime, apply) -> Campaign:
    """Read, `apply` (which raises Conflict when the status forbids the change), write under the version."""
    def change(item: Campaign | None) -> Campaign:
        if item is None:
            raise NotFound("no such campaign", field="campaign_id")
        apply(item)
        item.updated_at, item.updated_by = to_iso(now), principal.subject
        return item
    v.check_id(campaign_id, "campaign_id")
    return mutate(lambda: get_or_none(Campaign, principal.tenant_id, campaign_id), change)


def _editable(item: Campaign, doing: str) -> None:
    if item.status not in EDITABLE:
        raise Conflict(f"a {item.status} campaign cannot be {doing}; only a draft or scheduled one", field="status")


def patch(principal: Principal, campaign_id: str, body: dict, now: datetime) -> dict:
    require_write(principal, RESOURCE)
    changes = v.parse(body, FIELDS, required=("name", "channels"), partial=True)
    _check(principal.tenant_id, changes, now)

    def apply(item: Campaign) -> None:
        _editable(item, "edited")
        for name, value in changes.items():
            setattr(item, name, value)
    item = _change(principal, campaign_id, now, apply)
    return _as_json(item, _tenant(principal.tenant_id).timezone)


def delete(principal: Principal, campaign_id: str) -> None:
    require_write(principal, RESOURCE)
    v.check_id(campaign_id, "campaign_id")

    def load() -> Campaign | None:
        item = get_or_none(Campaign, principal.tenant_id, campaign_id)
        if item is not None and item.status != source.DRAFT:
            raise Conflict(f"a {item.status} campaign cannot be deleted; only a draft (cancel it instead)",
                           field="status")
        return item
    delete_current(load, NotFound("no such campaign", field="campaign_id"))


def _ready(item: Campaign, now: datetime) -> None:
    """A campaign starts only with a segment that exists; its template was checked when it was set."""
    if not item.segment_id:
        raise v.fail("segment_id", "is required before a campaign is scheduled or sent")
    _check_segment(item.tenant_id, item.segment_id, now)


def schedule(principal: Principal, campaign_id: str, body: dict, now: datetime) -> dict:
    require_write(principal, RESOURCE)
    at = v.parse(body, {"at": v.instant()}, required=("at",))["at"]
    if parse_instant(at) < now + MIN_LEAD:
        raise v.fail("at", "must be at least one minute from now")

    def apply(item: Campaign) -> None:
        _editable(item, "scheduled")
        _ready(item, now)
        item.status, item.scheduled_at, item.phase, item.phase_at = source.SCHEDULED, at, source.DUE, at
    item = _change(principal, campaign_id, now, apply)
    return _as_json(item, _tenant(principal.tenant_id).timezone)


def send_now(principal: Principal, campaign_id: str, now: datetime) -> dict:
    """Sending starts now: the members are the segment's as at this instant. The planner queues its first page
    within a minute (locally: at the next clock step or `tick`)."""
    require_write(principal, RESOURCE)

    def apply(item: Campaign) -> None:
        _editable(item, "sent")
        _ready(item, now)
        item.status, item.started_at, item.scheduled_at = source.SENDING, to_iso(now), None
        item.segment_filter = source.segment_filter(item.tenant_id, item.segment_id,
                                                    local_date(now, _tenant(item.tenant_id).timezone))
        item.phase, item.phase_at, item.kicked_at = source.RUNNING, to_iso(now), None
    item = _change(principal, campaign_id, now, apply)
    return _as_json(item, _tenant(principal.tenant_id).timezone)


def cancel(principal: Principal, campaign_id: str, now: datetime) -> dict:
    """Stops what is not sent yet: no page is queued after this, and each send still queued ends skipped,
    `campaign_cancelled`. Cancelling a cancelled campaign changes nothing."""
    require_write(principal, RESOURCE)

    def apply(item: Campaign) -> None:
        if item.status == source.CANCELLED:
            return
        if item.status not in (*EDITABLE, source.SENDING):
            raise Conflict(f"a {item.status} campaign cannot be cancelled", field="status")
        item.status, item.cancelled_at, item.phase, item.phase_at = source.CANCELLED, to_iso(now), None, None
    item = _change(principal, campaign_id, now, apply)
    return _as_json(item, _tenant(principal.tenant_id).timezone)


def test_run(tenant_id: str, campaign_id: str, body: dict, now: datetime, repo: Repository) -> dict:
    """What starting at `at` (default: its schedule, else now) would do: its members and each send's outcome,
    in the automations' test-run shape. Writes nothing."""
    from chalicelib.matchers.segment import members
    from chalicelib.sending import ledger   # the dispatcher's module: imported on the first test-run

    item = _load(tenant_id, campaign_id)
    fields = v.parse(body or {}, {"at": v.instant()})
    at = parse_instant(fields.get("at") or item.started_at or item.scheduled_at or to_iso(now))
    tenant = _tenant(tenant_id)
    day = local_date(at, tenant.timezone)
    # A campaign that has started reads its members by the conditions it kept then.
    conditions = (item.segment_filter.as_dict() if item.segment_filter is not None
                  else source.segment_filter(tenant_id, item.segment_id, day) if item.segment_id else None)
    if conditions is None:
        raise v.fail("segment_id", "is required and must be a segment of this store")
    key = source.occurrence_key(item.campaign_id)
    found = []
    for member in members(tenant, conditions, at, repo):
        if source.joined_by(member.profile, at):
            found.append(Match(member.profile.customer_id, key, day, member.profile))
            if len(found) >= TEST_RUN_MEMBERS:
                break
    sends = source.sends_of(tenant_id, item, [m.customer_id for m in found], day.isoformat())
    rows = ledger.read(sends)
    held = frozenset((s.customer_id, s.occurrence_key, s.channel) for s in sends if s.ledger_key in rows)
    channels = tuple(item.channels or ["email"])
    outcomes = decide(tenant, catalog.MARKETING, channels, found, at, held)
    every = [o for per_channel in outcomes for o in per_channel.values()]
    skipped = Counter(o for o in every if o not in (WOULD_SEND, DEFERRED))
    notes = []
    if len(found) >= TEST_RUN_MEMBERS:
        notes.append(f"judged on the first {TEST_RUN_MEMBERS:,} members")
    if tenant.settings.get("frequency_cap"):
        notes.append("the frequency cap is judged as it stands before any send due at this instant; where "
                     "automations or campaigns compete for a customer's last place, dispatch order decides")
    answer: dict[str, Any] = {
        "type": catalog.CAMPAIGN, "campaign_id": item.campaign_id, "at": to_iso(at), "dates": [day.isoformat()],
        "channels": list(channels), "count": len(found), "would_send": every.count(WOULD_SEND),
        "deferred": every.count(DEFERRED), "skipped": dict(sorted(skipped.items())),
        "sample": [{"customer_id": m.customer_id, "name": m.person.name, "occurrence_key": key,
                    "for": day.isoformat(), "outcomes": per_channel}
                   for m, per_channel in list(zip(found, outcomes))[:SAMPLE_SIZE]],
        "notes": notes,
    }
    return answer

"""A store's segments (docs/behaviour.md section 10): the built-in ones and its own, each with its count at the
instant asked, and its members a page at a time. Members are read through `chalicelib.matchers.segment`, as a
campaign's evaluation will read them."""
from __future__ import annotations

import uuid
from datetime import datetime
from itertools import islice
from typing import Callable

from chalicelib.adapters.models import Segment
from chalicelib.adapters.persistence import create_only, delete_current, get_or_none, mutate
from chalicelib.adapters.segments import filter_of, stored_filter
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.timeutil import local_date, to_iso
from chalicelib.core.values import Profile, Repository, TenantView
from chalicelib.matchers import segment as reading
from chalicelib.rules import validation as v
from chalicelib.rules.auth import Principal, require_write
from chalicelib.rules.segments import BUILT_IN, BUILT_IN_IDS, BuiltIn, parse_filter
from chalicelib.rules.tags import is_vip
from chalicelib.sending.sources import campaign as campaign_source
from chalicelib.services import settings as tenant_settings
from chalicelib.services.paging import decode_cursor, encode_cursor, page_size

#: Every count of `GET /segments` is read at each call: this bounds the reads of one list.
MAX_PER_TENANT = 50
FIELDS = {"name": v.string(100, min_len=1), "filter": parse_filter}

#: What may hold on to a store's segment, each asked with (tenant_id, segment_id) and answering what uses it, or
#: None. Deleting a segment something uses is a 409 naming it. Campaigns add theirs: a scheduled campaign that
#: targets the segment.
USES: tuple[Callable[[str, str], str | None], ...] = (campaign_source.using_segment,)


def new_id(now: datetime) -> str:
    """Sorts in creation order, so the store's segments list oldest first."""
    return f"seg_{int(now.timestamp() * 1_000_000):014x}{uuid.uuid4().hex[:6]}"


def _tenant(tenant_id: str) -> TenantView:
    return TenantView(tenant_id, tenant_settings.load(tenant_id))


def _built_in_json(built_in: BuiltIn, conditions: dict, count: int) -> dict:
    return {"segment_id": built_in.segment_id, "name": built_in.name, "built_in": True,
            "description": built_in.description, "filter": conditions, "count": count}


def _custom_json(item: Segment, count: int) -> dict:
    return {"segment_id": item.segment_id, "name": item.name, "built_in": False, "filter": stored_filter(item),
            "count": count, "created_at": item.created_at, "updated_at": item.updated_at,
            "updated_by": item.updated_by}


def list_segments(tenant_id: str, now: datetime, repo: Repository) -> list[dict]:
    """The built-in segments in their order, then the store's own oldest first, each with its count now."""
    tenant = _tenant(tenant_id)
    today = local_date(now, tenant.timezone)
    built_in = {b.segment_id: b.filter_on(today) for b in BUILT_IN}
    own = list(Segment.query(tenant_id))
    found = reading.counts(tenant, {**built_in, **{item.segment_id: stored_filter(item) for item in own}}, now, repo)
    return ([_built_in_json(b, built_in[b.segment_id], found[b.segment_id]) for b in BUILT_IN]
            + [_custom_json(item, found[item.segment_id]) for item in own])


def count(tenant_id: str, body: dict, now: datetime, repo: Repository) -> dict:
    """How many customers a filter would hold now, without storing anything: the admin's filter builder asks it
    as the conditions change. Read like a segment's count, so any role may ask."""
    conditions = v.parse(body, {"filter": parse_filter}, required=("filter",))["filter"]
    return {"filter": conditions, "count": reading.count(_tenant(tenant_id), conditions, now, repo)}


def _load(tenant_id: str, segment_id: str) -> Segment:
    item = get_or_none(Segment, tenant_id, v.check_id(segment_id, "segment_id"))
    if item is None:
        raise NotFound("no such segment", field="segment_id")
    return item


def get(tenant_id: str, segment_id: str, now: datetime, repo: Repository) -> dict:
    tenant = _tenant(tenant_id)
    built_in = BUILT_IN_IDS.get(segment_id)
    if built_in is not None:
        conditions = built_in.filter_on(local_date(now, tenant.timezone))
        return _built_in_json(built_in, conditions, reading.count(tenant, conditions, now, repo))
    item = _load(tenant_id, segment_id)
    return _custom_json(item, reading.count(tenant, stored_filter(item), now, repo))


def _refuse_built_in(segment_id: str) -> None:
    if segment_id in BUILT_IN_IDS:
        raise Conflict("a built-in segment cannot be changed or deleted; create a segment of your own instead")


def create(principal: Principal, body: dict, now: datetime, repo: Repository) -> dict:
    require_write(principal, "segments")
    fields = v.parse(body, FIELDS, required=("name", "filter"))
    if Segment.count(principal.tenant_id) >= MAX_PER_TENANT:
        raise Conflict(f"a store may have at most {MAX_PER_TENANT} segments of its own; delete one first")
    item = create_only(Segment(principal.tenant_id, new_id(now), name=fields["name"], filter=fields["filter"],
                               created_at=to_iso(now), updated_at=to_iso(now), updated_by=principal.subject))
    return _custom_json(item, reading.count(_tenant(principal.tenant_id), fields["filter"], now, repo))


def patch(principal: Principal, segment_id: str, body: dict, now: datetime, repo: Repository) -> dict:
    """`name` and `filter`, each replaced whole when given."""
    require_write(principal, "segments")
    _refuse_built_in(segment_id)
    _load(principal.tenant_id, segment_id)
    changes = v.parse(body, FIELDS, partial=True, required=("name", "filter"))

    def change(item: Segment | None) -> Segment:
        if item is None:
            raise NotFound("no such segment", field="segment_id")
        for name, value in changes.items():
            setattr(item, name, value)
        item.updated_at, item.updated_by = to_iso(now), principal.subject
        return item

    item = mutate(lambda: get_or_none(Segment, principal.tenant_id, segment_id), change)
    return _custom_json(item, reading.count(_tenant(principal.tenant_id), stored_filter(item), now, repo))


def delete(principal: Principal, segment_id: str) -> None:
    require_write(principal, "segments")
    _refuse_built_in(segment_id)
    _load(principal.tenant_id, segment_id)
    for use in USES:
        found = use(principal.tenant_id, segment_id)
        if found:
            raise Conflict(f"the segment is in use: {found}", field="segment_id")
    delete_current(lambda: get_or_none(Segment, principal.tenant_id, segment_id),
                   NotFound("no such segment", field="segment_id"))


def _member_json(profile: Profile) -> dict:
    name = " ".join(part for part in (profile.first_name, profile.last_name) if part) or None
    return {"customer_id": profile.customer_id, "name": name, "email": profile.email, "phone": profile.phone,
            "vip": is_vip(profile.tags), "last_activity_at": profile.last_activity_at}


def _position(cursor: str | None) -> str | None:
    """The position a cursor carries on after; one that does not end with a customer id is none of ours."""
    if cursor is None:
        return None
    position = decode_cursor(cursor)
    try:
        v.check_id(position.rpartition("|")[2])
    except ValidationFailed:
        raise v.fail("cursor", "is not a cursor this API gave out") from None
    return position


def members(tenant_id: str, segment_id: str, now: datetime, repo: Repository, *, limit: str | None,
            cursor: str | None) -> dict:
    """The segment's members at `now`, a page at a time, in the order of the read that finds them."""
    size, after = page_size(limit), _position(cursor)
    tenant = _tenant(tenant_id)
    conditions = filter_of(tenant_id, v.check_id(segment_id, "segment_id"), local_date(now, tenant.timezone))
    if conditions is None:
        raise NotFound("no such segment", field="segment_id")
    page = list(islice(reading.members(tenant, conditions, now, repo, after=after), size + 1))
    more = len(page) > size
    return {"segment_id": segment_id, "members": [_member_json(m.profile) for m in page[:size]],
            "next_cursor": encode_cursor(page[size - 1].position) if more else None}

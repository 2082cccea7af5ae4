"""Segments: the built-in ones and the store's own, their counts and their members."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.adapters.repository import DynamoRepository
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.context import Call, created, no_content, routes
from chalicelib.services import segments

bp = Blueprint(__name__)
route = routes(bp, jwt_auth)


@route("/segments", ["GET"])
def list_segments(call: Call):
    return {"segments": segments.list_segments(call.tenant_id, call.now, DynamoRepository())}


@route("/segments", ["POST"])
def create_segment(call: Call):
    return created(segments.create(call.principal, call.body(), call.now, DynamoRepository()))


@route("/segments/count", ["POST"])
def count_segment(call: Call):
    """A filter's count now, stored nowhere (the admin's live count)."""
    return segments.count(call.tenant_id, call.body(), call.now, DynamoRepository())


@route("/segments/{segment_id}", ["GET"])
def get_segment(call: Call, segment_id):
    return segments.get(call.tenant_id, segment_id, call.now, DynamoRepository())


@route("/segments/{segment_id}", ["PATCH"])
def patch_segment(call: Call, segment_id):
    return segments.patch(call.principal, segment_id, call.body(), call.now, DynamoRepository())


@route("/segments/{segment_id}", ["DELETE"])
def delete_segment(call: Call, segment_id):
    segments.delete(call.principal, segment_id)
    return no_content()


@route("/segments/{segment_id}/members", ["GET"])
def segment_members(call: Call, segment_id):
    return segments.members(call.tenant_id, segment_id, call.now, DynamoRepository(), limit=call.param("limit"),
                            cursor=call.param("cursor"))

"""The coming days' birthdays and anniversaries."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.adapters.repository import DynamoRepository
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.context import Call, routes
from chalicelib.services import reminders

bp = Blueprint(__name__)
route = routes(bp, jwt_auth)


@route("/reminders", ["GET"])
def list_reminders(call: Call):
    return reminders.reminders(call.tenant_id, call.param("days"), call.now, DynamoRepository())

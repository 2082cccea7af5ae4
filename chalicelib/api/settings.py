"""A store's settings."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.context import Call, routes
from chalicelib.services import settings

bp = Blueprint(__name__)
route = routes(bp, jwt_auth)


@route("/settings", ["GET"])
def get_settings(call: Call):
    return settings.view(call.tenant_id)


@route("/settings", ["PATCH"])
def patch_settings(call: Call):
    return settings.patch(call.principal, call.body(), call.now)


@route("/settings/sender", ["GET"])
def sender_status(call: Call):
    from chalicelib.adapters import clients
    from chalicelib.services import sender

    return sender.status(call.tenant_id, clients.client("ses"), clients.client("sesv2"))

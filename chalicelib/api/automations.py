"""The ten per-event automations: configuration, stats and the test-run."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.adapters.repository import DynamoRepository
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.context import Call, routes
from chalicelib.services import automations, settings, testrun

bp = Blueprint(__name__)
route = routes(bp, jwt_auth)


def _tz(call: Call) -> str:
    return settings.load(call.tenant_id)["timezone"]


@route("/automations", ["GET"])
def list_automations(call: Call):
    return {"automations": automations.list_automations(call.tenant_id, call.now, _tz(call))}


@route("/automations/{type}", ["GET"])
def get_automation(call: Call, type):  # noqa: A002 - the route's own name for it
    return automations.get(call.tenant_id, type, call.now, _tz(call))


@route("/automations/{type}", ["PATCH"])
def patch_automation(call: Call, type):  # noqa: A002
    return automations.patch(call.principal, type, call.body(), call.now, _tz(call))


@route("/automations/{type}/test-run", ["POST"])
def test_run_automation(call: Call, type):  # noqa: A002
    return testrun.test_run(call.tenant_id, type, call.body(required=False), call.now, DynamoRepository())

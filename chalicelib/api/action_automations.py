"""Action-taken automations: list, create, edit, delete and the test-run."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.context import Call, created, no_content, routes
from chalicelib.services import action_automations

bp = Blueprint(__name__)
route = routes(bp, jwt_auth)


@route("/action-automations", ["GET"])
def list_action_automations(call: Call):
    return {"action_automations": action_automations.list_automations(call.tenant_id, call.now)}


@route("/action-automations", ["POST"])
def create_action_automation(call: Call):
    return created(action_automations.create(call.principal, call.body(), call.now))


@route("/action-automations/test-run", ["POST"])
def test_run_action_automations(call: Call):
    return action_automations.test_run(call.tenant_id, call.body(), call.now)


@route("/action-automations/{automation_id}", ["GET"])
def get_action_automation(call: Call, automation_id):
    return action_automations.get(call.tenant_id, automation_id, call.now)


@route("/action-automations/{automation_id}", ["PATCH"])
def patch_action_automation(call: Call, automation_id):
    return action_automations.patch(call.principal, automation_id, call.body(), call.now)


@route("/action-automations/{automation_id}", ["DELETE"])
def delete_action_automation(call: Call, automation_id):
    action_automations.delete(call.principal, automation_id)
    return no_content()

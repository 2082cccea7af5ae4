"""Campaigns: drafts, schedule, send now, cancel, progress and the test-run."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.adapters.repository import DynamoRepository
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.context import Call, created, no_content, routes
from chalicelib.services import campaigns

bp = Blueprint(__name__)
route = routes(bp, jwt_auth)


@route("/campaigns", ["GET"])
def list_campaigns(call: Call):
    return {"campaigns": campaigns.list_campaigns(call.tenant_id, call.now)}


@route("/campaigns", ["POST"])
def create_campaign(call: Call):
    return created(campaigns.create(call.principal, call.body(), call.now))


@route("/campaigns/{campaign_id}", ["GET"])
def get_campaign(call: Call, campaign_id):
    return campaigns.get(call.tenant_id, campaign_id, call.now)


@route("/campaigns/{campaign_id}", ["PATCH"])
def patch_campaign(call: Call, campaign_id):
    return campaigns.patch(call.principal, campaign_id, call.body(), call.now)


@route("/campaigns/{campaign_id}", ["DELETE"])
def delete_campaign(call: Call, campaign_id):
    campaigns.delete(call.principal, campaign_id)
    return no_content()


@route("/campaigns/{campaign_id}/schedule", ["POST"])
def schedule_campaign(call: Call, campaign_id):
    return campaigns.schedule(call.principal, campaign_id, call.body(), call.now)


@route("/campaigns/{campaign_id}/send", ["POST"])
def send_campaign(call: Call, campaign_id):
    return campaigns.send_now(call.principal, campaign_id, call.now)


@route("/campaigns/{campaign_id}/cancel", ["POST"])
def cancel_campaign(call: Call, campaign_id):
    return campaigns.cancel(call.principal, campaign_id, call.now)


@route("/campaigns/{campaign_id}/test-run", ["POST"])
def test_run_campaign(call: Call, campaign_id):
    return campaigns.test_run(call.tenant_id, campaign_id, call.body(required=False), call.now, DynamoRepository())

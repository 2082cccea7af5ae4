"""Templates: the system ones and the store's own, with a rendered preview."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.context import Call, created, no_content, routes
from chalicelib.services import templates

bp = Blueprint(__name__)
route = routes(bp, jwt_auth)


@route("/templates", ["GET"])
def list_templates(call: Call):
    return {"templates": templates.list_templates(call.tenant_id, call.param("type"))}


@route("/templates", ["POST"])
def create_template(call: Call):
    return created(templates.create(call.principal, call.body(), call.now))


@route("/templates/{template_id}", ["GET"])
def get_template(call: Call, template_id):
    return templates.get(call.tenant_id, template_id)


@route("/templates/{template_id}", ["PATCH"])
def patch_template(call: Call, template_id):
    return templates.patch(call.principal, template_id, call.body(), call.now)


@route("/templates/{template_id}", ["DELETE"])
def delete_template(call: Call, template_id):
    templates.delete(call.principal, template_id)
    return no_content()


@route("/templates/{template_id}/duplicate", ["POST"])
def duplicate_template(call: Call, template_id):
    return created(templates.duplicate(call.principal, template_id, call.body(required=False), call.now))


@route("/templates/{template_id}/preview", ["POST"])
def preview_template(call: Call, template_id):
    return templates.preview(call.tenant_id, template_id, call.body(required=False))

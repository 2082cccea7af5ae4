"""The admin page (static, no login: its data comes from the routes with the user's token) and `/me`."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.context import Call, routes
from chalicelib.services import admin_site

bp = Blueprint(__name__)
route = routes(bp, jwt_auth)


@bp.route("/admin", methods=["GET"])
def admin_page():
    return Response(body=admin_site.page(), status_code=200,
                    headers={"Content-Type": "text/html; charset=utf-8", **admin_site.security_headers()})


@bp.route("/admin/{name}", methods=["GET"])
def admin_file(name):
    if name == admin_site.CONFIG:
        return Response(body=admin_site.public_config(), status_code=200,
                        headers={"Content-Type": "application/json", "Cache-Control": "no-cache"})
    found = admin_site.asset(name)
    if found is None:
        return Response(body={"error": {"code": "not_found", "message": "no such file"}}, status_code=404)
    text, content_type = found
    return Response(body=text, status_code=200, headers={"Content-Type": content_type, **admin_site.security_headers()})


@route("/me", ["GET"])
def who_am_i(call: Call):
    return admin_site.me(call.principal)

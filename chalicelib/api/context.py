"""Request helpers for the routes: caller, body, clock, and the one place errors become responses."""
from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Callable

from chalice import Response
from chalice.app import Request

from chalicelib.adapters.tenants import ensure_tenant
from chalicelib.core.clock import utcnow  # noqa: F401 - the routes' clock
from chalicelib.core.errors import DomainError
from chalicelib.rules.auth import Principal
from chalicelib.rules.validation import parse_json_body

JSON_HEADERS = {"Content-Type": "application/json"}


class TokenRejected(Exception):
    """Raised by the authorizer; API Gateway answers 401 when an authorizer fails with 'Unauthorized'."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def error_response(error: DomainError) -> Response:
    return Response(body=json.dumps(error.to_body()), status_code=error.status, headers=JSON_HEADERS)


_CHALICE_CODES = {"UnsupportedMediaType": "unsupported_media_type", "BadRequestError": "validation_error",
                  "NotFoundError": "not_found", "MethodNotAllowedError": "method_not_allowed"}


def uniform_errors(event, get_response):
    """HTTP middleware: errors that Chalice itself raises (415, malformed JSON) take the API's shape too."""
    response = get_response(event)
    if response.status_code >= 400 and isinstance(response.body, dict) and "Code" in response.body:
        code = _CHALICE_CODES.get(response.body["Code"], "error")
        response.body = {"error": {"code": code, "message": str(response.body.get("Message", ""))}}
    return response


def api(view: Callable) -> Callable:
    """Translate domain errors raised by a route into the spec's error shape."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except DomainError as e:
            return error_response(e)
    return wrapper


def caller(request: Request, now: datetime) -> Principal:
    """The caller, from the claims the authorizer verified; the tenant is created on first sight."""
    context = request.context.get("authorizer") or {}
    principal = Principal(tenant_id=context["tenant_id"], role=context["role"], subject=context["principalId"])
    ensure_tenant(principal.tenant_id, now)
    return principal


def body(request: Request, *, required: bool = True) -> dict:
    return parse_json_body(request.raw_body, required=required)


def query_param(request: Request, name: str) -> str | None:
    return (request.query_params or {}).get(name)

"""The routes' request context (principal, now, body) and the one place domain errors become responses."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.adapters.tenants import ensure_tenant
from chalicelib.core.clock import utcnow
from chalicelib.core.errors import DomainError
from chalicelib.rules.auth import Principal
from chalicelib.rules.validation import fail, parse_json_body

JSON_HEADERS = {"Content-Type": "application/json"}


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


@dataclass(frozen=True)
class Call:
    """One API request as a route sees it: who made it (from the claims the authorizer verified), the
    instant it is handled at, and its body and query."""

    principal: Principal
    now: datetime
    request: Request

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id

    def body(self, *, required: bool = True) -> dict:
        try:
            raw = self.request.raw_body
        except UnicodeEncodeError:
            # A body that reached us as text holding lone surrogates: Chalice cannot encode it as UTF-8.
            raise fail("body", "not valid UTF-8") from None
        return parse_json_body(raw, required=required)

    def param(self, name: str) -> str | None:
        return (self.request.query_params or {}).get(name)


def principal_of(request: Request) -> Principal:
    """The caller, from the claims the authorizer verified (never from the request's own content)."""
    context = request.context.get("authorizer") or {}
    return Principal(tenant_id=context["tenant_id"], role=context["role"], subject=context["principalId"])


def routes(bp: Blueprint, authorizer) -> Callable[[str, list[str]], Callable]:
    """`@route(path, methods)` for a blueprint: the view is called with the request's `Call` and its path
    parameters, behind the authorizer; its tenant is created on first sight, and domain errors take the
    API's error shape."""
    def route(path: str, methods: list[str]) -> Callable:
        def register(view: Callable) -> Callable:
            @functools.wraps(view)
            def handle(**params):
                try:
                    call = Call(principal_of(bp.current_request), utcnow(), bp.current_request)
                    ensure_tenant(call.tenant_id, call.now)
                    return view(call, **params)
                except DomainError as e:
                    return error_response(e)
            return bp.route(path, methods=methods, authorizer=authorizer)(handle)
        return register
    return route


def created(body: dict) -> Response:
    return Response(body=body, status_code=201)


def no_content() -> Response:
    return Response(body="", status_code=204)

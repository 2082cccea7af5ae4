"""Serve the Chalice app over HTTP on this machine, with its authorizer, as API Gateway would.

Chalice's local gateway already runs built-in authorizers. One difference from API Gateway is
mended here: when an authorizer fails with "Unauthorized", or the Authorization header is
missing, API Gateway answers 401; the cloud template customises that response to the API's
error shape, and this does the same. The local server also answers `GET /_local/outbox` with the
emails and SMS the emulator accepted, for a developer to read what was sent.
"""
from __future__ import annotations

import base64
import json
import socketserver

from chalice import Chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    LocalGateway,
    LocalGatewayAuthorizer,
    LocalGatewayException,
    NotAuthorizedError,
    ThreadedHTTPServer,
)

from chalicelib.api.authorizer import TokenRejected

#: Local server only: the emulator's outbox (see `_Handler._outbox`).
OUTBOX_PATH = "/_local/outbox"
UNAUTHORIZED_BODY = json.dumps(
    {"error": {"code": "unauthorized", "message": "a valid bearer token is required"}}).encode()


class _Authorizer(LocalGatewayAuthorizer):
    def authorize(self, raw_path, lambda_event, lambda_context):
        try:
            return super().authorize(raw_path, lambda_event, lambda_context)
        except (TokenRejected, NotAuthorizedError):
            raise NotAuthorizedError({"Content-Type": "application/json",
                                      "x-amzn-ErrorType": "UnauthorizedException"}, UNAUTHORIZED_BODY) from None


class Gateway(LocalGateway):
    """Chalice's local API Gateway with API Gateway's 401 behaviour."""

    def __init__(self, app_object: Chalice, config: Config) -> None:
        super().__init__(app_object, config)
        self._authorizer = _Authorizer(app_object)


class _Handler(ChaliceRequestHandler):
    def __init__(self, request, client_address, server, app_object, config):
        self.local_gateway = Gateway(app_object, config)
        # Skip ChaliceRequestHandler.__init__, which would build the stock gateway.
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        pass  # request lines carry customer ids in paths; the API logs what it needs itself

    def do_GET(self):  # noqa: N802 - BaseHTTPRequestHandler's naming
        if self.path.split("?")[0] == OUTBOX_PATH:
            return self._outbox()
        return self._generic_handle()

    def _outbox(self) -> None:
        """The emulator's outbox: what SES and SNS accepted. Only the local server has this path; it
        reads moto's backends, which live in this process."""
        from local.stack import outbox

        body = json.dumps(outbox()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadedHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(app_object: Chalice, host: str, port: int) -> socketserver.BaseServer:
    config = Config.create(chalice_stage="local", app_name=app_object.app_name)
    return _Server((host, port), lambda *a: _Handler(*a, app_object=app_object, config=config))


def handle(gateway: Gateway, method: str, path: str, headers: dict, body: bytes = b"") -> tuple[int, dict, bytes]:
    """One request through the gateway, in process: (status, headers, body)."""
    try:
        response = gateway.handle_request(method=method, path=path, headers=headers, body=body)
    except LocalGatewayException as e:
        return e.CODE, dict(e.headers), e.body or b""
    raw = response.get("body") or b""
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(raw)
    return response["statusCode"], dict(response.get("headers") or {}), raw if isinstance(raw, bytes) else raw.encode()

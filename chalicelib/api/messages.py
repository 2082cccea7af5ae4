"""1:1 email to a customer, and whether the store's sender can send."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.adapters import clients
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.context import Call, created, routes
from chalicelib.core import config
from chalicelib.services import messages

bp = Blueprint(__name__)
route = routes(bp, jwt_auth)


def email_sender():
    """On the warm Lambda's SES client, through the same configuration set as the dispatcher's (bounces and
    complaints reach the suppression list the same way)."""
    from chalicelib.adapters.providers import SesEmailSender

    return SesEmailSender(clients.client("ses"), config.ses_configuration_set())


@route("/customers/{customer_id}/messages", ["GET"])
def message_status(call: Call, customer_id):
    return messages.status(call.tenant_id, customer_id, call.now)


@route("/customers/{customer_id}/messages", ["POST"])
def post_message(call: Call, customer_id):
    key = (call.request.headers or {}).get(messages.IDEMPOTENCY_HEADER.lower())
    return created(messages.post(call.principal, customer_id, call.body(), key, email_sender(), call.now))

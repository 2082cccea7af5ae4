"""The authorizer of every route: a verified bearer token gives the tenant and the role, and nothing else
does. It is its own Lambda function, which imports this module alone."""
from __future__ import annotations

from chalice import AuthResponse, Blueprint

from chalicelib.core.errors import Unauthorized
from chalicelib.rules.auth import verify_token

bp = Blueprint(__name__)


class TokenRejected(Exception):
    """Raised by the authorizer; API Gateway answers 401 when an authorizer fails with 'Unauthorized'."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


@bp.authorizer()
def jwt_auth(auth_request):
    """Verify the bearer token; the tenant and role travel to the routes in the authorizer context."""
    try:
        principal = verify_token(auth_request.token or "")
    except Unauthorized:
        raise TokenRejected() from None
    return AuthResponse(routes=["*"], principal_id=principal.subject,
                        context={"tenant_id": principal.tenant_id, "role": principal.role})

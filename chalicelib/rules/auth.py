"""Bearer-token verification, roles and permissions (docs/behaviour.md section 7).

The tenant and role come only from a verified token. In the cloud the token is a Cognito
user pool ID token (RS256, checked against the pool's published keys, issuer and audience
from configuration); locally it is signed with a secret that the local stack makes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from chalicelib.core import config
from chalicelib.core.contacts import ID_RE
from chalicelib.core.errors import Forbidden, Unauthorized

if TYPE_CHECKING:
    import jwt

ROLES = ("owner", "manager", "salesperson", "workshop", "accountant", "integration")

LOCAL_ISSUER = "automations-local"
LOCAL_AUDIENCE = "automations-api"

#: Who may write what. Everyone may read everything of their own tenant.
CONFIGURE = frozenset({"owner", "manager"})
RECORDS = frozenset(ROLES) - {"accountant"}
WRITERS = {
    "settings": CONFIGURE,
    "automations": CONFIGURE,
    "action_automations": CONFIGURE,
    "templates": CONFIGURE,
    "segments": CONFIGURE,
    "campaigns": CONFIGURE,
    "imports": CONFIGURE,
    "customers": RECORDS,
    "sales": RECORDS,
    "repairs": RECORDS,
    "appointments": RECORDS,
    "notes": RECORDS,
    "messages": RECORDS,
}
#: Who may edit or delete a note another user wrote (its author always may).
NOTE_MODERATORS = frozenset({"owner", "manager"})
#: Who may read a customer's audit trail (consent, tags and VIP changes; docs/behaviour.md section 7).
AUDIT_READERS = frozenset({"owner", "manager"})


@dataclass(frozen=True)
class Principal:
    """Who is calling: from verified claims only."""

    tenant_id: str
    role: str
    subject: str


def require_write(principal: Principal, resource: str) -> None:
    if principal.role not in WRITERS[resource]:
        allowed = " or ".join(sorted(WRITERS[resource]))
        raise Forbidden(f"only {allowed} may change {resource.replace('_', ' ')}")


def require_audit_reader(principal: Principal) -> None:
    if principal.role not in AUDIT_READERS:
        raise Forbidden(f"only {' or '.join(sorted(AUDIT_READERS))} may read a customer's audit trail")


def _claim(claims: dict, name: str) -> object:
    # Cognito puts custom user attributes under `custom:`; a pre-token trigger may flatten them.
    return claims.get(name, claims.get(f"custom:{name}"))


def principal_from_claims(claims: dict) -> Principal:
    tenant_id, role, subject = _claim(claims, "tenant_id"), _claim(claims, "role"), claims.get("sub")
    if not isinstance(tenant_id, str) or not ID_RE.match(tenant_id):
        raise Unauthorized("token has no valid tenant_id claim")
    if role not in ROLES:
        raise Unauthorized("token has no valid role claim")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("token has no subject")
    return Principal(tenant_id=tenant_id, role=str(role), subject=subject)


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    import jwt

    # Keys are cached by the client across warm invocations.
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600)


def verify_token(token: str) -> Principal:
    """Verify a bearer token and return the caller; raises Unauthorized."""
    # PyJWT brings in `cryptography` (about 0.1 s): only the authorizer pays for it, not every
    # function that imports app.py.
    import jwt

    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token:
        raise Unauthorized("missing bearer token")
    mode = config.auth_mode()
    try:
        if mode == "local":
            secret = config.local_jwt_secret()
            if not secret:
                raise Unauthorized("local authentication is not configured")
            claims = jwt.decode(token, secret, algorithms=["HS256"], audience=LOCAL_AUDIENCE,
                                issuer=LOCAL_ISSUER, options={"require": ["exp", "iat", "sub"]})
        elif mode == "cognito":
            issuer, audience = config.cognito_issuer(), config.cognito_audience()
            if not issuer or not audience:
                raise Unauthorized("token verification is not configured")
            key = _jwks_client(f"{issuer}/.well-known/jwks.json").get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=issuer,
                                options={"require": ["exp", "iat", "sub"]})
            if claims.get("token_use") != "id":
                raise Unauthorized("an ID token is required")
        else:
            raise Unauthorized("unknown authentication mode")
    except jwt.PyJWTError as e:
        raise Unauthorized("invalid token") from e
    return principal_from_claims(claims)


def issue_local_token(secret: str, tenant_id: str, role: str, *, subject: str | None = None,
                      ttl_seconds: int = 12 * 3600, now: float | None = None) -> str:
    """A token the local stack accepts (never valid in the cloud, which verifies RS256 only)."""
    import jwt

    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not ID_RE.match(tenant_id):
        raise ValueError("tenant must be 1-64 letters, digits, '_', '.', ':' or '-'")
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE, "sub": subject or f"{tenant_id}:{role}",
        "tenant_id": tenant_id, "role": role, "iat": issued, "exp": issued + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256")

"""Token verification: local HS256 and Cognito RS256, claims, roles and the permission matrix."""
from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.core.errors import Forbidden, Unauthorized
from chalicelib.rules import auth

SECRET = "unit-secret-" + "z" * 40


@pytest.fixture
def local_mode(monkeypatch):
    monkeypatch.setenv("AUTH_MODE", "local")
    monkeypatch.setenv("LOCAL_JWT_SECRET", SECRET)


def test_a_local_token_carries_tenant_and_role(local_mode):
    principal = auth.verify_token(auth.issue_local_token(SECRET, "store-1", "manager"))
    assert principal == auth.Principal("store-1", "manager", "store-1:manager")


@pytest.mark.parametrize("claims_change", [
    {"exp": int(time.time()) - 10},
    {"aud": "someone-else"},
    {"iss": "someone-else"},
    {"role": "admin"},
    {"tenant_id": "../other"},
    {"tenant_id": None},
])
def test_tokens_with_bad_claims_are_refused(local_mode, claims_change):
    claims = jwt.decode(auth.issue_local_token(SECRET, "store-1", "owner"), SECRET, algorithms=["HS256"],
                        audience=auth.LOCAL_AUDIENCE)
    claims.update(claims_change)
    with pytest.raises(Unauthorized):
        auth.verify_token(jwt.encode({k: val for k, val in claims.items() if val is not None}, SECRET))


def test_unsigned_tokens_are_refused(local_mode):
    token = jwt.encode({"tenant_id": "t", "role": "owner", "sub": "x", "aud": auth.LOCAL_AUDIENCE,
                        "iss": auth.LOCAL_ISSUER, "iat": 1, "exp": 2**40}, key=None, algorithm="none")
    with pytest.raises(Unauthorized):
        auth.verify_token(token)


class _Keys:
    """Stands in for the user pool's published keys (PyJWKClient)."""

    def __init__(self, public_key):
        self.public_key = public_key

    def get_signing_key_from_jwt(self, token):
        return type("Key", (), {"key": self.public_key})()


@pytest.fixture
def cognito(monkeypatch):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST"
    monkeypatch.setenv("AUTH_MODE", "cognito")
    monkeypatch.setenv("COGNITO_ISSUER", issuer)
    monkeypatch.setenv("COGNITO_AUDIENCE", "client-123")
    monkeypatch.setattr(auth, "_jwks_client", lambda url: _Keys(key.public_key()))

    def sign(**overrides):
        now = int(time.time())
        claims = {"iss": issuer, "aud": "client-123", "sub": "user-1", "token_use": "id", "iat": now,
                  "exp": now + 600, "custom:tenant_id": "store-9", "custom:role": "owner", **overrides}
        return jwt.encode(claims, key, algorithm="RS256")
    return sign


def test_a_cognito_id_token_is_verified_against_the_pool_keys(cognito):
    assert auth.verify_token("Bearer " + cognito()) == auth.Principal("store-9", "owner", "user-1")


@pytest.mark.parametrize("override", [{"token_use": "access"}, {"aud": "other-client"},
                                      {"iss": "https://evil.example"}, {"custom:role": "root"}])
def test_cognito_tokens_for_another_use_client_or_issuer_are_refused(cognito, override):
    with pytest.raises(Unauthorized):
        auth.verify_token(cognito(**override))


def test_a_local_token_is_never_accepted_in_cognito_mode(cognito):
    with pytest.raises(Unauthorized):
        auth.verify_token(auth.issue_local_token(SECRET, "store-1", "owner"))


@pytest.mark.parametrize("role", auth.ROLES)
def test_permission_matrix(role):
    for resource, writers in auth.WRITERS.items():
        principal = auth.Principal("t", role, "s")
        if role in writers:
            auth.require_write(principal, resource)
        else:
            with pytest.raises(Forbidden):
                auth.require_write(principal, resource)
    assert ("accountant" in auth.WRITERS["customers"]) is False
    assert auth.WRITERS["automations"] == {"owner", "manager"}

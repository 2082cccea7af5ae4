"""Unsubscribe links against the deployment's secret in the emulator's Secrets Manager (read over the same
client as in AWS): opaque tokens, refused when altered, and a key rotation after which links sealed with the
retired key work for its grace and not after; links of the earlier format on the same terms."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from chalicelib.adapters import clients, secrets
from chalicelib.core import config
from chalicelib.core.clock import utcnow
from chalicelib.sending import unsubscribe
from infra.rotate import rotate


@pytest.fixture
def keys():
    """The unsubscribe secret as the stack created it, put back after the test (other tests seal links too)."""
    sm = clients.client("secretsmanager")
    before = sm.get_secret_value(SecretId=config.unsubscribe_secret_id())["SecretString"]
    clients.reset()
    yield sm
    clients.client("secretsmanager").put_secret_value(SecretId=config.unsubscribe_secret_id(), SecretString=before)
    clients.reset()   # every function re-reads the secret: as a cold start would


def opened(token: str, now=None) -> bool:
    status, _ = unsubscribe.confirmation_page(token, now or utcnow())
    assert status in (200, 404)
    return status == 200


def test_a_link_shows_no_store_or_customer_id_and_opens_to_them(tenant, keys):
    token = unsubscribe.token_for(tenant, "customer-4711", "sms")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for clear in (tenant, "customer-4711", "sms"):
        assert clear not in token and clear.encode() not in raw
    assert "=" not in token and "/" not in token and "+" not in token   # a path segment as it is
    assert unsubscribe._read(token, utcnow()) == (tenant, "customer-4711", "sms")


def test_an_altered_token_is_refused(tenant, keys):
    token = unsubscribe.token_for(tenant, "c1", "email")
    assert opened(token)
    for at in (0, 10, len(token) // 2, len(token) - 2):
        altered = token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1:]
        assert not opened(altered), at
    assert not opened(token[:-4]) and not opened(token + "AAAA")


def test_a_token_sealed_with_another_key_is_refused(tenant):
    from cryptography.fernet import Fernet

    payload = json.dumps([tenant, "c1", "email"]).encode()
    assert not opened(Fernet(unsubscribe._sealing_key(b"another deployment's key")).encrypt(payload).decode())


def test_after_a_rotation_old_links_work_for_the_grace_and_new_links_use_the_new_key(tenant, keys):
    old_link = unsubscribe.token_for(tenant, "c1", "email")
    now = utcnow()
    rotate(keys, config.unsubscribe_secret_id(), now)
    clients.reset()
    new_link = unsubscribe.token_for(tenant, "c1", "email")
    assert opened(old_link, now + secrets.GRACE - timedelta(minutes=1))
    assert not opened(old_link, now + secrets.GRACE + timedelta(minutes=1))
    assert opened(new_link, now + secrets.GRACE + timedelta(days=3650))   # the current key's links never expire
    rotate(keys, config.unsubscribe_secret_id(), now, revoke_old=True)
    clients.reset()
    assert not opened(old_link, now) and not opened(new_link, now)


def test_a_function_that_has_not_yet_reread_the_secret_opens_a_link_sealed_with_the_new_key(tenant, keys, monkeypatch):
    from cryptography.fernet import Fernet

    assert opened(unsubscribe.token_for(tenant, "c1", "email"))   # this container has the secret cached
    ring = rotate(keys, config.unsubscribe_secret_id(), utcnow())
    # Sealed by another container, which read the new key already.
    payload = json.dumps([tenant, "c1", "email"]).encode()
    link = Fernet(unsubscribe._sealing_key(ring.keys[0].material.encode())).encrypt(payload).decode()
    monkeypatch.setattr(secrets, "_refresh", secrets._Refresh())   # no forced read in the last minute
    assert opened(link)
    assert not opened(link.replace(link[20], "A" if link[20] != "A" else "B"))


def test_links_of_the_earlier_format_work_while_their_key_is_honoured(tenant, keys):
    import jwt

    material = keys.get_secret_value(SecretId=config.unsubscribe_secret_id())["SecretString"]
    legacy = jwt.encode({"p": "unsubscribe", "t": tenant, "c": "c1", "ch": "email"}, material, algorithm="HS256")
    assert unsubscribe._read(legacy, utcnow()) == (tenant, "c1", "email")
    forged = jwt.encode({"p": "unsubscribe", "t": tenant, "c": "c1", "ch": "email"}, "a guess at the key, long enough for HS256", algorithm="HS256")
    assert not opened(forged)
    now = utcnow()
    rotate(keys, config.unsubscribe_secret_id(), now)
    clients.reset()
    assert opened(legacy, now + timedelta(days=30))
    assert not opened(legacy, now + secrets.GRACE + timedelta(days=1))


def test_the_erasure_key_is_32_bytes_the_same_at_every_read_and_untouched_by_a_rotation(keys):
    first = secrets.erasure_key()
    assert len(first) == 32
    rotate(keys, config.unsubscribe_secret_id(), utcnow())
    clients.reset()
    assert secrets.erasure_key() == first
    assert first not in [unsubscribe._sealing_key(k) for k in secrets.unsubscribe_keys()]

"""The deployment's own keys, read at run time from Secrets Manager (never from a function's configuration).

Two secrets, each named by an environment variable holding only its ARN (locally, its name in the emulator):

- the unsubscribe keys (`UNSUBSCRIBE_SECRET_ID`): what unsubscribe links are sealed with. Rotated with
  `python -m infra.rotate` (docs/operations.md): the new key seals every new link, and a retired key still
  opens the links it sealed for `GRACE` after its retirement, then nothing.
- the erasure key (`ERASURE_SECRET_ID`): the key of the keyed hashes that stand for an erased customer's
  address (so a later import or write of the same address can be recognised without keeping it). Never
  rotated: a new key would stop recognising every address erased before it.

Values are cached per container by Powertools' parameters utility for `MAX_AGE_SECONDS`, so a warm
function asks Secrets Manager at most once per period, and a rotation reaches every container within it.
A reader that finds no key for a token asks again at once (`fresh=True`), at most once per
`REFRESH_AT_MOST_EVERY` seconds, so a link sealed by a container that already has a new key is opened by
one that had not yet re-read the secret, and a stream of forged tokens costs one read a minute.

The unsubscribe secret's value is either a plain string (one key: what Secrets Manager generates when the
stack is created) or the JSON `KeyRing.dumps` writes after a rotation:
`{"keys": [{"key": "<current>"}, {"key": "<older>", "retired_at": "2026-12-02T16:00:00Z"}, ...]}`.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from chalicelib.adapters import clients
from chalicelib.core import config
from chalicelib.core.clock import utcnow
from chalicelib.core.timeutil import parse_instant, to_iso

#: How long a retired unsubscribe key still opens the links it sealed (longer than the 30 days CAN-SPAM asks
#: an opt-out link to keep working, and than a season between two mailings).
GRACE = timedelta(days=180)
#: How long a container keeps a secret's value before asking Secrets Manager again.
MAX_AGE_SECONDS = 300
#: A token no key opens forces a fresh read at most this often.
REFRESH_AT_MOST_EVERY = 60.0
#: The label the erasure key is derived under (the secret's value is the material, not the key itself).
ERASURE_LABEL = b"automations/erasure-hash"


@dataclass(frozen=True)
class Key:
    material: str
    retired_at: datetime | None = None


@dataclass(frozen=True)
class KeyRing:
    """The unsubscribe keys: the current one first, then the retired ones, newest first."""

    keys: tuple[Key, ...]

    @classmethod
    def parse(cls, value: str) -> KeyRing:
        text = value.strip()
        if not text.startswith("{"):
            if not text:
                raise ValueError("the unsubscribe secret is empty")
            return cls((Key(text),))
        entries = json.loads(text)["keys"]
        keys = tuple(Key(str(e["key"]), parse_instant(e["retired_at"]) if e.get("retired_at") else None)
                     for e in entries)
        if not keys or keys[0].retired_at is not None or not all(k.material for k in keys):
            raise ValueError("the unsubscribe secret's first key must be current, and no key may be empty")
        return cls(keys)

    def dumps(self) -> str:
        return json.dumps({"keys": [{"key": k.material, **({"retired_at": to_iso(k.retired_at)} if k.retired_at else {})}
                                    for k in self.keys]})

    def honoured(self, now: datetime) -> list[Key]:
        """The current key, then each retired key whose grace has not ended at `now`."""
        return [k for k in self.keys if k.retired_at is None or now < k.retired_at + GRACE]

    def rotated(self, material: str, now: datetime, *, keep_retired: bool = True) -> KeyRing:
        """`material` becomes the current key; the current one is retired at `now`. Keys whose grace has ended
        are dropped; with `keep_retired=False` every older key is (a key that leaked: its links stop now)."""
        if not material or any(k.material == material for k in self.keys):
            raise ValueError("a new key must be new")
        older = [Key(k.material, k.retired_at or now) for k in self.keys] if keep_retired else []
        return KeyRing((Key(material), *[k for k in older if now < k.retired_at + GRACE]))


@dataclass
class _Refresh:
    last: float = field(default=-REFRESH_AT_MOST_EVERY)


_refresh = _Refresh()


@lru_cache(maxsize=4)
def _provider(client):
    # Imported on the first read (a few ms), not by every function that imports the adapters.
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client)


def _value(secret_id: str, *, fresh: bool = False) -> str:
    # One provider per client: a new client (clients.reset(), a new local stack) starts with an empty cache.
    provider = _provider(clients.client("secretsmanager"))
    if fresh:
        if time.monotonic() - _refresh.last < REFRESH_AT_MOST_EVERY:
            fresh = False
        else:
            _refresh.last = time.monotonic()
    value = provider.get(secret_id, max_age=MAX_AGE_SECONDS, force_fetch=fresh)
    return value.decode() if isinstance(value, bytes) else str(value)


def unsubscribe_ring(*, fresh: bool = False) -> KeyRing:
    return KeyRing.parse(_value(config.unsubscribe_secret_id(), fresh=fresh))


def unsubscribe_keys(now: datetime | None = None, *, fresh: bool = False) -> list[bytes]:
    """The unsubscribe keys honoured at `now` (the current one first, then retired ones within their grace),
    as the secret holds them; `chalicelib.sending.unsubscribe` derives its sealing keys from them. `fresh`:
    read the secret again now (rate-limited) rather than from the container's cache."""
    return [k.material.encode() for k in unsubscribe_ring(fresh=fresh).honoured(now or utcnow())]


def erasure_key() -> bytes:
    """32 bytes for HMAC-SHA256 (`hmac.new(erasure_key(), address, "sha256")`), the same in every function and
    forever: the key of the hashes kept for erased customers' addresses. Never rotated."""
    return hmac.new(_value(config.erasure_secret_id()).strip().encode(), ERASURE_LABEL, hashlib.sha256).digest()

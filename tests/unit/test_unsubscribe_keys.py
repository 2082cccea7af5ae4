"""The unsubscribe keys' ring as the secret holds it: the current key first, retired keys honoured for their
grace after retirement, and a rotation that drops what is past it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.secrets import GRACE, Key, KeyRing

NOW = datetime(2026, 12, 2, 16, 0, tzinfo=timezone.utc)


def test_the_value_secrets_manager_generates_is_one_current_key():
    ring = KeyRing.parse("a" * 64)
    assert ring.keys == (Key("a" * 64),)
    assert [k.material for k in ring.honoured(NOW)] == ["a" * 64]


def test_a_rotation_retires_the_current_key_which_is_honoured_until_its_grace_ends():
    ring = KeyRing.parse("old").rotated("new", NOW)
    assert KeyRing.parse(ring.dumps()) == ring
    assert [k.material for k in ring.honoured(NOW + GRACE - timedelta(seconds=1))] == ["new", "old"]
    assert [k.material for k in ring.honoured(NOW + GRACE)] == ["new"]


def test_a_rotation_keeps_each_retired_key_with_its_own_retirement_and_drops_those_past_their_grace():
    first = KeyRing.parse("k1").rotated("k2", NOW)
    second = first.rotated("k3", NOW + timedelta(days=30))
    assert [(k.material, k.retired_at) for k in second.keys] == [
        ("k3", None), ("k2", NOW + timedelta(days=30)), ("k1", NOW)]
    third = second.rotated("k4", NOW + GRACE + timedelta(days=1))
    assert [k.material for k in third.keys] == ["k4", "k3", "k2"]


def test_revoking_drops_every_older_key_at_once():
    ring = KeyRing.parse("k1").rotated("k2", NOW).rotated("k3", NOW, keep_retired=False)
    assert [k.material for k in ring.honoured(NOW)] == ["k3"]


@pytest.mark.parametrize("value", ["", "   ", '{"keys": []}', '{"keys": [{"key": "a", "retired_at": "2026-01-01T00:00:00Z"}]}',
                                   '{"keys": [{"key": ""}]}'])
def test_a_secret_without_a_current_key_is_refused(value):
    with pytest.raises(ValueError):
        KeyRing.parse(value)


def test_a_new_key_must_be_new():
    with pytest.raises(ValueError):
        KeyRing.parse("k1").rotated("k1", NOW)

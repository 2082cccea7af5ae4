"""`GET /settings/sender`: whether SES will send from the store's sender, and what to do when it will not."""
from __future__ import annotations

from tests.integration.conftest import SENDER_DOMAIN


def test_a_sender_at_a_verified_domain_is_verified_and_the_emulator_does_not_say_about_the_sandbox(shop):
    status = shop.get("/settings/sender").json
    assert status["sender_email"] == f"hello@{SENDER_DOMAIN}"
    assert status["verified"] is True and status["ready"] is True
    assert {i["identity"]: i["status"] for i in status["identities"]}[SENDER_DOMAIN] == "Success"
    assert status["production_access"] is None
    assert any("sandbox" in action for action in status["actions"])


def test_an_unverified_sender_is_not_ready_and_says_what_to_verify(owner, tenant):
    assert owner.patch("/settings", {"sender_email": f"shop@{tenant}.unverified.example"}).status == 200
    status = owner.get("/settings/sender").json
    assert status["verified"] is False and status["ready"] is False
    assert {i["status"] for i in status["identities"]} == {"NotStarted"}
    assert f"{tenant}.unverified.example" in status["actions"][0]


def test_no_sender_is_not_ready(owner):
    status = owner.get("/settings/sender").json
    assert (status["sender_email"], status["ready"]) == (None, False)
    assert status["actions"]


def test_every_role_may_read_it(client_for, shop, tenant):
    assert client_for(tenant, "accountant").get("/settings/sender").json["verified"] is True


def test_the_local_clocks_step_verifies_a_stores_new_sender_domain_as_dns_would(owner, tenant):
    from chalicelib.core.clock import utcnow
    from local.runner import tick

    domain = f"{tenant}.shop.example"
    assert owner.patch("/settings", {"sender_email": f"hello@{domain}"}).status == 200
    assert owner.get("/settings/sender").json["verified"] is False
    tick(utcnow())
    status = owner.get("/settings/sender").json
    assert status["verified"] is True
    assert {i["identity"]: i["status"] for i in status["identities"]} == {f"hello@{domain}": "NotStarted",
                                                                          domain: "Success"}

"""The role matrix (every role against every write route) and tenant isolation (every route)."""
from __future__ import annotations

import pytest

from chalicelib.rules.auth import ROLES

CONFIGURERS = {"owner", "manager"}
RECORD_WRITERS = set(ROLES) - {"accountant"}


def _fixtures(owner):
    owner.put("/customers/c1", {"first_name": "Ada", "email": "ada@example.com"})
    owner.put("/repairs/r1", {"customer_id": "c1", "status": "intake"})
    owner.put("/appointments/a1", {"customer_id": "c1", "starts_at": "2026-12-01T10:00:00+11:00"})
    template = owner.post("/templates", {"type": "birthday", "name": "Ours", "subject": "Hi",
                                         "body_text": "Hello", "sms_body": "Hello"}).json
    action = owner.post("/action-automations", {"type": "email_add", "name": "Welcome"}).json
    return {"tpl": template["template_id"], "act": action["automation_id"]}


# (method, path, body, who may, a GET that shows whether it changed)
WRITE_ROUTES = [
    ("PATCH", "/settings", {"store_name": "Changed"}, CONFIGURERS, "/settings"),
    ("PATCH", "/automations/birthday", {"enabled": True}, CONFIGURERS, "/automations/birthday"),
    ("POST", "/templates", {"type": "christmas", "name": "X", "subject": "S", "body_text": "B", "sms_body": "M"},
     CONFIGURERS, "/templates"),
    ("PATCH", "/templates/{tpl}", {"name": "Renamed"}, CONFIGURERS, "/templates/{tpl}"),
    ("DELETE", "/templates/{tpl}", None, CONFIGURERS, "/templates/{tpl}"),
    ("POST", "/templates/{tpl}/duplicate", {}, CONFIGURERS, "/templates"),
    ("POST", "/action-automations", {"type": "birthday_add"}, CONFIGURERS, "/action-automations"),
    ("PATCH", "/action-automations/{act}", {"enabled": True}, CONFIGURERS, "/action-automations/{act}"),
    ("DELETE", "/action-automations/{act}", None, CONFIGURERS, "/action-automations/{act}"),
    ("PUT", "/customers/c2", {"first_name": "Bo"}, RECORD_WRITERS, "/customers/c2"),
    ("PATCH", "/customers/c1", {"first_name": "Bea"}, RECORD_WRITERS, "/customers/c1"),
    ("DELETE", "/customers/c1", None, RECORD_WRITERS, "/customers/c1"),
    ("PUT", "/sales/s1", {"customer_id": "c1", "completed_at": "2026-11-01T10:00:00Z"}, RECORD_WRITERS, "/sales/s1"),
    ("PUT", "/repairs/r2", {"customer_id": "c1", "status": "intake"}, RECORD_WRITERS, "/repairs/r2"),
    ("PATCH", "/repairs/r1", {"status": "ready"}, RECORD_WRITERS, "/repairs/r1"),
    ("PUT", "/appointments/a2", {"customer_id": "c1", "starts_at": "2026-12-02T10:00:00Z"}, RECORD_WRITERS,
     "/appointments/a2"),
    ("PATCH", "/appointments/a1", {"status": "cancelled"}, RECORD_WRITERS, "/appointments/a1"),
    ("POST", "/customers/c1/notes", {"body": "Likes pearls"}, RECORD_WRITERS, "/customers/c1/notes"),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,path,body,allowed,probe", WRITE_ROUTES,
                         ids=[f"{r[0]} {r[1]}" for r in WRITE_ROUTES])
def test_each_role_may_write_exactly_what_the_spec_allows(client_for, owner, tenant, role, method, path, body,
                                                          allowed, probe):
    ids = _fixtures(owner)
    path, probe = path.format(**ids), probe.format(**ids)
    before = owner.get(probe)
    response = client_for(tenant, role).call(method, path, body)
    if role in allowed:
        assert response.status in (200, 201, 204), response
        assert owner.get(probe).json != before.json or method == "DELETE"
    else:
        assert response.status == 403, response
        assert response.json["error"]["code"] == "forbidden"
        after = owner.get(probe)
        assert (after.status, after.json) == (before.status, before.json)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_can_read(client_for, owner, tenant, role):
    _fixtures(owner)
    api = client_for(tenant, role)
    assert len(api.get("/automations").json["automations"]) == 10
    assert api.get("/customers/c1").status == 200
    assert api.get("/settings").status == 200
    assert len(api.get("/action-automations").json["action_automations"]) == 1
    assert api.post("/action-automations/test-run", {"customer_id": "c1", "change": {"birthday": "--05-01"}}).status == 200


def test_requests_without_a_valid_token_are_401(gateway):
    from tests.integration.conftest import Api

    for token in (None, "", "not.a.token"):
        response = Api(gateway, token).get("/automations")
        assert response.status == 401
        assert response.json["error"]["code"] == "unauthorized"


def test_a_token_signed_with_another_secret_is_401(gateway):
    from chalicelib.rules.auth import issue_local_token
    from tests.integration.conftest import Api

    forged = issue_local_token("someone-elses-secret-" + "y" * 30, "t-forged", "owner")
    assert Api(gateway, forged).get("/settings").status == 401


# --- isolation ----------------------------------------------------------------------------------

def test_another_tenant_gets_404_for_every_record_and_changes_nothing(client_for, owner):
    ids = _fixtures(owner)
    tpl, act = ids["tpl"], ids["act"]
    owner.put("/sales/s1", {"customer_id": "c1", "completed_at": "2026-11-01T10:00:00Z", "total": 100})
    owner.patch("/automations/birthday", {"template_id": tpl})
    owner.post("/customers/c1/notes", {"body": "Ours"})
    snapshot = {p: owner.get(p).json for p in ("/customers/c1", "/customers/c1/notes", "/sales/s1", "/repairs/r1", "/appointments/a1",
                                               f"/templates/{tpl}", "/automations/birthday", "/settings",
                                               f"/action-automations/{act}")}
    other = client_for("t-other-store", "owner")
    attempts = [
        ("GET", "/customers/c1", None), ("PATCH", "/customers/c1", {"first_name": "X"}),
        ("DELETE", "/customers/c1", None), ("GET", "/customers/c1/communications", None),
        ("GET", "/sales/s1", None), ("GET", "/repairs/r1", None), ("PATCH", "/repairs/r1", {"status": "ready"}),
        ("GET", "/appointments/a1", None), ("PATCH", "/appointments/a1", {"status": "cancelled"}),
        ("GET", f"/templates/{tpl}", None), ("PATCH", f"/templates/{tpl}", {"name": "X"}),
        ("DELETE", f"/templates/{tpl}", None), ("POST", f"/templates/{tpl}/duplicate", {}),
        ("POST", f"/templates/{tpl}/preview", {}),
        # Ids of the first tenant inside the second tenant's bodies.
        ("PUT", "/sales/s9", {"customer_id": "c1", "completed_at": "2026-11-01T10:00:00Z"}),
        ("PUT", "/repairs/r9", {"customer_id": "c1", "status": "intake"}),
        ("PUT", "/appointments/a9", {"customer_id": "c1", "starts_at": "2026-12-01T10:00:00Z"}),
        ("PATCH", "/automations/birthday", {"template_id": tpl}),
        ("POST", "/templates/system:birthday/preview", {"customer_id": "c1"}),
        ("GET", f"/action-automations/{act}", None), ("PATCH", f"/action-automations/{act}", {"enabled": True}),
        ("DELETE", f"/action-automations/{act}", None),
        ("POST", "/action-automations/test-run", {"customer_id": "c1", "change": {}, "automation_id": act}),
        ("GET", "/customers/c1/notes", None), ("POST", "/customers/c1/notes", {"body": "X"}),
    ]
    for method, path, body in attempts:
        response = other.call(method, path, body)
        assert response.status == 404, (method, path, response)
    assert [t for t in other.get("/templates").json["templates"] if not t["system"]] == []
    assert other.get("/automations/birthday").json["template_id"] is None
    assert other.get("/action-automations").json["action_automations"] == []
    for path, before in snapshot.items():
        assert owner.get(path).json == before, path


def test_settings_and_automations_of_one_store_are_invisible_to_another(client_for, owner):
    owner.patch("/settings", {"store_name": "First Store", "timezone": "Australia/Sydney"})
    owner.patch("/automations/christmas", {"enabled": True, "channels": ["email", "sms"]})
    other = client_for("t-second-store", "owner")
    assert other.get("/settings").json["settings"]["store_name"] == ""
    assert other.get("/settings").json["settings"]["timezone"] == "UTC"
    christmas = [a for a in other.get("/automations").json["automations"] if a["type"] == "christmas"][0]
    assert christmas["enabled"] is False and christmas["channels"] == ["email"]
    assert owner.get("/automations/christmas").json["enabled"] is True

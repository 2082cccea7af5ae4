"""`/action-automations` (docs/behaviour.md sections 4 and 7): configuration, validation and the test-run."""
from __future__ import annotations

import pytest


def _create(api, **body):
    response = api.post("/action-automations", body)
    assert response.status == 201, response
    return response.json


def test_a_new_action_automation_gets_an_id_and_the_defaults(owner):
    created = _create(owner, type="birthday_add")
    assert created["automation_id"].startswith("act_")
    assert {k: created[k] for k in ("type", "name", "enabled", "channels", "priority", "audience", "template_id",
                                    "effective_template_id", "category", "offer_text")} == {
        "type": "birthday_add", "name": "Birthday added", "enabled": False, "channels": ["email"], "priority": 0,
        "audience": {}, "template_id": None, "effective_template_id": "system:birthday_add",
        "category": "marketing", "offer_text": None}
    assert "points_threshold" not in created
    assert owner.get(f"/action-automations/{created['automation_id']}").json == created
    days = created["stats"].pop("daily")
    assert created["stats"] == {"sent": 0, "skipped": {}, "failed": 0, "deferred": 0, "delivered": 0, "opened": 0,
                                "machine_open": 0, "clicked": 0, "bounced": 0, "complained": 0, "rejected": 0,
                                "rendering_failure": 0, "attributed_sales": 0, "attributed_revenue": 0,
                                "open_rate": None, "click_rate": None}
    assert len(days) == 30 and not any(d["sent"] or d["skipped"] or d["failed"] for d in days)


def test_the_list_orders_by_type_then_the_order_an_event_chooses_in(owner):
    low = _create(owner, type="email_add", name="Low", priority=1)
    reward = _create(owner, type="reward_available", points_threshold=500)
    high = _create(owner, type="email_add", name="High", priority=9)
    tie = _create(owner, type="email_add", name="Low too", priority=1)
    birthday = _create(owner, type="birthday_add")
    listed = [a["automation_id"] for a in owner.get("/action-automations").json["action_automations"]]
    assert listed == [birthday["automation_id"], high["automation_id"], low["automation_id"], tie["automation_id"],
                      reward["automation_id"]]


def test_every_field_can_be_set_and_patched_and_null_removes(owner):
    template = owner.post("/templates", {"type": "reward_available", "name": "Ours", "subject": "S",
                                         "body_text": "{{ offer }}", "sms_body": "M"}).json
    created = _create(owner, type="reward_available", name="Gold", enabled=True, channels=["sms", "email"],
                      template_id=template["template_id"], offer_text="A free clean", priority=-3,
                      audience={"tags_any": ["vip"], "interests_any": [], "min_points": 10}, points_threshold=1000)
    assert created["audience"] == {"tags_any": ["vip"], "min_points": 10}
    assert (created["points_threshold"], created["priority"], created["channels"]) == (1000, -3, ["sms", "email"])
    path = f"/action-automations/{created['automation_id']}"
    patched = owner.patch(path, {"points_threshold": 1500, "audience": None, "priority": None, "offer_text": None,
                                 "template_id": None, "type": "reward_available"}).json
    assert (patched["points_threshold"], patched["audience"], patched["priority"]) == (1500, {}, 0)
    assert (patched["offer_text"], patched["template_id"]) == (None, None)
    assert patched["effective_template_id"] == "system:reward_available"
    assert patched["updated_by"] and patched["name"] == "Gold"


CREATE_CASES = [
    ({"type": "reward_available"}, "points_threshold"),
    ({"type": "reward_available", "points_threshold": 0}, "points_threshold"),
    ({"type": "reward_available", "points_threshold": "500"}, "points_threshold"),
    ({"type": "email_add", "points_threshold": 500}, "points_threshold"),
    ({"type": "birthday"}, "type"),
    ({}, "type"),
    ({"type": "email_add", "audience": {"tags_any": "vip"}}, "audience.tags_any"),
    ({"type": "email_add", "audience": {"min_points": -1}}, "audience.min_points"),
    ({"type": "email_add", "audience": {"min_points": 1.5}}, "audience.min_points"),
    ({"type": "email_add", "audience": {"spend_over": 100}}, "audience.spend_over"),
    ({"type": "email_add", "audience": ["vip"]}, "audience"),
    ({"type": "email_add", "priority": "high"}, "priority"),
    ({"type": "email_add", "priority": True}, "priority"),
    ({"type": "email_add", "channels": ["fax"]}, "channels[0]"),
    ({"type": "email_add", "channels": []}, "channels"),
    ({"type": "email_add", "enabled": "yes"}, "enabled"),
    ({"type": "email_add", "name": ""}, "name"),
    ({"type": "email_add", "offer_text": "x" * 501}, "offer_text"),
    ({"type": "email_add", "template_id": "system:birthday"}, "template_id"),
    ({"type": "email_add", "colour": "gold"}, "colour"),
]


@pytest.mark.parametrize("body,field", CREATE_CASES)
def test_bad_action_automations_are_rejected_naming_the_field_and_nothing_is_stored(owner, body, field):
    response = owner.post("/action-automations", body)
    assert response.status == 400, response
    assert response.error_field == field
    assert owner.get("/action-automations").json["action_automations"] == []


PATCH_CASES = [
    ({"type": "email_add"}, "type"),
    ({"points_threshold": None}, "points_threshold"),
    ({"points_threshold": -5}, "points_threshold"),
    ({"enabled": None}, "enabled"),
    ({"channels": None}, "channels"),
    ({"name": None}, "name"),
    ({"audience": {"tags_any": [""]}}, "audience.tags_any[0]"),
    ({"automation_id": "act_other"}, "automation_id"),
]


@pytest.mark.parametrize("body,field", PATCH_CASES)
def test_bad_patches_are_rejected_naming_the_field_and_nothing_changes(owner, body, field):
    created = _create(owner, type="reward_available", points_threshold=500, audience={"min_points": 1})
    path = f"/action-automations/{created['automation_id']}"
    response = owner.patch(path, {"priority": 4, **body})
    assert response.status == 400, response
    assert response.error_field == field
    assert owner.get(path).json == created


def test_unknown_ids_are_404_and_a_deleted_automation_is_gone(owner):
    assert owner.get("/action-automations/act_nope").status == 404
    assert owner.patch("/action-automations/act_nope", {"enabled": True}).status == 404
    assert owner.delete("/action-automations/act_nope").status == 404
    assert owner.get("/action-automations/..%2F").status in (400, 404)
    created = _create(owner, type="app_download")
    assert owner.delete(f"/action-automations/{created['automation_id']}").status == 204
    assert owner.get(f"/action-automations/{created['automation_id']}").status == 404
    assert owner.get("/action-automations").json["action_automations"] == []


def test_a_store_has_at_most_fifty(owner):
    from chalicelib.services.action_automations import MAX_PER_TENANT

    for n in range(MAX_PER_TENANT):
        _create(owner, type="email_add", name=f"n{n}")
    response = owner.post("/action-automations", {"type": "email_add"})
    assert response.status == 409 and response.json["error"]["code"] == "conflict"
    assert len(owner.get("/action-automations").json["action_automations"]) == MAX_PER_TENANT


def test_a_template_in_use_by_an_action_automation_cannot_be_deleted(owner):
    template = owner.post("/templates", {"type": "email_add", "name": "Welcome", "subject": "S",
                                         "body_text": "B", "sms_body": "M"}).json
    _create(owner, type="email_add", name="Welcome flow", template_id=template["template_id"])
    response = owner.delete(f"/templates/{template['template_id']}")
    assert response.status == 409
    assert "Welcome flow" in response.json["error"]["message"]


# --- the test-run ---------------------------------------------------------------------------------

def _run(api, customer_id, change, **extra):
    response = api.post("/action-automations/test-run", {"customer_id": customer_id, "change": change, **extra})
    assert response.status == 200, response
    return response.json


def _events(result):
    return {(e["event"], e.get("automation_id")): (e["fires"], e["reason"]) for e in result["events"]}


def test_the_test_run_chooses_by_priority_then_audience_then_earliest_created(owner):
    owner.put("/customers/c1", {"first_name": "Ada", "email": "ada@example.com", "consent": {"email": True},
                                "tags": ["regular"]})
    everyone = _create(owner, type="birthday_add", name="Everyone", enabled=True)
    same_priority = _create(owner, type="birthday_add", name="Everyone too", enabled=True)
    vip = _create(owner, type="birthday_add", name="VIP", enabled=True, priority=5, audience={"tags_any": ["vip"]})
    result = _run(owner, "c1", {"birthday": "1990-05-01"})
    assert result["would_fire"] == [everyone["automation_id"]]
    assert result["events"][0]["channels"] == ["email"] and result["events"][0]["would_send"] == 1
    result = _run(owner, "c1", {"birthday": "1990-05-01", "tags": ["vip"]})
    assert result["would_fire"] == [vip["automation_id"]]
    owner.patch(f"/action-automations/{everyone['automation_id']}", {"enabled": False})
    assert _run(owner, "c1", {"birthday": "--05-01"})["would_fire"] == [same_priority["automation_id"]]
    # Nothing was written: the customer still has no birthday.
    assert "birthday" not in owner.get("/customers/c1").json


def test_the_test_run_explains_why_nothing_fires(owner):
    owner.put("/customers/c1", {"first_name": "Ada", "email": "ada@example.com"})
    result = _run(owner, "c1", {"interests": ["pearls"]})
    assert _events(result) == {("interest_add", None): (False, "no_enabled_automation")}
    _create(owner, type="interest_add", enabled=True, audience={"interests_any": ["watches"]})
    assert _events(_run(owner, "c1", {"interests": ["pearls"]})) == {
        ("interest_add", None): (False, "audience_not_matched")}
    assert _events(_run(owner, "c1", {"interests": ["watches"], "source": "import"})) == {
        ("interest_add", None): (False, "import")}
    # An email already there is no event; a change of it neither.
    assert _run(owner, "c1", {"email": "ada@new.example"})["events"] == []


def test_the_test_run_fires_every_threshold_crossed_and_reports_the_checks(owner):
    owner.put("/customers/c1", {"first_name": "Ada", "email": "ada@example.com", "phone": "+61400000001",
                                "points_balance": 90, "consent": {"email": True, "sms": False}})
    silver = _create(owner, type="reward_available", points_threshold=100, enabled=True, channels=["email", "sms"])
    gold = _create(owner, type="reward_available", points_threshold=500, enabled=True)
    _create(owner, type="reward_available", points_threshold=50, enabled=True)  # already above: no event
    off = _create(owner, type="reward_available", points_threshold=200)
    result = _run(owner, "c1", {"points_balance": 600})
    assert result["would_fire"] == [silver["automation_id"], gold["automation_id"]]
    first = result["events"][0]
    assert (first["would_send"], first["skipped"], first["points_threshold"]) == (1, {"no_consent": 1}, 100)
    # Asked about one automation, it counts as switched on.
    result = _run(owner, "c1", {"points_balance": 600}, automation_id=off["automation_id"])
    assert result["would_fire"] == [silver["automation_id"], off["automation_id"], gold["automation_id"]]
    # Falling below fires nothing.
    assert _run(owner, "c1", {"points_balance": 10})["events"] == []


def test_a_new_customer_counts_as_an_empty_old_image(owner):
    _create(owner, type="email_add", enabled=True)
    _create(owner, type="app_download", enabled=True)
    result = _run(owner, "brand-new", {"email": "new@example.com", "app_installed_at": "2026-11-01T10:00:00Z"})
    assert result["new_customer"] is True
    assert sorted(e["event"] for e in result["events"] if e["fires"]) == ["app_download", "email_add"]
    assert owner.get("/customers/brand-new").status == 404


TEST_RUN_CASES = [
    ({"change": {}}, "customer_id"),
    ({"customer_id": "c1"}, "change"),
    ({"customer_id": "c1", "change": []}, "change"),
    ({"customer_id": "c1", "change": {"birthday": "1990-02-30"}}, "change.birthday"),
    ({"customer_id": "c1", "change": {"points_balance": -1}}, "change.points_balance"),
    ({"customer_id": "c1", "change": {"colour": "gold"}}, "change.colour"),
    ({"customer_id": "c 1", "change": {}}, "customer_id"),
    ({"customer_id": "c1", "change": {}, "extra": 1}, "extra"),
]


@pytest.mark.parametrize("body,field", TEST_RUN_CASES)
def test_bad_test_runs_are_rejected_naming_the_field(owner, body, field):
    response = owner.post("/action-automations/test-run", body)
    assert response.status == 400, response
    assert response.error_field == field


def test_a_test_run_of_an_unknown_automation_is_404(owner):
    response = owner.post("/action-automations/test-run", {"customer_id": "c1", "change": {},
                                                           "automation_id": "act_missing"})
    assert response.status == 404

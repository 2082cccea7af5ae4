"""Issue 5's end-to-end checks: a customer change made through the running local stack's API fires its
action-taken automation through the emulator's customers stream: at the next `tick` under `--manual`,
within seconds under `make run`."""
from __future__ import annotations

import time
import uuid

import requests


def test_a_birthday_added_through_the_api_is_sent_at_the_next_tick(stack):
    tenant = f"e2e-act-{uuid.uuid4().hex[:8]}"
    domain = f"{tenant}.example"
    token = stack.token(tenant=tenant, role="owner")

    def call(method: str, path: str, body: dict | None = None) -> requests.Response:
        response = stack.call(method, path, token, json=body)
        assert response.status_code in (200, 201), (path, response.text)
        return response

    call("PATCH", "/settings", {"store_name": f"Store {tenant}", "sender_email": "hello@maison-demo.example"})
    birthday = call("POST", "/action-automations", {"type": "birthday_add", "enabled": True,
                                                    "offer_text": "a free ring clean"}).json()
    call("POST", "/action-automations", {"type": "reward_available", "enabled": True, "points_threshold": 500})
    call("PUT", "/customers/ivy", {"first_name": "Ivy", "email": f"ivy@{domain}", "points_balance": 100,
                                   "consent": {"email": True}})
    call("PUT", "/customers/old", {"first_name": "Old", "email": f"old@{domain}", "birthday": "1970-01-01",
                                   "points_balance": 900, "consent": {"email": True}, "source": "import"})
    stack.tick("2026-12-01T00:00:00Z")       # the changes so far: an import, and Ivy without a birthday
    call("PATCH", "/customers/ivy", {"birthday": "1992-07-14", "points_balance": 650})
    assert [m for m in stack.outbox()["emails"] if m["to"] == f"ivy@{domain}"] == []   # not before the tick
    summary = stack.tick("2026-12-01T00:01:00Z")
    assert summary["customer_changes"] >= 1 and summary["actions_fired"] >= 2
    mails = sorted((m["to"], m["subject"]) for m in stack.outbox()["emails"] if m["to"].endswith(domain))
    assert [subject for _, subject in mails] == ["Thank you for sharing your birthday", "You have a reward waiting, Ivy"]
    assert {to for to, _ in mails} == {f"ivy@{domain}"}
    records = call("GET", "/customers/ivy/communications").json()["communications"]
    assert sorted((r["automation_type"], r["status"]) for r in records) == [("birthday_add", "sent"),
                                                                           ("reward_available", "sent")]
    assert call("GET", f"/action-automations/{birthday['automation_id']}").json()["stats"]["sent"] == 1
    # Ticking again finds no new change and sends nothing more.
    again = stack.tick("2026-12-01T00:02:00Z")
    assert again["customer_changes"] == 0
    assert len([m for m in stack.outbox()["emails"] if m["to"].endswith(domain)]) == 2


def test_make_run_sends_an_added_birthday_within_seconds(live_stack):
    token = live_stack.token()
    response = live_stack.call("PUT", "/customers/walk-in", token, json={
        "first_name": "Wren", "email": "wren@customers.example", "birthday": "--09-09", "consent": {"email": True}})
    assert response.status_code == 200, response.text
    written = time.monotonic()
    subjects: list[str] = []
    while time.monotonic() - written < 30 and len(subjects) < 2:
        subjects = sorted(m["subject"] for m in live_stack.outbox()["emails"] if m["to"] == "wren@customers.example")
        time.sleep(0.5)
    elapsed = time.monotonic() - written
    # The demo store's "birthday added" and "email added" automations, each once.
    assert len(subjects) == 2 and "Thank you for sharing your birthday" in subjects, subjects
    assert elapsed < 30

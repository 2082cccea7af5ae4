"""Issue 4's end-to-end check: configure through the API of the running local stack, `tick` chosen
instants with the CLI, and find exactly the expected emails and SMS in the emulator's outbox and on
each customer's communications; ticking the same instants again sends nothing more."""
from __future__ import annotations

import uuid
from collections import Counter

import requests

#: 11:00 on Dec 18 in Sydney: the send hour has passed on Christmas's date.
DEC18 = "2026-12-18T00:00:00Z"
DEC18_LATER = "2026-12-18T00:15:00Z"


def mine(box: dict, domain: str, store: str) -> tuple[Counter, Counter]:
    emails = Counter((m["to"], m["subject"]) for m in box["emails"] if m["to"].endswith(domain))
    sms = Counter((s["to"], s["body"]) for s in box["sms"] if store in s["body"])
    return emails, sms


def test_configured_automations_send_exactly_the_expected_messages_once(stack):
    tenant = f"e2e-{uuid.uuid4().hex[:8]}"
    domain, store = f"@{tenant}.example", f"Store {tenant}"
    token = stack.token(tenant=tenant, role="owner")

    def call(method: str, path: str, body: dict | None = None) -> requests.Response:
        response = stack.call(method, path, token, json=body)
        assert response.status_code in (200, 201), (path, response.text)
        return response

    call("PATCH", "/settings", {"store_name": store, "timezone": "Australia/Sydney", "country": "AU",
                                "sender_email": "hello@maison-demo.example", "sms_sender_id": "E2E"})
    people = {
        "ava": {"email": f"ava{domain}", "phone": "+61400000001", "birthday": "1990-12-18",
                "consent": {"email": True, "sms": True}},
        "ben": {"email": f"ben{domain}", "consent": {"email": True}},
        "cal": {"email": f"cal{domain}"},                                    # no marketing consent
        "dee": {"email": f"dee{domain}", "phone": "+61400000004", "consent": {"email": False, "sms": True}},
    }
    for customer_id, fields in people.items():
        call("PUT", f"/customers/{customer_id}", {"first_name": customer_id.title(),
                                                  "created_at": "2025-01-01T00:00:00Z", **fields})
    call("PUT", "/repairs/r1", {"customer_id": "cal", "status": "ready", "description": "Clasp replacement",
                                "ready_at": "2026-12-15T10:00:00+11:00"})
    call("PUT", "/appointments/a1", {"customer_id": "dee", "starts_at": "2026-12-19T10:00:00+11:00",
                                     "purpose": "Valuation"})
    call("PATCH", "/automations/birthday", {"enabled": True, "channels": ["email", "sms"]})
    call("PATCH", "/automations/christmas", {"enabled": True, "channels": ["email", "sms"]})
    call("PATCH", "/automations/repair_ready_reminder", {"enabled": True})
    call("PATCH", "/automations/appointment_24h", {"enabled": True, "channels": ["email", "sms"]})

    summary = stack.tick(DEC18)
    assert {"evaluated", "matched", "sent", "skipped", "failed", "deferred"} <= set(summary)
    emails, sms = mine(stack.outbox(), domain, store)
    assert emails == Counter({
        (f"ava{domain}", "Happy birthday, Ava"): 1,
        (f"ava{domain}", f"Season's greetings from {store}"): 1,
        (f"ben{domain}", f"Season's greetings from {store}"): 1,
        (f"cal{domain}", "Your Clasp replacement is ready to collect"): 1,
        (f"dee{domain}", f"See you tomorrow at {store}"): 1,
    }), emails
    assert sorted(to for to, _ in sms) == ["+61400000001", "+61400000001", "+61400000004", "+61400000004"]

    def statuses(customer_id: str) -> list[tuple]:
        records = call("GET", f"/customers/{customer_id}/communications").json()["communications"]
        return sorted((r["automation_type"], r["channel"], r["status"], r.get("reason")) for r in records)

    assert statuses("ava") == [("birthday", "email", "sent", None), ("birthday", "sms", "sent", None),
                               ("christmas", "email", "sent", None), ("christmas", "sms", "sent", None)]
    assert statuses("ben") == [("christmas", "email", "sent", None), ("christmas", "sms", "skipped", "missing_contact")]
    assert statuses("cal") == [("christmas", "email", "skipped", "no_consent"),
                               ("christmas", "sms", "skipped", "missing_contact"),
                               ("repair_ready_reminder", "email", "sent", None)]
    assert statuses("dee") == [("appointment_24h", "email", "sent", None), ("appointment_24h", "sms", "sent", None),
                               ("christmas", "email", "skipped", "no_consent"), ("christmas", "sms", "sent", None)]
    stats = {a["type"]: a["stats"] for a in call("GET", "/automations").json()["automations"]}
    assert len(stats["christmas"].pop("daily")) == 30
    assert {k: stats["christmas"][k] for k in ("sent", "skipped", "failed", "deferred")} == {
        "sent": 4, "skipped": {"missing_contact": 2, "no_consent": 2}, "failed": 0, "deferred": 0}
    # Every email accepted is delivered (the local stand-in for SES's events): ava's and ben's, not the SMS.
    assert (stats["christmas"]["delivered"], stats["christmas"]["opened"]) == (2, 0)

    before = stack.outbox()
    for at in (DEC18, DEC18_LATER, DEC18):
        stack.tick(at)
    assert mine(stack.outbox(), domain, store) == mine(before, domain, store)
    assert statuses("dee")[0] == ("appointment_24h", "email", "sent", None) and len(statuses("dee")) == 4


def test_tick_without_a_stack_says_how_to_start_one(tmp_path):
    from tests.e2e.conftest import clean_env, cli

    result = cli("tick", "--at", DEC18, env=clean_env(LOCAL_STATE_DIR=str(tmp_path)))
    assert result.returncode == 2 and "make run" in result.stderr


def test_tick_rejects_an_instant_without_an_offset(stack):
    from tests.e2e.conftest import clean_env, cli

    result = cli("tick", "--at", "2026-12-18 10:00", env=clean_env(AWS_ENDPOINT_URL=stack.endpoint))
    assert result.returncode == 2 and "--at must be an ISO-8601 date-time with an offset" in result.stderr


def test_make_run_sends_the_demo_stores_messages_within_a_minute(live_stack):
    """What a newcomer sees: within a minute of the stack coming up, the clock has evaluated the demo
    store, its messages are in the outbox, and the console says how many were sent."""
    import queue
    import re
    import time

    deadline, sent, seen = time.monotonic() + 60, 0, []
    while time.monotonic() < deadline and not sent:
        try:
            line = live_stack.lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        found = re.search(r"since start: .* (\d+) sent", line)
        sent = int(found.group(1)) if found else 0
    assert sent > 0, "".join(seen)
    box = live_stack.outbox()
    assert len(box["emails"]) + len(box["sms"]) >= sent
    assert all(m["to"].endswith("@customers.example") for m in box["emails"])

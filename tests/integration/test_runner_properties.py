"""Properties of the runner over random stores and schedules (hypothesis): never a marketing send
without consent, never more than the cap in any window, and every evaluation's sends accounted for."""
from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.adapters.models import SendLedger
from chalicelib.core.timeutil import parse_instant
from tests.integration.conftest import SENDER_DOMAIN
from tests.integration.runner_kit import Runner

CHANNEL_SETS = st.sampled_from([["email"], ["sms"], ["email", "sms"]])
people = st.lists(st.fixed_dictionaries({
    "email": st.booleans(), "phone": st.booleans(), "consent_email": st.booleans(), "consent_sms": st.booleans(),
    "birthday": st.sampled_from(["12-17", "12-18", "12-19", None]),
}), min_size=1, max_size=6)
caps = st.one_of(st.none(), st.fixed_dictionaries({"max_messages": st.integers(1, 3), "per_days": st.integers(1, 3)}))
#: Sydney-local evaluation hours on Dec 17, 18 and 19: morning, and late evening (quiet hours for SMS).
hours = st.lists(st.sampled_from([11, 23]), min_size=3, max_size=3)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(people=people, cap=caps, birthday_channels=CHANNEL_SETS, christmas_channels=CHANNEL_SETS, hours=hours,
       send_hour=st.sampled_from([10, 22]))
def test_consent_cap_and_accounting_hold_for_any_store(client_for, people, cap, birthday_channels,
                                                       christmas_channels, hours, send_hour):
    tenant = f"p-{uuid.uuid4().hex[:12]}"
    owner = client_for(tenant)
    assert owner.patch("/settings", {"timezone": "Australia/Sydney", "sender_email": f"a@{SENDER_DOMAIN}",
                                     "frequency_cap": cap, "send_hour": send_hour}).status == 200
    consent = {}
    for n, p in enumerate(people):
        body = {"first_name": f"P{n}", "created_at": "2025-01-01T00:00:00Z",
                "consent": {"email": p["consent_email"], "sms": p["consent_sms"]}}
        if p["email"]:
            body["email"] = f"p{n}@mail.example"
        if p["phone"]:
            body["phone"] = f"+6140000{n:04d}"
        if p["birthday"]:
            body["birthday"] = f"1990-{p['birthday']}"
        assert owner.put(f"/customers/p{n}", body).status == 200
        consent[f"p{n}"] = {"email": p["consent_email"], "sms": p["consent_sms"]}
    channels = {"birthday": birthday_channels, "christmas": christmas_channels}
    for type_, chosen in channels.items():
        assert owner.patch(f"/automations/{type_}", {"enabled": True, "channels": chosen}).status == 200

    runner = Runner(tenant, datetime.fromisoformat("2026-12-16T00:00:00+00:00"))
    instants = [datetime.fromisoformat(f"2026-12-{day}T{hour:02d}:00:00+11:00")
                for day, hour in zip((17, 18, 19), hours)]
    instants.append(datetime.fromisoformat("2026-12-20T10:00:00+11:00"))  # releases anything deferred
    deferred = 0
    for at in instants:
        evaluations, delivery = runner.run(at)
        # Accounting: every send of this evaluation ended as exactly one outcome, per channel.
        expected = Counter()
        for e in evaluations:
            for channel in channels[e.type]:
                expected[channel] += e.matched
        fresh = [o for o in delivery.outcomes if not o.send.released]
        got = Counter(o.send.channel for o in fresh if o.status in ("sent", "skipped", "failed", "deferred"))
        assert got == expected
        assert all(o.status in ("sent", "skipped", "failed", "deferred") for o in delivery.outcomes)
        deferred += sum(1 for o in delivery.outcomes if o.status == "deferred")
        # A released send is a marketing SMS: it is sent, skipped, or (released inside the next night's
        # quiet hours) deferred again; never failed or lost.
        assert all(o.status in ("sent", "skipped", "deferred") for o in delivery.outcomes if o.send.released)

    sent = defaultdict(list)
    for customer_id in consent:
        for record in owner.get(f"/customers/{customer_id}/communications").json["communications"]:
            if record["status"] == "sent":
                # Never a marketing send without consent on its channel.
                assert consent[customer_id][record["channel"]], record
                sent[customer_id].append(parse_instant(record["created_at"]))
    if cap:
        window = timedelta(days=cap["per_days"])
        for times in sent.values():
            times.sort()
            for i, start in enumerate(times):
                assert sum(1 for t in times[i:] if t - start < window) <= cap["max_messages"]
    # Every deferral is on the record, and after the last morning nothing is left waiting.
    statuses = Counter(r["status"] for cid in consent
                       for r in owner.get(f"/customers/{cid}/communications").json["communications"])
    assert statuses["deferred"] == deferred
    assert not [row for row in SendLedger.scan(SendLedger.tenant_id == tenant) if row.status not in
                ("sent", "skipped", "failed")]
    # Switched off again, so later examples' plans do not read this tenant.
    for type_ in channels:
        assert owner.patch(f"/automations/{type_}", {"enabled": False}).status == 200

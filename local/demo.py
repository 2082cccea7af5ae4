"""A demo jewellery store of about 200 customers, with dates around today so every automation has work."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from chalicelib.adapters import tenants
from chalicelib.core.timeutil import local_date, to_iso, zone
from chalicelib.rules.auth import Principal
from chalicelib.services import action_automations, automations, campaigns, settings
from chalicelib.services import customers as records

TENANT = "demo-store"
SENDER_DOMAIN = "maison-demo.example"
STORE = {
    "store_name": "Maison Aurelia Jewellers",
    "timezone": "Australia/Sydney",
    "country": "AU",
    "sender_email": f"hello@{SENDER_DOMAIN}",
    "reply_to": f"studio@{SENDER_DOMAIN}",
    "sms_sender_id": "Aurelia",
    "store_phone": "+61 2 9000 1234",
    "store_address": "12 Strand Arcade, Sydney NSW 2000",
    "store_website": "https://maison-demo.example",
    "brand_color": "#7a5c2e",   # antique gold, dark enough to read on white: the demo's emails show the layout
}
FIRST = ["Olivia", "Charlotte", "Amelia", "Isla", "Mia", "Ava", "Grace", "Chloe", "Zoe", "Ruby", "Noah", "Oliver",
         "William", "Jack", "Leo", "Lucas", "Thomas", "Henry", "Charlie", "James", "Sofia", "Hannah", "Priya", "Mei"]
LAST = ["Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Martin", "Anderson", "White",
        "Thompson", "Walker", "Harris", "Lee", "Ryan", "Robinson", "Kelly", "King", "Chen", "Patel"]
INTERESTS = ["engagement rings", "pearls", "watches", "gold chains", "custom design", "vintage", "gemstones"]
REPAIRS = ["Ring resize", "Chain solder", "Watch battery", "Clasp replacement", "Prong retip", "Pearl restring"]
PURPOSES = ["Engagement ring consultation", "Custom design meeting", "Valuation", "Ring fitting"]
#: Action-taken automations of the demo store, switched on: adding a birthday or an email through the
#: API, or raising a customer's points past 2,500, sends a message within seconds under `make run`.
ACTIONS = [
    {"type": "birthday_add", "name": "Thanks for your birthday", "enabled": True, "channels": ["email", "sms"],
     "offer_text": "a complimentary clean and polish in your birthday month"},
    {"type": "email_add", "name": "Welcome to our letters", "enabled": True},
    {"type": "reward_available", "name": "Gold reward ready", "enabled": True, "points_threshold": 2500,
     "offer_text": "$50 off your next piece"},
]
#: Switched on at seeding, so a newcomer sees messages go out within a minute of `make run`.
ENABLED = {
    "birthday": {"enabled": True, "channels": ["email", "sms"], "settings": {"include_discount_code": True}},
    "repair_ready_reminder": {"enabled": True, "channels": ["email", "sms"]},
    "post_purchase": {"enabled": True, "settings": {"request_review": True}},
    "appointment_24h": {"enabled": True, "channels": ["email", "sms"]},
    "appointment_1h": {"enabled": True, "channels": ["sms"]},
}


def seed(now: datetime, customers: int = 200, rng_seed: int = 7) -> dict:
    """Write the demo store through the same services the API uses."""
    rng = random.Random(rng_seed)
    owner = Principal(tenant_id=TENANT, role="owner", subject="demo-seed")
    tenants.ensure_tenant(TENANT, now)
    # Today's date is due from this hour on, so the first evaluation sends today's messages.
    send_hour = now.astimezone(zone(STORE["timezone"])).hour
    settings.patch(owner, {**STORE, "send_hour": send_hour}, now)
    today = local_date(now, STORE["timezone"])
    counts = {"customers": 0, "sales": 0, "repairs": 0, "appointments": 0}
    for n in range(1, customers + 1):
        customer_id = f"c{n:04d}"
        first, last = rng.choice(FIRST), rng.choice(LAST)
        created = now - timedelta(days=rng.randint(30, 900), hours=rng.randint(0, 23))
        body: dict = {
            "first_name": first, "last_name": last, "created_at": to_iso(created),
            "consent": {"email": rng.random() < 0.85, "sms": rng.random() < 0.5},
            # VIP is a tag: is_vip follows it.
            "tags": ["VIP"] if rng.random() < 0.12 else [],
            "points_balance": rng.randint(0, 3000),
            "interests": rng.sample(INTERESTS, k=rng.randint(0, 2)),
            # The store's existing customers arrive as an import: they fire no action-taken automation.
            "source": "import",
        }
        if rng.random() < 0.92:
            body["email"] = f"{first}.{last}.{n}@customers.example".lower()
        if rng.random() < 0.6:
            body["phone"] = f"+614{rng.randint(10_000_000, 99_999_999)}"
        # A tenth of birthdays fall in the coming week so the birthday automation has work today.
        bday = today + timedelta(days=rng.randint(0, 7)) if n % 10 == 0 else today + timedelta(days=rng.randint(0, 364))
        if rng.random() < 0.8:
            body["birthday"] = f"{rng.randint(1950, 2004)}-{bday:%m-%d}" if rng.random() < 0.8 else f"--{bday:%m-%d}"
        if rng.random() < 0.3:
            aday = today + timedelta(days=rng.randint(0, 60))
            body["anniversary"] = f"{rng.randint(1980, 2024)}-{aday:%m-%d}"
        records.put_customer(owner, customer_id, body, now)
        counts["customers"] += 1
        if rng.random() < 0.6:
            for s in range(rng.randint(1, 3)):
                # Some sales yesterday, for the post-purchase thank-you.
                when = now - (timedelta(days=1) if n % 15 == 0 and s == 0 else timedelta(days=rng.randint(2, 700)))
                records.put_sale(owner, f"s{n:04d}-{s}", {"customer_id": customer_id, "completed_at": to_iso(when),
                                                          "total": rng.randint(80, 9000)}, now)
                counts["sales"] += 1
        if n % 9 == 0:
            status = rng.choice(["intake", "in_progress", "ready", "ready", "collected"])
            repair: dict = {"customer_id": customer_id, "status": status, "description": rng.choice(REPAIRS),
                            "created_at": to_iso(now - timedelta(days=rng.randint(10, 40)))}
            if status in ("ready", "collected"):
                repair["ready_at"] = to_iso(now - timedelta(days=rng.choice([3, 5, 7, 14, 2])))
            records.put_repair(owner, f"r{n:04d}", repair, now)
            counts["repairs"] += 1
        if n % 13 == 0:
            starts = now + timedelta(hours=rng.choice([1, 3, 20, 23, 30, 72]), minutes=rng.choice([0, 15, 30]))
            records.put_appointment(owner, f"a{n:04d}", {"customer_id": customer_id, "starts_at": to_iso(starts),
                                                         "purpose": rng.choice(PURPOSES)}, now)
            counts["appointments"] += 1
    for type_, change in ENABLED.items():
        automations.patch(owner, type_, change, now, STORE["timezone"])
    for action in ACTIONS:
        action_automations.create(owner, action, now)
    # A draft for the VIPs, to schedule or send from the API (or to test-run first).
    draft = campaigns.create(owner, {"name": "VIP winter preview", "segment_id": "vip", "channels": ["email"]}, now)
    return {**counts, "enabled": list(ENABLED), "actions": [a["type"] for a in ACTIONS], "send_hour": send_hour,
            "campaigns": [draft["campaign_id"]]}

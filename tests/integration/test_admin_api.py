"""What the admin page stands on: its files and public configuration, `GET /me`, the customer look-up
(`GET /customers`) and the daily series of the automations' last 30 days."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from chalicelib.core import config
from chalicelib.sending.stats import WindowStats
from local.api import handle
from tests.integration.conftest import Api


def fetch(gateway, path: str, token: str | None = None) -> tuple[int, dict, bytes]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return handle(gateway, "GET", path, headers)


def test_the_page_and_its_files_are_served_without_a_login_with_a_strict_policy(gateway):
    status, headers, body = fetch(gateway, "/admin")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'<script src="admin/admin.js" defer></script>' in body
    policy = headers["Content-Security-Policy"]
    uploads = " ".join(config.imports_upload_origins())   # the import page's uploads go to the bucket
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert f"connect-src 'self' {uploads};" in policy and "imports" in uploads
    for name, kind in (("admin.js", "text/javascript"), ("admin.css", "text/css")):
        status, headers, body = fetch(gateway, f"/admin/{name}")
        assert status == 200 and headers["Content-Type"].startswith(kind) and len(body) > 1000
        assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name", ["index.html.bak", "admin_site.py", "..%2Fapp.py", "config.js"])
def test_nothing_but_the_pages_own_files_is_served(gateway, name):
    status, _, body = fetch(gateway, f"/admin/{name}")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"


def test_the_public_configuration_says_how_to_sign_in_and_lists_the_zones_settings_accept(gateway, owner):
    status, _, body = fetch(gateway, "/admin/config.json")
    config = json.loads(body)
    assert status == 200 and config["auth"] == {"mode": "local"}
    assert "Australia/Sydney" in config["timezones"] and config["timezones"] == sorted(config["timezones"])
    for zone in ("Pacific/Chatham", config["timezones"][0], config["timezones"][-1]):
        assert owner.patch("/settings", {"timezone": zone}).status == 200


def test_in_the_cloud_the_page_signs_in_against_the_user_pool_and_may_talk_to_it(monkeypatch):
    from chalicelib.services import admin_site

    monkeypatch.setenv("AUTH_MODE", "cognito")
    monkeypatch.setenv("COGNITO_ISSUER", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc123")
    monkeypatch.setenv("COGNITO_AUDIENCE", "client123")
    assert admin_site.public_config()["auth"] == {
        "mode": "cognito", "endpoint": "https://cognito-idp.eu-west-1.amazonaws.com/", "client_id": "client123"}
    policy = admin_site.security_headers()["Content-Security-Policy"]
    assert (f"connect-src 'self' https://cognito-idp.eu-west-1.amazonaws.com {' '.join(config.imports_upload_origins())};"
            in policy)


def test_me_says_who_the_token_is_for_and_what_the_role_may_change(gateway, client_for, tenant):
    owner = client_for(tenant, "owner").get("/me").json
    assert (owner["tenant_id"], owner["role"]) == (tenant, "owner")
    assert all(owner["may_change"].values())
    salesperson = client_for(tenant, "salesperson").get("/me").json
    assert salesperson["may_change"]["customers"] is True
    assert not any(salesperson["may_change"][r] for r in ("settings", "automations", "action_automations", "templates"))
    accountant = client_for(tenant, "accountant").get("/me").json
    assert not any(accountant["may_change"].values())
    assert Api(gateway, None).get("/me").status == 401


def _customers(owner, count: int) -> list[str]:
    ids = [f"c{n:03d}" for n in range(count)]
    for customer_id in ids:
        assert owner.put(f"/customers/{customer_id}", {"first_name": customer_id,
                                                       "email": f"{customer_id}@mail.example"}).status == 200
    return ids


def test_customers_are_found_by_email_in_any_case_within_the_tenant_only(client_for, tenant):
    owner, other = client_for(tenant), client_for(f"{tenant}-other")
    owner.put("/customers/ada", {"first_name": "Ada", "email": "Ada.Lovelace@Mail.example"})
    other.put("/customers/ada-elsewhere", {"first_name": "Not yours", "email": "ada.lovelace@mail.example"})
    found = owner.get("/customers?email=ADA.LOVELACE@mail.example").json
    assert [c["customer_id"] for c in found["customers"]] == ["ada"]
    assert found["customers"][0]["first_name"] == "Ada" and "email_key" not in found["customers"][0]
    assert owner.get("/customers?email=nobody@mail.example").json["customers"] == []
    bad = owner.get("/customers?email=not-an-address")
    assert bad.status == 400 and bad.error_field == "email"


def test_customers_are_listed_a_page_at_a_time(owner):
    ids = _customers(owner, 7)
    seen, cursor, pages = [], None, 0
    while True:
        page = owner.get("/customers?limit=3" + (f"&cursor={cursor}" if cursor else "")).json
        seen += [c["customer_id"] for c in page["customers"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids and pages >= 3
    assert owner.get("/customers?limit=0").error_field == "limit"
    assert owner.get("/customers?cursor=%25%25").error_field == "cursor"


def test_the_window_counts_each_day_and_the_totals_from_the_same_rows():
    days = [(date(2026, 11, 1) + timedelta(days=n)).isoformat() for n in range(30)]
    stats = WindowStats(days, [
        ("2026-11-01", "birthday", "sent", 2), ("2026-11-01", "birthday", "skipped:no_consent", 1),
        ("2026-11-30", "birthday", "skipped:missing_contact", 3), ("2026-11-30", "birthday", "failed", 1),
        ("2026-11-30", "birthday", "deferred", 4), ("2026-11-02", "christmas", "sent", 9),
        ("2026-11-01", "birthday", "delivered", 2), ("2026-11-02", "birthday", "opened", 1),
        ("2026-11-02", "birthday", "machine_open", 1), ("2026-11-03", "birthday", "attributed_sales", 1),
        ("2026-11-03", "birthday", "attributed_revenue", 124050),
    ]).of("birthday")
    daily = stats.pop("daily")
    assert {k: stats[k] for k in ("sent", "skipped", "failed", "deferred")} == {
        "sent": 2, "skipped": {"no_consent": 1, "missing_contact": 3}, "failed": 1, "deferred": 4}
    # Engagement from the same rows: opens by people only in the open rate; revenue kept in cents, shown in units.
    assert (stats["delivered"], stats["opened"], stats["machine_open"], stats["open_rate"], stats["click_rate"],
            stats["attributed_sales"], stats["attributed_revenue"]) == (2, 1, 1, 0.5, 0.0, 1, 1240.5)
    assert [d["date"] for d in daily] == days
    assert {k: daily[0][k] for k in ("date", "sent", "skipped", "failed", "delivered")} == {
        "date": "2026-11-01", "sent": 2, "skipped": 1, "failed": 0, "delivered": 2}
    assert (daily[1]["opened"], daily[2]["attributed_revenue"]) == (1, 1240.5)
    assert {k: daily[-1][k] for k in ("date", "sent", "skipped", "failed", "delivered")} == {
        "date": "2026-11-30", "sent": 0, "skipped": 3, "failed": 1, "delivered": 0}
    assert sum(d["sent"] for d in daily[1:-1]) == 0       # christmas's send is christmas's


def test_the_daily_series_ends_on_the_stores_local_today(owner):
    owner.patch("/settings", {"timezone": "Pacific/Kiritimati"})      # UTC+14: often a day ahead of UTC
    daily = owner.get("/automations/birthday").json["stats"]["daily"]
    from zoneinfo import ZoneInfo

    today = datetime.now(timezone.utc).astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    assert daily[-1]["date"] == today.isoformat() and daily[0]["date"] == (today - timedelta(days=29)).isoformat()

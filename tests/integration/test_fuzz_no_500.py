"""Property: no malformed body, on any write route, ever yields a 500."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROUTES = [
    ("PATCH", "/settings"), ("PATCH", "/automations/birthday"), ("PATCH", "/automations/reengagement"),
    ("POST", "/templates"), ("PATCH", "/templates/{tpl}"), ("POST", "/templates/{tpl}/duplicate"),
    ("POST", "/templates/{tpl}/preview"), ("POST", "/templates/system:christmas/preview"),
    ("PUT", "/customers/c1"), ("PATCH", "/customers/c1"), ("PUT", "/sales/s1"), ("PUT", "/repairs/r1"),
    ("PATCH", "/repairs/r1"), ("PUT", "/appointments/a1"), ("PATCH", "/appointments/a1"),
    ("POST", "/automations/birthday/test-run"), ("POST", "/automations/appointment_1h/test-run"),
    ("POST", "/action-automations"), ("PATCH", "/action-automations/act_missing"),
    ("POST", "/action-automations/test-run"), ("POST", "/segments"), ("PATCH", "/segments/seg_missing"),
    ("POST", "/customers/c1/notes"), ("PATCH", "/customers/c1/notes/n_missing"),
]
FIELDS = ["store_name", "timezone", "send_hour", "quiet_hours", "frequency_cap", "enabled", "settings", "channels",
          "template_id", "type", "name", "subject", "body_text", "body_html", "sms_body", "customer_id",
          "first_name", "email", "phone", "birthday", "consent", "consent_source", "body", "version", "tags",
          "points_balance", "completed_at",
          "status", "starts_at", "ready_at", "total", "created_at", "days_before", "start", "email", "at",
          "priority", "audience", "tags_any", "interests_any", "min_points", "points_threshold", "offer_text",
          "change", "automation_id", "filter", "tags_all", "tags_none", "vip", "points_min", "points_max",
          "inactive_days_min", "active_within_days", "birthday_month", "has_email", "consent_sms", "html_mode",
          "logo_url", "brand_color"]

scalars = (st.none() | st.booleans() | st.integers(min_value=-10**20, max_value=10**20)
           | st.floats(allow_nan=False) | st.text(max_size=40)
           | st.sampled_from(["{{", "{% if %}", "--02-29", "2026-02-30T10:00:00Z", "+61400000000", "a@b.co",
                              "ready", "email", "sms", "birthday", "\x00", "{{ customer.__class__ }}",
                              "reward_available", "email_add", "c1"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=4),
                      max_leaves=12)
bodies = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), values, max_size=6)
raw = st.binary(max_size=200) | bodies.map(lambda b: repr(b).encode())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), body=bodies)
def test_json_bodies_never_cause_a_500(owner, route, body):
    method, path = route
    response = owner.call(method, path.format(tpl="tpl_missing"), body)
    assert response.status < 500, (method, path, body, response)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), payload=raw)
def test_raw_bytes_never_cause_a_500(owner, route, payload):
    method, path = route
    response = owner.call(method, path.format(tpl="tpl_missing"), raw=payload)
    assert response.status < 500, (method, path, payload, response)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"),
                     min_size=1, max_size=300),
       method=st.sampled_from(["GET", "POST"]), payload=st.binary(max_size=100))
def test_unsubscribe_links_never_cause_a_500_and_unknown_ones_are_404(gateway, token, method, payload):
    from urllib.parse import quote

    from local.api import handle

    status, _, _ = handle(gateway, method, f"/unsubscribe/{quote(token, safe='')}",
                          {"content-type": "application/x-www-form-urlencoded"}, payload)
    assert status == 404

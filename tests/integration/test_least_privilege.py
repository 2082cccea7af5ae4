"""Each Lambda function's role in the packaged template allows every AWS call the function makes.

A store's day is run through the real entry points of app.py (Chalice's test client, in-process moto):
the API used as the admin would use it, a planner, the evaluation and dispatch consumers fed from the
emulator's real queues, the release of deferred sends, the customers stream and SES feedback. Every
botocore call is turned into the IAM action and ARN that AWS would authorise, and checked against the
statements of that function's own role, as IAM would evaluate them.
"""
from __future__ import annotations

import json
import os
import re
import uuid
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo

import pytest
from chalice.test import Client

from chalicelib.adapters import resources
from chalicelib.core import catalog
from tests.integration.aws_calls import (
    ACCOUNT,
    REGION,
    Permission,
    recorded,
    secret_arn,
)
from tests.integration.conftest import SENDER_DOMAIN, Api, take
from tests.integration.test_customer_changes_handler import event_for

DEC18 = "2026-12-18T00:00:00Z"


@pytest.fixture(scope="module")
def lambdas():
    from app import app

    with Client(app, stage_name="test") as client:
        yield client


def sqs_event(queue: str, messages: list[dict]) -> dict:
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"
    return {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                         "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                         "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
                         "eventSourceARN": arn, "awsRegion": REGION} for m in messages]}


@contextmanager
def cold():
    """As in a fresh Lambda: no client or queue URL kept from an earlier invocation."""
    from chalicelib.events import wiring as handlers

    handlers.reset()
    yield


def dispatch_all(lambdas, tenant: str, calls: dict) -> None:
    sends = take(resources.send_queue_name(), tenant)
    assert sends
    for offset in range(0, len(sends), 10):
        with cold(), recorded() as made:
            lambdas.lambda_.invoke("dispatch", sqs_event(resources.send_queue_name(), sends[offset:offset + 10]))
        calls["dispatch"] += made


def scheduled(at: str) -> dict:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": ACCOUNT, "time": at, "region": REGION, "resources": [], "detail": {}}


def use_the_api(owner, tenant: str) -> str:
    """Every route, as the admin and the store's systems use them; returns the import's upload address."""
    from chalicelib.sending.unsubscribe import token_for
    from local.api import handle

    domain = f"{tenant}.example"
    # Quiet hours around the dispatcher's own (wall) clock, so the store's SMS are deferred and released.
    local = datetime.now(ZoneInfo("Australia/Sydney"))
    quiet = {"start": (local - timedelta(hours=1)).strftime("%H:%M"), "end": (local + timedelta(hours=2)).strftime("%H:%M")}
    assert owner.patch("/settings", {"store_name": "Least & Co", "timezone": "Australia/Sydney", "quiet_hours": quiet,
                                     "frequency_cap": {"max_messages": 20, "per_days": 7},
                                     "sender_email": f"hello@{SENDER_DOMAIN}", "sms_sender_id": "Least"}).status == 200
    assert owner.get("/settings").status == 200
    for n in range(2):
        assert owner.put(f"/customers/c{n}", {
            "first_name": f"C{n}", "email": f"c{n}@{domain}", "phone": f"+61411120{n:03d}", "birthday": "1990-12-18",
            "consent": {"email": True, "sms": True}, "created_at": "2025-01-01T00:00:00Z", "tags": ["VIP"]}).status == 200
    assert owner.patch("/customers/c1", {"points_balance": 10}).status == 200
    assert owner.get("/customers/c1").status == 200
    assert owner.get(f"/customers?email=c1@{domain}").json["customers"][0]["customer_id"] == "c1"
    assert owner.get("/customers?limit=1").json["next_cursor"]
    assert owner.get("/me").status == 200
    # Segments: each kind of read (the VIP, month-day, last activity and created indexes, and the base).
    made = owner.post("/segments", {"name": "Gold VIPs", "filter": {"vip": True, "tags_any": ["gold"]}})
    assert made.status == 201
    segment = made.json["segment_id"]
    assert owner.post("/segments", {"name": "Points", "filter": {"points_min": 5}}).status == 201
    assert owner.get("/segments").status == 200
    assert owner.patch(f"/segments/{segment}", {"filter": {"created_within_days": 30}}).status == 200
    assert owner.get(f"/segments/{segment}").status == 200
    for listed in ("vip", "inactive_90", "birthday_this_month", "new_30", segment):
        assert owner.get(f"/segments/{listed}/members?limit=1").status == 200
    assert owner.delete(f"/segments/{segment}").status == 204
    for page in ("/admin", "/admin/admin.js", "/admin/config.json"):
        assert handle(owner.gateway, "GET", page, {}, b"")[0] == 200
    assert owner.put("/sales/s1", {"customer_id": "c0", "completed_at": "2026-12-01T01:00:00Z",
                                   "total": 120}).status == 200
    assert owner.get("/sales/s1").status == 200
    assert owner.put("/repairs/r1", {"customer_id": "c0", "status": "in_progress", "description": "Ring resize"}).status == 200
    assert owner.patch("/repairs/r1", {"status": "ready"}).status == 200
    assert owner.get("/repairs/r1").status == 200
    assert owner.put("/appointments/a1", {"customer_id": "c0", "starts_at": "2026-12-20T01:00:00Z"}).status == 200
    assert owner.patch("/appointments/a1", {"starts_at": "2026-12-20T02:00:00Z"}).status == 200
    assert owner.get("/appointments/a1").status == 200
    assert owner.get("/automations").status == 200
    for type_ in catalog.PER_EVENT:
        assert owner.patch(f"/automations/{type_}", {"enabled": True, "channels": ["email", "sms"]}).status == 200
        assert owner.post(f"/automations/{type_}/test-run", {"at": DEC18}).status == 200
    assert owner.get("/automations/birthday").status == 200
    created = owner.post("/action-automations", {"type": "birthday_add", "enabled": True, "channels": ["email"]})
    assert created.status == 201
    automation = created.json["automation_id"]
    assert owner.get("/action-automations").status == 200
    assert owner.patch(f"/action-automations/{automation}", {"priority": 2}).status == 200
    assert owner.get(f"/action-automations/{automation}").status == 200
    assert owner.post("/action-automations/test-run", {"customer_id": "c1",
                                                       "change": {"birthday": "--03-03"}}).status == 200
    assert owner.post("/action-automations", {"type": "email_add", "enabled": True}).status == 201
    spare = owner.post("/action-automations", {"type": "interest_add"}).json["automation_id"]
    assert owner.delete(f"/action-automations/{spare}").status == 204
    template = owner.post("/templates/system:birthday/duplicate").json["template_id"]
    assert owner.get("/templates").status == 200
    assert owner.patch(f"/templates/{template}", {"subject": "Happy birthday {{ customer.first_name }}"}).status == 200
    assert owner.get(f"/templates/{template}").status == 200
    assert owner.post(f"/templates/{template}/preview", {"customer_id": "c0"}).status == 200
    other = owner.post("/templates/system:christmas/duplicate").json["template_id"]
    assert owner.delete(f"/templates/{other}").status == 204
    assert owner.get("/customers/c0/communications").status == 200
    assert owner.get("/reminders?days=90").status == 200
    token = token_for(tenant, "c1", "email")
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert handle(owner.gateway, "GET", f"/unsubscribe/{token}", {}, b"")[0] == 200
    assert handle(owner.gateway, "POST", f"/unsubscribe/{token}", form, b"List-Unsubscribe=One-Click")[0] == 200
    campaign = owner.post("/campaigns", {"name": "Preview", "segment_id": "vip", "channels": ["email"]})
    assert campaign.status == 201
    path = f"/campaigns/{campaign.json['campaign_id']}"
    assert owner.get("/campaigns").status == 200
    assert owner.patch(path, {"name": "Winter preview"}).status == 200
    assert owner.post(f"{path}/test-run", {}).status == 200
    spare = owner.post("/campaigns", {"name": "Spare"}).json["campaign_id"]
    assert owner.delete(f"/campaigns/{spare}").status == 204
    later = owner.post("/campaigns", {"name": "Later", "segment_id": "vip"}).json["campaign_id"]
    soon = (datetime.now(timezone.utc) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert owner.post(f"/campaigns/{later}/schedule", {"at": soon}).status == 200
    assert owner.post(f"/campaigns/{later}/cancel").status == 200
    assert owner.post(f"{path}/send").status == 200
    assert owner.get(path).status == 200
    assert owner.post("/customers/c1/messages", {"subject": "Your ring", "body": "Ready"}).status == 201
    assert owner.get("/customers/c1/messages").status == 200
    assert owner.get("/settings/sender").status == 200
    assert owner.put("/customers/gone", {"first_name": "Gone", "email": f"gone@{domain}"}).status == 200
    note = owner.post("/customers/gone/notes", {"body": "Prefers rose gold"}).json
    assert owner.patch(f"/customers/gone/notes/{note['note_id']}", {"body": "Prefers white gold",
                                                                    "version": note["version"]}).status == 200
    assert owner.get("/customers/gone/notes").json["notes"][0]["body"] == "Prefers white gold"
    spare_note = owner.post("/customers/gone/notes", {"body": "Spare"}).json["note_id"]
    assert owner.delete(f"/customers/gone/notes/{spare_note}").status == 204
    assert owner.delete("/customers/gone").status == 204   # and its notes
    # A customer import: the upload (through the address the API signed), the preview, a dry run's start, the
    # progress and the rejects (the chunk is run by the evaluate function below).
    import requests

    created = owner.post("/imports")
    assert created.status == 201
    upload = f"/imports/{created.json['import_id']}"
    assert requests.put(created.json["upload_url"], data=b"Email,DOB\r\nimp@example.com,31/12/1990\r\nbad@example.com,31/31/1990\r\n").ok
    assert owner.get(f"{upload}/preview").status == 200
    assert owner.post(f"{upload}/start", {"mode": "commit"}).status == 200
    assert owner.get(upload).status == 200
    assert handle(owner.gateway, "GET", f"{upload}/rejects", {"authorization": f"Bearer {owner.token}"}, b"")[0] == 200
    return created.json["upload_url"]


@pytest.fixture(scope="module")
def needed(gateway, lambdas) -> dict[str, list[Permission]]:
    """Function name -> every permission its calls needed during the store's day."""
    from chalicelib.adapters.models import SendLedger
    from chalicelib.rules.auth import issue_local_token
    from chalicelib.sending.ledger import DEFERRED_SHARD

    tenant = f"t-{uuid.uuid4().hex[:12]}"
    owner = Api(gateway, issue_local_token(os.environ["LOCAL_JWT_SECRET"], tenant, "owner"))
    calls: dict[str, list[Permission]] = defaultdict(list)

    with recorded() as made:
        upload_url = use_the_api(owner, tenant)
    calls["api_handler"] += made
    # The pre-signed PUT is authorised as the role that signed it.
    from urllib.parse import urlparse

    from chalicelib.core import config
    key = urlparse(upload_url).path.lstrip("/").removeprefix(f"{config.imports_bucket()}/")
    calls["api_handler"].append(Permission("s3:PutObject", f"arn:aws:s3:::{config.imports_bucket()}/{key}"))

    with recorded() as made:
        from chalicelib.rules.auth import verify_token

        verify_token(owner.token)
    calls["jwt_auth"] += made

    for type_ in catalog.PER_EVENT:
        with cold(), recorded() as made:
            lambdas.lambda_.invoke(f"plan_{type_}", scheduled(DEC18))
        calls[f"plan_{type_}"] += made
    jobs = take(resources.evaluation_queue_name(), tenant)
    assert len(jobs) == len(catalog.PER_EVENT) + 1, "a planner queued no evaluation for the store"
    assert sum('"kind": "import"' in job["Body"] for job in jobs) == 1   # the import's chunk

    for job in jobs:
        with cold(), recorded() as made:
            assert lambdas.lambda_.invoke("evaluate", sqs_event(resources.evaluation_queue_name(), [job])).payload \
                == {"batchItemFailures": []}
        calls["evaluate"] += made
    minute = (datetime.now(timezone.utc) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with cold(), recorded() as made:
        lambdas.lambda_.invoke("start_campaigns", scheduled(minute))
    calls["start_campaigns"] += made
    pages = take(resources.evaluation_queue_name(), tenant)
    assert pages, "the campaigns' planner queued no page of the campaign sent now"
    for page in pages:
        with cold(), recorded() as made:
            assert lambdas.lambda_.invoke("evaluate", sqs_event(resources.evaluation_queue_name(), [page])).payload \
                == {"batchItemFailures": []}
        calls["evaluate"] += made
    dispatch_all(lambdas, tenant, calls)
    assert any("campaigns" in p.resource for p in calls["dispatch"])
    with cold(), recorded() as made:   # every send of the campaign has ended: the planner marks it sent
        assert lambdas.lambda_.invoke("start_campaigns", scheduled(minute)).payload["finished"] >= 1
    calls["start_campaigns"] += made
    assert any(p.action == "ses:SendRawEmail" for p in calls["dispatch"])

    for hours in (3, 6):
        if hours == 6:
            # The store moves its quiet hours away: what was deferred is released and sent, and
            # nothing of this store is left for other tests' runners to release.
            local = datetime.now(ZoneInfo("Australia/Sydney"))
            away = {"start": (local + timedelta(hours=8)).strftime("%H:%M"),
                    "end": (local + timedelta(hours=9)).strftime("%H:%M")}
            assert owner.patch("/settings", {"quiet_hours": away}).status == 200
        later = (datetime.now(timezone.utc) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with cold(), recorded() as made:
            assert lambdas.lambda_.invoke("release_deferred", scheduled(later)).payload["released"] >= 2
        calls["release_deferred"] += made
        dispatch_all(lambdas, tenant, calls)
    assert any(p.action == "sns:Publish" for p in calls["dispatch"])
    assert not [row for row in SendLedger.deferred_index.query(DEFERRED_SHARD) if row.tenant_id == tenant]

    with cold(), recorded() as made:
        lambdas.lambda_.invoke("customer_changes", event_for(tenant, 0))
    calls["customer_changes"] += made
    assert any(p.action == "dynamodb:PutItem" for p in calls["customer_changes"]), "nothing fired"
    # The action-taken sends go through the dispatcher too: it reads their automations in its batch read.
    before = len(calls["dispatch"])
    dispatch_all(lambdas, tenant, calls)
    assert any("action_automations" in p.resource for p in calls["dispatch"][before:])

    # SES's events of a sent email: its record and counters, once.
    from chalicelib.adapters.models import Communication, tenant_customer
    from chalicelib.rules.engagement import CUSTOMER_TAG, RECORD_TAG
    from local.ses_events import document, open_detail

    (record, *_) = [c for c in Communication.query(tenant_customer(tenant, "c0"), scan_index_forward=False)
                    if c.status == "sent" and c.channel == "email" and c.provider_message_id]
    from chalicelib.adapters.providers import tag_value

    tags = {"tenant_id": tag_value(tenant), CUSTOMER_TAG: "c0", RECORD_TAG: record.communication_id}
    sent_at = datetime.now(timezone.utc)
    events = [document("Delivery", record.provider_message_id, tags, sent_at),
              document("Open", record.provider_message_id, tags, sent_at, **open_detail(proxy=False))]
    with cold(), recorded() as made:
        assert lambdas.lambda_.invoke("ses_engagement", {"Records": [
            {"messageId": str(uuid.uuid4()), "body": json.dumps(e), "attributes": {}} for e in events]}).payload \
            == {"batchItemFailures": []}
    calls["ses_engagement"] += made
    assert any(p.action == "dynamodb:UpdateItem" and "automation_stats" in p.resource for p in calls["ses_engagement"])
    # A sale after the store's marketing mail: attributed to it, with the API's role.
    with recorded() as made:
        assert owner.put("/sales/s2", {"customer_id": "c0", "completed_at": sent_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                       "total": 80}).json.get("attributed_record")
    calls["api_handler"] += made

    bounce = {"eventType": "Bounce", "bounce": {"bounceType": "Permanent",
                                                "bouncedRecipients": [{"emailAddress": f"c0@{tenant}.example"}]},
              "mail": {"messageId": "m-1", "tags": {"tenant_id": [tenant]}}}
    with cold(), recorded() as made:
        lambdas.lambda_.invoke("ses_feedback", lambdas.events.generate_sns_event(message=json.dumps(bounce)))
    calls["ses_feedback"] += made
    assert calls["ses_feedback"]
    return dict(calls)


@pytest.fixture(scope="module")
def roles(packaged) -> dict[str, list[dict]]:
    """Function name -> the statements of its role in the packaged template, with every intrinsic
    function resolved as CloudFormation would in this account (names carry this run's table prefix)."""
    from infra.template import function_names

    template = json.loads((packaged / "template.json").read_text())
    resources = template["Resources"]
    stage_prefix = resources["Dispatch"]["Properties"]["Environment"]["Variables"]["TABLE_PREFIX"]

    def attribute(name: str, attr: str) -> str:
        properties = resources[name]["Properties"]
        kind = resources[name]["Type"]
        if kind == "AWS::DynamoDB::Table":
            table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{properties['TableName']}"
            return table if attr == "Arn" else f"{table}/stream/*"
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{properties['QueueName']}"
        if kind == "AWS::S3::Bucket":
            from chalicelib.core import config
            return f"arn:aws:s3:::{config.imports_bucket()}"   # the local bucket stands for the stack's
        if kind == "AWS::Logs::LogGroup":
            return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
        if kind == "AWS::SecretsManager::Secret":   # Ref: the ARN of the local stack's secret that stands for it
            from chalicelib.core import config
            return secret_arn({"UnsubscribeSecret": config.unsubscribe_secret_id(),
                               "ErasureSecret": config.erasure_secret_id()}[name])
        raise AssertionError(f"no ARN for {name} in this test")

    def ref(name: str) -> str:
        pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
        if name in pseudo:
            return pseudo[name]
        if name in template["Parameters"]:
            return str(template["Parameters"][name]["Default"])
        if resources[name]["Type"] == "AWS::SecretsManager::Secret":
            return attribute(name, "Arn")
        return resources[name]["Properties"]["Name"]   # the SES configuration set

    def resolve(value) -> str:
        if isinstance(value, str):
            return value
        if "Fn::GetAtt" in value:
            return attribute(*value["Fn::GetAtt"])
        if "Ref" in value:
            return ref(value["Ref"])
        text = value["Fn::Sub"]
        return re.sub(r"\$\{([^}]+)\}", lambda m: attribute(*m.group(1).split(".")) if "." in m.group(1)
                      else ref(m.group(1)), text)

    statements = {}
    for name, function in function_names(template).items():
        role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
        [document] = [p["PolicyDocument"] for p in resources[role]["Properties"]["Policies"]]
        statements[name] = [{
            "Effect": s["Effect"],
            "Action": s["Action"] if isinstance(s["Action"], list) else [s["Action"]],
            "Resource": [resolve(r).replace(stage_prefix, os.environ["TABLE_PREFIX"])
                         for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])],
        } for s in document["Statement"]]
    return statements


def allowed(statements: list[dict], needed: Permission) -> bool:
    """IAM's evaluation: a statement matches when an action and a resource pattern both do; allowed when an
    Allow statement matches and no Deny statement does."""
    def matches(s: dict) -> bool:
        return (any(fnmatchcase(needed.action.lower(), a.lower()) for a in s["Action"])
                and any(fnmatchcase(needed.resource, r) for r in s["Resource"]))

    return (any(s["Effect"] == "Allow" and matches(s) for s in statements)
            and not any(s["Effect"] == "Deny" and matches(s) for s in statements))


def test_every_function_is_allowed_every_call_it_makes_during_a_stores_day(needed, roles):
    assert set(needed) == set(roles)   # every entry point of app.py took part
    refused = {name: sorted({f"{p.action} {p.resource}" for p in calls if not allowed(roles[name], p)})
               for name, calls in needed.items()}
    assert {name: calls for name, calls in refused.items() if calls} == {}


def test_a_role_does_not_allow_what_another_function_needs(needed, roles):
    """The check above can fail: the feedback function may not send mail, nor the API send SMS (its one send
    is a 1:1 email, through the ledger)."""
    for permission in needed["dispatch"]:
        if permission.action in ("ses:SendRawEmail", "sns:Publish", "dynamodb:PutItem"):
            assert not allowed(roles["ses_feedback"], permission) or "suppressions" in permission.resource
    assert not any(allowed(roles["api_handler"], p) for p in needed["dispatch"] if p.action.startswith("sns:"))
    assert roles["jwt_auth"] == [s for s in roles["jwt_auth"] if all(a.startswith("logs:") for a in s["Action"])]


def test_the_dispatcher_may_send_sms_to_phone_numbers_and_publish_to_no_topic_or_application(needed, roles):
    sms = [p for p in needed["dispatch"] if p.action == "sns:Publish"]
    assert sms and all(p.resource == "*" and allowed(roles["dispatch"], p) for p in sms)
    for elsewhere in (f"arn:aws:sns:{REGION}:{ACCOUNT}:automations-alarms",        # a topic of this account
                      "arn:aws:sns:eu-west-1:999999999999:someone-elses-topic",   # another account's
                      f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/GCM/app/5f1e2d"):  # a mobile push endpoint
        assert not allowed(roles["dispatch"], Permission("sns:Publish", elsewhere)), elsewhere


def test_the_secrets_are_read_only_by_the_functions_that_use_them_each_its_own(needed, roles):
    """The dispatcher and the API read the unsubscribe keys and the erasure key (both needed them during the day:
    a suppression check looks for an erased address's keyed hash); no other function reads either, and no
    function may change them."""
    from chalicelib.core import config

    unsubscribe = Permission("secretsmanager:GetSecretValue", secret_arn(config.unsubscribe_secret_id()))
    erasure = Permission("secretsmanager:GetSecretValue", secret_arn(config.erasure_secret_id()))
    assert unsubscribe in needed["dispatch"]   # a cold dispatcher reads it for its first marketing email
    assert erasure in needed["dispatch"]       # and the erasure key for its first suppression check
    readers = {name: (allowed(statements, unsubscribe), allowed(statements, erasure))
               for name, statements in roles.items()}
    assert {name: read for name, read in readers.items() if any(read)} == {
        "api_handler": (True, True), "dispatch": (True, True)}
    for name, statements in roles.items():
        assert not allowed(statements, Permission("secretsmanager:PutSecretValue", unsubscribe.resource))

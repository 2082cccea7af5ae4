"""The runner through the emulator's real SQS, SES and SNS (in-process moto): what `tick` does, with the
adapters that run in the cloud."""
from __future__ import annotations

import email
import json
from datetime import datetime
from email.policy import default

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from chalicelib.adapters import clients, resources
from chalicelib.adapters.providers import tag_value
from chalicelib.sending.stores import is_suppressed
from local.runner import tick
from tests.integration.conftest import SENDER_DOMAIN

DEC18 = datetime.fromisoformat("2026-12-18T00:00:00+00:00")


def outbox_for(domain: str, store_name: str = "") -> tuple[list, list]:
    mails = [email.message_from_string(m.raw_data, policy=default)
             for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages if hasattr(m, "raw_data")]
    mails = [m for m in mails if str(m["To"]).endswith(domain)]
    sms = [(phone, body) for phone, body in sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values()
           if store_name and store_name in body]
    return mails, sms


@pytest.fixture(autouse=True)
def stream_caught_up():
    """`tick` reads every customer change it has not read yet; the emulator is shared by every test, so
    the changes earlier tests made are passed over first (they are their own tests' business)."""
    from chalicelib.runner.customer_changes import StreamResult
    from local.runner import StreamReader, stream_checkpoint

    StreamReader.for_customers(stream_checkpoint()).drain(lambda records: StreamResult())


@pytest.fixture
def store(owner, tenant):
    assert owner.patch("/settings", {"store_name": f"Aurum {tenant}", "timezone": "Australia/Sydney",
                                     "sender_email": f"hello@{SENDER_DOMAIN}"}).status == 200
    domain = f"{tenant}.example"
    for n in range(3):
        assert owner.put(f"/customers/c{n}", {"first_name": f"C{n}", "email": f"c{n}@{domain}",
                                              "phone": f"+614111100{n:02d}",
                                              "birthday": "1991-12-18", "consent": {"email": True, "sms": True},
                                              "created_at": "2025-01-01T00:00:00Z"}).status == 200
    return owner, domain


def test_tick_sends_through_ses_and_sns_once_with_the_unsubscribe_headers(store, tenant):
    owner, domain = store
    assert owner.patch("/automations/birthday", {"enabled": True, "channels": ["email", "sms"]}).status == 200
    summary = tick(DEC18)
    assert summary["sent"] >= 6 and summary["failed"] == 0
    mails, sms = outbox_for(domain, f"Aurum {tenant}")
    assert sorted(str(m["To"]) for m in mails) == [f"c{n}@{domain}" for n in range(3)]
    assert sorted(phone for phone, _ in sms) == [f"+614111100{n:02d}" for n in range(3)]
    first = mails[0]
    assert str(first["From"]) == f"Aurum {tenant} <hello@{SENDER_DOMAIN}>"
    assert str(first["List-Unsubscribe"]).startswith("<https://api.store.test/unsubscribe/")
    assert str(first["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    records = owner.get("/customers/c0/communications").json["communications"]
    assert sorted((r["channel"], r["status"]) for r in records) == [("email", "sent"), ("sms", "sent")]
    ids = {r["provider_message_id"] for r in records}
    assert any(m.id in ids for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)

    again = tick(DEC18)
    assert again["sent"] == 0 and again["matched"] == 0
    assert [len(box) for box in outbox_for(domain, f"Aurum {tenant}")] == [3, 3]


def test_an_unverified_sender_is_a_permanent_rejection_recorded_as_sender_not_verified(store, tenant, monkeypatch):
    import local.stack

    owner, domain = store
    # As if the store had not published its domain's DNS records yet: the tick's step verifies nothing.
    monkeypatch.setattr(local.stack, "verify_store_senders", lambda: [])
    assert owner.patch("/settings", {"sender_email": f"hello@{tenant}.unverified.example"}).status == 200
    assert owner.patch("/automations/birthday", {"enabled": True, "channels": ["email"]}).status == 200
    summary = tick(DEC18)
    assert summary["failed"] >= 3
    [record] = owner.get("/customers/c1/communications").json["communications"]
    assert (record["status"], record["reason"]) == ("failed", "sender_not_verified")
    assert outbox_for(domain)[0] == []


def test_a_malformed_message_goes_to_the_dead_letter_queue_after_five_receives():
    sqs = clients.client("sqs")
    sqs.send_message(QueueUrl=clients.queue_url(resources.send_queue_name()), MessageBody="garbage")
    tick(DEC18)
    dlq = clients.queue_url(resources.dead_letter_queue_name(resources.send_queue_name()))
    messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in messages] == ["garbage"]


def test_a_bounce_published_by_ses_suppresses_the_address_for_its_tenant(store, tenant):
    owner, domain = store
    sns = boto3.client("sns")
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"]
                 if t["TopicArn"].endswith(resources.feedback_topic_name()))
    notification = {
        "eventType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": f"c2@{domain}"}]},
        "mail": {"messageId": "m-1", "destination": [f"c2@{domain}"],
                 "tags": {"tenant_id": [tag_value(tenant)], "automation": ["birthday"]}},
    }
    sns.publish(TopicArn=topic, Message=json.dumps(notification))
    tick(DEC18)
    assert is_suppressed(tenant, "email", f"C2@{domain}")
    assert not is_suppressed(tenant, "email", f"c1@{domain}")
    assert owner.patch("/automations/birthday", {"enabled": True, "channels": ["email"]}).status == 200
    tick(DEC18)
    [record] = owner.get("/customers/c2/communications").json["communications"]
    assert (record["status"], record["reason"]) == ("skipped", "suppressed")


def test_logs_and_metrics_name_ids_and_outcomes_never_contact_details(store, tenant, capsys, caplog, monkeypatch):
    from chalicelib.adapters.observability import SERVICE, logger

    owner, domain = store
    assert owner.patch("/automations/birthday", {"enabled": True, "channels": ["email", "sms"]}).status == 200
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    level = logger.log_level
    logger.setLevel("INFO")
    try:
        capsys.readouterr()
        with caplog.at_level("INFO", logger=SERVICE):
            tick(DEC18)
        metrics_out = capsys.readouterr().out
    finally:
        logger.setLevel(level)
    # The lines exactly as CloudWatch would receive them, through Powertools' JSON formatter.
    logged = [logger.registered_formatter.format(r) for r in caplog.records if r.name == SERVICE]
    lines = [json.loads(line) for line in logged]
    sends = [line for line in lines if line.get("message") == "send" and line.get("tenant_id") == tenant]
    assert {(s["customer_id"], s["channel"], s["outcome"]) for s in sends} == {
        (f"c{n}", channel, "sent") for n in range(3) for channel in ("email", "sms")}
    metrics = [json.loads(line) for line in metrics_out.splitlines() if line.startswith('{"_aws"')]
    assert any(m.get("outcome") == "sent" and m.get("Sends") for m in metrics)
    everything = "\n".join(logged) + metrics_out
    assert domain not in everything and "+61411110" not in everything


def test_tick_reads_the_customers_stream_and_sends_what_the_changes_fired(store, tenant):
    owner, domain = store
    response = owner.post("/action-automations", {"type": "birthday_add", "enabled": True, "channels": ["email"],
                                                  "offer_text": "a free polish"})
    assert response.status == 201
    automation_id = response.json["automation_id"]
    assert owner.put("/customers/new", {"first_name": "Nova", "email": f"nova@{domain}", "birthday": "--03-03",
                                        "consent": {"email": True}}).status == 200
    summary = tick(DEC18)
    assert (summary["customer_changes"], summary["actions_fired"]) >= (1, 1)
    mails, _ = outbox_for(domain)
    [mail] = [m for m in mails if str(m["To"]) == f"nova@{domain}"]
    assert str(mail["Subject"]) == "Thank you for sharing your birthday"
    assert "a free polish" in mail.get_body(preferencelist=("plain",)).get_content()
    [record] = owner.get("/customers/new/communications").json["communications"]
    assert (record["status"], record["source"], record["automation_id"]) == ("sent", "action_automation",
                                                                            automation_id)
    # The stream is read once: the next tick finds no change and sends nothing more.
    again = tick(DEC18)
    assert again["customer_changes"] == 0 and len(owner.get("/customers/new/communications").json[
        "communications"]) == 1

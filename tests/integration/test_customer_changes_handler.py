"""The customers stream handler as Lambda invokes it (through Chalice's test client, with a stream event
kept as a JSON fixture: Chalice has no generator for DynamoDB stream events), queueing on the
emulator's real send queue."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from chalice.test import Client

from chalicelib.adapters import resources
from chalicelib.sending.messages import unpack
from tests.integration.conftest import take

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "customers_stream_event.json"


def event_for(tenant: str, *indexes: int) -> dict:
    records = json.loads(FIXTURE.read_text().replace("TENANT", tenant))["Records"]
    return {"Records": [records[i] for i in indexes]}


def take_queued(tenant: str) -> list:
    """This tenant's sends on the send queue, taken off it (others' are left as they were)."""
    sends = [send for message in take(resources.send_queue_name(), tenant) for send in unpack(message["Body"])]
    return [send for send in sends if send.tenant_id == tenant]


@pytest.fixture
def lambda_client():
    from app import app

    # A stage without its own variables: the tests keep their own table and queue names.
    with Client(app, stage_name="test") as client:
        yield client


@pytest.fixture
def automations(owner):
    ids = {}
    for type_ in ("email_add", "app_download", "birthday_add"):
        response = owner.post("/action-automations", {"type": type_, "enabled": True})
        assert response.status == 201
        ids[type_] = response.json["automation_id"]
    return ids


def test_a_new_customer_fires_and_an_import_and_a_removal_fire_nothing(lambda_client, tenant, automations):
    response = lambda_client.lambda_.invoke("customer_changes", event_for(tenant, 0, 1, 2))
    assert response.payload == {"batchItemFailures": []}
    [send] = take_queued(tenant)
    assert (send.customer_id, send.automation_type, send.automation_id, send.channel, send.source) == (
        "c-new", "email_add", automations["email_add"], "email", "action_automation")


def test_a_bad_record_is_reported_by_sequence_number_and_nothing_after_it_is_processed(lambda_client, tenant,
                                                                                     automations):
    response = lambda_client.lambda_.invoke("customer_changes", event_for(tenant, 0, 3, 4))
    assert response.payload == {"batchItemFailures": [{"itemIdentifier": "111100000000000000000004"}]}
    # The record before the bad one is queued; the one after it waits for the retry.
    [first] = take_queued(tenant)
    assert first.automation_type == "email_add"
    # Lambda's retry starts at the bad record; once past it (retries exhausted), the rest goes on, and the
    # first record, delivered again, queues the same send (which the dispatcher then finds done).
    response = lambda_client.lambda_.invoke("customer_changes", event_for(tenant, 0, 4))
    assert response.payload == {"batchItemFailures": []}
    again = take_queued(tenant)
    assert sorted(s.automation_type for s in again) == ["app_download", "email_add"]
    assert [s.ledger_key for s in again if s.automation_type == "email_add"] == [first.ledger_key]

"""Handlers and adapters under moto's mock_aws, with tables created from the PynamoDB models."""
from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from pathlib import Path

import pytest
from moto import mock_aws


def _lambda_timeouts() -> None:
    """Chalice's test client hands every function a context with 3 s to run; Lambda gives each its configured
    timeout (.chalice/config.json: 60 s for the dispatcher, which stops starting sends near the end)."""
    import chalice.test
    from chalice.local import LambdaContext

    configured = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json").read_text())
    timeouts = {name: f.get("lambda_timeout") for name, f in configured.get("lambda_functions", {}).items()}
    default = configured.get("lambda_timeout", 60)

    def context(function_name, memory_size, max_runtime_ms=None, time_source=None):
        seconds = timeouts.get(function_name) or default
        return LambdaContext(function_name, memory_size, max_runtime_ms=max_runtime_ms or seconds * 1000,
                             time_source=time_source)

    chalice.test.LambdaContext = context


_lambda_timeouts()


@pytest.fixture(scope="session", autouse=True)
def aws():
    from local.stack import (
        create_resources,
        one_request_at_a_time,
        transactions_back_up_items,
    )

    one_request_at_a_time()   # before moto maps its handlers
    transactions_back_up_items()
    with mock_aws():
        create_resources([SENDER_DOMAIN])
        yield


#: The sender domain verified in the emulator's SES for these tests.
SENDER_DOMAIN = "store.example"
#: The settings of the runner tests' store.
STORE = {"store_name": "Opal & Co", "timezone": "Australia/Sydney", "country": "AU",
         "sender_email": f"hello@{SENDER_DOMAIN}", "sms_sender_id": "OpalCo"}


class Api:
    """Calls the app through the same local API Gateway (with its authorizer) that `serve` uses."""

    def __init__(self, gateway, token: str | None):
        self.gateway, self.token = gateway, token

    def call(self, method: str, path: str, body=None, *, raw: bytes | None = None, headers: dict | None = None):
        from local.api import handle

        sent = {"content-type": "application/json", **(headers or {})}
        if self.token is not None:
            sent["authorization"] = f"Bearer {self.token}"
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        status, _, data = handle(self.gateway, method, path, sent, payload)
        return Response(status, json.loads(data) if data else None)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


class Response:
    def __init__(self, status: int, json_body):
        self.status, self.json = status, json_body

    @property
    def error_field(self):
        return (self.json or {}).get("error", {}).get("field")

    def __repr__(self):
        return f"<{self.status} {self.json}>"


@pytest.fixture(scope="session")
def gateway(aws):
    from chalice.config import Config

    from app import app
    from local.api import Gateway

    return Gateway(app, Config.create(chalice_stage="test", app_name=app.app_name))


@pytest.fixture
def client_for(gateway):
    """client_for(tenant, role) -> an Api with a local token for that tenant and role."""
    from chalicelib.rules.auth import issue_local_token

    def make(tenant: str, role: str = "owner") -> Api:
        return Api(gateway, issue_local_token(os.environ["LOCAL_JWT_SECRET"], tenant, role))
    return make


@pytest.fixture
def tenant() -> str:
    """A fresh tenant per test: isolation between tests comes from the same keys that isolate stores."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def owner(client_for, tenant) -> Api:
    return client_for(tenant, "owner")


@pytest.fixture
def shop(owner) -> Api:
    """The owner of a store in Sydney that can send (STORE)."""
    assert owner.patch("/settings", STORE).status == 200
    return owner


def history(owner: Api, customer_id: str) -> list[dict]:
    """A customer's communication records, newest first."""
    return owner.get(f"/customers/{customer_id}/communications").json["communications"]


def take(queue: str, tenant: str) -> list[dict]:
    """This tenant's messages on a queue, taken off it; other tests' messages are made visible again."""
    from chalicelib.adapters import clients

    sqs = clients.client("sqs")
    url = clients.queue_url(queue)
    mine, others = [], []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages"):
        for message in batch:
            (mine if tenant in message["Body"] else others).append(message)
    for message in mine:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    for message in others:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return mine


class ReadCounter:
    """Counts the items DynamoDB reads (ScannedCount, BatchGetItem items) per operation, from PynamoDB's
    own botocore clients."""

    def __init__(self):
        self.items, self.calls = Counter(), Counter()

    def __call__(self, http_response, parsed, model, **kwargs):
        self.calls[model.name] += 1
        if "ScannedCount" in parsed:
            self.items[model.name] += parsed["ScannedCount"]
        for rows in parsed.get("Responses", {}).values():
            self.items[model.name] += len(rows)

    def reset(self):
        self.items.clear()
        self.calls.clear()


@pytest.fixture
def counter():
    """The items DynamoDB reads while a test runs (`ReadCounter`), from every model's botocore client."""
    from chalicelib.adapters.models import ALL_MODELS

    counting = ReadCounter()
    clients = {id(m._get_connection().connection.client): m._get_connection().connection.client for m in ALL_MODELS}
    for client in clients.values():
        client.meta.events.register("after-call.dynamodb", counting)
    yield counting
    for client in clients.values():
        client.meta.events.unregister("after-call.dynamodb", counting)

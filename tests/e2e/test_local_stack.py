"""`serve` brings up the whole system on this machine; the API answers over HTTP as in the cloud."""
from __future__ import annotations

import json
import subprocess
import sys

from chalicelib.adapters.schema import all_table_definitions
from chalicelib.core import catalog, config
from tests import scenarios
from tests.e2e.conftest import ROOT, clean_env, cli


def test_serve_prints_the_api_address_the_endpoint_and_how_to_get_a_token(stack):
    assert stack.api in stack.output
    assert f"AWS_ENDPOINT_URL  {stack.endpoint}" in stack.output
    assert "local.cli token --tenant demo-store --role owner" in stack.output


def test_get_automations_lists_the_ten_in_spec_order_with_defaults(stack):
    response = stack.call("GET", "/automations", stack.token(tenant="brand-new-store"))
    assert response.status_code == 200
    automations = response.json()["automations"]
    assert [a["type"] for a in automations] == list(catalog.PER_EVENT)
    birthday = automations[0]
    assert birthday["enabled"] is False and birthday["channels"] == ["email"]
    assert birthday["settings"] == {"days_before": 0, "include_discount_code": False}
    assert birthday["effective_template_id"] == "system:birthday"


def test_no_token_or_a_bad_token_is_401(stack):
    assert stack.call("GET", "/automations").status_code == 401
    assert stack.call("GET", "/automations", "abc.def.ghi").json()["error"]["code"] == "unauthorized"


def test_the_demo_store_is_seeded(stack):
    token = stack.token()
    assert stack.call("GET", "/settings", token).json()["settings"]["store_name"] == "Maison Aurelia Jewellers"
    customer = stack.call("GET", "/customers/c0001", token)
    assert customer.status_code == 200 and customer.json()["customer_id"] == "c0001"
    assert "200 customers" in stack.output


def test_a_change_through_the_api_lands_in_the_emulator(stack, aws):
    token = stack.token(tenant="e2e-store")
    response = stack.call("PATCH", "/automations/birthday", token, json={"enabled": True, "settings": {"days_before": 7}})
    assert response.status_code == 200, response.text
    item = aws("dynamodb").get_item(TableName="automations-local-automations",
                                    Key={"tenant_id": {"S": "e2e-store"}, "type": {"S": "birthday"}})["Item"]
    assert item["enabled"] == {"BOOL": True} and item["settings"]["M"]["days_before"] == {"N": "7"}
    assert item["enabled_type"] == {"S": "birthday"}


def test_a_salesperson_cannot_toggle_but_can_record_a_sale(stack):
    token = stack.token(tenant="demo-store", role="salesperson")
    assert stack.call("PATCH", "/automations/christmas", token, json={"enabled": True}).status_code == 403
    sale = stack.call("PUT", "/sales/e2e-sale", token, json={"customer_id": "c0002",
                                                             "completed_at": "2026-11-20T03:00:00Z", "total": 420})
    assert sale.status_code == 200, sale.text


def test_every_table_index_stream_queue_and_identity_exists_from_the_definitions(stack, aws):
    dynamodb = aws("dynamodb")
    for definition in all_table_definitions():
        # This process names tables with the test prefix; the stack uses the default one.
        name = config.DEFAULT_TABLE_PREFIX + definition["TableName"][len(config.table_prefix()):]
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == definition["KeySchema"]
        assert sorted(i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])) == \
            sorted(i["IndexName"] for i in definition.get("GlobalSecondaryIndexes", []))
        assert ("StreamSpecification" in table) == ("StreamSpecification" in definition)
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName="automations-local-sends")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == 5 and redrive["deadLetterTargetArn"].endswith("sends-dlq")
    assert "maison-demo.example" in aws("ses").list_identities()["Identities"]


def test_the_token_command_refuses_an_unknown_role_clearly():
    result = cli("token", "--tenant", "demo-store", "--role", "admin")
    assert result.returncode == 2
    assert "role must be one of" in result.stderr


def test_each_of_the_ten_test_runs_counts_what_was_created_over_http(stack):
    token = stack.token(tenant="e2e-test-runs")

    def call(method, path, body):
        return stack.call(method, path, token, json=body).status_code

    scenarios.build_store(call)
    for type_, (at, count) in scenarios.EXPECTED.items():
        response = stack.call("POST", f"/automations/{type_}/test-run", token, json={"at": at})
        assert response.status_code == 200, response.text
        assert response.json()["count"] == count, (type_, response.json())


def test_the_stacks_keys_are_in_its_secrets_manager_and_a_rotation_keeps_old_links_working(stack, aws):
    """`python -m infra.rotate --local` as operations.md tells: links sealed before it still open, and a link
    sealed with the new key opens at once in the running API, which had read the secret before the rotation."""
    from cryptography.fernet import Fernet

    from chalicelib.sending.unsubscribe import _sealing_key

    secretsmanager = aws("secretsmanager")
    names = {s["Name"] for s in secretsmanager.list_secrets()["SecretList"]}
    assert {"automations-local-unsubscribe-keys", "automations-local-erasure-key"} <= names

    def sealed(key: str) -> str:   # as the dispatcher seals a link for the demo store's first customer
        return Fernet(_sealing_key(key.encode())).encrypt(b'["demo-store","c0001","email"]').decode().rstrip("=")

    def opens(token: str) -> bool:
        status = stack.call("GET", f"/unsubscribe/{token}").status_code
        assert status in (200, 404)
        return status == 200

    before = secretsmanager.get_secret_value(SecretId="automations-local-unsubscribe-keys")["SecretString"]
    old_link = sealed(before)
    assert opens(old_link)
    # This stack's own emulator: a `make run` stack started and stopped by another test rewrites the state file.
    result = subprocess.run([sys.executable, "-m", "infra.rotate", "--local"], cwd=ROOT, capture_output=True,
                            text=True, env=clean_env(AWS_ENDPOINT_URL=stack.endpoint), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "keep working until" in result.stdout
    ring = json.loads(secretsmanager.get_secret_value(SecretId="automations-local-unsubscribe-keys")["SecretString"])
    assert [k.get("retired_at") is None for k in ring["keys"]] == [True, False] and ring["keys"][1]["key"] == before
    assert opens(old_link)
    assert opens(sealed(ring["keys"][0]["key"]))
    assert not opens(sealed("a key this stack never had"))

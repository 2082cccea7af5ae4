"""Tables, keys, indexes and streams come from the models, and each matcher has its index."""
from __future__ import annotations

from chalicelib.adapters.models import ALL_MODELS
from chalicelib.adapters.schema import all_table_definitions


def _by_table() -> dict:
    return {d["TableName"].split("-", 1)[1]: d for d in all_table_definitions()}


def _index_keys(definition: dict) -> dict:
    return {i["IndexName"]: tuple(k["AttributeName"] for k in i["KeySchema"])
            for i in definition.get("GlobalSecondaryIndexes", [])}


def test_every_model_has_one_table_definition_with_its_hash_key_first():
    definitions = all_table_definitions()
    assert len(definitions) == len(ALL_MODELS) == len({d["TableName"] for d in definitions})
    for definition in definitions:
        assert definition["KeySchema"][0]["KeyType"] == "HASH"
        declared = {a["AttributeName"] for a in definition["AttributeDefinitions"]}
        used = {k["AttributeName"] for k in definition["KeySchema"]}
        for index in definition.get("GlobalSecondaryIndexes", []):
            used |= {k["AttributeName"] for k in index["KeySchema"]}
        assert declared == used, definition["TableName"]


def test_each_matcher_reads_through_its_own_index():
    tables = _by_table()
    assert _index_keys(tables["customers"]) == {
        "birthday_index": ("birthday_key", "customer_id"),
        "anniversary_index": ("anniversary_key", "customer_id"),
        "last_activity_index": ("tenant_id", "last_activity_at"),
        "email_index": ("email_key", "customer_id"),
        "vip_index": ("vip_key", "customer_id"),
        "created_index": ("tenant_id", "created_at"),
    }
    assert _index_keys(tables["sales"])["completed_index"] == ("tenant_id", "completed_at")
    assert _index_keys(tables["repairs"])["ready_index"] == ("tenant_id", "ready_since")
    assert _index_keys(tables["appointments"])["booked_index"] == ("tenant_id", "booked_starts_at")
    assert _index_keys(tables["automations"])["enabled_index"] == ("enabled_type", "tenant_id")


def test_only_the_customers_table_has_a_stream_with_both_images():
    streams = {name: d.get("StreamSpecification") for name, d in _by_table().items()}
    assert streams.pop("customers") == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert set(streams.values()) == {None}


def test_every_table_is_on_demand():
    assert {d["BillingMode"] for d in all_table_definitions()} == {"PAY_PER_REQUEST"}

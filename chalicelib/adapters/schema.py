"""Table definitions derived from the PynamoDB models, for the local stack and the cloud template."""
from __future__ import annotations

from pynamodb.models import Model

from chalicelib.adapters.models import ALL_MODELS

#: A definition's time to live (`UpdateTimeToLive`'s specification; the template's table property of that name).
TTL_SPEC = "TimeToLiveSpecification"


def _key_schema(keys: list[dict]) -> list[dict]:
    # DynamoDB requires the hash key first.
    ordered = sorted(keys, key=lambda k: k["KeyType"] != "HASH")
    return [{"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in ordered]


def table_definition(model: type[Model]) -> dict:
    """CreateTable arguments for one model: keys, attributes, indexes, billing and stream."""
    schema = model._get_schema()
    attributes = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
    definition: dict = {
        "TableName": model.Meta.table_name,
        "KeySchema": _key_schema(schema["key_schema"]),
        "BillingMode": "PAY_PER_REQUEST",
    }
    indexes = []
    for index in schema["global_secondary_indexes"]:
        for attribute in index["attribute_definitions"]:
            attributes[attribute["AttributeName"]] = attribute["AttributeType"]
        # On-demand tables take no throughput on their indexes.
        indexes.append({
            "IndexName": index["index_name"],
            "KeySchema": _key_schema(index["key_schema"]),
            "Projection": dict(index["projection"]),
        })
    definition["AttributeDefinitions"] = [
        {"AttributeName": name, "AttributeType": type_} for name, type_ in sorted(attributes.items())
    ]
    if indexes:
        definition["GlobalSecondaryIndexes"] = sorted(indexes, key=lambda i: i["IndexName"])
    ttl = getattr(model.Meta, "ttl_attribute", None)
    if ttl:
        # Not a CreateTable argument: the local stack turns it on after creating the table, the template with it.
        definition[TTL_SPEC] = {"AttributeName": ttl, "Enabled": True}
    stream = getattr(model.Meta, "stream_view_type", None)
    if stream:
        definition["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
    return definition


def all_table_definitions() -> list[dict]:
    return [table_definition(model) for model in ALL_MODELS]


def create_tables(dynamodb_client) -> list[str]:
    """Create every table that does not exist yet; returns the names created."""
    existing = set(dynamodb_client.list_tables().get("TableNames", []))
    created, ttl = [], {}
    for definition in all_table_definitions():
        if TTL_SPEC in definition:
            ttl[definition["TableName"]] = definition.pop(TTL_SPEC)
        if definition["TableName"] in existing:
            continue
        dynamodb_client.create_table(**definition)
        created.append(definition["TableName"])
    waiter = dynamodb_client.get_waiter("table_exists")
    for name in created:
        waiter.wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    for name, spec in ttl.items():
        # Also on a table created before it had a time to live (turning it on again is refused: read first).
        current = dynamodb_client.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            dynamodb_client.update_time_to_live(TableName=name, TimeToLiveSpecification=spec)
    return created

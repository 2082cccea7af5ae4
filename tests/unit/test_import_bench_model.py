"""The customer import's scale model (bench/imports.py): write units as DynamoDB bills them, and a
1,000,000-row import bound by whichever is slower, the chain of chunk jobs or the store's partition keys."""
from __future__ import annotations

from bench import imports


def _put(table: str, item: dict) -> dict:
    return {"TableName": f"p-{table}", "Item": item}


def test_a_transaction_costs_twice_the_units_of_its_items_and_a_customer_put_writes_its_indexes():
    customer = {"tenant_id": {"S": "t"}, "customer_id": {"S": "c"}, "last_activity_at": {"S": "x"},
                "created_at": {"S": "x"}, "email_key": {"S": "t#a@b"}}
    units = imports.write_units("TransactWriteItems", {"TransactItems": [
        {"Put": _put("customers", customer)}, {"Put": _put("search", {"tenant_id": {"S": "t"}})},
        {"Update": {"TableName": "p-search", "Key": {"tenant_id": {"S": "t"}}}}]})
    assert units["customers"] == 2 and units["search"] == 4
    assert (units["customers/last_activity_index"], units["customers/created_index"], units["customers/email_index"]) \
        == (1, 1, 1)
    assert "customers/birthday_index" not in units
    assert imports.write_units("PutItem", _put("customers", {"tenant_id": {"S": "t"}}))["customers"] == 1
    assert imports.write_units("BatchGetItem", {"RequestItems": {}}) == {}


def _measured(**overrides) -> dict:
    base = {"rows": 1000, "chunk_rows": 500, "writers": 8, "file_bytes": 70_000,
            "calls": {"dynamodb:BatchGetItem": 20, "dynamodb:TransactWriteItems": 1000},
            "write_units": {"customer_search": 24_000, "customers": 2000},
            "file_cpu_seconds_per_mb": 0.05, "row_cpu_seconds": 0.002, "rss_peak_mb": 110, "file_memory_ratio": 7}
    return {**base, **overrides}


def test_a_million_rows_are_held_to_the_hottest_partition_keys_write_limit_when_it_is_slower_than_the_chain():
    m = imports.model(_measured(), 1_000_000)
    assert m["invocations"] == 2000 and m["concurrency"] == 1
    assert m["hottest_key"] == "customer_search" and m["hottest_wcu_per_row"] == 24
    assert m["partition_floor_seconds"] == 24_000   # 1,000,000 rows x 24 units / 1,000 units a second
    assert m["total_seconds"] == max(m["chain_seconds"], m["partition_floor_seconds"])
    assert m["bound_by"] == "the partition key's write limit"
    assert m["dynamodb_calls_per_row"] == 1.02 and m["file_mb"] == 70.0 and not m["file_fits"]


def test_a_chain_slower_than_the_partitions_bounds_the_import_and_memory_grows_with_the_file():
    slow = imports.model(_measured(row_cpu_seconds=0.2, write_units={"customers": 1000}), 1_000_000)
    assert slow["bound_by"] == "the chain of chunk jobs" and slow["total_seconds"] == slow["chain_seconds"]
    small = imports.model(_measured(), 100_000)
    assert small["peak_memory_mb_per_invocation"] < imports.model(_measured(), 1_000_000)["peak_memory_mb_per_invocation"]

"""CloudFormation resources generated from the PynamoDB models, merged into `chalice package`'s template.

Usage: python -m infra.template --stage dev > build/resources.json

The stage's environment (TABLE_PREFIX and friends) is read from .chalice/config.json before
the models are imported, so the tables carry the names the deployed functions will use.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stage_environment(stage: str) -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    if stage not in config.get("stages", {}):
        raise SystemExit(f"error: no stage {stage!r} in .chalice/config.json")
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}


def logical_id(table_name: str, prefix: str) -> str:
    return "".join(part.capitalize() for part in table_name[len(prefix):].split("_")) + "Table"


def table_resources() -> dict:
    """One AWS::DynamoDB::Table per model, from the same definitions the local stack creates."""
    from chalicelib import config
    from chalicelib.schema import all_table_definitions

    resources = {}
    for definition in all_table_definitions():
        properties = {key: definition[key] for key in
                      ("TableName", "KeySchema", "AttributeDefinitions", "BillingMode", "GlobalSecondaryIndexes")
                      if key in definition}
        if "StreamSpecification" in definition:
            properties["StreamSpecification"] = {"StreamViewType": definition["StreamSpecification"]["StreamViewType"]}
        properties["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
        resources[logical_id(definition["TableName"], config.table_prefix())] = {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": properties,
        }
    return resources


def partial_batch_responses() -> dict:
    """Amend Chalice's SQS event sources: Chalice does not turn on `ReportBatchItemFailures`, without
    which Lambda ignores the failed message ids the handlers return and deletes the whole batch."""
    from chalice.utils import to_cfn_resource_name

    from chalicelib.resources import DISPATCH_FUNCTION, EVALUATE_FUNCTION

    resources = {}
    for name in (DISPATCH_FUNCTION, EVALUATE_FUNCTION):
        function = to_cfn_resource_name(name)
        resources[function] = {"Properties": {"Events": {f"{function}SqsEventSource": {
            "Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}}}}}
    return resources


def customer_changes_event_source() -> dict:
    """Amend Chalice's event source on the customers stream: the table's own stream (Chalice takes a
    literal ARN), partial batch responses, bisection of a failing batch, bounded retries, and an SQS
    queue that receives the shard and sequence numbers of a record that exhausted them."""
    from chalice.utils import to_cfn_resource_name

    from chalicelib import config
    from chalicelib.resources import (
        CUSTOMER_CHANGES_FUNCTION, RETENTION_SECONDS, STREAM_MAX_RECORD_AGE_SECONDS, STREAM_MAX_RETRIES,
        stream_failure_queue_name,
    )

    function = to_cfn_resource_name(CUSTOMER_CHANGES_FUNCTION)
    queue = "CustomerChangesFailedQueue"
    queue_arn = {"Fn::GetAtt": [queue, "Arn"]}
    return {
        queue: {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": stream_failure_queue_name(), "MessageRetentionPeriod": RETENTION_SECONDS}},
        function: {"Properties": {"Events": {f"{function}DynamodbEventSource": {"Properties": {
            "Stream": {"Fn::GetAtt": [logical_id(f"{config.table_prefix()}customers", config.table_prefix()),
                                      "StreamArn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": STREAM_MAX_RETRIES,
            "MaximumRecordAgeInSeconds": STREAM_MAX_RECORD_AGE_SECONDS,
            "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": queue_arn}},
        }}}}},
        # The function runs with Chalice's role, to which SAM adds no destination permission itself.
        f"{function}FailureDestinationPolicy": {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": f"{function}FailureDestination",
            "Roles": [{"Ref": "DefaultRole"}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}]},
        }},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args(argv)
    os.environ.update(stage_environment(args.stage))
    resources = {**table_resources(), **partial_batch_responses(), **customer_changes_event_source()}
    json.dump({"Resources": resources}, sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

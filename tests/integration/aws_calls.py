"""What a piece of code asks of AWS: every call made through botocore (boto3's clients and PynamoDB's
alike), turned into the IAM actions and resource ARNs that AWS would authorise it against."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes
from email.utils import parseaddr
from typing import Iterator
from urllib.parse import urlparse

from botocore.client import BaseClient

REGION, ACCOUNT = "us-east-1", "123456789012"

#: botocore's service names -> IAM's action prefixes.
IAM_PREFIX = {"dynamodb": "dynamodb", "dynamodbstreams": "dynamodb", "sqs": "sqs", "ses": "ses", "sesv2": "ses", "sns": "sns",
              "s3": "s3", "secretsmanager": "secretsmanager"}
_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


@dataclass(frozen=True)
class Permission:
    action: str      # "dynamodb:Query"
    resource: str    # an ARN, or "*" where the action takes no resource


def _table(name: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    return f"{arn}/index/{index}" if index else arn


def _dynamodb(operation: str, params: dict) -> list[Permission]:
    if operation == "TransactWriteItems":
        return [Permission(f"dynamodb:{_TRANSACT[kind]}", _table(body["TableName"]))
                for item in params["TransactItems"] for kind, body in item.items()]
    if operation == "TransactGetItems":
        return [Permission("dynamodb:GetItem", _table(item["Get"]["TableName"])) for item in params["TransactItems"]]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [Permission(f"dynamodb:{operation}", _table(name)) for name in params["RequestItems"]]
    return [Permission(f"dynamodb:{operation}", _table(params["TableName"], params.get("IndexName")))]


def secret_arn(name_or_arn: str) -> str:
    """A secret's ARN: Secrets Manager ends it with six random characters after its name."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name_or_arn}-AbC123"


def _queue(url: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{urlparse(url).path.rsplit('/', 1)[-1]}"


def permissions(service: str, operation: str, params: dict) -> list[Permission]:
    """The IAM actions and resources one call needs (for the calls this project makes)."""
    prefix = IAM_PREFIX[service]
    if service == "dynamodb":
        return _dynamodb(operation, params)
    if service == "s3":
        # Object calls are authorised against the object's ARN (a ranged GetObject is a GetObject).
        return [Permission(f"s3:{operation}", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")]
    if service == "secretsmanager":
        return [Permission(f"secretsmanager:{operation}", secret_arn(params["SecretId"]))]
    if service == "dynamodbstreams":
        return [Permission(f"dynamodb:{operation}", params.get("StreamArn", "*"))]
    if service == "sqs":
        queue = (f"arn:aws:sqs:{REGION}:{ACCOUNT}:{params['QueueName']}" if operation == "GetQueueUrl"
                 else _queue(params["QueueUrl"]))
        return [Permission(f"sqs:{operation.removesuffix('Batch')}", queue)]   # a batch is authorised per message
    if service in ("ses", "sesv2") and operation in ("GetIdentityVerificationAttributes", "GetAccount"):
        return [Permission(f"ses:{operation}", "*")]   # no resource-level permissions
    if service == "ses":
        # SES authorises a send against the sender's identity (its domain here) and the configuration set.
        sender = params.get("Source") or message_from_bytes(params["RawMessage"]["Data"])["From"]
        domain = parseaddr(str(sender))[1].rpartition("@")[2]
        needed = [Permission(f"ses:{operation}", f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{domain}")]
        if params.get("ConfigurationSetName"):
            needed.append(Permission(f"ses:{operation}", f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/"
                                                         f"{params['ConfigurationSetName']}"))
        return needed
    if service == "sns" and (operation != "Publish" or "PhoneNumber" in params):
        return [Permission(f"sns:{operation}", "*")]   # SMS to a number and opt-out checks take no resource
    return [Permission(f"{prefix}:{operation}", params.get("TopicArn", "*"))]


@contextmanager
def recorded() -> Iterator[list[Permission]]:
    """Every permission the calls made inside the block needed, in order."""
    needed: list[Permission] = []
    original = BaseClient._make_api_call

    def record(client, operation, params):
        needed.extend(permissions(client.meta.service_model.service_name, operation, params))
        return original(client, operation, params)

    BaseClient._make_api_call = record
    try:
        yield needed
    finally:
        BaseClient._make_api_call = original


@dataclass(frozen=True)
class Call:
    service: str     # botocore's name: "dynamodb"
    operation: str   # "BatchGetItem"
    tables: tuple[str, ...]
    index: str | None = None


@contextmanager
def calls() -> Iterator[list[Call]]:
    """Every call made through botocore inside the block, in order, with the tables (and index) it names: what
    a piece of code costs in requests, which is what DynamoDB bills and throttles by."""
    made: list[Call] = []
    original = BaseClient._make_api_call

    def record(client, operation, params):
        if "RequestItems" in params:
            tables = tuple(sorted(params["RequestItems"]))
        elif "TransactItems" in params:
            tables = tuple(sorted({body["TableName"] for item in params["TransactItems"] for body in item.values()}))
        else:
            tables = (params["TableName"],) if "TableName" in params else ()
        made.append(Call(client.meta.service_model.service_name, operation, tables, params.get("IndexName")))
        return original(client, operation, params)

    BaseClient._make_api_call = record
    try:
        yield made
    finally:
        BaseClient._make_api_call = original

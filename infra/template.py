"""The deployable template: Chalice's SAM template for the functions and the API, completed with
everything else the runner needs in a real account.

Usage: python -m infra.template --stage dev build/chalice/sam.json > build/package/template.json

Added to what `chalice package` writes: every table (from the PynamoDB models), the queues and their
dead-letter queues, the SES configuration set and its feedback topic, the Cognito user pool (or an
existing one) and its app client, the unsubscribe keys' and the erasure key's secrets, one role, one log
group and a reserved concurrency per function (granting only `infra/permissions.py`), event sources that
report partial batch failures, alarms, the KMS key of the SNS topics, the API stage's throttling and access
log, and API Gateway errors in the API's own shape. Chalice's shared `DefaultRole` is removed. Findings of
checkov that the design accepts are suppressed on their resources, each with its reason (`CHECKOV_ACCEPTED`).

The stage's environment (TABLE_PREFIX and friends) is read from .chalice/config.json before the
models are imported, so resources carry the names the deployed functions will use.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from pathlib import Path

from infra.permissions import Grants, grants_for

ROOT = Path(__file__).resolve().parent.parent

#: Logical ids of what this module adds (the functions keep Chalice's).
SEND_QUEUE, SEND_DLQ = "SendQueue", "SendDeadLetterQueue"
EVALUATION_QUEUE, EVALUATION_DLQ = "EvaluationQueue", "EvaluationDeadLetterQueue"
FAILED_CHANGES_QUEUE = "CustomerChangesFailedQueue"
FAILED_FEEDBACK_QUEUE = "SesFeedbackFailedQueue"
FEEDBACK_TOPIC, CONFIGURATION_SET, ALARM_TOPIC = "FeedbackTopic", "SesConfigurationSet", "AlarmTopic"
USER_POOL, USER_POOL_CLIENT, UNSUBSCRIBE_SECRET = "UserPool", "UserPoolClient", "UnsubscribeSecret"
ERASURE_SECRET, TOPIC_KEY = "ErasureSecret", "TopicKey"
#: The deployment's secrets by the name `infra.permissions.Grants.secrets` gives them, and the variable that
#: tells a function where each is (`chalicelib.core.config`).
SECRETS = {"unsubscribe": (UNSUBSCRIBE_SECRET, "UNSUBSCRIBE_SECRET_ID"), "erasure": (ERASURE_SECRET, "ERASURE_SECRET_ID")}
API_ACCESS_LOGS, API_LOGS_ROLE, API_ACCOUNT = "ApiAccessLogs", "ApiGatewayLogsRole", "ApiGatewayAccount"
IMPORTS_BUCKET, IMPORTS_BUCKET_POLICY = "ImportsBucket", "ImportsBucketPolicy"
#: The runner's queues (by their role in `chalicelib.adapters.resources.work_queues`) and dead-letter queues.
ENGAGEMENT_QUEUE, ENGAGEMENT_DLQ = "EngagementQueue", "EngagementDeadLetterQueue"
QUEUE_IDS = {"sends": SEND_QUEUE, "evaluations": EVALUATION_QUEUE, "engagement": ENGAGEMENT_QUEUE}
DEAD_LETTER_IDS = {"sends": SEND_DLQ, "evaluations": EVALUATION_DLQ, "engagement": ENGAGEMENT_DLQ}
#: The feedback function's share of them (an SNS filter on the message body): it suppresses addresses.
FEEDBACK_FILTER = {"eventType": ["Bounce", "Complaint"]}

#: A stream record waiting longer than this (its function is failing or too slow) raises an alarm.
ITERATOR_AGE_ALARM_MS = 15 * 60 * 1000
LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653]

PARAMETERS = {
    "UserPoolId": {
        "Type": "String", "Default": "", "AllowedPattern": "^([\\w-]+_[0-9a-zA-Z]+)?$",
        "Description": "An existing Cognito user pool whose users sign in (it must have the custom attributes "
                       "tenant_id and role). Empty: the stack creates one."},
    "SenderIdentity": {
        "Type": "String", "Default": "*", "AllowedPattern": "^[^\\s/]+$",
        "Description": "The SES identity (a verified domain) the stores' sender addresses belong to; the "
                       "dispatcher may send only from it. '*' allows any identity verified in this account."},
    "PublicApiUrl": {
        "Type": "String", "Default": "", "AllowedPattern": "^(https://\\S+[^/])?$",
        "Description": "Where customers reach the API (unsubscribe links), e.g. a custom domain, without a "
                       "trailing slash. Empty: the API Gateway URL."},
    "DispatchConcurrency": {
        "Type": "Number", "Default": 2, "MinValue": 2, "MaxValue": 1000,
        "Description": "At most this many dispatchers run at once. Each sends about 5 to 8 messages a second; "
                       "keep it near the SES maximum send rate divided by 7 (2 for the default rate of 14)."},
    "AlarmEmail": {
        "Type": "String", "Default": "",
        "Description": "Who is mailed when an alarm fires (confirm the subscription). Empty: alarms only."},
    "LogRetentionDays": {
        "Type": "Number", "Default": 30, "AllowedValues": LOG_RETENTION_DAYS,
        "Description": "How long the functions' logs and the API's access log are kept."},
    "ApiRateLimit": {
        "Type": "Number", "Default": 50, "MinValue": 1, "MaxValue": 10000,
        "Description": "Requests a second the API accepts, all callers together, before answering 429 (a store's "
                       "staff, its integrations and unsubscribe clicks make a few a second at their busiest)."},
    "ApiBurstLimit": {
        "Type": "Number", "Default": 100, "MinValue": 1, "MaxValue": 5000,
        "Description": "Requests the API accepts at once above its rate (an integration's batch, a page load)."},
    "ReserveConcurrency": {
        "Type": "String", "Default": "true", "AllowedValues": ["true", "false"],
        "Description": "Give each function its own concurrency (the sizes below). 'false' in an account whose "
                       "concurrency quota is still a new account's 10, which cannot reserve any."},
    "ApiConcurrency": {
        "Type": "Number", "Default": 50, "MinValue": 1, "MaxValue": 1000,
        "Description": "The most API requests handled at once, and token checks: the rate times a request's "
                       "duration (50 a second of 0.2 s is 10), with room for a burst and the slow routes "
                       "(a segment's count reads up to 12 s)."},
    "WorkerConcurrency": {
        "Type": "Number", "Default": 10, "MinValue": 2, "MaxValue": 1000,
        "Description": "The most evaluations (stores' pages, campaign pages, import chunks), customer-change "
                       "batches and SES event batches running at once (each its own; 2 at least, the SQS event "
                       "source's own minimum)."},
}

#: Reserved concurrency of the functions started by a schedule (one run per period) and of SES feedback
#: (invoked asynchronously: a throttled event waits in Lambda's queue and is retried).
SCHEDULED_CONCURRENCY = 2

CONDITIONS = {
    "CreateUserPool": {"Fn::Equals": [{"Ref": "UserPoolId"}, ""]},
    "AlarmByEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]},
    "PublicApiUrlGiven": {"Fn::Not": [{"Fn::Equals": [{"Ref": "PublicApiUrl"}, ""]}]},
    "ReserveConcurrency": {"Fn::Equals": [{"Ref": "ReserveConcurrency"}, "true"]},
}


def stage_environment(stage: str) -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    if stage not in config.get("stages", {}):
        raise SystemExit(f"error: no stage {stage!r} in .chalice/config.json")
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}


def logical_id(table_name: str, prefix: str) -> str:
    return "".join(part.capitalize() for part in table_name[len(prefix):].split("_")) + "Table"


def arn(resource: str) -> dict:
    return {"Fn::GetAtt": [resource, "Arn"]}


def sub(text: str, **variables) -> dict:
    return {"Fn::Sub": [text, variables]} if variables else {"Fn::Sub": text}


def table_resources() -> dict:
    """One AWS::DynamoDB::Table per model, from the same definitions the local stack creates."""
    from chalicelib.adapters.schema import all_table_definitions
    from chalicelib.core import config

    resources = {}
    for definition in all_table_definitions():
        properties = {key: definition[key] for key in
                      ("TableName", "KeySchema", "AttributeDefinitions", "BillingMode", "GlobalSecondaryIndexes",
                       "TimeToLiveSpecification")
                      if key in definition}
        if "StreamSpecification" in definition:
            properties["StreamSpecification"] = {"StreamViewType": definition["StreamSpecification"]["StreamViewType"]}
        properties["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
        properties["SSESpecification"] = {"SSEEnabled": True}
        resources[logical_id(definition["TableName"], config.table_prefix())] = {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": properties,
        }
    return resources


def table_id(name: str) -> str:
    from chalicelib.core import config

    return logical_id(f"{config.table_prefix()}{name}", config.table_prefix())


def queue_resources() -> dict:
    """The send and evaluation queues with their dead-letter queues (as the local stack makes them), and
    the queue that receives the position of a customers stream record that exhausted its retries."""
    from chalicelib.adapters import resources as r

    def queue(name: str, visibility: int | None = None, dlq: str | None = None) -> dict:
        properties: dict = {"QueueName": name, "MessageRetentionPeriod": r.RETENTION_SECONDS,
                            "SqsManagedSseEnabled": True}
        if visibility is not None:
            properties["VisibilityTimeout"] = visibility
        if dlq:
            properties["RedrivePolicy"] = {"deadLetterTargetArn": arn(dlq), "maxReceiveCount": r.MAX_RECEIVES}
        return {"Type": "AWS::SQS::Queue", "Properties": properties}

    queues = {}
    for role, (name, visibility) in r.work_queues().items():
        dlq = DEAD_LETTER_IDS[role]
        queues[dlq] = queue(r.dead_letter_queue_name(name))
        queues[QUEUE_IDS[role]] = queue(name, visibility, dlq)
    queues[FAILED_CHANGES_QUEUE] = queue(r.stream_failure_queue_name())
    queues[FAILED_FEEDBACK_QUEUE] = queue(r.feedback_failure_queue_name())
    return queues


def feedback_resources() -> dict:
    """SES publishes the events of mail sent through the configuration set (with open and click tracking) to a
    topic: its bounces and complaints invoke the feedback function (it suppresses the address for the tenant in
    the mail's tags), and every event goes to the engagement queue (the message's record and counters)."""
    from chalicelib.adapters import resources as r
    from chalicelib.core import config

    return {
        FEEDBACK_TOPIC: {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": r.feedback_topic_name(),
                                                                   "KmsMasterKeyId": {"Ref": TOPIC_KEY}}},
        "FeedbackTopicPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {
            "Topics": [{"Ref": FEEDBACK_TOPIC}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "SesPublishesFeedback", "Effect": "Allow", "Principal": {"Service": "ses.amazonaws.com"},
                "Action": "sns:Publish", "Resource": {"Ref": FEEDBACK_TOPIC},
                "Condition": {"StringEquals": {"AWS:SourceAccount": {"Ref": "AWS::AccountId"}}}}]}}},
        CONFIGURATION_SET: {"Type": "AWS::SES::ConfigurationSet", "Properties": {
            "Name": f"{config.table_prefix()}sends"}},
        "SesFeedbackDestination": {"Type": "AWS::SES::ConfigurationSetEventDestination", "Properties": {
            "ConfigurationSetName": {"Ref": CONFIGURATION_SET},
            "EventDestination": {"Name": "ses-events", "Enabled": True,
                                 "MatchingEventTypes": list(r.SES_EVENT_TYPES),
                                 "SnsDestination": {"TopicARN": {"Ref": FEEDBACK_TOPIC}}}}},
        # Every event, raw (the SES document itself is the message body), to the engagement queue.
        "EngagementSubscription": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": {"Ref": FEEDBACK_TOPIC}, "Protocol": "sqs", "RawMessageDelivery": True,
            "Endpoint": arn(ENGAGEMENT_QUEUE)}},
        "EngagementQueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [{"Ref": ENGAGEMENT_QUEUE}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "TopicDeliversSesEvents", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": arn(ENGAGEMENT_QUEUE),
                "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": FEEDBACK_TOPIC}}}}]}}},
    }


def topic_key_resources() -> dict:
    """The key the stack's SNS topics are encrypted with. A customer managed key, because AWS's own SNS key
    (alias/aws/sns) cannot be given to the services that publish: SES (bounces and complaints) and CloudWatch
    (alarms) encrypt what they publish with the topic's key, so the key's policy must allow them. The account
    keeps administering it, as every key's default policy says; the functions need no grant on it (SNS
    decrypts before it invokes them)."""
    def service(sid: str, principal: str) -> dict:
        return {"Sid": sid, "Effect": "Allow", "Principal": {"Service": principal},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*"}

    return {
        TOPIC_KEY: {"Type": "AWS::KMS::Key", "Properties": {
            "Description": sub("${AWS::StackName}: encrypts the SES feedback and alarm topics"),
            "EnableKeyRotation": True,
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [
                {"Sid": "AccountAdministers", "Effect": "Allow",
                 "Principal": {"AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
                 "Action": "kms:*", "Resource": "*"},
                service("SesPublishesFeedback", "ses.amazonaws.com"),
                service("CloudWatchPublishesAlarms", "cloudwatch.amazonaws.com")]}}},
        "TopicKeyAlias": {"Type": "AWS::KMS::Alias", "Properties": {
            "AliasName": sub("alias/${AWS::StackName}-topics"), "TargetKeyId": {"Ref": TOPIC_KEY}}},
    }


def sign_in_resources() -> dict:
    """The user pool (unless an existing one is named), the app client the admin signs in with, and the
    deployment's two secrets (`chalicelib/adapters/secrets.py`): the unsubscribe links' keys and the erasure key,
    both generated by Secrets Manager in the account. Users are created by an administrator, never by themselves,
    and nobody can write their own tenant or role: those claims are what isolates the stores."""
    return {
        USER_POOL: {"Type": "AWS::Cognito::UserPool", "Condition": "CreateUserPool",
                    "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": {
                        "UserPoolName": sub("${AWS::StackName}-users"),
                        "UsernameAttributes": ["email"],
                        "AutoVerifiedAttributes": ["email"],
                        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
                        "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireLowercase": True,
                                                        "RequireUppercase": True, "RequireNumbers": True,
                                                        "RequireSymbols": False}},
                        "MfaConfiguration": "OPTIONAL",
                        "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
                        "AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
                        "Schema": [
                            {"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True,
                             "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"}},
                            {"Name": "role", "AttributeDataType": "String", "Mutable": True,
                             "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "32"}},
                        ]}},
        USER_POOL_CLIENT: {"Type": "AWS::Cognito::UserPoolClient", "Properties": {
            "UserPoolId": user_pool_id(),
            "ClientName": sub("${AWS::StackName}-admin"),
            "GenerateSecret": False,
            # The admin page signs in with USER_PASSWORD_AUTH: the password goes over TLS to Cognito only,
            # and the page needs no SRP library. SRP stays allowed for other clients.
            "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            "PreventUserExistenceErrors": "ENABLED",
            "IdTokenValidity": 60, "AccessTokenValidity": 60, "RefreshTokenValidity": 30,
            "TokenValidityUnits": {"IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "days"},
            "ReadAttributes": ["email", "email_verified", "custom:tenant_id", "custom:role"],
            "WriteAttributes": ["email"],
        }},
        UNSUBSCRIBE_SECRET: {"Type": "AWS::SecretsManager::Secret", "Properties": {
            "Description": "Seals the one-click unsubscribe links in marketing mail (rotate with python -m infra.rotate).",
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True}}},
        # Kept with the tables (Retain): the hashes of erased addresses they hold mean nothing without it.
        ERASURE_SECRET: {"Type": "AWS::SecretsManager::Secret", "DeletionPolicy": "Retain",
                         "UpdateReplacePolicy": "Retain", "Properties": {
                             "Description": "Keys the hashes kept of erased customers' addresses. Never rotated.",
                             "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True}}},
    }


def user_pool_id() -> dict:
    return {"Fn::If": ["CreateUserPool", {"Ref": USER_POOL}, {"Ref": "UserPoolId"}]}


def imports_bucket_resources() -> dict:
    """The bucket customer import files are uploaded to: encrypted, closed to the public, reachable only over
    TLS, its files expired after `IMPORT_FILE_DAYS` (the local stack applies the same settings). The browser
    PUTs to a pre-signed address from the admin page's origin, hence CORS for PUT."""
    from chalicelib.adapters.resources import imports_bucket_settings

    settings = imports_bucket_settings()
    rules = [{"Id": rule["ID"], "Status": rule["Status"], "Prefix": rule["Filter"]["Prefix"],
              "ExpirationInDays": rule["Expiration"]["Days"],
              "AbortIncompleteMultipartUpload": rule["AbortIncompleteMultipartUpload"]}
             for rule in settings["lifecycle"]["Rules"]]
    return {
        IMPORTS_BUCKET: {"Type": "AWS::S3::Bucket", "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": rule["ApplyServerSideEncryptionByDefault"]}
                for rule in settings["encryption"]["Rules"]]},
            "PublicAccessBlockConfiguration": settings["public_access_block"],
            "LifecycleConfiguration": {"Rules": rules},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "CorsConfiguration": {"CorsRules": [{"AllowedMethods": ["PUT"], "AllowedOrigins": ["*"],
                                                 "AllowedHeaders": ["content-type"], "MaxAge": 3600}]}}},
        IMPORTS_BUCKET_POLICY: {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": IMPORTS_BUCKET},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [arn(IMPORTS_BUCKET), sub(f"${{{IMPORTS_BUCKET}.Arn}}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}},
    }


def function_names(chalice: dict) -> dict[str, str]:
    """Chalice's function name (`dispatch`, `api_handler`) -> the function's logical id."""
    names = {}
    for logical, resource in chalice["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            handler = resource["Properties"]["Handler"].rsplit(".", 1)[1]
            names["api_handler" if handler == "app" else handler] = logical
    return names


def policy(grants: Grants, function: str) -> list[dict]:
    """The statements of one function's role: its log group, then exactly its grants."""
    statements = [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                   "Resource": arn(f"{function}Logs")}]
    for access in grants.tables:
        resources = []
        for table in access.tables:
            resources.append(arn(table_id(table)))
            if access.indexes:
                resources.append(sub(f"${{{table_id(table)}.Arn}}/index/*"))
        statements.append({"Effect": "Allow", "Action": [f"dynamodb:{a}" for a in access.actions],
                           "Resource": resources})
    if grants.sends_to:
        statements.append({"Effect": "Allow", "Action": ["sqs:GetQueueUrl", "sqs:SendMessage"],
                           "Resource": [arn(QUEUE_IDS[q]) for q in grants.sends_to]})
    if grants.email:
        statements.append({"Effect": "Allow", "Action": ["ses:SendRawEmail"], "Resource": [
            sub("arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SenderIdentity}"),
            sub(f"arn:${{AWS::Partition}}:ses:${{AWS::Region}}:${{AWS::AccountId}}:configuration-set/"
                f"${{{CONFIGURATION_SET}}}")]})
    if grants.ses_reads:
        # These SES questions take no resource-level permissions.
        statements.append({"Effect": "Allow", "Action": [f"ses:{a}" for a in grants.ses_reads], "Resource": "*"})
    if grants.sms:
        # SMS to a phone number, and the opt-out check, have no resource to name: "*" is the only way to allow
        # them. Every publish that does name a resource (a topic, a mobile application's endpoint, in any
        # account or region) is denied, so the grant is SMS to phone numbers and nothing else.
        statements.append({"Effect": "Allow", "Action": ["sns:Publish", "sns:CheckIfPhoneNumberIsOptedOut"],
                           "Resource": "*"})
        statements.append({"Sid": "SmsToPhoneNumbersOnly", "Effect": "Deny", "Action": ["sns:Publish"],
                           "Resource": sub("arn:${AWS::Partition}:sns:*:*:*")})
    if grants.consumes:
        statements.append({"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage",
                                                         "sqs:GetQueueAttributes"],
                           "Resource": arn(QUEUE_IDS[grants.consumes])})
    if grants.import_files:
        statements.append({"Effect": "Allow", "Action": list(grants.import_files),
                           "Resource": sub(f"${{{IMPORTS_BUCKET}.Arn}}/imports/*")})
    if grants.dead_letter_queue:
        statements.append({"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": arn(FAILED_FEEDBACK_QUEUE)})
    if grants.secrets:
        statements.append({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                           "Resource": [{"Ref": SECRETS[name][0]} for name in grants.secrets]})
    if grants.reads_customers_stream:
        statements.append({"Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                                                         "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
                           "Resource": sub(f"${{{table_id('customers')}.Arn}}/stream/*")})
        statements.append({"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": arn(FAILED_CHANGES_QUEUE)})
    return statements


def function_resources(names: dict[str, str]) -> dict:
    """A role and a log group per function, and what each function's definition gains."""
    resources = {}
    api_url = {"Fn::If": ["PublicApiUrlGiven", {"Ref": "PublicApiUrl"},
                          sub("https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api")]}
    # The authorizer verifies ID tokens of the pool's admin client; the API tells the admin page where to
    # sign in (the pool's endpoint and the client id, both public).
    cognito = {"COGNITO_ISSUER": sub("https://cognito-idp.${AWS::Region}.amazonaws.com/${Pool}", Pool=user_pool_id()),
               "COGNITO_AUDIENCE": {"Ref": USER_POOL_CLIENT}}
    bucket = {"IMPORTS_BUCKET": {"Ref": IMPORTS_BUCKET}}
    extra_environment = {
        "api_handler": {"PUBLIC_API_URL": api_url, "SES_CONFIGURATION_SET": {"Ref": CONFIGURATION_SET},
                        **cognito, **bucket},
        "evaluate": bucket,
        "jwt_auth": cognito,
        "dispatch": {"PUBLIC_API_URL": api_url, "SES_CONFIGURATION_SET": {"Ref": CONFIGURATION_SET}},
    }
    for name, function in names.items():
        # Where its secrets are (their ARNs), never their values: the code reads those at run time.
        secrets = {SECRETS[secret][1]: {"Ref": SECRETS[secret][0]} for secret in grants_for(name).secrets}
        short = name.replace("_", "-")
        resources[f"{function}Logs"] = {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete", "Properties": {
            "LogGroupName": sub(f"/aws/lambda/${{AWS::StackName}}-{short}"),
            "RetentionInDays": {"Ref": "LogRetentionDays"}}}
        resources[f"{function}Role"] = {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": short,
                          "PolicyDocument": {"Version": "2012-10-17",
                                             "Statement": policy(grants_for(name), function)}}]}}
        resources[function] = {"DependsOn": [f"{function}Logs"], "Properties": {
            "FunctionName": sub(f"${{AWS::StackName}}-{short}"),
            "Role": arn(f"{function}Role"),
            "Environment": {"Variables": {**extra_environment.get(name, {}), **secrets}},
            "ReservedConcurrentExecutions": {"Fn::If": ["ReserveConcurrency", reserved_concurrency(name),
                                                        {"Ref": "AWS::NoValue"}]},
            **({"DeadLetterQueue": {"Type": "SQS", "TargetArn": arn(FAILED_FEEDBACK_QUEUE)}}
               if grants_for(name).dead_letter_queue else {}),
        }}
    return resources


def reserved_concurrency(name: str):
    """Each function's own share of the account's concurrency: what it may use at most, and what no other
    function can take from it (a flood of API requests cannot stop the dispatcher, nor the reverse)."""
    from chalicelib.adapters import resources as r

    if name in ("api_handler", "jwt_auth"):
        return {"Ref": "ApiConcurrency"}
    if name == r.DISPATCH_FUNCTION:
        return {"Ref": "DispatchConcurrency"}   # the queue's event source never runs more (ScalingConfig)
    if name in (r.EVALUATE_FUNCTION, r.CUSTOMER_CHANGES_FUNCTION, r.ENGAGEMENT_FUNCTION):
        # SES events: one invocation takes about 140 events a second (BENCHMARKS.md section 11), so 10 keep
        # up with 1,000; the queue's event source is held to the same number (ScalingConfig), so none of its
        # batches is throttled back to the queue towards the dead-letter queue.
        return {"Ref": "WorkerConcurrency"}
    return SCHEDULED_CONCURRENCY


def event_sources(names: dict[str, str]) -> dict:
    """Chalice's event sources, pointed at the resources this template creates (Chalice only names
    them, which leaves CloudFormation free to create a mapping before its queue), with partial batch
    responses, the dispatcher's concurrency bound, and the customers stream's retry policy."""
    from chalicelib.adapters import resources as r

    dispatch, evaluate = names[r.DISPATCH_FUNCTION], names[r.EVALUATE_FUNCTION]
    changes, feedback = names[r.CUSTOMER_CHANGES_FUNCTION], names["ses_feedback"]
    engagement = names[r.ENGAGEMENT_FUNCTION]
    return {
        dispatch: {"Properties": {"Events": {f"{dispatch}SqsEventSource": {"Properties": {
            "Queue": arn(SEND_QUEUE), "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": {"Ref": "DispatchConcurrency"}}}}}}},
        evaluate: {"Properties": {"Events": {f"{evaluate}SqsEventSource": {"Properties": {
            "Queue": arn(EVALUATION_QUEUE), "FunctionResponseTypes": ["ReportBatchItemFailures"]}}}}},
        changes: {"Properties": {"Events": {f"{changes}DynamodbEventSource": {"Properties": {
            "Stream": {"Fn::GetAtt": [table_id("customers"), "StreamArn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": r.STREAM_MAX_RETRIES,
            "MaximumRecordAgeInSeconds": r.STREAM_MAX_RECORD_AGE_SECONDS,
            "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": arn(FAILED_CHANGES_QUEUE)}},
        }}}}},
        feedback: {"Properties": {"Events": {f"{feedback}SnsSubscription": {"Properties": {
            "Topic": {"Ref": FEEDBACK_TOPIC}, "FilterPolicyScope": "MessageBody", "FilterPolicy": FEEDBACK_FILTER}}}}},
        engagement: {"Properties": {"Events": {f"{engagement}SqsEventSource": {"Properties": {
            "Queue": arn(ENGAGEMENT_QUEUE), "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": {"Ref": "WorkerConcurrency"}}}}}}},
    }


def alarm_resources(names: dict[str, str]) -> dict:
    """Alarms on what needs a person: messages parked in a dead-letter queue, stream records handed
    over after their retries, the customers stream falling behind, and functions failing."""
    from chalicelib.adapters import resources as r

    actions = {"AlarmActions": [{"Ref": ALARM_TOPIC}], "OKActions": [{"Ref": ALARM_TOPIC}],
               "TreatMissingData": "notBreaching"}

    def alarm(description: str, namespace: str, metric: str, dimension: tuple[str, object], statistic: str,
              threshold: int, periods: int = 1) -> dict:
        return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmDescription": description, "Namespace": namespace, "MetricName": metric,
            "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}], "Statistic": statistic,
            "Period": 300, "EvaluationPeriods": periods, "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold", **actions}}

    resources = {
        ALARM_TOPIC: {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": sub("${AWS::StackName}-alarms"),
                                                                "KmsMasterKeyId": {"Ref": TOPIC_KEY}}},
        "AlarmEmailSubscription": {"Type": "AWS::SNS::Subscription", "Condition": "AlarmByEmail", "Properties": {
            "TopicArn": {"Ref": ALARM_TOPIC}, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}},
    }
    for queue, about in ((SEND_DLQ, "Sends failed five deliveries and wait in the dead-letter queue"),
                         (EVALUATION_DLQ, "Evaluations failed five times and wait in the dead-letter queue"),
                         (ENGAGEMENT_DLQ, "SES events failed five times (their records never found or writes "
                                          "contended) and wait in the dead-letter queue"),
                         (FAILED_CHANGES_QUEUE, "Customer changes exhausted their retries; replay them from the "
                                                "stream within 24 hours (see docs/operations.md)"),
                         (FAILED_FEEDBACK_QUEUE, "SES bounces or complaints failed the feedback function three times: "
                                                 "replay them (see docs/operations.md)")):
        resources[f"{queue}DepthAlarm"] = alarm(about, "AWS/SQS", "ApproximateNumberOfMessagesVisible",
                                                ("QueueName", {"Fn::GetAtt": [queue, "QueueName"]}), "Maximum", 1)
    changes = names[r.CUSTOMER_CHANGES_FUNCTION]
    resources["CustomerChangesIteratorAgeAlarm"] = alarm(
        "The customers stream is read more than 15 minutes late: action-taken messages are delayed",
        "AWS/Lambda", "IteratorAge", ("FunctionName", {"Ref": changes}), "Maximum", ITERATOR_AGE_ALARM_MS, 3)
    for name in (r.DISPATCH_FUNCTION, r.EVALUATE_FUNCTION, r.CUSTOMER_CHANGES_FUNCTION, "ses_feedback",
                 r.ENGAGEMENT_FUNCTION):
        function = names[name]
        resources[f"{function}ErrorsAlarm"] = alarm(
            f"The {name} function failed (an invocation error, not a failed send)", "AWS/Lambda", "Errors",
            ("FunctionName", {"Ref": function}), "Sum", 1)
    return resources


#: The API's access log: one JSON line per request with what operations need (the route as declared, not the
#: path, which holds customer ids and unsubscribe tokens; the store; status and latencies) and no personal data:
#: no caller address, user agent, query string (searches hold names and emails) or user.
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "time": "$context.requestTime", "method": "$context.httpMethod",
    "route": "$context.resourcePath", "status": "$context.status", "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency", "integrationLatencyMs": "$context.integrationLatency",
    "store": "$context.authorizer.tenant_id", "error": "$context.error.responseType"}, separators=(",", ":"))


def api_stage_resources() -> dict:
    """The API stage's throttling (every route) and access log. API Gateway writes to CloudWatch Logs only
    with a role named in the account's API Gateway settings (one per region): the stack sets it, and keeps it
    (and the role) when deleted, since other APIs of the account may log through it too."""
    return {
        "RestAPI": {"DependsOn": [API_ACCOUNT], "Properties": {
            "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*",
                                "ThrottlingRateLimit": {"Ref": "ApiRateLimit"},
                                "ThrottlingBurstLimit": {"Ref": "ApiBurstLimit"}}],
            "AccessLogSetting": {"DestinationArn": arn(API_ACCESS_LOGS), "Format": ACCESS_LOG_FORMAT}}},
        API_ACCESS_LOGS: {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete", "Properties": {
            "LogGroupName": sub("/aws/apigateway/${AWS::StackName}-access"),
            "RetentionInDays": {"Ref": "LogRetentionDays"}}},
        API_LOGS_ROLE: {"Type": "AWS::IAM::Role", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                        "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": [
                sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")]}},
        API_ACCOUNT: {"Type": "AWS::ApiGateway::Account", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                      "Properties": {"CloudWatchRoleArn": arn(API_LOGS_ROLE)}},
    }


def gateway_responses() -> dict:
    """API Gateway's own refusals (a rejected token, an unknown path, a throttle) in the API's error shape."""
    def response(kind: str, code: str) -> dict:
        return {"Type": "AWS::ApiGateway::GatewayResponse", "Properties": {
            "RestApiId": {"Ref": "RestAPI"}, "ResponseType": kind,
            "ResponseTemplates": {"application/json":
                                  f'{{"error": {{"code": "{code}", "message": $context.error.messageString}}}}'}}}

    return {
        "UnauthorizedResponse": response("UNAUTHORIZED", "unauthorized"),
        "AccessDeniedResponse": response("ACCESS_DENIED", "forbidden"),
        "Default4xxResponse": response("DEFAULT_4XX", "error"),
        "Default5xxResponse": response("DEFAULT_5XX", "error"),
    }


OUTPUTS = {
    "UserPoolId": {"Value": user_pool_id(), "Description": "Where the stores' users are created"},
    "UserPoolClientId": {"Value": {"Ref": USER_POOL_CLIENT}, "Description": "The admin's app client"},
    "SesConfigurationSetName": {"Value": {"Ref": CONFIGURATION_SET}},
    "AlarmTopicArn": {"Value": {"Ref": ALARM_TOPIC}, "Description": "Subscribe more people or tools here"},
    "SendDeadLetterQueueUrl": {"Value": {"Ref": SEND_DLQ}},
    "CustomerChangesFailedQueueUrl": {"Value": {"Ref": FAILED_CHANGES_QUEUE}},
}


#: checkov's findings this design accepts, by resource type: (check, why), written on each resource as
#: `Metadata: checkov: skip` so the scan (`make checkov`) shows only what is new. Anything else it finds is fixed.
CHECKOV_ACCEPTED: dict[str, list[tuple[str, str]]] = {
    "AWS::Serverless::Function": [
        ("CKV_AWS_116", "no asynchronous event to lose: API and authorizer are synchronous, queue and stream "
                        "consumers have their queues' dead letters, a schedule's next run covers a failed one "
                        "(SES feedback, asynchronous, has its own)"),
        ("CKV_AWS_117", "calls only AWS's public endpoints and Cognito's keys: a VPC would add NAT or endpoint "
                        "costs and nothing of ours to protect"),
        ("CKV_AWS_173", "the environment holds names and ARNs only; secrets are read from Secrets Manager at run time"),
    ],
    "AWS::DynamoDB::Table": [
        ("CKV_AWS_119", "encrypted at rest with DynamoDB's AWS managed key; readers are limited by the roles"),
    ],
    "AWS::Logs::LogGroup": [
        ("CKV_AWS_158", "logs hold ids, never contact details; CloudWatch Logs encrypts them at rest"),
    ],
    "AWS::SQS::Queue": [
        ("CKV_AWS_27", "encrypted with SQS managed keys (SqsManagedSseEnabled); messages hold ids, not contact details"),
    ],
    "AWS::SecretsManager::Secret": [
        ("CKV_AWS_149", "encrypted with Secrets Manager's AWS managed key; GetSecretValue is granted per function"),
    ],
    "AWS::S3::Bucket": [
        ("CKV_AWS_18", "import files live 7 days; CloudTrail data events log access without a second bucket"),
        ("CKV_AWS_21", "import files are deleted after 7 days: versions would keep customer data longer"),
    ],
    "AWS::Serverless::Api": [
        ("CKV_AWS_73", "no X-Ray: the access log and the functions' logs carry each request id"),
        ("CKV_AWS_120", "answers are per store and per user: a stage cache could serve one caller's data to another"),
    ],
}
#: The one role allowed an action on "*" that writes: SMS to phone numbers, which has no resource ARN.
SMS_ACCEPTED = ("CKV_AWS_111", "SMS to a phone number has no resource ARN; publishing to any topic or application "
                               "is denied (SmsToPhoneNumbersOnly)")


def accept_findings(resources: dict) -> dict:
    """Each resource with the checkov findings the design accepts (`CHECKOV_ACCEPTED`), with their reasons."""
    accepted = {}
    for name, body in resources.items():
        skips = [(check, why) for check, why in CHECKOV_ACCEPTED.get(body.get("Type", ""), [])
                 if not (check == "CKV_AWS_116" and "DeadLetterQueue" in body.get("Properties", {}))]
        if body.get("Type") == "AWS::IAM::Role" and "SmsToPhoneNumbersOnly" in json.dumps(body):
            skips.append(SMS_ACCEPTED)
        if skips:
            body = {**body, "Metadata": {**body.get("Metadata", {}), "checkov": {
                "skip": [{"id": check, "comment": why} for check, why in skips]}}}
        accepted[name] = body
    return accepted


def _intrinsic(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in INTRINSICS


INTRINSICS = {"Ref", "Fn::GetAtt", "Fn::Sub", "Fn::If", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::ImportValue"}


def merge(base, extra):
    """`extra` laid over `base`: dictionaries merge key by key; anything else, and an intrinsic function
    (`{"Ref": ...}` over `{"Fn::Sub": ...}`), is replaced whole."""
    if isinstance(base, dict) and isinstance(extra, dict) and not _intrinsic(base) and not _intrinsic(extra):
        return {**base, **{key: merge(base.get(key), value) for key, value in extra.items()}}
    return copy.deepcopy(extra)


def build(chalice: dict) -> dict:
    """The complete template from the one `chalice package` wrote (the stage's environment must be set)."""
    names = function_names(chalice)
    resources = {name: body for name, body in chalice["Resources"].items() if name != "DefaultRole"}
    for part in (table_resources(), queue_resources(), feedback_resources(), topic_key_resources(), sign_in_resources(),
                 imports_bucket_resources(), function_resources(names), event_sources(names), alarm_resources(names),
                 api_stage_resources(), gateway_responses()):
        resources = merge(resources, part)
    resources = accept_findings(resources)
    left = [name for name, body in resources.items() if "DefaultRole" in json.dumps(body)]
    if left:
        raise SystemExit(f"error: still using Chalice's shared role: {', '.join(left)}")
    return {
        **{key: value for key, value in chalice.items() if key not in ("Resources", "Outputs")},
        "Description": "Marketing automations runner: API, matchers, dispatcher and action-taken automations",
        "Parameters": PARAMETERS,
        "Conditions": CONDITIONS,
        "Resources": resources,
        "Outputs": {**chalice.get("Outputs", {}), **OUTPUTS},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("chalice_template", type=Path, help="the sam.json that `chalice package` wrote")
    args = parser.parse_args(argv)
    os.environ.update(stage_environment(args.stage))
    template = build(json.loads(args.chalice_template.read_text()))
    json.dump(template, sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What `make package` builds: a Lambda package with the system templates and no development tools, and
one complete template that passes cfn-lint, creates the models' tables, wires every event source, and
grants each function only named actions on named resources. And what `make deploy` asks the AWS CLI."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from chalicelib.adapters import resources
from chalicelib.core import catalog
from infra.package import runtime_python

ROOT = Path(__file__).resolve().parents[2]
#: Services that hold the stores' data or send their messages: no wildcard action on any of them.
DATA_SERVICES = ("dynamodb", "sqs", "sns", "ses", "secretsmanager", "s3", "cognito-idp", "kms", "logs")
#: checkov on one CloudFormation template, offline (no download of policies or guidelines), as `make checkov`
#: runs it (which also passes --quiet: failures only; the test reads the skipped checks too).
CHECKOV_ARGS = ("--framework", "cloudformation", "--skip-download", "--compact")


@pytest.fixture(scope="module")
def package(packaged) -> zipfile.ZipFile:
    return zipfile.ZipFile(packaged / "deployment.zip")


@pytest.fixture(scope="module")
def template(packaged) -> dict:
    return json.loads((packaged / "template.json").read_text())


@pytest.fixture(scope="module")
def functions(template) -> dict[str, str]:
    from infra.template import function_names

    return function_names(template)


def statements(template: dict, role: str) -> list[dict]:
    return [s for p in template["Resources"][role]["Properties"].get("Policies", [])
            for s in p["PolicyDocument"]["Statement"]]


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


def test_the_package_holds_every_system_template(package):
    names = set(package.namelist())
    for type_ in catalog.TEMPLATE_TYPES:
        for part in ("subject.txt", "body.txt", "sms.txt"):   # one body: the HTML is made from it (rules/layout.py)
            assert f"chalicelib/templates/{type_}/{part}" in names
    assert "chalicelib/rules/layout.py" in names


def test_the_package_holds_no_development_tools(package):
    names = package.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    for tool in ("moto", "pytest", "_pytest", "hypothesis", "cfnlint", "tests", "bench", "infra", "requests", "local"):
        assert tool not in tops, tool
    assert not any(n.startswith("chalice/cli/") for n in names)


def test_the_functions_run_python_3_13(template):
    runtimes = {r["Properties"]["Runtime"] for r in template["Resources"].values()
                if r["Type"] == "AWS::Serverless::Function"}
    assert runtimes == {"python3.13"}


def test_every_module_ships_compiled_for_the_functions_runtime_so_no_cold_start_compiles_it(package, template):
    """Lambda's code folder is read-only: a module without bytecode is compiled again at every cold start.
    Bytecode is compiled by a Python of the runtime; a machine without one ships sources only."""
    names = set(package.namelist())
    sources = [n for n in names if n.endswith(".py")]
    assert "app.py" in sources and len(sources) > 100
    python = runtime_python()
    if python is None:
        assert not [n for n in names if n.endswith(".pyc")]
        return
    tag, magic = subprocess.run([python, "-c", "import importlib.util, sys; "
                                 "print(sys.implementation.cache_tag, importlib.util.MAGIC_NUMBER.hex())"],
                                capture_output=True, text=True, check=True).stdout.split()
    assert tag == "cpython-313"
    missing = [n for n in sources if f"{n.rpartition('/')[0]}/__pycache__/{Path(n).stem}.{tag}.pyc".lstrip("/")
               not in names]
    assert missing == []
    header = package.read(f"__pycache__/app.{tag}.pyc")[:8]
    assert header[:4] == bytes.fromhex(magic)
    assert int.from_bytes(header[4:8], "little") == 0b01   # hash-based, source never checked (PEP 552)


def run_unpacked(package, folder: Path, probe: str) -> str:
    """Run `probe` with nothing on the path but the unpacked package; what it prints."""
    package.extractall(folder)
    # The package's compiled dependencies are the runtime's: run it with a Python of the runtime where there is one.
    result = subprocess.run([runtime_python() or sys.executable, "-c", probe], cwd=folder, capture_output=True, text=True,
                            env={"PYTHONPATH": str(folder), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_packaged_code_finds_its_templates(package, tmp_path):
    probe = ("from chalicelib.rules import templating; t = templating.system_template('birthday'); "
             "assert t['subject'], t; print(templating.SYSTEM_DIR)")
    assert run_unpacked(package, tmp_path, probe) == str(tmp_path / "chalicelib" / "templates")


def test_the_packaged_template_creates_the_tables_the_models_define(template):
    from chalicelib.adapters.schema import all_table_definitions
    from chalicelib.core import config

    tables = {r["Properties"]["TableName"]: r for r in template["Resources"].values()
              if r["Type"] == "AWS::DynamoDB::Table"}
    for definition in all_table_definitions():
        name = "automations-dev-" + definition["TableName"][len(config.table_prefix()):]
        table = tables.pop(name)
        properties = table["Properties"]
        for key in ("KeySchema", "AttributeDefinitions", "BillingMode"):
            assert properties[key] == definition[key], (name, key)
        assert properties.get("GlobalSecondaryIndexes") == definition.get("GlobalSecondaryIndexes"), name
        stream = definition.get("StreamSpecification", {}).get("StreamViewType")
        assert properties.get("StreamSpecification", {}).get("StreamViewType") == stream, name
        assert table["DeletionPolicy"] == "Retain"   # deleting the stack never deletes a store's data
    assert tables == {}


def test_the_packaged_template_passes_cfn_lint(packaged):
    lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(lint), str(packaged / "template.json")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_function_has_its_own_role_and_log_group_and_chalices_shared_role_is_gone(template, functions):
    assert "DefaultRole" not in template["Resources"] and "DefaultRole" not in json.dumps(template)
    assert set(functions) >= {"api_handler", "jwt_auth", "dispatch", "evaluate", "customer_changes", "ses_feedback",
                              "release_deferred", *(f"plan_{t}" for t in catalog.PER_EVENT)}
    roles = {template["Resources"][f]["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()}
    assert len(roles) == len(functions)
    for function in functions.values():
        properties = template["Resources"][function]["Properties"]
        logs = template["Resources"][f"{function}Logs"]["Properties"]
        assert logs["LogGroupName"]["Fn::Sub"] == "/aws/lambda/" + properties["FunctionName"]["Fn::Sub"]
        assert logs["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_no_statement_grants_a_wildcard_action_on_a_data_service(template):
    roles = [name for name, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
    assert roles
    for role in roles:
        managed = template["Resources"][role]["Properties"].get("ManagedPolicyArns")
        if managed:   # API Gateway's own role for writing the access log: AWS's policy made for it, and nothing else
            assert role == "ApiGatewayLogsRole" and not statements(template, role)
            assert [m["Fn::Sub"] for m in managed] == [
                "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"]
            continue
        for statement in statements(template, role):
            if statement["Effect"] == "Deny":
                assert (role, statement["Sid"]) == ("DispatchRole", "SmsToPhoneNumbersOnly")
                continue
            assert statement["Effect"] == "Allow"
            for action in listed(statement["Action"]):
                service, _, name = action.partition(":")
                assert "*" not in name and "?" not in name, (role, action)
                assert service in DATA_SERVICES, (role, action)
            if listed(statement["Resource"]) == ["*"]:
                # Only what AWS cannot scope to a resource: SMS to a phone number and its opt-out check (the
                # dispatcher), and SES's read-only questions about the sender's verification (the dispatcher,
                # after a refusal) and the account's sandbox (the API's sender readiness).
                assert (role, tuple(sorted(listed(statement["Action"])))) in {
                    ("DispatchRole", ("sns:CheckIfPhoneNumberIsOptedOut", "sns:Publish")),
                    ("DispatchRole", ("ses:GetIdentityVerificationAttributes",)),
                    ("APIHandlerRole", ("ses:GetAccount", "ses:GetIdentityVerificationAttributes")),
                }, (role, statement["Action"])


def test_only_the_dispatcher_and_the_api_1_to_1_email_send_and_only_from_the_named_identity(template):
    roles = [n for n, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
    senders = {role for role in roles for s in statements(template, role) for a in listed(s["Action"])
               if a in ("ses:SendRawEmail", "sns:Publish")}
    assert senders == {"DispatchRole", "APIHandlerRole"}
    assert not any(a.startswith("sns:") for s in statements(template, "APIHandlerRole") for a in listed(s["Action"]))
    for role in senders:
        [ses] = [s for s in statements(template, role) if "ses:SendRawEmail" in listed(s["Action"])]
        texts = [r["Fn::Sub"] for r in ses["Resource"]]
        assert texts[0].endswith(":identity/${SenderIdentity}") and texts[1].endswith(":configuration-set/"
                                                                                        "${SesConfigurationSet}")


def test_both_queue_consumers_read_their_own_queue_and_report_partial_batch_failures(template):
    for function, batch, queue in (("Dispatch", resources.DISPATCH_BATCH_SIZE, "SendQueue"),
                                   ("Evaluate", resources.EVALUATE_BATCH_SIZE, "EvaluationQueue")):
        source = template["Resources"][function]["Properties"]["Events"][f"{function}SqsEventSource"]["Properties"]
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert source["BatchSize"] == batch and source["Queue"] == {"Fn::GetAtt": [queue, "Arn"]}
        timeout = template["Resources"][function]["Properties"]["Timeout"]
        # Lambda refuses a queue whose visibility timeout is shorter than the function's timeout.
        assert template["Resources"][queue]["Properties"]["VisibilityTimeout"] >= timeout
        redrive = template["Resources"][queue]["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == resources.MAX_RECEIVES
    scaling = template["Resources"]["Dispatch"]["Properties"]["Events"]["DispatchSqsEventSource"]["Properties"]
    assert scaling["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "DispatchConcurrency"}}
    assert template["Parameters"]["DispatchConcurrency"]["MinValue"] == 2   # Lambda's own minimum


def test_the_customers_stream_consumer_bisects_retries_a_bounded_number_of_times_then_hands_over(template):
    resources_ = template["Resources"]
    source = resources_["CustomerChanges"]["Properties"]["Events"]["CustomerChangesDynamodbEventSource"]["Properties"]
    assert source["Stream"] == {"Fn::GetAtt": ["CustomersTable", "StreamArn"]}   # the table's own stream
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["BisectBatchOnFunctionError"] is True
    assert 0 < source["MaximumRetryAttempts"] <= 10 and source["MaximumRecordAgeInSeconds"] <= 86400
    assert source["StartingPosition"] == "TRIM_HORIZON" and source["BatchSize"] == 100
    destination = source["DestinationConfig"]["OnFailure"]
    assert destination["Destination"] == {"Fn::GetAtt": ["CustomerChangesFailedQueue", "Arn"]}
    granted = statements(template, "CustomerChangesRole")
    assert {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": destination["Destination"]} in granted
    [reads] = [s for s in granted if "dynamodb:GetRecords" in s["Action"]]
    assert reads["Resource"] == {"Fn::Sub": "${CustomersTable.Arn}/stream/*"}
    assert resources_["CustomersTable"]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_ses_events_with_open_and_click_tracking_reach_the_engagement_queue_and_bounces_the_feedback_function(
        template):
    resources_ = template["Resources"]
    destination = resources_["SesFeedbackDestination"]["Properties"]
    assert destination["ConfigurationSetName"] == {"Ref": "SesConfigurationSet"}
    # Naming open and click switches SES's open and click tracking on for the set's mail.
    assert sorted(destination["EventDestination"]["MatchingEventTypes"]) == [
        "bounce", "click", "complaint", "delivery", "open", "reject", "renderingFailure", "send"]
    assert destination["EventDestination"]["SnsDestination"]["TopicARN"] == {"Ref": "FeedbackTopic"}
    event = resources_["SesFeedback"]["Properties"]["Events"]["SesFeedbackSnsSubscription"]
    assert event["Type"] == "SNS" and event["Properties"]["Topic"] == {"Ref": "FeedbackTopic"}
    assert event["Properties"]["FilterPolicy"] == {"eventType": ["Bounce", "Complaint"]}
    assert event["Properties"]["FilterPolicyScope"] == "MessageBody"
    subscription = resources_["EngagementSubscription"]["Properties"]
    assert subscription["RawMessageDelivery"] is True and subscription["Protocol"] == "sqs"
    assert subscription["Endpoint"] == {"Fn::GetAtt": ["EngagementQueue", "Arn"]}
    [allowed] = resources_["EngagementQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allowed["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "FeedbackTopic"}}}
    source = resources_["SesEngagement"]["Properties"]["Events"]["SesEngagementSqsEventSource"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["BatchSize"] == resources.ENGAGEMENT_BATCH_SIZE
    assert source["Queue"] == {"Fn::GetAtt": ["EngagementQueue", "Arn"]}
    queue = resources_["EngagementQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= resources_["SesEngagement"]["Properties"]["Timeout"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == resources.MAX_RECEIVES
    variables = resources_["Dispatch"]["Properties"]["Environment"]["Variables"]
    assert variables["SES_CONFIGURATION_SET"] == {"Ref": "SesConfigurationSet"}
    # SNS invokes it asynchronously: an event that fails Lambda's retries is kept, not lost with its suppression.
    failed = {"Fn::GetAtt": ["SesFeedbackFailedQueue", "Arn"]}
    assert resources_["SesFeedback"]["Properties"]["DeadLetterQueue"] == {"Type": "SQS", "TargetArn": failed}
    assert {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": failed} in statements(template, "SesFeedbackRole")


def test_alarms_watch_dead_letters_failed_changes_the_streams_age_and_the_dispatchers_errors(template):
    alarms = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    watched = {(a["MetricName"], json.dumps(a["Dimensions"][0]["Value"])) for a in alarms}
    for queue in ("SendDeadLetterQueue", "EvaluationDeadLetterQueue", "EngagementDeadLetterQueue",
                  "CustomerChangesFailedQueue", "SesFeedbackFailedQueue"):
        assert ("ApproximateNumberOfMessagesVisible", json.dumps({"Fn::GetAtt": [queue, "QueueName"]})) in watched
    assert ("IteratorAge", json.dumps({"Ref": "CustomerChanges"})) in watched
    assert ("Errors", json.dumps({"Ref": "Dispatch"})) in watched
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms)


def test_users_cannot_sign_themselves_up_or_change_their_own_tenant_or_role(template):
    resources_ = template["Resources"]
    pool = resources_["UserPool"]
    assert pool["Condition"] == "CreateUserPool" and pool["DeletionPolicy"] == "Retain"
    assert pool["Properties"]["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    client = resources_["UserPoolClient"]["Properties"]
    assert client["WriteAttributes"] == ["email"]
    assert {"custom:tenant_id", "custom:role"} <= set(client["ReadAttributes"])
    assert "ALLOW_USER_PASSWORD_AUTH" in client["ExplicitAuthFlows"]     # the admin page's sign-in
    for function in ("JwtAuth", "APIHandler"):                           # the admin page learns the client id
        variables = resources_[function]["Properties"]["Environment"]["Variables"]
        assert variables["COGNITO_AUDIENCE"] == {"Ref": "UserPoolClient"}
        assert variables["AUTH_MODE"] == "cognito"


def test_the_packaged_code_serves_the_admin_page_from_the_package(package, tmp_path):
    probe = ("from chalicelib.services import admin_site as a; assert 'admin/admin.js' in a.page(); "
             "assert all(a.asset(n)[0] for n in a.ASSETS); print(a.ADMIN_DIR)")
    assert run_unpacked(package, tmp_path, probe) == str(tmp_path / "chalicelib" / "admin")


def test_the_secrets_are_generated_in_the_account_and_functions_are_told_only_where_they_are(template):
    """No key is in the template or in a function's configuration (which Lambda shows to whoever may read the
    function): the environment names each secret by its ARN, and the code reads the value at run time."""
    resources_ = template["Resources"]
    for secret in ("UnsubscribeSecret", "ErasureSecret"):
        assert "GenerateSecretString" in resources_[secret]["Properties"]
    assert resources_["ErasureSecret"]["DeletionPolicy"] == "Retain"   # kept with the tables its hashes are in
    assert "resolve:secretsmanager" not in json.dumps(template)
    told = {name: {k: v for k, v in r["Properties"].get("Environment", {}).get("Variables", {}).items()
                   if k.endswith("_SECRET_ID")}
            for name, r in resources_.items() if r["Type"] == "AWS::Serverless::Function"}
    assert {name: ids for name, ids in told.items() if ids} == {
        "Dispatch": {"UNSUBSCRIBE_SECRET_ID": {"Ref": "UnsubscribeSecret"}, "ERASURE_SECRET_ID": {"Ref": "ErasureSecret"}},
        "APIHandler": {"UNSUBSCRIBE_SECRET_ID": {"Ref": "UnsubscribeSecret"}, "ERASURE_SECRET_ID": {"Ref": "ErasureSecret"}}}
    for function, secrets in (("Dispatch", [{"Ref": "UnsubscribeSecret"}, {"Ref": "ErasureSecret"}]),
                              ("APIHandler", [{"Ref": "UnsubscribeSecret"}, {"Ref": "ErasureSecret"}])):
        role = resources_[function]["Properties"]["Role"]["Fn::GetAtt"][0]
        assert {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secrets} \
            in statements(template, role)


def test_the_dispatcher_publishes_sms_to_phone_numbers_and_is_denied_every_topic_and_application(template):
    granted = statements(template, "DispatchRole")
    assert {"Sid": "SmsToPhoneNumbersOnly", "Effect": "Deny", "Action": ["sns:Publish"],
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}} in granted


def test_the_api_stage_is_throttled_and_logs_each_request_without_personal_data(template):
    resources_ = template["Resources"]
    api = resources_["RestAPI"]["Properties"]
    assert api["MethodSettings"] == [{"ResourcePath": "/*", "HttpMethod": "*",
                                      "ThrottlingRateLimit": {"Ref": "ApiRateLimit"},
                                      "ThrottlingBurstLimit": {"Ref": "ApiBurstLimit"}}]
    parameters = template["Parameters"]
    assert parameters["ApiBurstLimit"]["Default"] >= parameters["ApiRateLimit"]["Default"]
    log = api["AccessLogSetting"]
    assert log["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    assert resources_["ApiAccessLogs"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    fields = json.loads(log["Format"])   # one JSON line per request
    assert {"requestId", "status", "route"} <= set(fields) and fields["route"] == "$context.resourcePath"
    for personal in ("sourceIp", "userAgent", "$context.path", "principalId", "querystring", "caller", "user",
                     "claims", "email"):
        assert personal.lower() not in log["Format"].lower(), personal
    # API Gateway writes access logs only with the account's logging role, set before the stage is made.
    assert resources_["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}
    assert "ApiGatewayAccount" in resources_["RestAPI"]["DependsOn"]


def test_every_function_has_its_own_reserved_concurrency_sized_by_the_parameters(template, functions):
    resources_ = template["Resources"]
    sizes = {}
    for name, function in functions.items():
        reserved = resources_[function]["Properties"]["ReservedConcurrentExecutions"]
        assert reserved["Fn::If"][0] == "ReserveConcurrency" and reserved["Fn::If"][2] == {"Ref": "AWS::NoValue"}
        sizes[name] = reserved["Fn::If"][1]
    assert sizes["api_handler"] == sizes["jwt_auth"] == {"Ref": "ApiConcurrency"}
    # Never below what the send queue's event source runs at once (its throttles would only delay sends).
    assert sizes["dispatch"] == {"Ref": "DispatchConcurrency"}
    assert sizes["evaluate"] == sizes["customer_changes"] == {"Ref": "WorkerConcurrency"}
    assert all(isinstance(sizes[n], int) and sizes[n] >= 1 for n in sizes if n.startswith("plan_"))
    # With the defaults, a 1,000-concurrency account keeps the 100 AWS leaves unreserved, and much more.
    parameters = template["Parameters"]
    total = sum(parameters[s["Ref"]]["Default"] if isinstance(s, dict) else s for s in sizes.values())
    assert total <= 300, total


def test_the_sns_topics_are_encrypted_with_a_key_that_ses_and_cloudwatch_may_publish_with(template):
    resources_ = template["Resources"]
    for topic in ("FeedbackTopic", "AlarmTopic"):
        assert resources_[topic]["Properties"]["KmsMasterKeyId"] == {"Ref": "TopicKey"}
    key = resources_["TopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    services = {s["Principal"].get("Service"): s["Action"] for s in key["KeyPolicy"]["Statement"]}
    for publisher in ("ses.amazonaws.com", "cloudwatch.amazonaws.com"):
        assert sorted(services[publisher]) == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_checkov_finds_nothing_but_what_the_template_accepts_each_with_its_reason(packaged):
    """checkov (its own virtual environment, which `make test` installs) on the packaged template, offline."""
    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    assert checkov.exists(), "checkov is missing: `make .venv-checkov/bin/checkov` installs it (make test does)"
    result = subprocess.run([str(checkov), *CHECKOV_ARGS, "-f", str(packaged / "template.json"), "-o", "json"],
                            capture_output=True, text=True, timeout=600)
    report = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 200
    assert [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]] == []
    skipped = report["results"]["skipped_checks"]
    assert skipped and all(c["check_result"].get("suppress_comment", "").strip() for c in skipped)


def test_api_gateway_refusals_take_the_apis_error_shape(template):
    responses = {r["Properties"]["ResponseType"]: r["Properties"] for r in template["Resources"].values()
                 if r["Type"] == "AWS::ApiGateway::GatewayResponse"}
    assert set(responses) == {"UNAUTHORIZED", "ACCESS_DENIED", "DEFAULT_4XX", "DEFAULT_5XX"}
    body = responses["UNAUTHORIZED"]["ResponseTemplates"]["application/json"]
    filled = body.replace("$context.error.messageString", '"Unauthorized"')
    assert json.loads(filled) == {"error": {"code": "unauthorized", "message": "Unauthorized"}}


def test_make_deploy_packages_uploads_and_deploys_with_the_given_parameters(tmp_path):
    calls = tmp_path / "calls"
    fake = tmp_path / "aws"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    build = tmp_path / "build"
    result = subprocess.run(["make", "deploy", "STAGE=prod", "BUCKET=artifacts-bucket", f"AWS={fake}", f"BUILD={build}",
                             "PARAMS=SenderIdentity=store.example AlarmEmail=ops@store.example"],
                            cwd=ROOT, capture_output=True, text=True, timeout=900,
                            env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")})
    assert result.returncode == 0, result.stdout + result.stderr
    package, deploy, outputs = calls.read_text().splitlines()
    assert package.startswith(f"cloudformation package --template-file {build}/package/template.json "
                              "--s3-bucket artifacts-bucket --s3-prefix automations-prod")
    assert deploy.startswith(f"cloudformation deploy --template-file {build}/package/packaged.json "
                             "--stack-name automations-prod --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND")
    assert deploy.endswith("--parameter-overrides SenderIdentity=store.example AlarmEmail=ops@store.example")
    assert outputs.startswith("cloudformation describe-stacks --stack-name automations-prod")
    template = json.loads((build / "package" / "template.json").read_text())
    assert template["Resources"]["CustomersTable"]["Properties"]["TableName"] == "automations-prod-customers"


def test_make_deploy_without_a_bucket_or_the_aws_cli_says_what_is_missing_and_builds_nothing(tmp_path):
    build = tmp_path / "build"
    no_bucket = subprocess.run(["make", "deploy", f"BUILD={build}"], cwd=ROOT, capture_output=True, text=True)
    assert no_bucket.returncode != 0 and "error: BUCKET=" in no_bucket.stderr
    no_cli = subprocess.run(["make", "deploy", "BUCKET=b", f"AWS={tmp_path / 'aws'}", f"BUILD={build}"], cwd=ROOT,
                            capture_output=True, text=True)
    assert no_cli.returncode != 0 and "the AWS CLI" in no_cli.stderr
    assert not build.exists()

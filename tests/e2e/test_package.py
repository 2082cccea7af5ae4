"""The Lambda package built by `make package` holds the system templates and no development tools."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from chalicelib import catalog

ROOT = Path(__file__).resolve().parents[2]
ZIP = ROOT / "build" / "package" / "deployment.zip"


@pytest.fixture(scope="module")
def package() -> zipfile.ZipFile:
    result = subprocess.run(["make", "package"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return zipfile.ZipFile(ZIP)


def test_the_package_holds_every_system_template(package):
    names = set(package.namelist())
    for type_ in catalog.TEMPLATE_TYPES:
        for part in ("subject.txt", "body.txt", "body.html", "sms.txt"):
            assert f"templates/{type_}/{part}" in names


def test_the_package_holds_no_development_tools(package):
    tops = {name.split("/", 1)[0] for name in package.namelist()}
    for tool in ("moto", "pytest", "_pytest", "hypothesis", "cfnlint", "chalice/cli", "tests"):
        assert tool.split("/")[0] not in tops or tool == "chalice/cli" and not any(
            n.startswith("chalice/cli/") for n in package.namelist()), tool


def test_the_packaged_code_finds_its_templates(package, tmp_path):
    package.extractall(tmp_path)
    probe = ("from chalicelib import templating; t = templating.system_template('birthday'); "
             "assert t['subject'], t; print(templating.SYSTEM_DIR)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "templates")


def test_the_packaged_template_creates_the_tables_the_models_define(package):
    from chalicelib import config
    from chalicelib.schema import all_table_definitions

    template = json.loads((ROOT / "build" / "package" / "sam.json").read_text())
    tables = {r["Properties"]["TableName"]: r["Properties"] for r in template["Resources"].values()
              if r["Type"] == "AWS::DynamoDB::Table"}
    for definition in all_table_definitions():
        name = "automations-dev-" + definition["TableName"][len(config.table_prefix()):]
        table = tables.pop(name)
        for key in ("KeySchema", "AttributeDefinitions", "BillingMode"):
            assert table[key] == definition[key], (name, key)
        assert table.get("GlobalSecondaryIndexes") == definition.get("GlobalSecondaryIndexes"), name
        stream = definition.get("StreamSpecification", {}).get("StreamViewType")
        assert table.get("StreamSpecification", {}).get("StreamViewType") == stream, name
    assert tables == {}


def test_the_packaged_template_passes_cfn_lint(package):
    lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(lint), str(ROOT / "build" / "package" / "sam.json")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_both_queue_consumers_report_partial_batch_failures(package):
    template = json.loads((ZIP.parent / "sam.json").read_text())
    for function, batch in (("Dispatch", 10), ("Evaluate", 1)):
        source = template["Resources"][function]["Properties"]["Events"][f"{function}SqsEventSource"]["Properties"]
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert source["BatchSize"] == batch and "Queue" in source   # merged into Chalice's own, not replacing it


def test_the_customers_stream_consumer_bisects_retries_a_bounded_number_of_times_then_hands_over(package):
    template = json.loads((ZIP.parent / "sam.json").read_text())
    resources = template["Resources"]
    source = resources["CustomerChanges"]["Properties"]["Events"]["CustomerChangesDynamodbEventSource"]["Properties"]
    assert source["Stream"] == {"Fn::GetAtt": ["CustomersTable", "StreamArn"]}   # the table's own stream
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["BisectBatchOnFunctionError"] is True
    assert 0 < source["MaximumRetryAttempts"] <= 10 and source["MaximumRecordAgeInSeconds"] <= 86400
    assert source["StartingPosition"] == "TRIM_HORIZON" and source["BatchSize"] == 100
    destination = source["DestinationConfig"]["OnFailure"]
    assert destination["Destination"] == {"Fn::GetAtt": ["CustomerChangesFailedQueue", "Arn"]}
    assert resources["CustomerChangesFailedQueue"]["Type"] == "AWS::SQS::Queue"
    policy = resources["CustomerChangesFailureDestinationPolicy"]["Properties"]
    assert policy["Roles"] == [{"Ref": resources["CustomerChanges"]["Properties"]["Role"]["Fn::GetAtt"][0]}]
    assert policy["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": destination["Destination"]}]
    customers = resources["CustomersTable"]["Properties"]
    assert customers["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}

"""The templates in infra/ are valid CloudFormation and build the stack the app expects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent


def test_templates_pass_cfn_lint():
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    done = subprocess.run(
        [str(cfn_lint), "infra/template.yaml", "infra/identity.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_packaged_template_wires_every_handler_and_passes_cfn_lint(tmp_path):
    """`chalice package` (the deployment's first step) on a copy of the app without its
    requirements, so nothing is downloaded: the handlers get their queues by stage, the relay the
    table's stream from TABLE_STREAM_ARN, and cfn-lint accepts the SAM template."""
    import json
    import os
    import shutil

    project = tmp_path / "project"
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        ROOT / ".chalice", project / ".chalice", ignore=shutil.ignore_patterns("deployments", "venv")
    )
    shutil.copy(ROOT / "app.py", project)
    stream = "arn:aws:dynamodb:us-east-1:123456789012:table/crmerp-prod/stream/2026-11-29T00:00:00.000"
    env = {**os.environ, "STAGE": "prod", "TABLE_STREAM_ARN": stream, "AWS_DEFAULT_REGION": "us-east-1"}
    chalice = Path(sys.executable).parent / "chalice"
    done = subprocess.run(
        [str(chalice), "package", str(tmp_path / "out")], cwd=project, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    resources = json.loads((tmp_path / "out" / "sam.json").read_text())["Resources"]
    events = {
        name: next(iter(r["Properties"].get("Events", {}).values()), None)
        for name, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert (
        events["RelayOnWrite"]["Type"] == "DynamoDB"
        and events["RelayOnWrite"]["Properties"]["Stream"] == stream
    )
    assert events["ErpConsumer"]["Properties"]["Queue"]["Fn::Sub"].endswith(":crmerp-prod-erp")
    assert events["CrmConsumer"]["Properties"]["Queue"]["Fn::Sub"].endswith(":crmerp-prod-crm")
    assert events["ErpDeadLetters"]["Properties"]["Queue"]["Fn::Sub"].endswith(":crmerp-prod-erp-dlq")
    assert events["CrmDeadLetters"]["Properties"]["Queue"]["Fn::Sub"].endswith(":crmerp-prod-crm-dlq")
    assert (
        events["RelayOutbox"]["Properties"]["Schedule"],
        events["ReconcileOrders"]["Properties"]["Schedule"],
    ) == (
        "rate(1 minute)",
        "rate(15 minutes)",
    )
    assert events["JobWorker"]["Properties"]["Queue"]["Fn::Sub"].endswith(":crmerp-prod-jobs")
    assert events["JobWorker"]["Properties"]["BatchSize"] == 1
    assert resources["JobWorker"]["Properties"]["Timeout"] == 900  # the queue's visibility is 960
    assert events["DailyBackups"]["Properties"]["Schedule"] == "cron(0 2 * * ? *)"
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(tmp_path / "out" / "sam.json")],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_table_has_the_keys_indexes_and_stream_the_design_needs(aws):
    table = boto3.client("dynamodb").describe_table(TableName=aws.table_name)["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"gsi1", "gsi2"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_bus_rules_deliver_to_the_consumer_queues(aws):
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.put_events(
        Entries=[
            {
                "Source": "crmerp.crm",
                "DetailType": "Probe",
                "Detail": '{"n": 1}',
                "EventBusName": aws.event_bus_name,
            }
        ]
    )
    got = sqs.receive_message(QueueUrl=aws.erp_queue_url, WaitTimeSeconds=1).get("Messages", [])
    assert len(got) == 1 and '"detail-type": "Probe"' in got[0]["Body"]
    assert sqs.receive_message(QueueUrl=aws.crm_queue_url).get("Messages", []) == []
    redrive = sqs.get_queue_attributes(QueueUrl=aws.erp_queue_url, AttributeNames=["RedrivePolicy"])[
        "Attributes"
    ]
    assert "erp-dlq" in redrive["RedrivePolicy"]


def test_dead_letter_queues_feed_their_handlers_then_a_quarantine_and_what_rests_is_alarmed(aws):
    import json

    from infra.provision import load_template

    sqs = boto3.client("sqs")
    for dlq in (aws.erp_dlq_url, aws.crm_dlq_url):
        attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
        # A Lambda event source needs the queue's visibility timeout to cover the function's.
        assert int(attributes["VisibilityTimeout"]) >= 60
        assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"].endswith(
            "-dead-letter-quarantine"
        )
    resources = load_template("template.yaml")["Resources"].values()
    alarms = [r["Properties"] for r in resources if r["Type"] == "AWS::CloudWatch::Alarm"]
    watched = {(a["MetricName"], str(a["Dimensions"][0]["Value"])) for a in alarms}
    assert ("DeadLettersParked", "crmerp-api") in watched
    assert ("ApproximateAgeOfOldestMessage", "{'Fn::GetAtt': 'ErpQueueDLQ.QueueName'}") in watched
    assert ("ApproximateAgeOfOldestMessage", "{'Fn::GetAtt': 'CrmQueueDLQ.QueueName'}") in watched
    assert (
        "ApproximateNumberOfMessagesVisible",
        "{'Fn::GetAtt': 'DeadLetterQuarantine.QueueName'}",
    ) in watched


def test_the_user_pool_carries_an_immutable_tenant_attribute(aws):
    pool = boto3.client("cognito-idp").describe_user_pool(UserPoolId=aws.user_pool_id)["UserPool"]
    tenant = next(a for a in pool["SchemaAttributes"] if a["Name"] == "custom:tenant_id")
    assert tenant["Mutable"] is False


def test_provisioning_twice_finds_the_same_stack(aws):
    from infra.provision import provision

    assert provision(aws.stage) == aws


def test_a_failed_transaction_changes_nothing_on_the_local_dynamodb(aws):
    """The local moto server restores what a cancelled transaction wrote before it failed."""
    import pytest
    from botocore.exceptions import ClientError

    ddb = boto3.client("dynamodb")
    table = aws.table_name
    ddb.put_item(TableName=table, Item={"pk": {"S": "T#x#PROBE"}, "sk": {"S": "kept"}, "v": {"N": "1"}})
    with pytest.raises(ClientError, match="TransactionCanceled"):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "T#x#PROBE"}, "sk": {"S": "new"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "T#x#PROBE"}, "sk": {"S": "kept"}},
                        "UpdateExpression": "SET v = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "T#x#PROBE"}, "sk": {"S": "absent"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "T#x#PROBE"}, "sk": {"S": "new"}})
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "T#x#PROBE"}, "sk": {"S": "kept"}})["Item"][
        "v"
    ] == {"N": "1"}


def test_the_gateway_answers_problem_json_with_a_request_id_once_merged(tmp_path):
    """API Gateway refuses some requests before the app runs (no token, no such route): the merge
    template infra/gateway.yaml gives those answers the app's problem+json and X-Request-Id."""
    import json
    import os
    import shutil

    import yaml

    project = tmp_path / "project"
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        ROOT / ".chalice", project / ".chalice", ignore=shutil.ignore_patterns("deployments", "venv")
    )
    shutil.copy(ROOT / "app.py", project)
    env = {**os.environ, "STAGE": "prod", "AWS_DEFAULT_REGION": "us-east-1"}
    command = [
        str(Path(sys.executable).parent / "chalice"),
        "package",
        "--merge-template",
        str(ROOT / "infra" / "gateway.yaml"),
    ]
    done = subprocess.run(
        [*command, str(tmp_path / "out")], cwd=project, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    packaged = tmp_path / "out" / "sam.yaml"  # a YAML merge template makes the output YAML
    api = yaml.safe_load(packaged.read_text())["Resources"]["RestAPI"]["Properties"]
    assert api["DefinitionBody"]["paths"]  # merged into Chalice's API, not beside it
    responses = api["GatewayResponses"]
    assert {
        "UNAUTHORIZED",
        "ACCESS_DENIED",
        "MISSING_AUTHENTICATION_TOKEN",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    } <= responses.keys()
    example = {"$context.error.messageString": '"Unauthorized"', "$context.path": "/api/crm/customers"}
    for kind, response in responses.items():
        headers = response["ResponseParameters"]["Headers"]
        assert (
            headers["Content-Type"] == "'application/problem+json'"
            and headers["X-Request-Id"] == "context.requestId"
        )
        body = response["ResponseTemplates"]["application/json"]
        for variable, value in example.items():
            body = body.replace(variable, value)
        problem = json.loads(body)
        assert problem["type"].startswith("/problems/") and problem["title"] and problem["detail"], kind
        if "StatusCode" in response:
            assert problem["status"] == response["StatusCode"], kind
    assert responses["UNAUTHORIZED"]["StatusCode"] == 401
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    lint = subprocess.run([str(cfn_lint), str(packaged)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr

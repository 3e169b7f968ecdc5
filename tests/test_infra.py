"""The templates in infra/ are valid CloudFormation and build the stack the app expects."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

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


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: Any) -> dict[str, Any]:
    """`make package`'s template (infra/package.py) for stage ``prod``, of a copy of the app without
    its requirements, so nothing is downloaded (`make package` itself vendors them)."""
    from infra.package import package

    tmp = tmp_path_factory.mktemp("package")
    project = tmp / "project"
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        ROOT / ".chalice", project / ".chalice", ignore=shutil.ignore_patterns("deployments", "venv")
    )
    shutil.copy(ROOT / "app.py", project)
    template = package(tmp / "out", "prod", project)
    return {"path": template, **yaml.safe_load(template.read_text())}


def test_the_packaged_template_is_one_stack_that_passes_cfn_lint(packaged):
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(packaged["path"])], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    types = {r["Type"] for r in packaged["Resources"].values()}
    # Functions and API (Chalice), data and messaging, identity, roles: one template.
    assert {
        "AWS::Serverless::Function",
        "AWS::Serverless::Api",
        "AWS::DynamoDB::Table",
        "AWS::Events::EventBus",
        "AWS::SQS::Queue",
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::Cognito::UserPool",
        "AWS::SES::EmailIdentity",
        "AWS::IAM::Role",
        "AWS::CloudWatch::Alarm",
    } <= types


def test_every_handler_is_wired_to_its_queue_stream_or_schedule_by_reference(packaged):
    resources = packaged["Resources"]
    events = {
        name: next(iter(r["Properties"].get("Events", {}).values()), None)
        for name, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    relay = events["RelayOnWrite"]["Properties"]
    assert events["RelayOnWrite"]["Type"] == "DynamoDB"
    assert relay["Stream"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    from chalicelib.handoff.outbox import STREAM_FILTER

    assert [json.loads(f["Pattern"]) for f in relay["FilterCriteria"]["Filters"]] == [STREAM_FILTER]
    for function, queue in {
        "ErpConsumer": "ErpQueue",
        "CrmConsumer": "CrmQueue",
        "ErpDeadLetters": "ErpQueueDLQ",
        "CrmDeadLetters": "CrmQueueDLQ",
        "JobWorker": "JobsQueue",
    }.items():
        properties = events[function]["Properties"]
        assert properties["Queue"] == {"Fn::GetAtt": [queue, "Arn"]}, function
        assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"], function
    assert (
        events["RelayOutbox"]["Properties"]["Schedule"],
        events["ReconcileOrders"]["Properties"]["Schedule"],
    ) == ("rate(1 minute)", "rate(15 minutes)")
    assert events["JobWorker"]["Properties"]["BatchSize"] == 1
    assert resources["JobWorker"]["Properties"]["Timeout"] == 900  # the queue's visibility is 960
    assert events["DailyBackups"]["Properties"]["Schedule"] == "cron(0 2 * * ? *)"
    variables = packaged["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["TABLE_NAME"] == {"Ref": "Table"} and variables["TENANT_ROLE_ARN"] == {
        "Fn::GetAtt": ["TenantDataRole", "Arn"]
    }
    assert "{{resolve:secretsmanager:" in variables["CURSOR_SECRET"]["Fn::Sub"]  # never in the template
    # The gateway answers a browser's preflight with the stage's CorsOrigin (one per path).
    preflights = [
        method["x-amazon-apigateway-integration"]["responses"]["default"]["responseParameters"]
        for path in packaged["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"].values()
        for name, method in path.items()
        if name == "options"
    ]
    assert len(preflights) > 100
    assert all(
        p["method.response.header.Access-Control-Allow-Origin"] == {"Fn::Sub": "'${CorsOrigin}'"}
        for p in preflights
    )


def test_every_function_has_a_role_of_its_own_and_no_statement_grants_a_wildcard_action(packaged):
    resources = packaged["Resources"]
    functions = {n: r for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(roles)) == len(functions) == 14  # one each, none shared
    assert all(resources[r]["Type"] == "AWS::IAM::Role" for r in roles)
    assert "DefaultRole" not in resources  # Chalice's generated role is off
    statements = [
        (name, statement)
        for name, resource in resources.items()
        if resource["Type"] == "AWS::IAM::Role"
        for policy in resource["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    assert len(statements) > 40
    listed = [
        (name, action, statement["Resource"])
        for name, statement in statements
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    ]
    wildcard_actions = [(name, action) for name, action, _ in listed if "*" in action or "?" in action]
    assert wildcard_actions == []
    wildcard_resources = [
        (name, action) for name, action, resource in listed if resource == "*" or "*" in (resource or [])
    ]
    # The one action that takes no resource but "*" (IAM's service reference): the stream trigger's.
    assert wildcard_resources == [("RelayOnWriteRole", "dynamodb:ListStreams")]
    # The tenant data role is assumable by the API function's role alone.
    trust = resources["TenantDataRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"]["ArnEquals"]["aws:PrincipalArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/crmerp-${Stage}-api"
    }
    assert resources["APIHandlerRole"]["Properties"]["RoleName"] == {"Fn::Sub": "crmerp-${Stage}-api"}


def test_the_packaged_stack_s_own_resources_are_created_by_moto_s_cloudformation(packaged, moto_server):
    """Everything but what moto's CloudFormation cannot build (the SAM part, Cognito, SES,
    Secrets Manager's generated secret resolved into the functions) is created from the packaged
    template itself: roles, log groups, table, bus, queues, alarms, bucket, key."""
    own = {
        name: resource
        for name, resource in packaged["Resources"].items()
        if not resource["Type"].startswith(
            ("AWS::Serverless::", "AWS::Lambda::", "AWS::Cognito::", "AWS::SES::")
        )
        and name not in ("CursorSecret",)
    }

    def outside(value: Any) -> Any:  # what points at a resource moto cannot build points at a stand-in
        if isinstance(value, dict):
            if "Fn::GetAtt" in value and value["Fn::GetAtt"][0] not in own:
                return f"arn:aws:cognito-idp:us-east-1:123456789012:userpool/{value['Fn::GetAtt'][0]}"
            return {k: outside(v) for k, v in value.items()}
        return [outside(v) for v in value] if isinstance(value, list) else value

    own = outside(own)
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": packaged["Parameters"],
        "Conditions": packaged["Conditions"],
        "Resources": own,
    }
    cfn = boto3.client("cloudformation")
    cfn.create_stack(
        StackName="crmerp-prod",
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": "PublicUrl", "ParameterValue": "https://api.example.com"}],
    )
    cfn.get_waiter("stack_create_complete").wait(StackName="crmerp-prod", WaiterConfig={"Delay": 1})
    made = {
        r["LogicalResourceId"]
        for r in cfn.list_stack_resources(StackName="crmerp-prod")["StackResourceSummaries"]
        if r.get("ResourceStatus") == "CREATE_COMPLETE"
    }
    assert {
        "Table",
        "TenantDataRole",
        "APIHandlerRole",
        "ErpConsumerRole",
        "APIHandlerLogs",
        "ErpQueue",
    } <= made
    role = boto3.client("iam").get_role(RoleName="crmerp-prod-api")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/crmerp-prod-")[
        "logGroups"
    ]
    assert {g["logGroupName"] for g in groups} >= {
        "/aws/lambda/crmerp-prod-api",
        "/aws/lambda/crmerp-prod-erp-consumer",
    }


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
    assert ("ApproximateAgeOfOldestMessage", "{'Fn::GetAtt': ['ErpQueueDLQ', 'QueueName']}") in watched
    assert ("ApproximateAgeOfOldestMessage", "{'Fn::GetAtt': ['CrmQueueDLQ', 'QueueName']}") in watched
    assert (
        "ApproximateNumberOfMessagesVisible",
        "{'Fn::GetAtt': ['DeadLetterQuarantine', 'QueueName']}",
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


def test_the_gateway_answers_problem_json_with_a_request_id_once_merged(packaged):
    """API Gateway refuses some requests before the app runs (no token, no such route): the merge
    template infra/gateway.yaml gives those answers the app's problem+json and X-Request-Id."""
    api = packaged["Resources"]["RestAPI"]["Properties"]
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

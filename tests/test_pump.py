"""The local pump delivers queue messages and schedules to Chalice handlers as Lambda would."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from chalice import Chalice, Rate

from infra.pump import Pump, matches, schedule_seconds


@pytest.fixture
def queues(aws):
    sqs = boto3.client("sqs")
    name = f"pump-{uuid.uuid4().hex[:8]}"
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
        },
    )["QueueUrl"]
    return sqs, name, url, dlq


def test_messages_reach_the_handler_and_reported_failures_end_in_the_dlq(queues):
    sqs, name, url, dlq = queues
    app = Chalice("pump-test")
    seen: list[str] = []

    @app.on_sqs_message(queue=name, batch_size=10)
    def consume(event):
        failures = []
        for record in event:
            seen.append(record.body)
            if record.body == "poison":
                failures.append({"itemIdentifier": record.to_dict()["messageId"]})
        return {"batchItemFailures": failures}

    for body in ("a", "b", "poison"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    pump = Pump(app)
    for _ in range(6):
        pump.run_once()
    assert sorted(set(seen)) == ["a", "b", "poison"]
    assert seen.count("a") == 1 and seen.count("b") == 1  # done messages are deleted, not redelivered
    assert seen.count("poison") == 2  # maxReceiveCount
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in dead] == ["poison"]
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []


def test_a_handler_that_raises_gets_the_whole_batch_back(queues):
    sqs, name, url, _ = queues
    app = Chalice("pump-test")
    calls = []

    @app.on_sqs_message(queue=name, batch_size=10)
    def consume(event):
        calls.append([r.body for r in event])
        if len(calls) == 1:
            raise RuntimeError("transient")

    sqs.send_message(QueueUrl=url, MessageBody="x")
    pump = Pump(app)
    pump.run_once()
    pump.run_once()
    assert calls == [["x"], ["x"]]
    assert pump.run_once() == 0


def test_schedules_fire_on_their_rate_and_on_demand(aws):
    app = Chalice("pump-test")
    fired = []

    @app.schedule(Rate(15, unit=Rate.MINUTES))
    def reconcile(event):
        fired.append(event.to_dict()["detail-type"])

    pump = Pump(app)
    pump.run_once()
    assert fired == []  # first run is one period after start, as with EventBridge
    pump.fire("reconcile")
    assert fired == ["Scheduled Event"]
    with pytest.raises(KeyError, match="reconcile"):
        pump.fire("nope")


def test_table_stream_records_reach_the_handler_from_the_pumps_start_and_a_failed_batch_comes_again(aws):
    app = Chalice("pump-test")
    batches: list[list[tuple[str, str]]] = []

    @app.on_dynamodb_record(
        stream_arn="arn:aws:dynamodb:us-east-1:123456789012:table/x/stream/declared", name="watch"
    )
    def watch(event):
        batches.append([(r.event_name, r.new_image["sk"]["S"]) for r in event])
        if len(batches) == 2:
            raise RuntimeError("transient")

    ddb = boto3.client("dynamodb")
    key = f"P#PUMP#{uuid.uuid4().hex[:8]}"
    ddb.put_item(TableName=aws.table_name, Item={"pk": {"S": key}, "sk": {"S": "before"}})
    pump = Pump(app, stream_arns={"watch": aws.table_stream_arn})
    assert (
        pump.handler_names() == ["watch"] and Pump(app).handler_names() == []
    )  # fed only when its stream is named
    ddb.put_item(TableName=aws.table_name, Item={"pk": {"S": key}, "sk": {"S": "one"}})
    assert pump.run_once() == 1
    ddb.put_item(TableName=aws.table_name, Item={"pk": {"S": key}, "sk": {"S": "two"}})
    pump.run_once()  # the handler raises: the batch stays
    pump.run_once()
    assert batches == [[("INSERT", "one")], [("INSERT", "two")], [("INSERT", "two")]]
    assert pump.run_once() == 0
    with pytest.raises(KeyError, match="stream"):
        Pump(app).fire("watch")


def test_a_stream_handler_gets_only_the_records_its_filter_matches(aws):
    """As Lambda's filter criteria: the records the pattern does not match never reach the handler
    (however many there are), the matching ones come in batches of the handler's size, and a batch
    whose handler raises comes again from its own first record, not the batches before it."""
    app = Chalice("pump-filter")
    batches: list[list[str]] = []

    @app.on_dynamodb_record(
        stream_arn="arn:aws:dynamodb:us-east-1:123456789012:table/x/stream/declared",
        batch_size=2,
        name="watch",
    )
    def watch(event):
        batches.append([r.new_image["sk"]["S"] for r in event])
        if len(batches) == 2:
            raise RuntimeError("transient")

    ddb = boto3.client("dynamodb")
    key = f"P#PUMP#{uuid.uuid4().hex[:8]}"
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["wanted"]}}}}
    pump = Pump(app, stream_arns={"watch": aws.table_stream_arn}, stream_filters={"watch": pattern})
    for n in range(30):
        kind = "wanted" if n % 6 == 0 else "other"
        ddb.put_item(
            TableName=aws.table_name, Item={"pk": {"S": key}, "sk": {"S": f"{n:02d}"}, "kind": {"S": kind}}
        )
    ddb.update_item(  # a change of a wanted item is no insert
        TableName=aws.table_name,
        Key={"pk": {"S": key}, "sk": {"S": "00"}},
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "1"}},
    )
    assert pump.run_once() == 31  # every record read, the second batch raised
    assert pump.run_once() == 19  # again from the batch that raised
    assert pump.run_once() == 0
    assert batches == [["00", "06"], ["12", "18"], ["12", "18"], ["24"]]
    assert matches({"sk": {"S": [{"prefix": "0"}]}}, {"sk": {"S": "00"}})  # a prefix rule, as the relay's
    assert not matches({"sk": {"S": [{"prefix": "0"}]}}, {"sk": {"S": "10"}})
    with pytest.raises(ValueError, match="filter rule"):
        matches({"sk": {"S": [{"numeric": [">", 0]}]}}, {"sk": {"S": "00"}})


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(15 minutes)", 900),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("cron(0 2 * * ? *)", None),
    ],
)
def test_schedule_expressions(expression, seconds):
    assert schedule_seconds(expression) == seconds


def test_a_daily_cron_schedule_runs_at_its_time_of_day_in_utc():
    from datetime import UTC, datetime

    from infra.pump import next_daily

    before = datetime(2026, 12, 2, 1, 59, 30, tzinfo=UTC)
    assert next_daily("cron(0 2 * * ? *)", before) == datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    after = datetime(2026, 12, 2, 2, 0, 1, tzinfo=UTC)
    assert next_daily("cron(0 2 * * ? *)", after) == datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    assert next_daily("cron(0 2 ? * MON *)", after) is None  # not a daily one: on demand only

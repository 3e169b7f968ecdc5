"""The local pump: what Lambda's event source mappings and EventBridge schedules do in AWS.

It delivers SQS messages to the app's ``@app.on_sqs_message`` handlers (batch, partial failures:
messages the handler reports in ``batchItemFailures`` stay on the queue and come back, and moto
moves them to the dead-letter queue after ``maxReceiveCount``), the table's stream records to its
``@app.on_dynamodb_record`` handlers (from the pump's start, as ``LATEST``; only the records a
handler's event filter matches, as Lambda's filter criteria drop the rest before batching; a batch
whose handler raises is delivered again, as Lambda retries a stream batch) and fires ``@app.schedule`` handlers
at their ``rate(...)``.  It calls the very handler objects Lambda would call.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
READ_LIMIT = 1000  # GetRecords' most records per call


def matches(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    """Whether a record matches a Lambda event filter pattern, in the part of its syntax the app
    uses: nested objects down to a list of exact values or ``{"prefix": ...}`` rules, one of which
    the field must match."""
    for field, wanted in pattern.items():
        if field not in record:
            return False
        value = record[field]
        if isinstance(wanted, dict):
            if not isinstance(value, dict) or not matches(wanted, value):
                return False
        elif isinstance(wanted, list) and all(
            isinstance(w, str | int | float | bool) or (isinstance(w, dict) and set(w) == {"prefix"})
            for w in wanted
        ):
            if not any(
                (isinstance(w, dict) and isinstance(value, str) and value.startswith(w["prefix"]))
                or w == value
                for w in wanted
            ):
                return False
        else:
            raise ValueError(f"the pump knows no filter rule {wanted!r} (only lists of exact values)")
    return True


@dataclasses.dataclass
class LambdaContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    function_name: str
    aws_request_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    timeout_seconds: int = 60
    started: float = dataclasses.field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


def schedule_seconds(expression: Any) -> int | None:
    """Seconds between runs of a ``rate(...)`` schedule; None for cron (fired on demand only)."""
    text = expression if isinstance(expression, str) else expression.to_string()
    match = _RATE.match(text.strip())
    if not match:
        return None
    unit = match.group(2).rstrip("s")
    return int(match.group(1)) * _UNIT_SECONDS[unit]


_DAILY = re.compile(r"^cron\((\d{1,2}) (\d{1,2}) \* \* \? \*\)$")


def next_daily(expression: Any, now: datetime) -> datetime | None:
    """When a daily ``cron(M H * * ? *)`` schedule runs next after ``now`` (UTC); None for others."""
    text = expression if isinstance(expression, str) else expression.to_string()
    match = _DAILY.match(text.strip())
    if not match:
        return None
    at = now.replace(hour=int(match.group(2)), minute=int(match.group(1)), second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


def scheduled_event(name: str, region: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:123456789012:rule/{name}"],
        "detail": {},
    }


class Pump:
    def __init__(
        self,
        app: Any,
        region: str = "us-east-1",
        poll_seconds: float = 0.2,
        *,
        queue_urls: dict[str, str] | None = None,
        stream_arns: dict[str, str] | None = None,
        stream_filters: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """``queue_urls``: a handler's queue by URL rather than by its declared name (tests run
        stacks of several stages); ``stream_arns``: the stream handlers to feed, with the stream
        each reads (a table's stream ARN exists only once the table does, so it is named here, not
        taken from the import); ``stream_filters``: a stream handler's event filter pattern (the
        deployment's ``FilterCriteria``), records it does not match never reach the handler."""
        self.app = app
        self._handler_urls = dict(queue_urls or {})
        self.region = region
        self.poll_seconds = poll_seconds
        self._sqs = boto3.client("sqs", region_name=region)
        self._streams = boto3.client("dynamodbstreams", region_name=region)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_run: dict[str, float] = {}
        self._next_daily: dict[str, datetime | None] = {}
        self._queue_urls: dict[str, str] = {}
        self._stream_arns = dict(stream_arns or {})
        self._stream_filters = dict(stream_filters or {})
        self._shards = {name: self._open_shards(arn, "LATEST") for name, arn in self._stream_arns.items()}

    # ---- what the app declares -----------------------------------------------------------------
    def queue_sources(self) -> list[Any]:
        return [s for s in self.app.event_sources if type(s).__name__ == "SQSEventConfig"]

    def schedule_sources(self) -> list[Any]:
        return [s for s in self.app.event_sources if type(s).__name__ == "ScheduledEventConfig"]

    def stream_sources(self) -> list[Any]:
        return [
            s
            for s in self.app.event_sources
            if type(s).__name__ == "DynamoDBEventConfig" and s.name in self._stream_arns
        ]

    def handler_names(self) -> list[str]:
        return [s.name for s in self.queue_sources() + self.stream_sources() + self.schedule_sources()]

    # ---- delivering ----------------------------------------------------------------------------
    def _queue_url(self, queue: str) -> str:
        if queue not in self._queue_urls:
            self._queue_urls[queue] = self._sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        return self._queue_urls[queue]

    def deliver(self, source: Any) -> int:
        """Receive one batch from the source's queue and hand it to the handler; returns its size."""
        url = self._handler_urls.get(source.name) or self._queue_url(source.queue)
        answer = self._sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(source.batch_size, 10),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return 0
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": m.get("MessageAttributes", {}),
                    "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": self.region,
                }
                for m in messages
            ]
        }
        try:
            result = self._invoke(source.name, event)
        except Exception:
            return len(messages)
        failed = (
            {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            if isinstance(result, dict)
            else set()
        )
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return len(messages)

    def _open_shards(self, arn: str, position: str, known: Collection[str] = ()) -> dict[str, str]:
        """Shard id → iterator for the stream's shards not read yet (all of them at the start)."""
        shards = self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        return {
            s["ShardId"]: self._streams.get_shard_iterator(
                StreamArn=arn, ShardId=s["ShardId"], ShardIteratorType=position
            )["ShardIterator"]
            for s in shards
            if s["ShardId"] not in known
        }

    def deliver_stream(self, source: Any) -> int:
        """The records waiting on each shard (up to GetRecords' 1,000), those the handler's filter
        matches in batches of its size; returns how many records were read. A batch whose handler
        raises comes again from its first record, the batches before it are not repeated."""
        arn, shards, done = self._stream_arns[source.name], self._shards[source.name], 0
        pattern = self._stream_filters.get(source.name)
        for shard_id, iterator in list(shards.items()):
            answer = self._streams.get_records(ShardIterator=iterator, Limit=READ_LIMIT)
            done += len(answer["Records"])
            records = [
                {
                    **r,
                    "eventSourceARN": arn,
                    "dynamodb": {
                        **r["dynamodb"],
                        "ApproximateCreationDateTime": r["dynamodb"][
                            "ApproximateCreationDateTime"
                        ].timestamp(),
                    },
                }
                for r in answer["Records"]
                if pattern is None or matches(pattern, r)
            ]
            for at in range(0, len(records), source.batch_size):
                batch = records[at : at + source.batch_size]
                try:
                    self._invoke(source.name, {"Records": batch})
                except Exception as exc:
                    print(f"pump: {source.name} raised {exc!r}; its batch comes again", flush=True)
                    shards[shard_id] = self._streams.get_shard_iterator(
                        StreamArn=arn,
                        ShardId=shard_id,
                        ShardIteratorType="AT_SEQUENCE_NUMBER",
                        SequenceNumber=batch[0]["dynamodb"]["SequenceNumber"],
                    )["ShardIterator"]
                    return done
            if answer.get("NextShardIterator"):
                shards[shard_id] = answer["NextShardIterator"]
            else:  # the shard closed: read its children from their start
                del shards[shard_id]
                shards.update(self._open_shards(arn, "TRIM_HORIZON", {shard_id, *shards}))
        return done

    def _invoke(self, name: str, event: dict[str, Any]) -> Any:
        """Call the handler as Lambda would, naming the function that runs (its role judges its calls
        in the tests: infra/package.py names each ``crmerp-<stage>-<name-with-dashes>``)."""
        from chalicelib.core import aws

        with aws.running(name.replace("_", "-")):
            return self.app.handler_map[name](event, LambdaContext(name))

    def fire(self, name: str) -> Any:
        """Run one handler now: a scheduled one with a scheduled event, a queue one on its queue."""
        for source in self.schedule_sources():
            if source.name == name:
                return self._invoke(name, scheduled_event(name, self.region))
        for source in self.queue_sources():
            if source.name == name:
                return self.deliver(source)
        for source in self.stream_sources():
            if source.name == name:
                return self.deliver_stream(source)
        if any(type(s).__name__ == "DynamoDBEventConfig" and s.name == name for s in self.app.event_sources):
            raise KeyError(f"{name} runs on the records of its table's stream, not on demand")
        raise KeyError(f"no handler {name!r}; the app has: {', '.join(self.handler_names()) or 'none'}")

    def run_once(self) -> int:
        """One round: each stream and queue read once, each schedule that is due fired. Returns work done."""
        work = 0
        for source in self.stream_sources():
            work += self.deliver_stream(source)
        for source in self.queue_sources():
            work += self.deliver(source)
        now = time.monotonic()
        for source in self.schedule_sources():
            every = schedule_seconds(source.schedule_expression)
            if every is None:  # a daily cron: by the clock (UTC), as EventBridge runs it
                wall = datetime.now(UTC)
                daily = self._next_daily.setdefault(source.name, next_daily(source.schedule_expression, wall))
                if daily is not None and wall >= daily:
                    self._next_daily[source.name] = next_daily(source.schedule_expression, wall)
                    self.fire(source.name)
                    work += 1
                continue
            due = self._next_run.setdefault(source.name, now + every)
            if now >= due:
                self._next_run[source.name] = now + every
                self.fire(source.name)
                work += 1
        return work

    # ---- running -------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="pump", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception as exc:
                print(f"pump: {exc!r}", flush=True)
                busy = 0
            if not busy:
                self._stop.wait(self.poll_seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

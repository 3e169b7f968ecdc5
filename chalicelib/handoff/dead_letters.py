"""Dead letters, per tenant: the handoff messages a consumer gave up on, and their redrive.

SQS cannot filter a queue by tenant, so listing receives the dead-letter queues' messages with a
visibility timeout of 0 (they stay where they are) and keeps those whose event names the caller's
tenant. Redriving sends a message back to its consumer's queue and only then deletes it from the
dead-letter queue: a failure between the two leaves a copy in both, which the consumer's
idempotency makes harmless.
"""

from __future__ import annotations

import json
import os
from typing import Any

from chalicelib.core import aws

ROUNDS = 10  # receives per queue when listing (10 messages each)


def _queues() -> dict[str, tuple[str, str]]:
    """consumer → (dead-letter queue URL, its source queue URL)."""
    env = os.environ
    return {name: (env[f"{name.upper()}_DLQ_URL"], env[f"{name.upper()}_QUEUE_URL"])
            for name in ("erp", "crm") if env.get(f"{name.upper()}_DLQ_URL")}  # fmt: skip


def _describe(consumer: str, message: dict[str, Any]) -> dict[str, Any] | None:
    try:
        envelope = json.loads(message["Body"])
        detail = envelope["detail"] if isinstance(envelope["detail"], dict) else json.loads(envelope["detail"])
    except (ValueError, KeyError, TypeError):
        return None
    return {"message_id": message["MessageId"], "consumer": consumer, "type": envelope.get("detail-type", ""),
            "tenant_id": detail.get("tenant_id"), "event_id": detail.get("event_id", ""), "order_id": detail.get("order_id", ""),
            "occurred_at": detail.get("occurred_at", ""),
            "receive_count": int(message.get("Attributes", {}).get("ApproximateReceiveCount", "0"))}  # fmt: skip


def _scan(tenant_id: str, visibility: int) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    found: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {}
    for consumer, (dlq, _) in _queues().items():
        for _ in range(ROUNDS):
            answer = aws.sqs().receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=visibility,
                                               AttributeNames=["All"])  # fmt: skip
            messages = answer.get("Messages", [])
            if not messages:
                break
            for message in messages:
                described = _describe(consumer, message)
                if described and described["tenant_id"] == tenant_id:
                    found[message["MessageId"]] = (consumer, message, described)
                elif visibility:  # another tenant's: make it visible again at once
                    aws.sqs().change_message_visibility(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            if visibility == 0 and len(found) >= 100:
                break
    return list(found.values())


def listing(tenant_id: str) -> list[dict[str, Any]]:
    return sorted((d for _, _, d in _scan(tenant_id, 0)), key=lambda d: d["occurred_at"])


def redrive(tenant_id: str, message_ids: list[str] | None) -> list[dict[str, Any]]:
    """Send the tenant's dead letters (all, or these) back to their queues."""
    moved = []
    for consumer, message, described in _scan(tenant_id, 30):
        if message_ids is not None and message["MessageId"] not in message_ids:
            continue
        dlq, source = _queues()[consumer]
        aws.sqs().send_message(QueueUrl=source, MessageBody=message["Body"])
        aws.sqs().delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
        moved.append(described)
    return moved

"""Dead letters, per company: the handoff messages a consumer gave up on, and their redrive.

SQS cannot filter a queue by company, so each dead-letter queue has a handler of its own
(``erp_dead_letters``, ``crm_dead_letters``) that parks every message it receives in the table,
under the company's key (``T#<tenant>#DEADLETTER``, in event time order), and then lets SQS delete
it. Listing is one Query of the company's partition and redriving takes the company's items only:
both are exact whatever other companies have failed. Parking counts ``DeadLettersParked`` (the
deployment's alarm) and logs the message. A message that names no valid company cannot be parked:
its handler fails, so it stays in the dead-letter queue and, after five tries, moves to the
quarantine queue, whose depth is alarmed too.

Redriving sends a parked message back to its consumer's queue and only then deletes it, on the
condition that it is still the message that was read (one that failed again meanwhile and was
parked anew stays). A failure between the two leaves it parked and sent, which the consumer's
markers make harmless (``api/handlers.py``): a retried redrive is harmless too.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from chalicelib.core import aws, keys, observability
from chalicelib.core.store import ConditionFailed, Page, Store, utcnow
from chalicelib.handoff import repository

REDRIVE_AT_MOST = 100  # per request; the answer says when more are left
_OCCURRED_AT = re.compile(r"^[0-9T:.+\-Z]{1,40}$")
PUBLIC = (
    "message_id",
    "consumer",
    "type",
    "event_id",
    "order_id",
    "occurred_at",
    "receive_count",
    "parked_at",
)


class UnreadableDeadLetterError(ValueError):
    """A dead-letter message that names no company: it cannot be parked under one."""


def _source_queue(consumer: str) -> str:
    return os.environ[f"{consumer.upper()}_QUEUE_URL"]


def parked(consumer: str, message_id: str, body: str, receive_count: int) -> dict[str, Any]:
    """The item that keeps a message of ``consumer``'s dead-letter queue under its company's key."""
    try:
        envelope = json.loads(body)
        detail = (
            envelope["detail"] if isinstance(envelope["detail"], dict) else json.loads(envelope["detail"])
        )
        tenant_id = detail["tenant_id"]
    except (ValueError, KeyError, TypeError) as exc:
        raise UnreadableDeadLetterError(f"dead letter {message_id} is not an event naming a company") from exc
    if not isinstance(tenant_id, str) or not keys.is_tenant_id(tenant_id) or not keys.is_segment(message_id):
        raise UnreadableDeadLetterError(f"dead letter {message_id} names no valid company")
    occurred_at = str(detail.get("occurred_at") or "")
    return {
        **keys.dead_letter(tenant_id, occurred_at if _OCCURRED_AT.match(occurred_at) else "-", message_id),
        "tenant_id": tenant_id,
        "message_id": message_id,
        "consumer": consumer,
        "type": str(envelope.get("detail-type", "")),
        "event_id": str(detail.get("event_id", "")),
        "order_id": str(detail.get("order_id", "")),
        "occurred_at": occurred_at,
        "receive_count": receive_count,
        "parked_at": utcnow(),
        "body": body,
    }


def park(store: Store, items: list[dict[str, Any]]) -> None:
    """Write parked items (a message delivered again overwrites its own item), count and log them."""
    store.put_all(items)
    for item in items:
        observability.logger().warning(
            "dead letter parked", extra={"tenant_id": item["tenant_id"], **_public(item)}
        )
    if items:
        observability.count("DeadLettersParked", len(items))


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in PUBLIC}


def listing(store: Store, tenant_id: str, limit: int, cursor: str | None) -> Page:
    """The company's parked dead letters, oldest event first."""
    page = store.query_page(
        tenant_id=tenant_id,
        partition=keys.dead_letters_pk(tenant_id),
        limit=limit,
        cursor=cursor,
        query_id="dead-letters",
    )
    return Page([_public(i) for i in page.items], page.next_cursor)


def redrive(store: Store, tenant_id: str, message_ids: list[str] | None) -> tuple[list[dict[str, Any]], bool]:
    """Send the company's dead letters (all, or these) back to their queues, at most
    ``REDRIVE_AT_MOST`` at a time; answers those moved and whether more are left."""
    chosen, more = _choose(store, tenant_id, None if message_ids is None else set(message_ids))
    moved: list[dict[str, Any]] = []
    for consumer in sorted({i["consumer"] for i in chosen}):
        items = [i for i in chosen if i["consumer"] == consumer]
        for start in range(0, len(items), 10):
            batch = items[start : start + 10]
            entries = [{"Id": str(n), "MessageBody": i["body"]} for n, i in enumerate(batch)]
            sent = (
                aws.sqs()
                .send_message_batch(QueueUrl=_source_queue(consumer), Entries=entries)
                .get("Successful", [])
            )
            for entry in sent:
                item = batch[int(entry["Id"])]
                key = {"pk": item["pk"], "sk": item["sk"]}
                try:
                    store.transact([repository.dead_letter_removed(key, item["message_id"])])
                except ConditionFailed:
                    continue  # redriven by a concurrent request, or parked anew: not ours to report
                moved.append(_public(item))
    if moved:
        observability.count("DeadLettersRedriven", len(moved))
    return moved, more


def _choose(store: Store, tenant_id: str, wanted: set[str] | None) -> tuple[list[dict[str, Any]], bool]:
    chosen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = store.query_page(
            tenant_id=tenant_id,
            partition=keys.dead_letters_pk(tenant_id),
            limit=100,
            cursor=cursor,
            query_id="redrive",
        )
        for item in page.items:
            if wanted is None or item["message_id"] in wanted:
                if len(chosen) == REDRIVE_AT_MOST:
                    return chosen, True
                chosen.append(item)
        if not page.next_cursor or (wanted is not None and len(chosen) == len(wanted)):
            return chosen, False
        cursor = page.next_cursor

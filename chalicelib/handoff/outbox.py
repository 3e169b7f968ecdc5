"""The outbox: events written in the transaction of the change they announce, relayed to the bus.

An outbox item (``T#<t>#OUTBOX``) also sits on gsi1 under one of 16 platform partitions
(``P#OUTBOX#<nn>``, chosen by order, time-ordered) where the relay finds every company's pending
events: no one key takes every order's writes, and an order's events stay in one partition, in
order. Next to it, the order's event trail (``T#<t>#HANDOFF#<order>``) keeps each event with its
delivery attempts, publication time and which consumer handled it when: ``GET
/crm/orders/{id}/handoff`` reads it.

A new outbox item is published by the table stream's handler from the stream record itself (no
read); the sweep (every minute) reads the index's partitions for what is left.

The relay publishes in batches of up to ten, at most one event per order per batch, so the events
of one order it handles together reach the bus in the order they were written; an entry
``put_events`` reports as failed stays in the outbox (the rest of its order waits for the next run
of that relay) and its attempt is counted. Across runs the order is best effort: the stream's relay
may publish an order's next event while an earlier one waits for the sweep after a failure, and the
queues are standard SQS anyway; the consumers derive an order's state from the set of facts, in any
order (docs/events.md). An item
leaves the outbox only after the bus took it: a relay that dies part-way loses nothing and at worst
publishes an event again, which the consumers' markers absorb (``api/handlers.py``).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from chalicelib.core import keys
from chalicelib.core.store import ConditionFailed, Operations, Store, put_new, utcnow
from chalicelib.handoff import repository
from chalicelib.handoff.contracts import Event

BATCH = 10  # put_events takes at most ten entries
# The stream records the relay's trigger (app.py's relay_on_write) is given, as a Lambda event filter
# pattern: a new outbox item. The deployment's FilterCriteria and the local pump both apply it, so a
# 20,000-row import's writes never wake the relay.
STREAM_FILTER: dict[str, Any] = {
    "eventName": ["INSERT"],
    "dynamodb": {"NewImage": {"gsi1pk": {"S": [{"prefix": keys.OUTBOX_INDEX_PREFIX}]}}},
}
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclasses.dataclass(frozen=True)
class Handled:
    """What a consumer did with an event: the events it answered with, and whether this delivery is
    the one that made the event's change (False: a redelivery, or a concurrent delivery made it);
    usage is counted on that one only."""

    answered: list[Event]
    first: bool


class Dropped(Exception):
    """The event must be acknowledged with no effect (its company is closed, or a restore replaced
    the world it is about): ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def derived_id(prefix: str, *parts: str) -> str:
    """A stable id for a record derived from others (an order's invoice, a line's reservation):
    a retried consumer can only ever write that same record."""
    digest = int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:17], "big")
    return prefix + "_" + "".join(_ALPHABET[(digest >> (5 * i)) & 31] for i in range(26))[::-1]


def records(event: Event, source: str, summary: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The outbox item and the trail entry of an event, as conditional puts (an event is written once)."""
    detail_type = type(event).__name__
    outbox = {
        **keys.outbox(event.tenant_id, event.occurred_at, event.event_id, event.order_id),
        "event_id": event.event_id,
        "tenant_id": event.tenant_id,
        "order_id": event.order_id,
        "source": source,
        "detail_type": detail_type,
        "detail": event.model_dump_json(),
    }
    trail = {
        **keys.handoff_trail(event.tenant_id, event.order_id, event.occurred_at, event.event_id),
        "event_id": event.event_id,
        "type": detail_type,
        "source": source,
        "occurred_at": event.occurred_at,
        "attempts": 0,
        "handled": {},
        "summary": summary or {},
    }
    return [put_new(outbox), put_new(trail)]


def write(
    store: Store, events: list[tuple[Event, str, dict[str, Any]]], extra: Operations | None = None
) -> bool:
    """Write events on their own (a consumer's answers), with ``extra`` in the same transaction;
    False when they were written before (and ``extra`` is not written)."""
    operations: Operations = [
        op for event, source, summary in events for op in records(event, source, summary)
    ]
    operations += extra or []
    try:
        store.transact(operations)
    except ConditionFailed:
        return False
    return True


def pending(store: Store, limit: int) -> list[dict[str, Any]]:
    """The oldest pending events of every partition of the index (``limit`` each), oldest first."""
    found = [
        item
        for partition in keys.outbox_index_pks()
        for item in store.query_first(partition=partition, index="gsi1", limit=limit)
    ]
    return sorted(found, key=lambda i: i["gsi1sk"])


def _mark_published(store: Store, items: list[dict[str, Any]]) -> None:
    """One transaction for a batch the bus took: each outbox item removed, its trail entry updated
    (no conditions, distinct items: it cannot be refused for what it holds)."""
    now = utcnow()
    store.transact(
        [
            op
            for i in items
            for op in (
                {"Delete": {"Key": {"pk": i["pk"], "sk": i["sk"]}}},
                {"Update": repository.delivery_attempt(i, now, None)},
            )
        ]
    )


def _mark_failed(store: Store, item: dict[str, Any], error: str) -> None:
    store.update(**repository.delivery_attempt(item, utcnow(), error))


def relay(
    store: Store,
    events_client: Any,
    bus_name: str,
    limit: int = 500,
    items: list[dict[str, Any]] | None = None,
) -> dict[str, int]:
    """Publish outbox events: ``items`` (the new ones the table's stream just showed: no read), or
    else the pending ones of the index (the sweep); returns how many were published and failed."""
    queue = sorted(pending(store, limit) if items is None else items, key=lambda i: i["gsi1sk"])
    blocked: set[tuple[str, str]] = set()
    published = failed = 0
    while queue:
        batch: list[dict[str, Any]] = []
        rest: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        for item in queue:
            order = (item["tenant_id"], item["order_id"])
            if order in blocked:
                continue  # an earlier event of this order is not out yet: keep the order's sequence
            if order in seen or len(batch) == BATCH:
                rest.append(item)
                continue
            seen.add(order)
            batch.append(item)
        if not batch:
            break
        entries = [
            {
                "Source": i["source"],
                "DetailType": i["detail_type"],
                "Detail": i["detail"],
                "EventBusName": bus_name,
            }
            for i in batch
        ]
        try:
            answer = events_client.put_events(Entries=entries)
            results = answer.get("Entries", [])
        except Exception as exc:  # the bus refused the whole call: every entry waits for the next run
            results = [{"ErrorCode": type(exc).__name__, "ErrorMessage": str(exc)}] * len(batch)
        out = []
        for item, result in zip(batch, results, strict=False):
            if result.get("ErrorCode"):
                blocked.add((item["tenant_id"], item["order_id"]))
                _mark_failed(store, item, f"{result.get('ErrorCode')}: {result.get('ErrorMessage', '')}")
                failed += 1
            else:
                out.append(item)
        if out:
            _mark_published(store, out)
            published += len(out)
        queue = rest
    return {"published": published, "failed": failed}


def trail_key(event: Event) -> dict[str, str]:
    """The key of the event's entry on its order's trail."""
    return keys.handoff_trail(event.tenant_id, event.order_id, event.occurred_at, event.event_id)


def handled_update(event: Event, consumer: str) -> dict[str, Any]:
    """The trail's note that ``consumer`` handled the event, as an Update for a transaction; its
    condition fails for an event that has no trail entry or that ``consumer`` handled before."""
    return repository.handled_by(trail_key(event), consumer, utcnow())


def handled(store: Store, event: Event, consumer: str) -> bool:
    """Note on the trail that ``consumer`` handled the event, on its own; whether this call noted it
    (False: noted before, or an event without a trail entry, sent by hand)."""
    try:
        store.update(**handled_update(event, consumer))
    except ConditionFailed:
        return False
    return True


def dropped(store: Store, event: Event, consumer: str, reason: str) -> None:
    """Note on the trail that ``consumer`` dropped the event, and why (nothing if it has no entry)."""
    note = {"consumer": consumer, "at": utcnow(), "reason": reason}
    try:
        store.update(**repository.dropped_by(trail_key(event), note))
    except ConditionFailed:
        pass  # an event without a trail entry (the restore brought back a world without it)


def trail(store: Store, tenant_id: str, order_id: str) -> list[dict[str, Any]]:
    return store.query_all(partition=keys.handoff_trail_pk(tenant_id, order_id))

"""The handoff's Lambda entry points: the two queue consumers and the outbox relay.

Consumers use Powertools batch processing (a failed record comes back alone, through
``batchItemFailures``). A record that is not a known event of a known major version raises: after
the queue's ``maxReceiveCount`` it rests in the DLQ.

Exactly once without an idempotency store: what a consumer writes for an event is keyed by ids
derived from the order and the event, and written with a marker a second delivery's write is
refused on (the ERP's ``ERP#DECIDED`` in the one transaction that reserves, plans and invoices; the
cancellation's answer noted on ``ERP#CANCELLED``; the CRM's handled mark on the event's trail entry,
in the order's transaction). A redelivered event finds its marker and answers nothing; of two
concurrent deliveries one transaction is refused, and its consumer reads again and finds the
marker. Usage is counted by the delivery whose write went through (``Handled.first``).

Before an event has any effect the consumer reads the company's state and epoch (its profile, in
the same consistent BatchGetItem as the event's own facts): an event of an earlier epoch is of the
world a restore replaced, and is dropped: acknowledged, not retried, noted on the order's trail and
in the log. The race, and its bound: a consumer that read the epoch just before a restore began may
still write. The restore waits a quiesce time of at least the consumers' Lambda timeout before it
touches data, so such a write lands before the restore and is overwritten by it; the answers it
wrote carry the old epoch and are dropped downstream. Every event of a company being closed, or
closed (no profile any more), is dropped alike: nothing may write under its keys again, and a dead
letter of such a company is not parked (it moves on to the quarantine).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalicelib.billing import published as billing
from chalicelib.core import aws, keys, observability
from chalicelib.core.config import settings
from chalicelib.core.store import Store, to_plain
from chalicelib.handoff import contracts, dead_letters, outbox
from chalicelib.tenants import published as company

STORE = Store()


def _erp(event: contracts.Event) -> outbox.Handled:
    from chalicelib.erp import intake  # each consumer's Lambda loads only its own context

    if isinstance(event, contracts.OrderConfirmed):
        return intake.handle_confirmed(STORE, event)  # reads the company's state with its own facts
    if isinstance(event, contracts.OrderCancelled):
        return intake.handle_cancelled(STORE, event)
    return outbox.Handled([], first=False)  # events the ERP does not act on


def _crm(event: contracts.Event) -> outbox.Handled:
    from chalicelib.crm import order_progress  # each consumer's Lambda loads only its own context

    return order_progress.handle(STORE, event)  # marks the event handled on its trail itself


CONSUMERS: dict[str, Callable[[contracts.Event], outbox.Handled]] = {"erp": _erp, "crm": _crm}


def _drop(consumer: str, event: contracts.Event, reason: str) -> dict[str, Any]:
    """Acknowledge an event with no effect, and say why."""
    observability.logger().warning(
        "event dropped",
        extra={
            "consumer": consumer,
            "tenant_id": event.tenant_id,
            "order_id": event.order_id,
            "event_id": event.event_id,
            "type": type(event).__name__,
            "reason": reason,
        },
    )
    outbox.dropped(STORE, event, consumer, reason)
    return {"event_id": event.event_id, "answered": [], "dropped": reason}


def record_handler(consumer: str) -> Callable[[Any], Any]:
    """The handler of one batch's records."""

    def handle(record: Any) -> Any:
        envelope = json.loads(record.body)
        detail = (
            envelope["detail"] if isinstance(envelope["detail"], dict) else json.loads(envelope["detail"])
        )
        event = contracts.parse(envelope["detail-type"], detail)  # poison raises: on to the DLQ
        try:
            done = CONSUMERS[consumer](event)
        except outbox.Dropped as dropped:
            return _drop(consumer, event, dropped.reason)
        if done.first:
            billing.events_handled(event.tenant_id)  # once: a redelivery or a lost race is not counted
        return {"event_id": event.event_id, "answered": [a.event_id for a in done.answered]}

    return handle


def consume_batch(consumer: str, raw_event: dict[str, Any], context: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS)
    answer: dict[str, Any] = process_partial_response(  # type: ignore[assignment]  # a TypedDict of it
        event=raw_event, record_handler=record_handler(consumer), processor=processor, context=context
    )
    # The ERP's answers wait in the outbox: the table's stream publishes them at once (relay_on_write),
    # the minute's sweep whatever that missed; sweeping here too cost 16 Queries a batch and
    # published events twice when it raced the stream.
    billing.save_due()
    return answer


def park_batch(consumer: str, raw_event: dict[str, Any]) -> dict[str, Any]:
    """A batch of ``consumer``'s dead-letter queue, parked under each message's company in one
    batch write. A message naming no company, or a company closed or being closed (nothing may be
    written under its keys), is reported failed: it stays in the queue and moves on to the
    quarantine. A failed write raises, and the whole batch comes again (parking is a put)."""
    items, failures = [], []
    closed: dict[str, bool] = {}
    for record in raw_event.get("Records", []):
        count = int(record.get("attributes", {}).get("ApproximateReceiveCount") or 0)
        try:
            item = dead_letters.parked(consumer, record["messageId"], record["body"], count)
        except dead_letters.UnreadableDeadLetterError:
            observability.logger().exception("dead letter left in the queue")
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        tenant_id = item["tenant_id"]
        if tenant_id not in closed:
            state = company.company_state(STORE, tenant_id)
            closed[tenant_id] = state.closing or state.gone
        if closed[tenant_id]:
            observability.logger().warning(
                "dead letter of a closed company left in the queue",
                extra={"tenant_id": tenant_id, "message_id": record["messageId"]},
            )
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        items.append(item)
    dead_letters.park(STORE, items)
    return {"batchItemFailures": failures}


def relay_on_stream(event: dict[str, Any]) -> dict[str, int]:
    """The table's stream: the new outbox items it shows are published as they are (the stream
    record holds the whole item: nothing is read); what fails waits in the outbox for the sweep."""
    from boto3.dynamodb.types import TypeDeserializer

    image = TypeDeserializer()
    new = [
        {k: image.deserialize(v) for k, v in r["dynamodb"]["NewImage"].items()}
        for r in event.get("Records", [])
        if r.get("eventName") == "INSERT"
        and r["dynamodb"]
        .get("NewImage", {})
        .get("gsi1pk", {})
        .get("S", "")
        .startswith(keys.OUTBOX_INDEX_PREFIX)
    ]
    if not new:
        return {"published": 0, "failed": 0}
    try:
        return outbox.relay(STORE, aws.events(), settings().event_bus_name, items=[to_plain(i) for i in new])
    except Exception:
        observability.logger().exception("relay of the stream's events failed; the sweep publishes them")
        return {"published": 0, "failed": 0}


def run_relay() -> dict[str, int]:
    """Publish what is pending in the outbox; a failure here is retried by the next run."""
    try:
        return outbox.relay(STORE, aws.events(), settings().event_bus_name)
    except Exception:
        observability.logger().exception("relay run failed; the outbox keeps the events for the next run")
        return {"published": 0, "failed": 0}

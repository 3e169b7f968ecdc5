"""The handoff's Lambda entry points: the two queue consumers and the outbox relay.

Consumers use Powertools batch processing (a failed record comes back alone, through
``batchItemFailures``) and Powertools idempotency keyed on the event's ``event_id`` (a redelivered
event is answered from the idempotency record, not handled again). A record that is not a known
event of a known major version raises: after the queue's ``maxReceiveCount`` it rests in the DLQ.
After its batch the ERP consumer runs the relay, so its answers reach the bus at once.

Before an event has any effect (its idempotency record included) the consumer reads the company's
epoch (one consistent GetItem of its profile, once a batch per company): an event of an earlier
epoch is of the world a restore replaced, and is dropped: acknowledged, not retried, noted on the
order's trail and in the log. The race, and its bound: a consumer that read the epoch just before a
restore began may still write. The restore waits a quiesce time of at least the consumers' Lambda
timeout before it touches data, so such a write lands before the restore and is overwritten by it;
the answers it wrote carry the old epoch and are dropped downstream. Every event of a company being
closed, or closed (no profile any more), is dropped alike: nothing may write under its keys again,
and a dead letter of such a company is not parked (it moves on to the quarantine).
"""

from __future__ import annotations

import dataclasses
import functools
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


def _erp(event: contracts.Event) -> list[str]:
    from chalicelib.erp import intake  # each consumer's Lambda loads only its own context

    if isinstance(event, contracts.OrderConfirmed):
        return [a.event_id for a in intake.handle_confirmed(STORE, event)]
    if isinstance(event, contracts.OrderCancelled):
        return [a.event_id for a in intake.handle_cancelled(STORE, event)]
    return []  # events the ERP does not act on


def _crm(event: contracts.Event) -> list[str]:
    from chalicelib.crm import order_progress  # each consumer's Lambda loads only its own context

    order_progress.handle(STORE, event)  # marks the event handled on its trail itself
    return [event.event_id]


CONSUMERS: dict[str, Callable[[contracts.Event], list[str]]] = {"erp": _erp, "crm": _crm}


@dataclasses.dataclass(frozen=True)
class _Consumer:
    consume: Callable[..., dict[str, Any]]
    config: Any  # Powertools' IdempotencyConfig: the invocation's context is registered on it


@functools.cache
def _config(consumer: str) -> Any:
    """The consumer's Powertools idempotency config (one per consumer: the invocation's context is
    registered on it once a batch)."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(
        event_key_jmespath="event_id", raise_on_no_idempotency_key=True, expires_after_seconds=7 * 86400
    )


@functools.lru_cache(maxsize=1024)
def _idempotent(consumer: str, table_name: str, tenant_id: str) -> _Consumer:
    """The consumer wrapped in Powertools idempotency, its records under the event's company
    (``P#COMPANY#<t>#IDEMPOTENCY#<consumer>``): no key shared by every company's events."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent_function

    persistence = DynamoDBPersistenceLayer(
        table_name=table_name,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=keys.consumer_idempotency_pk(tenant_id, consumer),
        expiry_attr="expires_at",
        boto3_client=aws.dynamodb_wire(),
    )
    config = _config(consumer)
    handle = CONSUMERS[consumer]

    @idempotent_function(  # type: ignore[untyped-decorator]  # Powertools' decorator is untyped
        data_keyword_argument="detail", persistence_store=persistence, config=config
    )
    def consume(detail: dict[str, Any], detail_type: str) -> dict[str, Any]:
        event = contracts.parse(detail_type, detail)
        answered = handle(event)
        if consumer == "erp":
            outbox.handled(STORE, event, consumer)
        billing.events_handled(event.tenant_id)  # once: a redelivery is answered without this body
        return {"event_id": event.event_id, "answered": answered}

    return _Consumer(consume, config)


def _stale(event: contracts.Event, state: company.CompanyState) -> str | None:
    """Why the event must be dropped (None: it may be handled): its company is being closed or is
    gone, or the event is of an epoch before the company's (a restore replaced its world)."""
    if state.closing or state.gone:
        return "the company is being closed, or was closed: nothing is written for it any more"
    if event.epoch < state.epoch:
        return f"epoch {event.epoch} is before the company's {state.epoch}: a restore replaced the world it is about"
    return None


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
    """The handler of one batch's records; it reads each company's state and epoch once for the batch."""
    states: dict[str, company.CompanyState] = {}

    def handle(record: Any) -> Any:
        envelope = json.loads(record.body)
        detail = (
            envelope["detail"] if isinstance(envelope["detail"], dict) else json.loads(envelope["detail"])
        )
        # Poison (unknown type or major version) fails before idempotency.
        event = contracts.parse(envelope["detail-type"], detail)
        if event.tenant_id not in states:
            states[event.tenant_id] = company.company_state(STORE, event.tenant_id)
        reason = _stale(event, states[event.tenant_id])
        if reason is not None:
            return _drop(consumer, event, reason)
        return _idempotent(consumer, settings().table_name, event.tenant_id).consume(
            detail=detail, detail_type=envelope["detail-type"]
        )

    return handle


def consume_batch(consumer: str, raw_event: dict[str, Any], context: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    _config(consumer).register_lambda_context(context)
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

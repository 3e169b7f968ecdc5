"""The handoff under faults: nothing lost, nothing done twice."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.api import handlers
from chalicelib.core import aws as clients
from chalicelib.core.config import settings
from chalicelib.core.store import Store
from chalicelib.crm import order_progress
from chalicelib.erp import intake
from chalicelib.handoff import outbox
from chalicelib.handoff.contracts import InvoiceIssued, OrderAccepted, StockReserved
from infra.pump import LambdaContext
from tests.conftest import a_customer
from tests.test_handoff import an_order, pump, settle, shop  # noqa: F401  (fixtures)
from tests.test_stock import level


class FlakyBus:
    """The real EventBridge client, but the first ``failures`` calls report every entry as failed."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            refused = {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}
            return {"FailedEntryCount": len(Entries), "Entries": [refused for _ in Entries]}
        return clients.events().put_events(Entries=Entries)


def confirm(api, tenant, customer_id, lines) -> dict[str, Any]:
    order = an_order(api, tenant, customer_id, lines)
    assert api.post(f"/crm/orders/{order['id']}/confirm", tenant.token).status == 200
    return order


def counts(api, tenant, customer_id, product_id, warehouse_id) -> tuple[str, int]:
    invoices = api.get(f"/erp/invoices?customer_id={customer_id}", tenant.token).json["items"]
    return level(api, tenant, product_id, warehouse_id)["reserved"], len(invoices)


def test_put_events_failing_three_times_then_succeeding(api, tenant, shop, pump, aws):
    customer = a_customer(api, tenant)
    order = confirm(api, tenant, customer["id"], [("TEA", 2)])
    flaky = FlakyBus(3)
    for _ in range(3):
        assert outbox.relay(Store(), flaky, aws.event_bus_name) == {"published": 0, "failed": 1}
    trail = api.get(f"/crm/orders/{order['id']}/handoff", tenant.token).json["events"]
    assert (
        trail[0]["attempts"],
        trail[0]["published_at"],
        "ThrottlingException" in trail[0]["last_error"],
    ) == (3, None, True)
    assert outbox.relay(Store(), flaky, aws.event_bus_name)["published"] == 1
    settle(pump)
    assert api.get(f"/crm/orders/{order['id']}", tenant.token).json["status"] == "reserved"
    assert api.get(f"/crm/orders/{order['id']}/handoff", tenant.token).json["events"][0]["attempts"] == 4
    assert counts(api, tenant, customer["id"], shop["tea"]["id"], shop["store"]["id"]) == ("2", 1)


def test_a_relay_dying_after_half_a_batch_loses_nothing_and_does_nothing_twice(
    api, tenant, shop, pump, monkeypatch
):
    """Batches of two here: the relay publishes the first and marks it, publishes the second and
    dies before marking it (the Lambda timed out), so those two events reach the bus twice."""
    customer = a_customer(api, tenant)
    orders = [confirm(api, tenant, customer["id"], [("TEA", 1)]) for _ in range(4)]
    real_mark, marked = outbox._mark_published, []

    def dying_mark(store, items):
        if marked:
            raise RuntimeError("the relay's Lambda timed out")  # published, but never marked as such
        marked.extend(i["event_id"] for i in items)
        return real_mark(store, items)

    monkeypatch.setattr(outbox, "BATCH", 2)
    monkeypatch.setattr(outbox, "_mark_published", dying_mark)
    with pytest.raises(RuntimeError):
        outbox.relay(Store(), clients.events(), settings().event_bus_name)
    assert (
        len(marked) == 2
        and len([i for i in outbox.pending(Store(), 500) if i["tenant_id"] == tenant.id]) == 2
    )
    monkeypatch.setattr(outbox, "_mark_published", real_mark)
    settle(pump)  # the next run publishes the second batch again
    for order in orders:
        assert api.get(f"/crm/orders/{order['id']}", tenant.token).json["status"] == "reserved"
    assert counts(api, tenant, customer["id"], shop["tea"]["id"], shop["store"]["id"]) == ("4", 4)


class RecordingBus:
    """Takes every entry, except the first one for ``refuse_order``; records each call's entries."""

    def __init__(self, refuse_order: str) -> None:
        self.refuse_order, self.calls = refuse_order, []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        details = [json.loads(e["Detail"]) for e in Entries]
        self.calls.append([(d["order_id"], d["event_id"]) for d in details])
        answers = []
        for d in details:
            refused = d["order_id"] == self.refuse_order and self.refuse_order is not None
            answers.append(
                {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"} if refused else {"EventId": "x"}
            )
            self.refuse_order = None if refused else self.refuse_order
        return {"FailedEntryCount": sum(1 for a in answers if "ErrorCode" in a), "Entries": answers}


def test_the_relay_keeps_each_orders_events_in_order_and_holds_them_behind_a_failed_one(tenant):
    store, ours = Store(), {"ord_RELAYA", "ord_RELAYB"}

    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)  # before anything else pending in this table

    def event(order_id, second, lines=1):
        at = (an_hour_ago + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return OrderAccepted(
            tenant_id=tenant.id,
            order_id=order_id,
            occurred_at=at,
            event_id=f"evt_{order_id[4:]}{second:02d}",
            lines=lines,
        )

    a1, a2, a3, b1 = (
        event("ord_RELAYA", 1),
        event("ord_RELAYA", 2),
        event("ord_RELAYA", 3),
        event("ord_RELAYB", 4),
    )
    for e in (a3, b1, a1, a2):  # written in any order: the relay goes by time
        assert outbox.write(store, [(e, "crmerp.erp", {})])
    bus = RecordingBus(refuse_order="ord_RELAYA")
    outbox.relay(store, bus, "bus")
    first = [[c for c in call if c[0] in ours] for call in bus.calls]
    assert [c for c in first if c] == [
        [("ord_RELAYA", a1.event_id), ("ord_RELAYB", b1.event_id)]
    ]  # a2, a3 wait behind a1
    bus.calls.clear()
    outbox.relay(store, bus, "bus")
    then = [[c for c in call if c[0] in ours] for call in bus.calls]
    assert [c for c in then if c] == [
        [("ord_RELAYA", a1.event_id)],
        [("ord_RELAYA", a2.event_id)],
        [("ord_RELAYA", a3.event_id)],
    ]
    trail = {e["event_id"]: e for e in outbox.trail(store, tenant.id, "ord_RELAYA")}
    assert (trail[a1.event_id]["attempts"], trail[a2.event_id]["attempts"]) == (2, 1)
    assert not [i for i in outbox.pending(store, 500) if i["order_id"] in ours]


def sqs_event(messages: list[tuple[str, dict[str, Any], str]]) -> dict[str, Any]:
    """An SQS batch as Lambda delivers it: (message id, EventBridge envelope, ...)."""
    return {
        "Records": [
            {
                "messageId": mid,
                "receiptHandle": mid,
                "body": json.dumps(body),
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:erp",
                "awsRegion": "us-east-1",
            }
            for mid, body, _ in messages
        ]
    }


def confirmed_envelopes(store: Store, tenant_id: str, order_ids: list[str]) -> list[dict[str, Any]]:
    """The OrderConfirmed events of these orders as the bus would deliver them (from the outbox)."""
    found = []
    for item in outbox.pending(store, 500):
        if (
            item["tenant_id"] == tenant_id
            and item["order_id"] in order_ids
            and item["detail_type"] == "OrderConfirmed"
        ):
            found.append(
                {
                    "source": item["source"],
                    "detail-type": item["detail_type"],
                    "detail": json.loads(item["detail"]),
                }
            )
    return found


def test_one_failing_message_of_ten_comes_back_alone(api, tenant, shop, monkeypatch):
    customer = a_customer(api, tenant)
    orders = [an_order(api, tenant, customer["id"], [("TEA", 1)]) for _ in range(10)]
    for order in orders:
        api.post(f"/crm/orders/{order['id']}/confirm", tenant.token)
    envelopes = confirmed_envelopes(Store(), tenant.id, [o["id"] for o in orders])
    assert len(envelopes) == 10
    broken = envelopes[3]["detail"]["order_id"]
    real = intake.handle_confirmed

    def failing(store, event):
        if event.order_id == broken:
            raise RuntimeError("database hiccup")
        return real(store, event)

    monkeypatch.setattr(intake, "handle_confirmed", failing)
    monkeypatch.setattr(handlers, "run_relay", lambda: {"published": 0, "failed": 0})
    batch = [(f"m{n}", envelope, "") for n, envelope in enumerate(envelopes)]
    answer = handlers.consume_batch("erp", sqs_event(batch), LambdaContext("erp_consumer"))
    assert answer["batchItemFailures"] == [{"itemIdentifier": "m3"}]
    assert level(api, tenant, shop["tea"]["id"], shop["store"]["id"])["reserved"] == "9"
    monkeypatch.setattr(intake, "handle_confirmed", real)
    again = handlers.consume_batch("erp", sqs_event([batch[3]]), LambdaContext("erp_consumer"))
    assert again["batchItemFailures"] == []
    assert level(api, tenant, shop["tea"]["id"], shop["store"]["id"])["reserved"] == "10"


def test_the_same_event_three_times_reserves_and_invoices_once(api, tenant, shop, monkeypatch):
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], [("TEA", 3)])
    api.post(f"/crm/orders/{order['id']}/confirm", tenant.token)
    envelope = confirmed_envelopes(Store(), tenant.id, [order["id"]])[0]
    monkeypatch.setattr(handlers, "run_relay", lambda: {"published": 0, "failed": 0})
    for n in range(3):
        answer = handlers.consume_batch(
            "erp", sqs_event([(f"copy{n}", envelope, "")]), LambdaContext("erp_consumer")
        )
        assert answer["batchItemFailures"] == []
    assert counts(api, tenant, customer["id"], shop["tea"]["id"], shop["store"]["id"]) == ("3", 1)
    # Below the idempotency layer too: the consumer itself makes nothing twice (derived ids).
    event = handlers.contracts.parse("OrderConfirmed", envelope["detail"])
    intake.handle_confirmed(Store(), event)
    assert counts(api, tenant, customer["id"], shop["tea"]["id"], shop["store"]["id"]) == ("3", 1)


def test_events_out_of_order_end_in_the_right_state(api, tenant, shop):
    customer = a_customer(api, tenant)
    order = confirm(api, tenant, customer["id"], [("TEA", 1)])
    base = {"tenant_id": tenant.id, "order_id": order["id"]}

    def make(cls, at, **fields):
        return cls(event_id=f"evt_{uuid.uuid4().hex[:26].upper()}", occurred_at=at, **base, **fields)

    def later(seconds):  # after the order's own timeline entries, whenever the test runs
        return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    invoice = make(InvoiceIssued, later(3), invoice_id="inv_X", total="22.60", currency="CNY")
    reserved = make(
        StockReserved,
        later(2),
        lines=[{"line": 1, "product_id": "p", "reservation_id": "res_X", "quantity": "1"}],
    )
    accepted = make(OrderAccepted, later(1), lines=1)
    for event in (invoice, reserved, accepted, reserved):  # newest first, and one twice
        order_progress.handle(Store(), event)
    seen = api.get(f"/crm/orders/{order['id']}", tenant.token).json
    assert (seen["status"], seen["erp"]["invoice_id"], seen["erp"]["last_event"]) == (
        "reserved",
        "inv_X",
        "InvoiceIssued",
    )
    events = [
        e["summary"].get("event")
        for e in api.get(f"/crm/customers/{customer['id']}/timeline", tenant.token).json["items"]
    ]
    assert events.count("StockReserved") == 1 and events[:3] == [
        "InvoiceIssued",
        "StockReserved",
        "OrderAccepted",
    ]
    # Events without a trail entry (made by hand here) are handled all the same and leave no stray entry.
    assert [
        e["type"] for e in api.get(f"/crm/orders/{order['id']}/handoff", tenant.token).json["events"]
    ] == ["OrderConfirmed"]


def test_a_poison_message_rests_in_the_dlq_is_listed_and_redriven_after_the_fix(
    api, tenant, shop, pump, aws, monkeypatch
):
    # Redelivery at once instead of after the 180 s visibility timeout, so five failures take a moment.
    clients.sqs().set_queue_attributes(QueueUrl=aws.erp_queue_url, Attributes={"VisibilityTimeout": "0"})
    customer = a_customer(api, tenant)
    order = confirm(api, tenant, customer["id"], [("TEA", 2)])
    real = intake.handle_confirmed

    def buggy(store, event):
        raise KeyError("a bug in this release")

    monkeypatch.setattr(intake, "handle_confirmed", buggy)
    for _ in range(12):
        handlers.run_relay()
        pump.run_once()
    listed = api.get("/admin/dead-letters", tenant.token).json["items"]
    assert [(d["type"], d["order_id"], d["consumer"]) for d in listed] == [
        ("OrderConfirmed", order["id"], "erp")
    ]
    assert listed[0]["receive_count"] >= 5
    assert (
        api.get(f"/crm/orders/{order['id']}", tenant.token).json["status"] == "confirmed"
    )  # nothing half-done
    assert level(api, tenant, shop["tea"]["id"], shop["store"]["id"])["reserved"] == "0"

    monkeypatch.setattr(intake, "handle_confirmed", real)  # the fix is deployed
    redriven = api.post("/admin/dead-letters/redrive", tenant.token, {}).json["redriven"]
    assert [d["message_id"] for d in redriven] == [listed[0]["message_id"]]
    settle(pump)
    assert api.get(f"/crm/orders/{order['id']}", tenant.token).json["status"] == "reserved"
    assert api.get("/admin/dead-letters", tenant.token).json["items"] == []

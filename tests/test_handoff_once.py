"""Exactly once without an idempotency store, and the handoff's DynamoDB calls at their floor.

The consumers keep no idempotency records: what they write is keyed by ids derived from the order and
written with a marker a second delivery's write is refused on (the ERP's ``ERP#DECIDED``, the CRM's
handled mark on the event's trail entry). These tests deliver one event twice at the same moment,
both deliveries having read before either writes, and count what a one-line order costs in calls.
"""

from __future__ import annotations

import collections
import json
import re
import threading
from typing import Any

import pytest

from chalicelib.api import handlers
from chalicelib.core import aws as clients
from chalicelib.core import entities
from chalicelib.core.store import Deferred, Store
from chalicelib.erp import intake, reservations
from chalicelib.handoff import outbox
from infra.pump import LambdaContext
from tests.conftest import a_customer
from tests.test_handoff import an_order, pump, queue_urls, settle, shop  # noqa: F401  (fixtures)
from tests.test_handoff_faults import confirmed_envelopes, sqs_event
from tests.test_stock import level, receive


def envelopes_of(store: Store, tenant_id: str, order_id: str, detail_type: str) -> list[dict[str, Any]]:
    """An order's pending events of one type as the bus would deliver them (from the outbox)."""
    return [
        {"source": i["source"], "detail-type": i["detail_type"], "detail": json.loads(i["detail"])}
        for i in outbox.pending(store, 500)
        if (i["tenant_id"], i["order_id"], i["detail_type"]) == (tenant_id, order_id, detail_type)
    ]


def a_confirmed_order(api: Any, tenant: Any, lines: list[tuple[str, int]]) -> tuple[Any, Any, dict[str, Any]]:
    """A customer's order of ``lines``, confirmed; its OrderConfirmed as the bus would deliver it."""
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], lines)
    assert api.post(f"/crm/orders/{order['id']}/confirm", tenant.token).status == 200
    (envelope,) = confirmed_envelopes(Store(), tenant.id, [order["id"]])
    return customer, order, envelope


def deliver_together(consumer: str, envelope: dict[str, Any]) -> list[dict[str, Any]]:
    """The same event delivered to ``consumer`` by two threads at once; each batch's answer."""
    answers: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def deliver(n: int) -> None:
        try:
            batch = sqs_event([(f"copy{n}", envelope, "")])
            answers.append(handlers.consume_batch(consumer, batch, LambdaContext(f"{consumer}_consumer")))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return answers


def once_per_thread(barrier: threading.Barrier) -> Any:
    """Wait at ``barrier`` the first time each thread gets here: both deliveries have read."""
    waited: set[int] = set()

    def wait() -> None:
        if threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            barrier.wait()

    return wait


@pytest.fixture
def counted(monkeypatch) -> list[str]:
    """The companies each counted handoff event was billed to."""
    billed: list[str] = []
    monkeypatch.setattr(handlers.billing, "events_handled", billed.append)
    return billed


def test_two_deliveries_of_a_confirmation_at_once_reserve_invoice_answer_and_bill_once(
    api, tenant, shop, monkeypatch, counted
):
    customer, order, envelope = a_confirmed_order(api, tenant, [("TEA", 3)])
    wait = once_per_thread(threading.Barrier(2, timeout=20))
    real = intake.Known

    class BothRead(real):  # type: ignore[misc,valid-type]
        def __init__(self, store: Store, event: Any) -> None:
            super().__init__(store, event)
            wait()  # neither writes before both have read: both decide, one transaction wins

    monkeypatch.setattr(intake, "Known", BothRead)
    answers = deliver_together("erp", envelope)

    assert [a["batchItemFailures"] for a in answers] == [[], []]  # the loser is acknowledged, not retried
    assert level(api, tenant, shop["tea"]["id"], shop["store"]["id"])["reserved"] == "3"
    invoices = api.get(f"/erp/invoices?customer_id={customer['id']}", tenant.token).json["items"]
    assert [(i["status"], i["order_id"]) for i in invoices] == [("issued", order["id"])]
    trail = api.get(f"/crm/orders/{order['id']}/handoff", tenant.token).json["events"]
    assert [e["type"] for e in trail] == ["OrderConfirmed", "OrderProcessed"]
    assert list(trail[0]["handled"]) == ["erp"]
    assert counted == [tenant.id]  # billed once


def test_two_deliveries_of_the_erp_s_answer_at_once_move_the_order_and_bill_once(
    api, tenant, shop, monkeypatch, counted
):
    customer, order, confirmed = a_confirmed_order(api, tenant, [("TEA", 2)])
    handlers.consume_batch("erp", sqs_event([("m", confirmed, "")]), LambdaContext("erp_consumer"))
    (processed,) = envelopes_of(Store(), tenant.id, order["id"], "OrderProcessed")
    before = api.get(f"/crm/orders/{order['id']}", tenant.token).json["version"]
    counted.clear()
    wait = once_per_thread(threading.Barrier(2, timeout=20))
    real = entities.update

    def both_read(*args: Any, **kwargs: Any) -> Any:
        wait()  # both deliveries read the order and the trail: each writes on what it read
        return real(*args, **kwargs)

    monkeypatch.setattr(entities, "update", both_read)
    answers = deliver_together("crm", processed)

    assert [a["batchItemFailures"] for a in answers] == [[], []]
    seen = api.get(f"/crm/orders/{order['id']}", tenant.token).json
    assert (seen["status"], seen["version"]) == ("reserved", before + 1)  # moved once
    timeline = api.get(f"/crm/customers/{customer['id']}/timeline", tenant.token).json["items"]
    assert [e["summary"].get("event") for e in timeline].count("OrderProcessed") == 1
    trail = api.get(f"/crm/orders/{order['id']}/handoff", tenant.token).json["events"]
    assert list(trail[1]["handled"]) == ["crm"]
    assert counted == [tenant.id]
    # Delivered once more, later: nothing moves, nothing is billed.
    handlers.consume_batch("crm", sqs_event([("again", processed, "")]), LambdaContext("crm_consumer"))
    assert api.get(f"/crm/orders/{order['id']}", tenant.token).json["version"] == before + 1
    assert counted == [tenant.id]


def test_an_order_too_large_for_one_transaction_is_decided_step_by_step_and_once(api, tenant, shop, counted):
    """Two lines of one product move one stock level: DynamoDB takes an item once a transaction, so
    the order is written step by step (each step idempotent by its derived id), its decision last."""
    customer, order, envelope = a_confirmed_order(api, tenant, [("TEA", 2), ("TEA", 3)])
    transactions = collections.Counter[str]()

    def count(model: Any, **_: Any) -> None:
        transactions[model.name] += 1

    clients.observe("before-call.dynamodb", count)
    try:
        for n in range(3):
            batch = sqs_event([(f"copy{n}", envelope, "")])
            answer = handlers.consume_batch("erp", batch, LambdaContext("erp_consumer"))
            assert answer["batchItemFailures"] == []
    finally:
        clients.unobserve("before-call.dynamodb", count)
    assert transactions["TransactWriteItems"] >= 3  # two reservations and the answer, at least
    assert level(api, tenant, shop["tea"]["id"], shop["store"]["id"])["reserved"] == "5"
    invoices = api.get(f"/erp/invoices?customer_id={customer['id']}", tenant.token).json["items"]
    assert len(invoices) == 1
    assert len(envelopes_of(Store(), tenant.id, order["id"], "OrderProcessed")) == 1
    assert counted == [tenant.id]


def erp_transactions(deliver: Any) -> int:
    """How many TransactWriteItems ``deliver()`` made."""
    made = collections.Counter[str]()

    def count(model: Any, **_: Any) -> None:
        made[model.name] += 1

    clients.observe("before-call.dynamodb", count)
    try:
        deliver()
    finally:
        clients.unobserve("before-call.dynamodb", count)
    return made["TransactWriteItems"]


def test_a_reservation_and_a_production_plan_checking_one_warehouse_fit_one_transaction(api, tenant, shop):
    """The reservation checks the warehouse exists, the plan that it exists and is not being
    removed: two conditions on one item, merged into one check (DynamoDB takes an item once)."""
    receive(api, tenant, shop["cup"]["id"], shop["store"]["id"], 10)
    _, order, envelope = a_confirmed_order(api, tenant, [("CUP", 2), ("BOX", 1)])
    batch = sqs_event([("m", envelope, "")])
    assert erp_transactions(lambda: handlers.consume_batch("erp", batch, LambdaContext("erp_consumer"))) == 1
    (processed,) = envelopes_of(Store(), tenant.id, order["id"], "OrderProcessed")
    assert [r["line"] for r in processed["detail"]["reserved"]] == [1]
    assert [(b["line"], b["plan"]) for b in processed["detail"]["backordered"]] == [(2, "production")]
    assert level(api, tenant, shop["cup"]["id"], shop["store"]["id"])["reserved"] == "2"


def test_a_plan_whose_materials_this_order_reserves_sees_the_reservation(api, tenant, shop):
    """Tea reserved by line 1 is a gift box's material on line 2: the plan is made after the
    reservation is written (step by step), so its shortages count the tea line 1 took."""
    _, _, envelope = a_confirmed_order(api, tenant, [("TEA", 9), ("BOX", 2)])
    handlers.consume_batch("erp", sqs_event([("m", envelope, "")]), LambdaContext("erp_consumer"))
    plans = api.get(f"/erp/production-orders?product_id={shop['box']['id']}", tenant.token).json["items"]
    shortages = {s["product_id"]: s["available"] for s in plans[0]["shortages"]}
    assert shortages == {shop["tea"]["id"]: "1"}  # 10 on hand, 9 reserved for line 1


def test_a_cancellation_handled_while_a_large_order_is_written_step_by_step_stops_it(
    api, tenant, shop, monkeypatch, counted
):
    """Two lines of one product are written step by step. The cancellation, handled after the
    first reservation, undoes what it finds; the steps after it are refused, so nothing is left
    behind: no reservation, no invoice, no answer."""
    customer, order, confirmed = a_confirmed_order(api, tenant, [("TEA", 2), ("TEA", 3)])
    real = reservations.reserve
    made: list[str] = []

    def then_cancelled(store: Store, *args: Any, **kwargs: Any) -> Any:
        answer = real(store, *args, **kwargs)
        if isinstance(store, Deferred):
            return answer  # the attempt at one transaction, which does not fit: nothing written
        made.append(answer["id"])
        if len(made) == 1:  # the order is cancelled, and the ERP handles it, right after line 1
            cancel = api.post(f"/crm/orders/{order['id']}/cancel", tenant.token, {"reason": "changed mind"})
            assert cancel.status == 200, cancel.body
            (cancelled,) = envelopes_of(Store(), tenant.id, order["id"], "OrderCancelled")
            batch = sqs_event([("c", cancelled, "")])
            assert (
                handlers.consume_batch("erp", batch, LambdaContext("erp_consumer"))["batchItemFailures"] == []
            )
        return answer

    monkeypatch.setattr(reservations, "reserve", then_cancelled)
    answer = handlers.consume_batch("erp", sqs_event([("m", confirmed, "")]), LambdaContext("erp_consumer"))
    assert answer["batchItemFailures"] == [] and len(made) == 1  # line 2 was refused
    assert level(api, tenant, shop["tea"]["id"], shop["store"]["id"])["reserved"] == "0"
    assert api.get(f"/erp/invoices?customer_id={customer['id']}", tenant.token).json["items"] == []
    assert envelopes_of(Store(), tenant.id, order["id"], "OrderProcessed") == []
    (done,) = envelopes_of(Store(), tenant.id, order["id"], "OrderCancellationCompleted")
    assert done["detail"]["released_reservations"] == 1
    trail = api.get(f"/crm/orders/{order['id']}/handoff", tenant.token).json["events"]
    assert "erp" in trail[0]["handled"]  # the confirmation is marked handled all the same
    assert counted == [tenant.id]  # the cancellation's answer; the confirmation decided nothing


def test_stock_taken_between_the_read_and_the_write_is_decided_again_from_a_fresh_read(
    api, tenant, shop, monkeypatch
):
    """The one transaction's stock condition is refused when another order took the stock
    meanwhile: nothing of it is written, and the order is decided again on what is left."""
    customer, order, envelope = a_confirmed_order(api, tenant, [("TEA", 8)])
    real = intake.Known
    reads = []

    class Raced(real):  # type: ignore[misc,valid-type]
        def __init__(self, store: Store, event: Any) -> None:
            super().__init__(store, event)
            reads.append(event.order_id)
            if len(reads) == 1:  # after the first read, someone reserves 5 of the 10 by hand
                body = {
                    "product_id": shop["tea"]["id"],
                    "warehouse_id": shop["store"]["id"],
                    "quantity": "5",
                    "reference": "SHOWROOM",
                }
                assert api.post("/erp/reservations", tenant.token, body).status == 201

    monkeypatch.setattr(intake, "Known", Raced)
    answer = handlers.consume_batch("erp", sqs_event([("m", envelope, "")]), LambdaContext("erp_consumer"))
    assert answer["batchItemFailures"] == [] and len(reads) == 2
    assert level(api, tenant, shop["tea"]["id"], shop["store"]["id"]) == {
        "on_hand": "10",
        "reserved": "10",  # the 5 by hand and the 5 left, not 5 + 8
        "available": "0",
    }
    (processed,) = envelopes_of(Store(), tenant.id, order["id"], "OrderProcessed")
    short = processed["detail"]["backordered"]
    assert [(s["line"], s["reserved"], s["short"]) for s in short] == [(1, "5", "3")]
    invoices = api.get(f"/erp/invoices?customer_id={customer['id']}", tenant.token).json["items"]
    assert len(invoices) == 1


def _partitions(body: bytes) -> list[str]:
    return re.findall(r'"pk": \{"S": "([^"]+)"', body.decode())


def test_a_one_line_order_s_whole_handoff_takes_ten_dynamodb_calls(api, tenant, shop, aws):
    """Counted exactly, from the confirmation to the CRM's last write, as AWS runs it: the table's
    stream feeds the relay, the queues the consumers (docs/performance.md says where each goes)."""
    from app import app
    from infra.pump import Pump

    pump = Pump(
        app, aws.region, queue_urls=queue_urls(aws), stream_arns={"relay_on_write": aws.table_stream_arn}
    )
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], [("TEA", 1)])
    api.get(f"/crm/orders/{order['id']}", tenant.token)  # the principal cached, as in a warm container
    while pump.run_once():
        pass
    calls: collections.Counter[tuple[str, str]] = collections.Counter()
    billing: collections.Counter[str] = collections.Counter()

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        function = clients.current_function() or "api"
        touched = _partitions(params.get("body") or b"")
        if touched and all(p.startswith("P#COMPANY#") for p in touched):
            billing[function] += 1  # the company's rate and its usage saves: billing's own, not the order's
        else:
            calls[(function, model.name)] += 1

    clients.observe("before-call.dynamodb", count)
    try:
        assert api.post(f"/crm/orders/{order['id']}/confirm", tenant.token).status == 200
        for _ in range(20):
            if not pump.run_once():
                break
    finally:
        clients.unobserve("before-call.dynamodb", count)
    assert api.get(f"/crm/orders/{order['id']}", tenant.token).json["status"] == "reserved"
    assert dict(calls) == {
        ("api", "GetItem"): 1,  # the order
        ("api", "BatchGetItem"): 1,  # its customer and SKU guards
        ("api", "TransactWriteItems"): 1,  # the order confirmed, its OrderConfirmed in the outbox
        ("relay-on-write", "TransactWriteItems"): 2,  # each event's outbox item out, its trail published
        ("erp-consumer", "BatchGetItem"): 2,  # the company, the order's facts; the products and levels
        ("erp-consumer", "TransactWriteItems"): 1,  # reservation, invoice, answer and decision
        ("crm-consumer", "BatchGetItem"): 1,  # the company, the order, the event's trail entry
        ("crm-consumer", "TransactWriteItems"): 1,  # the order moved, its timeline, the trail's mark
    }, dict(calls)
    assert sum(calls.values()) == 10
    # Billing's own writes (the rate, usage saves), kept apart above, depend on how busy the company
    # is, not on the order: bench/costs.py and tests/test_billing.py count them.

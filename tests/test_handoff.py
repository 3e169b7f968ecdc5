"""The order handoff end to end in process: API → outbox → relay → EventBridge → SQS → consumers."""

from __future__ import annotations

import pytest

from tests.conftest import a_customer
from tests.test_stock import a_product, a_warehouse, level, receive


@pytest.fixture
def pump(aws):
    from app import app
    from infra.pump import Pump

    return Pump(app, aws.region, queue_urls=queue_urls(aws))


def queue_urls(aws) -> dict[str, str]:
    """Every queue handler's queue in this module's stack (the app declares the first stack's names)."""
    return {
        "erp_consumer": aws.erp_queue_url,
        "crm_consumer": aws.crm_queue_url,
        "erp_dead_letters": aws.erp_dlq_url,
        "crm_dead_letters": aws.crm_dlq_url,
        "job_worker": aws.jobs_queue_url,
    }


def settle(pump, rounds: int = 20) -> None:
    """Relay and deliver until nothing moves (what the local pump does continuously)."""
    from chalicelib.api import handlers

    idle = 0
    for _ in range(rounds):
        moved = handlers.run_relay()["published"] + pump.run_once()
        idle = idle + 1 if moved == 0 else 0
        if idle == 2:
            return
    raise AssertionError("the handoff did not settle")


@pytest.fixture
def shop(api, tenant):
    """Tea in stock (10), gift boxes made to order from tea and tins, cups bought from a supplier."""
    store = a_warehouse(api, tenant, "SH")
    supplier = api.post("/erp/suppliers", tenant.token, {"code": "FARM", "name": "Cup Farm"}).json
    tea = a_product(api, tenant, "TEA", list_price="20")
    tin = a_product(api, tenant, "TIN")
    box = a_product(api, tenant, "BOX", kind="manufactured")
    cup = a_product(api, tenant, "CUP", default_supplier_id=supplier["id"])
    receive(api, tenant, tea["id"], store["id"], 10)
    receive(api, tenant, tin["id"], store["id"], 10)
    centre = api.post(
        "/erp/work-centres", tenant.token, {"code": "PACK", "name": "Packing", "daily_capacity": "5"}
    ).json
    components = [{"product_id": tea["id"], "quantity": "1"}, {"product_id": tin["id"], "quantity": "1"}]
    api.post(
        "/erp/boms",
        tenant.token,
        {"product_id": box["id"], "work_centre_id": centre["id"], "components": components},
    )
    return {"store": store, "tea": tea, "box": box, "cup": cup, "supplier": supplier}


def an_order(api, tenant, customer_id, lines):
    priced = [
        {"product_code": sku, "quantity": str(q), "unit_price": "20", "tax_rate": "13"} for sku, q in lines
    ]
    body = {"customer_id": customer_id, "currency": "CNY", "lines": priced}
    order = api.post("/crm/orders", tenant.token, body)
    assert order.status == 201, order.body
    return order.json


def test_a_confirmed_order_is_reserved_planned_and_invoiced(api, tenant, shop, pump):
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], [("TEA", 3), ("BOX", 2), ("CUP", 4)])
    confirmed = api.post(f"/crm/orders/{order['id']}/confirm", tenant.token).json
    assert (confirmed["status"], confirmed["erp"]["state"]) == ("confirmed", "waiting")
    settle(pump)

    seen = api.get(f"/crm/orders/{order['id']}", tenant.token).json
    assert seen["status"] == "backordered"  # boxes and cups are short
    assert seen["erp"]["last_event"] and len(seen["erp"]["production_order_ids"]) == 1
    assert level(api, tenant, shop["tea"]["id"], shop["store"]["id"]) == {
        "on_hand": "10",
        "reserved": "3",
        "available": "7",
    }
    invoices = api.get(f"/erp/invoices?customer_id={customer['id']}", tenant.token).json["items"]
    assert [(i["status"], i["total"], i["order_id"]) for i in invoices] == [
        ("issued", order["total"], order["id"])
    ]
    plans = api.get(f"/erp/production-orders?product_id={shop['box']['id']}", tenant.token).json["items"]
    assert [(p["quantity"], p["reference"]) for p in plans] == [("2", f"{order['id']}:2")]
    purchases = api.get(f"/erp/purchase-orders?supplier_id={shop['supplier']['id']}", tenant.token).json[
        "items"
    ]
    assert [(p["status"], p["lines"][0]["quantity"]) for p in purchases] == [("draft", "4")]
    timeline = api.get(f"/crm/customers/{customer['id']}/timeline", tenant.token).json["items"]
    assert [e["summary"].get("event") for e in timeline if e["kind"] == "order"][:2] == [
        "OrderProcessed",
        "confirmed",
    ]
    told = next(e["summary"] for e in timeline if e["summary"].get("event") == "OrderProcessed")
    # One answer tells the customer's timeline all the ERP did: the tea reserved, the boxes and cups
    # short, the boxes' production and the cups' purchase planned, the invoice issued.
    assert told == {
        "event": "OrderProcessed",
        "order_id": order["id"],
        "status": "backordered",
        "reserved_lines": 1,
        "backordered_lines": 2,
        "production_order_ids": [plans[0]["id"]],
        "purchase_order_ids": [purchases[0]["id"]],
        "invoice_id": invoices[0]["id"],
    }


def test_the_tables_stream_relays_a_confirmation_without_waiting_for_the_sweep(api, tenant, shop, aws):
    """No relay run by hand and the minute's sweep not due: the outbox item's insert on the
    table's stream is what publishes the event (as the stream trigger does in AWS)."""
    from app import app
    from infra.pump import Pump

    pump = Pump(
        app, aws.region, queue_urls=queue_urls(aws), stream_arns={"relay_on_write": aws.table_stream_arn}
    )
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], [("TEA", 1)])
    api.post(f"/crm/orders/{order['id']}/confirm", tenant.token)
    for _ in range(20):
        if api.get(f"/crm/orders/{order['id']}", tenant.token).json["erp"]["invoice_id"]:
            break
        pump.run_once()
    seen = api.get(f"/crm/orders/{order['id']}", tenant.token).json
    assert seen["status"] == "reserved" and seen["erp"]["invoice_id"], seen
    first = api.get(f"/crm/orders/{order['id']}/handoff", tenant.token).json["events"][0]
    assert (first["type"], first["attempts"], bool(first["published_at"])) == ("OrderConfirmed", 1, True)


def test_an_order_fully_in_stock_is_reserved(api, tenant, shop, pump):
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], [("TEA", 10)])
    api.post(f"/crm/orders/{order['id']}/confirm", tenant.token)
    settle(pump)
    seen = api.get(f"/crm/orders/{order['id']}", tenant.token).json
    assert seen["status"] == "reserved" and len(seen["erp"]["reservation_ids"]) == 1
    assert level(api, tenant, shop["tea"]["id"], shop["store"]["id"])["available"] == "0"


def test_cancelling_a_reserved_order_returns_the_stock_and_voids_the_invoice(api, tenant, shop, pump):
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], [("TEA", 4), ("CUP", 2)])
    api.post(f"/crm/orders/{order['id']}/confirm", tenant.token)
    settle(pump)
    assert level(api, tenant, shop["tea"]["id"], shop["store"]["id"])["reserved"] == "4"
    cancelling = api.post(f"/crm/orders/{order['id']}/cancel", tenant.token, {"reason": "customer withdrew"})
    assert cancelling.json["status"] == "cancelling"
    settle(pump)
    seen = api.get(f"/crm/orders/{order['id']}", tenant.token).json
    assert seen["status"] == "cancelled" and seen["erp"]["cancellation"]["invoice_action"] == "voided"
    assert level(api, tenant, shop["tea"]["id"], shop["store"]["id"]) == {
        "on_hand": "10",
        "reserved": "0",
        "available": "10",
    }
    invoices = api.get(f"/erp/invoices?customer_id={customer['id']}", tenant.token).json["items"]
    assert [i["status"] for i in invoices] == ["void"]
    drafts = api.get(f"/erp/purchase-orders?supplier_id={shop['supplier']['id']}", tenant.token).json["items"]
    assert [p["status"] for p in drafts] == ["cancelled"]
    trail = api.get(f"/crm/orders/{order['id']}/handoff", tenant.token).json["events"]
    types = [e["type"] for e in trail]
    assert (
        types[0] == "OrderConfirmed"
        and types[-1] == "OrderCancellationCompleted"
        and "OrderCancelled" in types
    )
    assert all(e["published_at"] and e["attempts"] == 1 for e in trail), [
        (e["type"], e["published_at"], e["attempts"]) for e in trail
    ]
    confirmed = trail[0]
    assert "erp" in confirmed["handled"] and "crm" not in confirmed["handled"]
    answers = [
        e for e in trail if e["source"] == "crmerp.erp"
    ]  # each handled by the CRM: in its transaction or alone
    assert [e["type"] for e in answers] == ["OrderProcessed", "OrderCancellationCompleted"]
    assert all(set(e["handled"]) == {"crm"} for e in answers), [(e["type"], e["handled"]) for e in answers]


def test_cancelling_an_order_cancels_the_production_it_planned(api, tenant, shop, pump):
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], [("TEA", 1), ("BOX", 2), ("BOX", 1)])
    api.post(f"/crm/orders/{order['id']}/confirm", tenant.token)
    settle(pump)
    planned = api.get(f"/crm/orders/{order['id']}", tenant.token).json["erp"]["production_order_ids"]
    assert len(planned) == 2  # one per short line
    api.post(f"/crm/orders/{order['id']}/cancel", tenant.token, {"reason": "no longer needed"})
    settle(pump)
    assert api.get(f"/crm/orders/{order['id']}", tenant.token).json["status"] == "cancelled"
    states = [api.get(f"/erp/production-orders/{p}", tenant.token).json["status"] for p in planned]
    assert states == ["cancelled", "cancelled"]
    trail = api.get(f"/crm/orders/{order['id']}/handoff", tenant.token).json["events"]
    done = next(e for e in trail if e["type"] == "OrderCancellationCompleted")
    assert done["published_at"], done


def test_a_paid_invoice_is_credited_and_a_draft_order_cancels_at_once(api, tenant, shop, pump):
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], [("TEA", 1)])
    api.post(f"/crm/orders/{order['id']}/confirm", tenant.token)
    settle(pump)
    invoice = api.get(f"/erp/invoices?customer_id={customer['id']}", tenant.token).json["items"][0]
    payment = {
        "customer_id": customer["id"],
        "amount": "5",
        "allocations": [{"invoice_id": invoice["id"], "amount": "5"}],
    }
    assert api.post("/erp/payments", tenant.token, payment).status == 201
    api.post(f"/crm/orders/{order['id']}/cancel", tenant.token, {"reason": "late"})
    settle(pump)
    seen = api.get(f"/crm/orders/{order['id']}", tenant.token).json
    assert seen["status"] == "cancelled" and seen["erp"]["cancellation"]["invoice_action"] == "credited"
    assert any("refund" in note for note in seen["erp"]["cancellation"]["needs_attention"])
    credited = api.get(f"/erp/invoices/{invoice['id']}", tenant.token).json
    assert (credited["balance"], credited["status"]) == ("0.00", "paid")

    draft = an_order(api, tenant, customer["id"], [("TEA", 1)])
    assert api.post(f"/crm/orders/{draft['id']}/cancel", tenant.token, {}).json["status"] == "cancelled"


def test_fifty_concurrent_orders_for_ten_units(api, tenant, shop, pump, aws):
    """50 orders of 1 cup each (10 in stock), confirmed from 10 threads and consumed by 5 consumers
    running at once: exactly 10 reserved, 40 backordered with a purchase planned, stock never below 0."""
    import threading

    from chalicelib.core.store import Actor, Store
    from chalicelib.crm import orders as order_service
    from infra.pump import Pump

    receive(api, tenant, shop["cup"]["id"], shop["store"]["id"], 10)
    customer = a_customer(api, tenant)
    made = [an_order(api, tenant, customer["id"], [("CUP", 1)]) for _ in range(50)]
    actor = Actor(tenant_id=tenant.id, user_id=tenant.owner_id)

    def confirm_some(chunk: list[dict]) -> None:
        store = Store()
        for order in chunk:
            order_service.confirm(store, actor, order["id"], None)

    threads = [threading.Thread(target=confirm_some, args=(made[n::10],)) for n in range(10)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    from chalicelib.api import handlers

    assert handlers.run_relay()["published"] == 50
    from app import app

    def consume() -> None:
        mine = Pump(app, aws.region, queue_urls={"erp_consumer": aws.erp_queue_url})
        source = next(s for s in mine.queue_sources() if s.name == "erp_consumer")
        while mine.deliver(source):
            pass

    consumers = [threading.Thread(target=consume) for _ in range(5)]
    [t.start() for t in consumers]
    [t.join() for t in consumers]
    settle(pump, rounds=200)
    assert level(api, tenant, shop["cup"]["id"], shop["store"]["id"]) == {
        "on_hand": "10",
        "reserved": "10",
        "available": "0",
    }
    states = [api.get(f"/crm/orders/{o['id']}", tenant.token).json for o in made]
    assert sorted(s["status"] for s in states).count("reserved") == 10
    backordered = [s for s in states if s["status"] == "backordered"]
    assert len(backordered) == 40 and all(s["erp"]["purchase_order_ids"] for s in backordered)
    drafts = api.get(
        f"/erp/purchase-orders?supplier_id={shop['supplier']['id']}&limit=100", tenant.token
    ).json["items"]
    assert len(drafts) == 40 and {p["lines"][0]["quantity"] for p in drafts} == {"1"}


def test_shipping_and_payment_move_the_order_to_paid_and_a_shipped_order_is_not_cancelled(
    api, tenant, shop, pump
):
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], [("TEA", 2)])
    api.post(f"/crm/orders/{order['id']}/confirm", tenant.token)
    settle(pump)
    seen = api.get(f"/crm/orders/{order['id']}", tenant.token).json
    shipped = api.post(
        "/erp/shipments",
        tenant.token,
        {"lines": [{"reservation_id": r} for r in seen["erp"]["reservation_ids"]]},
    )
    assert shipped.status == 201, shipped.body
    settle(pump)
    seen = api.get(f"/crm/orders/{order['id']}", tenant.token).json
    assert seen["status"] == "invoiced" and seen["erp"]["shipment_ids"] == [
        shipped.json["id"]
    ]  # shipped, invoice issued
    refused = api.post(f"/crm/orders/{order['id']}/cancel", tenant.token, {"reason": "too late"})
    assert refused.status == 409 and "shipped" in refused.json["detail"]
    payment = {
        "customer_id": customer["id"],
        "amount": order["total"],
        "allocations": [{"invoice_id": seen["erp"]["invoice_id"], "amount": order["total"]}],
    }
    assert api.post("/erp/payments", tenant.token, payment).status == 201
    settle(pump)
    trail = api.get(f"/crm/orders/{order['id']}/handoff", tenant.token).json["events"]
    assert api.get(f"/crm/orders/{order['id']}", tenant.token).json["status"] == "paid", [
        (e["type"], e["handled"], e["published_at"]) for e in trail
    ]
    events = [
        e["summary"].get("event")
        for e in api.get(f"/crm/customers/{customer['id']}/timeline", tenant.token).json["items"]
    ]
    assert events[:2] == ["PaymentReceived", "OrderShipped"]


def test_an_order_the_erp_cannot_accept_is_rejected_with_the_reason(api, tenant, shop, pump):
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], [("TEA", 1)])
    api.post(f"/crm/orders/{order['id']}/confirm", tenant.token)
    api.patch(
        f"/erp/products/{shop['tea']['id']}", tenant.token, {"sellable": False}
    )  # before the ERP reads the order
    settle(pump)
    seen = api.get(f"/crm/orders/{order['id']}", tenant.token).json
    assert seen["status"] == "rejected" and "TEA" in seen["erp"]["rejected_reason"]
    assert level(api, tenant, shop["tea"]["id"], shop["store"]["id"])["reserved"] == "0"
    assert api.get(f"/erp/invoices?customer_id={customer['id']}", tenant.token).json["items"] == []
    bought = api.get(f"/crm/customers/{customer['id']}/360", tenant.token).json["purchases"]
    assert (bought["order_count"], bought["totals"]) == (0, [])  # a rejected order is not a purchase


def test_a_closed_customer_gets_no_more_orders_confirmed_and_the_erp_rejects_one_it_had_not_accepted(
    api, tenant, shop, pump
):
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], [("TEA", 1)])
    later = an_order(api, tenant, customer["id"], [("TEA", 1)])
    api.post(f"/crm/orders/{order['id']}/confirm", tenant.token)
    closed = api.patch(f"/crm/customers/{customer['id']}", tenant.token, {"status": "closed"})
    assert closed.status == 200 and closed.json["status"] == "closed"
    settle(pump)
    seen = api.get(f"/crm/orders/{order['id']}", tenant.token).json
    assert seen["status"] == "rejected" and "closed" in seen["erp"]["rejected_reason"]
    assert level(api, tenant, shop["tea"]["id"], shop["store"]["id"])["reserved"] == "0"
    refused = api.post(f"/crm/orders/{later['id']}/confirm", tenant.token)
    assert refused.status == 409 and "closed" in refused.json["detail"] and refused.json["state"] == "closed"
    assert api.get(f"/crm/orders/{later['id']}", tenant.token).json["status"] == "draft"
    assert api.patch(f"/crm/customers/{customer['id']}", tenant.token, {"status": None}).status == 422
    assert (
        api.patch(f"/crm/customers/{customer['id']}", tenant.token, {"status": "active"}).json["status"]
        == "active"
    )
    assert api.post(f"/crm/orders/{later['id']}/confirm", tenant.token).json["status"] == "confirmed"


def test_contracts_ignore_unknown_fields_and_refuse_unknown_major_versions():
    from chalicelib.handoff import contracts

    detail = {
        "tenant_id": "ten_1",
        "event_id": "evt_1",
        "occurred_at": "2026-11-29T00:00:00Z",
        "order_id": "ord_1",
        "lines": 2,
        "schema_version": "1.3",
        "added_in_1_3": "ignored",
    }
    assert contracts.parse("OrderAccepted", detail).lines == 2
    with pytest.raises(contracts.UnknownMajorVersion):
        contracts.parse("OrderAccepted", {**detail, "schema_version": "2.0"})
    with pytest.raises(contracts.UnknownMajorVersion):
        contracts.parse("OrderTeleported", detail)


def test_an_order_invoiced_on_delivery_is_invoiced_when_it_ships(api, tenant, shop, pump):
    api.patch(f"/erp/products/{shop['tea']['id']}", tenant.token, {"invoicing_policy": "on_delivery"})
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], [("TEA", 2)])
    api.post(f"/crm/orders/{order['id']}/confirm", tenant.token)
    settle(pump)
    seen = api.get(f"/crm/orders/{order['id']}", tenant.token).json
    assert seen["status"] == "reserved" and seen["erp"]["invoice_id"] is None
    assert [
        i["status"]
        for i in api.get(f"/erp/invoices?customer_id={customer['id']}", tenant.token).json["items"]
    ] == ["draft"]
    api.post(
        "/erp/shipments",
        tenant.token,
        {"lines": [{"reservation_id": r} for r in seen["erp"]["reservation_ids"]]},
    )
    settle(pump)
    seen = api.get(f"/crm/orders/{order['id']}", tenant.token).json
    assert seen["status"] == "invoiced" and seen["erp"]["invoice_id"]
    invoices = api.get(f"/erp/invoices?customer_id={customer['id']}", tenant.token).json["items"]
    assert [(i["status"], i["total"]) for i in invoices] == [("issued", order["total"])]

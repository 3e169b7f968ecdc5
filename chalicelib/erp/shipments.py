"""Shipments: reserved stock leaves the warehouse (on hand and reserved both fall).

One transaction writes the shipment, each reservation's shipped quantity (its new version,
conditional on the version read, with its audit entry) and the stock levels with their ledger
movements; a reservation changed meanwhile makes the shipment read again and decide again, so nothing
ships twice. DynamoDB takes at most 100 items in a transaction: a shipment that would need more (about
24 lines of one order, fewer across several) is refused, to be shipped in parts.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from chalicelib.core import entities
from chalicelib.core.entities import Change, EntityType
from chalicelib.core.errors import PreconditionFailedError, field_error
from chalicelib.core.money import text
from chalicelib.core.store import (
    Actor,
    ConditionFailed,
    Operations,
    Page,
    Store,
    is_request,
    request_of,
    transaction_size,
    utcnow,
)
from chalicelib.erp import intake, reservations, stock
from chalicelib.erp.reservations import RESERVATION
from chalicelib.handoff import outbox
from chalicelib.handoff.contracts import SOURCE_ERP, OrderShipped

SHIPMENT = EntityType("shipment", "shp", name_field=None)
MAX_TRANSACTION = 100  # DynamoDB's limit of items in one TransactWriteItems


def ship(store: Store, actor: Actor, data: Any) -> dict[str, Any]:
    wanted = [line.reservation_id for line in data.lines]
    if len(set(wanted)) != len(wanted):
        raise field_error("Each reservation once per shipment.", ["body", "lines"], "repeated reservation")
    for _attempt in range(3):
        current = {r["id"]: r for r in entities.get_many(store, actor.tenant_id, RESERVATION, wanted)}
        now = utcnow()
        lines, changes = [], []
        updates: Operations = []
        shipped_after: dict[str, dict[str, Any]] = {}  # each reservation as this shipment leaves it
        for n, line in enumerate(data.lines):
            reservation = current.get(line.reservation_id)
            if reservation is None:
                raise field_error(
                    f"There is no reservation {line.reservation_id}.",
                    ["body", "lines", n, "reservation_id"],
                    "no such reservation",
                    "reference",
                )
            remaining = Decimal(str(reservation["quantity"])) - Decimal(str(reservation.get("shipped", 0)))
            if reservation["status"] != "active" or remaining <= 0:
                raise field_error(
                    f"Reservation {line.reservation_id} is {reservation['status']}: nothing left to ship.",
                    ["body", "lines", n, "reservation_id"],
                    "not active",
                )
            quantity = line.quantity or remaining
            if quantity > remaining:
                raise field_error(
                    f"Reservation {line.reservation_id} holds {text(remaining)}.",
                    ["body", "lines", n, "quantity"],
                    "more than reserved",
                )
            shipped = Decimal(str(reservation.get("shipped", 0))) + quantity
            done = shipped >= Decimal(str(reservation["quantity"]))
            fields = {"shipped": shipped, "status": "shipped" if done else "active"}
            version = entities.versioned(
                actor, RESERVATION, reservation, Change(fields, action="ship", at=now)
            )
            assert version is not None  # the shipped quantity grows
            updates += version.operations
            shipped_after[reservation["id"]] = version.after
            changes.append(
                stock.Change(
                    "shipment",
                    reservation["product_id"],
                    reservation["warehouse_id"],
                    on_hand=-quantity,
                    reserved=-quantity,
                    reference=reservation["id"],
                )
            )
            lines.append(
                {
                    "reservation_id": reservation["id"],
                    "product_id": reservation["product_id"],
                    "warehouse_id": reservation["warehouse_id"],
                    "quantity": text(quantity),
                    "reference": reservation["reference"],
                }
            )
        shipment = {
            "lines": lines,
            "carrier": data.carrier,
            "tracking_number": data.tracking_number,
            "reference": data.reference,
        }
        item = entities.new_item(SHIPMENT, actor, shipment, now=now)
        head = [
            *entities.create_operations(SHIPMENT, actor, item),
            *updates,
            *_order_events(store, actor, item, lines, shipped_after),
        ]
        _fits(transaction_size([*head, *stock.plan(actor, changes, now).operations]), len(data.lines))
        try:
            stock.apply(store, actor, changes, before=head, now=now)
        except ConditionFailed:
            continue  # a reservation changed since it was read
        _invoice_shipped_orders(store, actor, head)
        return entities.public(item)
    raise PreconditionFailedError("The reservations keep changing; read them again.")


def _fits(items: int, lines: int) -> None:
    """A shipment is one transaction: refused (422) when it would hold more items than DynamoDB takes."""
    if items > MAX_TRANSACTION:
        raise field_error(
            f"These {lines} lines need {items} writes in one transaction, more than the {MAX_TRANSACTION} "
            "DynamoDB takes; ship them in parts.",
            ["body", "lines"],
            "too many lines for one shipment",
        )


def _invoice_shipped_orders(store: Store, actor: Actor, operations: Operations) -> None:
    """Orders invoiced on delivery that this shipment completed get their invoice issued (if this
    step is cut short, the reconciliation issues it)."""

    for op in operations:
        if not is_request(op):
            continue
        item = request_of(op).get("Put", {}).get("Item", {})
        if item.get("detail_type") == "OrderShipped" and json.loads(item["detail"]).get("complete"):
            intake.invoice_on_delivery(store, actor, item["order_id"])


def _order_events(
    store: Store,
    actor: Actor,
    shipment: dict[str, Any],
    lines: list[dict[str, Any]],
    after: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """``OrderShipped`` for each sales order whose reserved lines this shipment carries (their
    reservations' references are ``<order>:<line>``), in the shipment's transaction, of the actor's
    epoch."""
    tenant_id = actor.tenant_id
    by_order: dict[str, list[int]] = {}
    for line in lines:
        held = reservations.order_line({"id": line["reservation_id"], "reference": line["reference"]})
        if held:  # only the handoff's own reservation of an order line ships an order
            by_order.setdefault(held[0], []).append(int(held[1]))
    operations = []
    for order_id, numbers in by_order.items():
        of_order = reservations.list_page(store, tenant_id, f"{order_id}:", 100, None).items
        complete = all(
            (after.get(r["id"]) or r)["status"] == "shipped" for r in of_order if r["status"] != "released"
        )
        event = OrderShipped(
            tenant_id=tenant_id,
            event_id=outbox.derived_id("evt", order_id, shipment["id"]),
            occurred_at=shipment["created_at"],
            order_id=order_id,
            epoch=actor.epoch,
            shipment_id=shipment["id"],
            lines=sorted(numbers),
            complete=complete,
        )
        operations += outbox.records(event, SOURCE_ERP, {"complete": complete})
    return operations


def list_page(store: Store, tenant_id: str, limit: int, cursor: str | None) -> Page:
    return entities.list_page(store, tenant_id, SHIPMENT, limit=limit, cursor=cursor)

"""Shipments: reserved stock leaves the warehouse (on hand and reserved both fall).

One transaction writes the shipment, each reservation's shipped quantity (conditional on the
version read) and the stock levels with their ledger movements; a reservation changed meanwhile
makes the shipment read again and decide again, so nothing ships twice.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from chalicelib.core import entities
from chalicelib.core.entities import EntityType
from chalicelib.core.errors import PreconditionFailedError, field_error
from chalicelib.core.money import text
from chalicelib.core.store import Actor, ConditionFailed, Page, Store, put, utcnow
from chalicelib.erp import stock
from chalicelib.erp.reservations import RESERVATION

SHIPMENT = EntityType("shipment", "shp", name_field=None)


def ship(store: Store, actor: Actor, data: Any) -> dict[str, Any]:
    wanted = [line.reservation_id for line in data.lines]
    if len(set(wanted)) != len(wanted):
        raise field_error("Each reservation once per shipment.", ["body", "lines"], "repeated reservation")
    for _attempt in range(3):
        current = {r["id"]: r for r in entities.get_many(store, actor.tenant_id, RESERVATION, wanted)}
        now = utcnow()
        lines, updates, changes = [], [], []
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
            after = {
                **reservation,
                "shipped": shipped,
                "status": "shipped" if done else "active",
                "version": reservation["version"] + 1,
                "updated_at": now,
                "updated_by": actor.user_id,
            }
            after.update(entities.indexes(RESERVATION, actor.tenant_id, after))
            updates.append(
                put(after, "version = :v", ExpressionAttributeValues={":v": reservation["version"]})
            )
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
        fields = {
            "lines": lines,
            "carrier": data.carrier,
            "tracking_number": data.tracking_number,
            "reference": data.reference,
        }
        item = entities.new_item(SHIPMENT, actor, fields, now=now)
        after_ship = {
            line.reservation_id: u["Put"]["Item"] for line, u in zip(data.lines, updates, strict=True)
        }
        head = [
            *entities.create_operations(SHIPMENT, actor, item),
            *updates,
            *_order_events(store, actor.tenant_id, item, lines, after_ship),
        ]
        try:
            stock.apply(store, actor, changes, before=head)
        except ConditionFailed:
            continue  # a reservation changed since it was read
        _invoice_shipped_orders(store, actor, head)
        return entities.public(item)
    raise PreconditionFailedError("The reservations keep changing; read them again.")


def _invoice_shipped_orders(store: Store, actor: Actor, operations: list[dict[str, Any]]) -> None:
    """Orders invoiced on delivery that this shipment completed get their invoice issued (if this
    step is cut short, the reconciliation issues it)."""
    from chalicelib.erp.intake import invoice_on_delivery

    for op in operations:
        item = op.get("Put", {}).get("Item", {})
        if item.get("detail_type") == "OrderShipped" and json.loads(item["detail"]).get("complete"):
            invoice_on_delivery(store, actor, item["order_id"])


def _order_events(
    store: Store,
    tenant_id: str,
    shipment: dict[str, Any],
    lines: list[dict[str, Any]],
    after: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """``OrderShipped`` for each sales order whose reserved lines this shipment carries (their
    reservations' references are ``<order>:<line>``), in the shipment's transaction."""
    from chalicelib.erp.reservations import list_page as reservations_of
    from chalicelib.erp.reservations import order_line
    from chalicelib.handoff import outbox
    from chalicelib.handoff.contracts import SOURCE_ERP, OrderShipped

    by_order: dict[str, list[int]] = {}
    for line in lines:
        held = order_line({"id": line["reservation_id"], "reference": line["reference"]})
        if held:  # only the handoff's own reservation of an order line ships an order
            by_order.setdefault(held[0], []).append(int(held[1]))
    operations = []
    for order_id, numbers in by_order.items():
        held = reservations_of(store, tenant_id, f"{order_id}:", 100, None).items
        complete = all(
            (after.get(r["id"]) or r)["status"] == "shipped" for r in held if r["status"] != "released"
        )
        event = OrderShipped(
            tenant_id=tenant_id,
            event_id=outbox.derived_id("evt", order_id, shipment["id"]),
            occurred_at=shipment["created_at"],
            order_id=order_id,
            shipment_id=shipment["id"],
            lines=sorted(numbers),
            complete=complete,
        )
        operations += outbox.records(event, SOURCE_ERP, {"complete": complete})
    return operations


def list_page(store: Store, tenant_id: str, limit: int, cursor: str | None) -> Page:
    return entities.list_page(store, tenant_id, SHIPMENT, limit=limit, cursor=cursor)

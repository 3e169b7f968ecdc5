"""Reservations: stock set aside for a purpose (an order line), released or shipped later.

Creating one writes the reservation, its unique reference guard, its audit entry, the level's
``reserved`` increase and the ledger movement in one transaction: either all of it or, when the
available quantity does not cover it, nothing (409 naming the product and what is available).
The reference is unique, so a retried reservation for the same order line cannot reserve twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core import entities, keys
from chalicelib.core.entities import Change, EntityType, Unique
from chalicelib.core.errors import ConflictError, ValidationError
from chalicelib.core.money import text
from chalicelib.core.store import Actor, ConditionFailed, Page, Store, utcnow
from chalicelib.erp import repository, stock
from chalicelib.erp.catalogue import default_warehouse_id
from chalicelib.handoff import outbox

REFERENCE = Unique("reference")
RESERVATION = EntityType("reservation", "res", name_field=None, uniques=(REFERENCE,))


def present(item: dict[str, Any]) -> dict[str, Any]:
    out = entities.public(item)
    out.update(quantity=text(Decimal(item["quantity"])), shipped=text(Decimal(item.get("shipped", 0))))
    return out


def warehouse_for(
    store: Store, tenant_id: str, warehouse_id: str | None, product_id: str | None = None
) -> str:
    """The warehouse named, else the default; without one, a missing product is the first error."""
    chosen = warehouse_id or default_warehouse_id(store, tenant_id)
    if chosen is None:
        if product_id and store.get(keys.entity(tenant_id, "product", product_id)) is None:
            error = {"loc": ["body", "product_id"], "msg": "no such product", "type": "reference"}
            raise ValidationError(f"There is no product {product_id}.", errors=[error])
        raise ValidationError(
            "The company has no warehouse yet; create one (it becomes the default) or name one.",
            errors=[{"loc": ["body", "warehouse_id"], "msg": "no default warehouse", "type": "missing"}],
        )
    return chosen


def reserve(
    store: Store,
    actor: Actor,
    product_id: str,
    warehouse_id: str | None,
    quantity: Decimal,
    reference: str,
    reservation_id: str | None = None,
) -> dict[str, Any]:
    """One transaction: reference checks, the reservation and its guard and audit, the level."""
    warehouse_id = warehouse_for(store, actor.tenant_id, warehouse_id, product_id)
    item = entities.new_item(
        RESERVATION,
        actor,
        {
            "product_id": product_id,
            "warehouse_id": warehouse_id,
            "quantity": quantity,
            "shipped": Decimal(0),
            "status": "active",
            "reference": reference,
        },
        entity_id=reservation_id,
    )
    head, errors = stock.checks(
        actor.tenant_id, [("product_id", "product", product_id), ("warehouse_id", "warehouse", warehouse_id)]
    )
    created = entities.create_operations(RESERVATION, actor, item)
    change = stock.Change("reservation", product_id, warehouse_id, reserved=quantity, reference=item["id"])
    try:
        stock.apply(store, actor, [change], before=[*head, *created])
    except ConditionFailed as exc:
        if exc.name in errors:  # the product or the warehouse
            raise errors[exc.name] from exc
        if exc.name == RESERVATION.name:  # the reservation itself: the same id again
            raise ConflictError(f"The reservation {item['id']} exists.", existing_id=item["id"]) from exc
        if exc.name == entities.guard_name(RESERVATION.name, REFERENCE):
            existing = _by_reference(store, actor.tenant_id, reference)
            raise ConflictError(
                f"The reference {reference} is already reserved.", existing_id=existing
            ) from exc
        raise
    return present(item)


def _by_reference(store: Store, tenant_id: str, reference: str) -> str | None:
    guard = store.get(keys.unique_guard(tenant_id, RESERVATION.name, "reference", reference.upper()))
    return guard["entity_id"] if guard else None


def order_line(item: dict[str, Any]) -> tuple[str, str] | None:
    """The order and line a reservation holds when it is the order handoff's own (its id derived
    from both, which no manual route can make), else None."""
    order_id, _, line = str(item.get("reference", "")).partition(":")
    if line.isdigit() and item["id"] == outbox.derived_id("res", order_id, line):
        return order_id, line
    return None


def release(
    store: Store, actor: Actor, reservation_id: str, if_match: int | None, *, by_hand: bool = False
) -> dict[str, Any]:
    """Give back what is still reserved (not shipped); releasing again changes nothing. By hand, an
    order's own reservation is not released: the order's cancellation does that (409)."""

    def decide(before: dict[str, Any]) -> Change:
        held = order_line(before) if by_hand else None
        if held:
            raise ConflictError(
                f"This reservation holds line {held[1]} of order {held[0]}: cancel the order to release it.",
                order_id=held[0],
            )
        if before["status"] != "active":
            return Change()
        outstanding = Decimal(before["quantity"]) - Decimal(before.get("shipped", 0))
        now = utcnow()
        given_back = stock.Change(
            "release",
            before["product_id"],
            before["warehouse_id"],
            reserved=-outstanding,
            reference=reservation_id,
        )
        extra = stock.plan(actor, [given_back], now).operations
        return Change({"status": "released"}, extra=extra, action="release", at=now)

    return present(
        entities.update(store, actor, RESERVATION, reservation_id, decide=decide, if_match=if_match).item
    )


def list_page(store: Store, tenant_id: str, reference: str | None, limit: int, cursor: str | None) -> Page:
    if reference and not reference.endswith(":"):
        found = _by_reference(store, tenant_id, reference)
        items = entities.get_many(store, tenant_id, RESERVATION, [found] if found else [])
        return Page([present(i) for i in items], None)
    if reference:  # a prefix: every line of an order (the guards sort by value)
        partition = keys.unique_guard(tenant_id, RESERVATION.name, "reference", "X")["pk"]
        page = store.query_page(
            tenant_id=tenant_id,
            partition=partition,
            sort_condition=repository.references_starting(reference),
            limit=limit,
            cursor=cursor,
            query_id=f"res|{reference}",
        )
        items = entities.get_many(store, tenant_id, RESERVATION, [g["entity_id"] for g in page.items])
        return Page([present(i) for i in items], page.next_cursor)
    page = entities.list_page(store, tenant_id, RESERVATION, limit=limit, cursor=cursor)
    return Page([present({**i, "tenant_id": tenant_id}) for i in page.items], page.next_cursor)

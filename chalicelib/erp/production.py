"""Production orders, made at work centres from bills of materials (their service: ``boms.py``).

Planning. A new production order gets the earliest finish date that both its components and its
work centre's capacity allow:

1. materials: every component short in the order's warehouse (needed > available) is ready after
   its product's lead time (bought, or made); the order can start on the latest of those days;
2. capacity: from that day on, each day's free capacity (daily capacity − units already booked)
   takes what it can until the quantity is booked; the last such day is the planned finish.

The day bookings are items per work centre and day; each is updated in the order's transaction
with the condition that it stays within capacity (``booked <= capacity − this booking``), so two
orders planned at once cannot overbook a day (the loser plans again).

Completing consumes the components and produces the finished goods in one transaction: a component
short at that moment refuses the whole completion (409 naming it) and nothing changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from chalicelib.core import entities, keys
from chalicelib.core.entities import Change, EntityType, Reference, Unique
from chalicelib.core.errors import ConflictError, ValidationError
from chalicelib.core.money import text
from chalicelib.core.store import Actor, ConditionFailed, Page, Store, utcnow
from chalicelib.erp import inventory, repository, stock
from chalicelib.erp.catalogue import PRODUCT, WAREHOUSE
from chalicelib.erp.reservations import warehouse_for

HORIZON_DAYS = 365
MAX_BOOKED_DAYS = 60  # one transaction holds the order, its audit entry and at most this many day bookings

WORK_CENTRE = EntityType("work_centre", "wct", uniques=(Unique("code"),))
BOM = EntityType("bom", "bom", name_field=None, uniques=(Unique("product_id"),))


def _order_lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    yield "product", item["product_id"]
    yield "status", item["status"]


PRODUCTION_ORDER = EntityType(
    "production_order",
    "mfg",
    name_field=None,
    lookups=_order_lookups,
    lookup_kinds=("product", "status"),
    tallies=inventory.production_order_tallies,  # what is coming, for replenishment
)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


# ---- work centres and bills of materials (their service: boms.py) --------------------------------
work_centres = entities.PlainRecords(WORK_CENTRE, ("code", "name", "daily_capacity"))


def bom_of(store: Store, tenant_id: str, product_id: str) -> dict[str, Any] | None:
    guard = store.get(keys.unique_guard(tenant_id, BOM.name, "product_id", product_id.upper()))
    return entities.get(store, tenant_id, BOM, guard["entity_id"]) if guard else None


# ---- planning ---------------------------------------------------------------------------------------------
def materials(
    store: Store,
    tenant_id: str,
    components: list[dict[str, Any]],
    quantity: Decimal,
    warehouse_id: str,
    today: dt.date,
) -> tuple[dt.date, list[dict[str, str]]]:
    """The day the components are all there, and the shortages with the day each is ready."""
    products = {
        p["id"]: p
        for p in entities.get_many(store, tenant_id, PRODUCT, [c["product_id"] for c in components])
    }
    ready, shortages = today, []
    for component in components:
        needed = Decimal(component["quantity"]) * quantity
        available = Decimal(stock.level(store, tenant_id, component["product_id"], warehouse_id)["available"])
        if available < needed:
            lead = int(products.get(component["product_id"], {}).get("lead_time_days", 0))
            day = today + dt.timedelta(days=lead)
            ready = max(ready, day)
            shortages.append(
                {
                    "product_id": component["product_id"],
                    "needed": text(needed),
                    "available": text(available),
                    "ready_on": day.isoformat(),
                }
            )
    return ready, shortages


def book(
    store: Store, tenant_id: str, centre: dict[str, Any], quantity: Decimal, start: dt.date
) -> list[dict[str, Any]]:
    """Day bookings from ``start`` on, filling each day's free capacity (one Query over the horizon)."""
    capacity = Decimal(str(centre["daily_capacity"]))
    end = start + dt.timedelta(days=HORIZON_DAYS)
    days = repository.days_between(start.isoformat(), end.isoformat())
    booked = {
        i["sk"]: Decimal(i["booked"])
        for i in store.query_all(partition=keys.capacity_pk(tenant_id, centre["id"]), sort_condition=days)
    }
    bookings: list[dict[str, Any]] = []
    left, day = quantity, start
    while left > 0:
        if day > end or len(bookings) >= MAX_BOOKED_DAYS:
            raise ConflictError(
                f"Work centre {centre['code']} cannot make {text(quantity)} within {MAX_BOOKED_DAYS} days of free capacity "
                f"in the next {HORIZON_DAYS}; split the order."
            )
        free = capacity - booked.get(day.isoformat(), Decimal(0))
        if free > 0:
            take = min(free, left)
            bookings.append({"day": day.isoformat(), "quantity": take})
            left -= take
        day += dt.timedelta(days=1)
    return bookings


def booking_updates(
    tenant_id: str, centre: dict[str, Any], bookings: list[dict[str, Any]], sign: int
) -> list[dict[str, Any]]:
    capacity = Decimal(str(centre["daily_capacity"]))
    operations = []
    for b in bookings:
        quantity = Decimal(str(b["quantity"]))
        limit = capacity - quantity if sign > 0 else None  # a booking stays within capacity
        operations.append(repository.day_booked(tenant_id, centre["id"], b["day"], quantity * sign, limit))
    return operations


def present(item: dict[str, Any]) -> dict[str, Any]:
    out = entities.public(item)
    out["quantity"] = text(Decimal(str(item["quantity"])))
    out["bookings"] = [
        {"day": b["day"], "quantity": text(Decimal(str(b["quantity"])))} for b in item.get("bookings", [])
    ]
    return out


def plan_order(
    store: Store,
    actor: Actor,
    product_id: str,
    quantity: Decimal,
    warehouse_id: str | None,
    reference: str = "",
    order_id: str | None = None,
) -> dict[str, Any]:
    """A planned production order scheduled by materials and capacity (retried if a day fills meanwhile)."""
    warehouse_id = warehouse_for(store, actor.tenant_id, warehouse_id, product_id)
    bom = bom_of(store, actor.tenant_id, product_id)
    if bom is None:
        error = {"loc": ["body", "product_id"], "msg": "no bill of materials", "type": "reference"}
        raise ValidationError(
            f"Product {product_id} has no bill of materials; it cannot be produced.", errors=[error]
        )
    centre = entities.get(store, actor.tenant_id, WORK_CENTRE, bom["work_centre_id"])
    for _attempt in range(3):
        today = _today()
        ready, shortages = materials(store, actor.tenant_id, bom["components"], quantity, warehouse_id, today)
        bookings = book(store, actor.tenant_id, centre, quantity, ready)
        fields = {
            "product_id": product_id,
            "quantity": quantity,
            "warehouse_id": warehouse_id,
            "work_centre_id": centre["id"],
            "status": "planned",
            "reference": reference,
            "components": bom["components"],
            "materials_ready_on": ready.isoformat(),
            "planned_start": bookings[0]["day"],
            "planned_finish": bookings[-1]["day"],
            "bookings": bookings,
            "shortages": shortages,
            "completed_at": None,
        }
        item = entities.new_item(PRODUCTION_ORDER, actor, fields, entity_id=order_id)
        try:
            entities.write_new(
                store,
                actor,
                PRODUCTION_ORDER,
                item,
                extra=booking_updates(actor.tenant_id, centre, bookings, +1),
                references=[Reference("warehouse_id", WAREHOUSE, warehouse_id)],
            )
            return present(item)
        except ConditionFailed:
            continue  # a day filled up meanwhile: plan again on fresh bookings
    raise ConflictError("The work centre's calendar keeps changing; try again.")


# ---- the order's life (no update or remove: an order changes through its actions, and is cancelled) ----
def create(store: Store, actor: Actor, data: Any) -> dict[str, Any]:
    return plan_order(store, actor, data.product_id, data.quantity, data.warehouse_id, data.reference)


def list_page(store: Store, tenant_id: str, q: Any) -> Page:
    if q.product_id:
        page = entities.lookup(
            store,
            tenant_id,
            PRODUCTION_ORDER,
            "product",
            q.product_id,
            limit=q.limit,
            cursor=q.cursor,
            newest_first=True,
        )
    else:
        page = entities.list_page(
            store, tenant_id, PRODUCTION_ORDER, limit=q.limit, cursor=q.cursor, updated_since=q.updated_since
        )
    return Page([i if i.get("deleted") else present(i) for i in page.items], page.next_cursor)


MOVES = {"release": ("planned", "released"), "start": ("released", "in_progress")}


def move(store: Store, actor: Actor, order_id: str, action: str, if_match: int | None) -> dict[str, Any]:
    source, target = MOVES[action]

    def decide(before: dict[str, Any]) -> Change:
        if before["status"] == target:
            return Change()
        if before["status"] != source:
            raise ConflictError(
                f"The production order is {before['status']}; only a {source} one can {action}.",
                state=before["status"],
            )
        return Change({"status": target}, action=action)

    return present(
        entities.update(store, actor, PRODUCTION_ORDER, order_id, decide=decide, if_match=if_match).item
    )


def cancel(store: Store, actor: Actor, order_id: str, if_match: int | None) -> dict[str, Any]:
    """Any order not done; its capacity bookings are given back in the same transaction."""

    def decide(before: dict[str, Any]) -> Change:
        if before["status"] == "cancelled":
            return Change()
        if before["status"] == "done":
            raise ConflictError("The production order is done; it cannot be cancelled.", state="done")
        centre = entities.get(store, actor.tenant_id, WORK_CENTRE, before["work_centre_id"])
        given_back = booking_updates(actor.tenant_id, centre, before.get("bookings", []), -1)
        return Change({"status": "cancelled"}, extra=given_back, action="cancel")

    return present(
        entities.update(store, actor, PRODUCTION_ORDER, order_id, decide=decide, if_match=if_match).item
    )


def complete(store: Store, actor: Actor, order_id: str, if_match: int | None) -> dict[str, Any]:
    """Consume every component and produce the goods, all or nothing; completing again is a no-op."""
    before = entities.get(store, actor.tenant_id, PRODUCTION_ORDER, order_id, consistent=True)
    entities.check_version(PRODUCTION_ORDER, before, if_match)
    if before["status"] == "done":
        return present(before)
    if before["status"] not in ("released", "in_progress", "planned"):
        raise ConflictError(
            f"The production order is {before['status']}; it cannot be completed.", state=before["status"]
        )
    quantity = Decimal(str(before["quantity"]))
    warehouse_id = before["warehouse_id"]
    changes = [
        stock.Change(
            "consumption",
            c["product_id"],
            warehouse_id,
            on_hand=-(Decimal(c["quantity"]) * quantity),
            reference=order_id,
        )
        for c in before["components"]
    ]
    changes.append(
        stock.Change("production", before["product_id"], warehouse_id, on_hand=quantity, reference=order_id)
    )
    now = utcnow()
    done = entities.versioned(
        actor,
        PRODUCTION_ORDER,
        before,
        Change({"status": "done", "completed_at": now}, action="complete", at=now),
    )
    assert done is not None  # its status changes
    skus = {
        p["id"]: p["sku"]
        for p in entities.get_many(store, actor.tenant_id, PRODUCT, [c.product_id for c in changes])
    }
    try:
        stock.apply(store, actor, changes, before=done.operations, labels=skus, now=now)
    except ConditionFailed as exc:
        refusal = done.refusal(store, exc)  # the order changed meanwhile: 412
        if refusal is None:
            raise
        raise refusal from exc
    return present(done.after)

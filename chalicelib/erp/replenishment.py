"""Replenishment: products whose available stock plus what is coming is under their reorder point.

Coming means the open purchase orders' unreceived quantities and the open production orders'
quantities, so a suggestion turned into a draft purchase order is not suggested again. The
suggested quantity tops the product up to twice its reorder point. Bought products are grouped by
their default supplier; manufactured ones are listed to plan production for.

Reads (an SME's catalogue at a time): every product, every stock level, the open purchase and
production orders; about one Query per hundred records.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core import entities, keys
from chalicelib.core.entities import EntityType
from chalicelib.core.money import text
from chalicelib.core.store import Actor, Store
from chalicelib.erp import purchasing
from chalicelib.erp.catalogue import PRODUCT, SUPPLIER
from chalicelib.erp.production import PRODUCTION_ORDER

ZERO = Decimal(0)


def _every(store: Store, tenant_id: str, et: EntityType) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        page = entities.list_page(store, tenant_id, et, limit=100, cursor=cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if not cursor:
            return items


def _by_status(
    store: Store, tenant_id: str, et: EntityType, statuses: tuple[str, ...]
) -> list[dict[str, Any]]:
    found = []
    for status in statuses:
        cursor = None
        while True:
            page = entities.lookup(store, tenant_id, et, "status", status, cursor=cursor)
            found.extend(page.items)
            cursor = page.next_cursor
            if not cursor:
                break
    return found


def suggestions(store: Store, tenant_id: str) -> dict[str, Any]:
    available: dict[str, Decimal] = {}
    for level in store.query_all(partition=keys.stock_pk(tenant_id)):
        available[level["product_id"]] = available.get(level["product_id"], ZERO) + Decimal(
            str(level["available"])
        )
    incoming: dict[str, Decimal] = {}
    for order in _by_status(store, tenant_id, purchasing.PURCHASE_ORDER, purchasing.OPEN):
        for line in order["lines"]:
            left = Decimal(line["quantity"]) - Decimal(line["received"])
            incoming[line["product_id"]] = incoming.get(line["product_id"], ZERO) + left
    for order in _by_status(store, tenant_id, PRODUCTION_ORDER, ("planned", "released", "in_progress")):
        incoming[order["product_id"]] = incoming.get(order["product_id"], ZERO) + Decimal(
            str(order["quantity"])
        )
    purchase: dict[str | None, list[dict[str, str]]] = {}
    produce = []
    for product in _every(store, tenant_id, PRODUCT):
        point = Decimal(product["reorder_point"])
        if product["kind"] == "service" or point <= 0:
            continue
        have, coming = available.get(product["id"], ZERO), incoming.get(product["id"], ZERO)
        if have + coming >= point:
            continue
        line = {
            "product_id": product["id"],
            "sku": product["sku"],
            "available": text(have),
            "incoming": text(coming),
            "reorder_point": text(point),
            "suggested_quantity": text(2 * point - have - coming),
            "unit_cost": product["standard_cost"],
        }
        if product["kind"] == "manufactured":
            produce.append(line)
        else:
            purchase.setdefault(product.get("default_supplier_id"), []).append(line)
    groups = [
        {"supplier_id": s, "lines": lines}
        for s, lines in sorted(purchase.items(), key=lambda kv: kv[0] or "~")
    ]
    return {"purchase": groups, "produce": produce}


def order(store: Store, actor: Actor, supplier_ids: list[str] | None) -> list[dict[str, Any]]:
    """Draft purchase orders, one per supplier, from the current suggestions."""
    created = []
    for group in suggestions(store, actor.tenant_id)["purchase"]:
        supplier = group["supplier_id"]
        if supplier is None or (supplier_ids is not None and supplier not in supplier_ids):
            continue
        lines = [
            {
                "product_id": li["product_id"],
                "quantity": li["suggested_quantity"],
                "unit_cost": li["unit_cost"],
            }
            for li in group["lines"]
        ]
        supplier_item = entities.get(store, actor.tenant_id, SUPPLIER, supplier)
        fields = purchasing.new_fields(
            supplier, supplier_item.get("currency", "CNY"), lines, notes="From replenishment."
        )
        created.append(entities.public(entities.create(store, actor, purchasing.PURCHASE_ORDER, fields)))
    return created

"""Replenishment: products whose available stock plus what is coming is under their reorder point.

Coming means the open purchase orders' unreceived quantities and the open production orders'
quantities, so a suggestion turned into a draft purchase order is not suggested again. The
suggested quantity tops the product up to twice its reorder point. Bought products are grouped by
their default supplier; manufactured ones are listed to plan production for.

Reads: the company's stock figures (one Query of at most 32 items: on hand, reserved, coming and
the reorder point per product, kept by the writes in ``chalicelib/erp/inventory.py``), then the
products under their point (a BatchGetItem per hundred): not the catalogue, the levels or the orders.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core import entities
from chalicelib.core.money import text
from chalicelib.core.store import Actor, Store
from chalicelib.erp import inventory, purchasing
from chalicelib.erp.catalogue import PRODUCT, SUPPLIER

ZERO = Decimal(0)


def suggestions(store: Store, tenant_id: str) -> dict[str, Any]:
    """From the figures the stock, product and order writes keep (``inventory.stock_now``): the
    products under their reorder point, then only those products read."""
    figures = inventory.stock_now(store, tenant_id)
    available = {p: f["q"] - f["r"] for p, f in figures.items()}
    incoming = {p: f["in"] for p, f in figures.items()}
    short = sorted(p for p, f in figures.items() if f["pt"] > 0 and available[p] + incoming[p] < f["pt"])
    products = [
        product
        for start in range(0, len(short), 100)
        for product in entities.get_many(store, tenant_id, PRODUCT, short[start : start + 100])
    ]
    purchase: dict[str | None, list[dict[str, str]]] = {}
    produce = []
    for product in sorted(products, key=lambda p: str(p["sku"])):
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

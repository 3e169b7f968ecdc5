"""Products, suppliers and warehouses: the ERP's master data record types, each with a unique code.

A supplier has no rules of its own (``suppliers``); products and warehouses have their modules
(``products.py``, ``warehouses.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.core import entities, keys, normalise
from chalicelib.core.entities import EntityType, Unique
from chalicelib.core.store import Store
from chalicelib.erp import inventory


def _product_lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    if item.get("category"):
        yield "category", normalise.normalise_name(item["category"])
    if item.get("default_supplier_id"):
        yield "supplier", item["default_supplier_id"]


PRODUCT = EntityType(
    "product",
    "prd",
    uniques=(Unique("sku"),),
    lookups=_product_lookups,
    lookup_kinds=("category", "supplier"),
    tallies=inventory.product_tallies,  # its reorder point, for replenishment
)
SUPPLIER = EntityType("supplier", "sup", uniques=(Unique("code"),))
WAREHOUSE = EntityType("warehouse", "whs", uniques=(Unique("code"),))


def default_warehouse_id(store: Store, tenant_id: str) -> str | None:
    pointer = store.get(keys.default_warehouse(tenant_id), consistent=True)
    return pointer["warehouse_id"] if pointer else None


suppliers = entities.PlainRecords(
    SUPPLIER, ("code", "name", "currency", "payment_terms_days"), {"email": "", "phone": ""}
)

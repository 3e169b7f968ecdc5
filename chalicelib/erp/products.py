"""Products: what the company sells, makes or stocks; the SKU is unique per tenant."""

from __future__ import annotations

from typing import Any

from chalicelib.core import entities, keys, normalise
from chalicelib.core.entities import Change, Reference
from chalicelib.core.errors import ConflictError
from chalicelib.core.store import Actor, Page, Store
from chalicelib.erp import stock
from chalicelib.erp.catalogue import PRODUCT, SUPPLIER

REQUIRED = (
    "sku",
    "name",
    "unit",
    "kind",
    "list_price",
    "currency",
    "standard_cost",
    "reorder_point",
    "lead_time_days",
    "invoicing_policy",
    "sellable",
)


def _references(supplier_id: str | None) -> list[Reference]:
    return [Reference("default_supplier_id", SUPPLIER, supplier_id)] if supplier_id else []


def create(store: Store, actor: Actor, data: Any) -> dict[str, Any]:
    fields = data.model_dump(mode="json")
    return entities.public(
        entities.create(store, actor, PRODUCT, fields, references=_references(data.default_supplier_id))
    )


def list_page(store: Store, tenant_id: str, q: Any) -> Page:
    if q.sku:
        guard = store.get(keys.unique_guard(tenant_id, PRODUCT.name, "sku", q.sku.upper()))
        items = entities.get_many(store, tenant_id, PRODUCT, [guard["entity_id"]] if guard else [])
        return Page([entities.public(i) for i in items], None)
    if q.category:
        category = normalise.normalise_name(q.category)
        return entities.lookup(
            store, tenant_id, PRODUCT, "category", category, limit=q.limit, cursor=q.cursor
        )
    return entities.list_page(
        store,
        tenant_id,
        PRODUCT,
        limit=q.limit,
        cursor=q.cursor,
        updated_since=q.updated_since,
        name_prefix=q.name_prefix,
    )


def changes(store: Store, actor: Actor, before: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The fields a change of ``before`` sets, by PATCH or by an import's row: a product with
    stock does not become a service."""
    applied = entities.patch_fields(entities.given(patch), REQUIRED, {})
    becomes_service = applied.get("kind") == "service" and before.get("kind") != "service"
    if becomes_service and stock.holds_stock(store, actor.tenant_id, product_id=before["id"]):
        raise ConflictError("The product has stock; it cannot become a service.", field="kind")
    return applied


def update(store: Store, actor: Actor, product_id: str, patch: Any, if_match: int | None) -> dict[str, Any]:
    refs = _references(patch.default_supplier_id)

    def decide(before: dict[str, Any]) -> Change:
        return Change(changes(store, actor, before, patch), references=refs)

    return entities.public(
        entities.update(store, actor, PRODUCT, product_id, decide=decide, if_match=if_match).item
    )


def remove(store: Store, actor: Actor, product_id: str, if_match: int | None) -> None:
    def check(before: dict[str, Any]) -> None:
        if stock.holds_stock(store, actor.tenant_id, product_id=product_id):
            raise ConflictError(
                "The product has stock on hand or reserved; issue or adjust it to zero first."
            )

    entities.remove(store, actor, PRODUCT, product_id, if_match=if_match, check=check)

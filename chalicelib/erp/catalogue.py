"""Products, suppliers and warehouses: the ERP's master data, each with a unique code."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.core import entities, keys
from chalicelib.core.entities import EntityType, Reference, Unique
from chalicelib.core.errors import ConflictError
from chalicelib.core.store import Actor, Page, Store, put, utcnow
from chalicelib.erp import stock


def _product_lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    if item.get("category"):
        yield "category", entities.normalise_name(item["category"])
    if item.get("default_supplier_id"):
        yield "supplier", item["default_supplier_id"]


PRODUCT = EntityType("product", "prd", uniques=(Unique("sku"),), lookups=_product_lookups)
SUPPLIER = EntityType("supplier", "sup", uniques=(Unique("code"),))
WAREHOUSE = EntityType("warehouse", "whs", uniques=(Unique("code"),))


class _Products:
    """The product service (create, list, update, remove) for the generic routes."""

    @staticmethod
    def create(store: Store, actor: Actor, data: Any) -> dict[str, Any]:
        fields = data.model_dump(mode="json")
        refs = (
            [Reference("default_supplier_id", SUPPLIER, data.default_supplier_id)]
            if data.default_supplier_id
            else []
        )
        return entities.public(entities.create(store, actor, PRODUCT, fields, references=refs))

    @staticmethod
    def list(store: Store, tenant_id: str, q: Any) -> Page:
        if q.sku:
            guard = store.get(keys.unique_guard(tenant_id, PRODUCT.name, "sku", q.sku.upper()))
            items = entities.get_many(store, tenant_id, PRODUCT, [guard["entity_id"]] if guard else [])
            return Page([entities.public(i) for i in items], None)
        if q.category:
            return entities.lookup(
                store, tenant_id, PRODUCT, "category", entities.normalise_name(q.category), q.limit, q.cursor
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

    @staticmethod
    def changes(store: Store, actor: Actor, before: dict[str, Any], patch: Any) -> dict[str, Any]:
        """The fields a change of ``before`` sets, by PATCH or by an import's row: a product with
        stock does not become a service."""
        applied = entities.patch_fields(
            entities.given(patch),
            (
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
            ),
            {},
        )
        becomes_service = applied.get("kind") == "service" and before.get("kind") != "service"
        if becomes_service and stock.holds_stock(store, actor.tenant_id, product_id=before["id"]):
            raise ConflictError("The product has stock; it cannot become a service.", field="kind")
        return applied

    @staticmethod
    def update(
        store: Store, actor: Actor, product_id: str, patch: Any, if_match: int | None
    ) -> dict[str, Any]:
        refs = (
            [Reference("default_supplier_id", SUPPLIER, patch.default_supplier_id)]
            if patch.default_supplier_id
            else []
        )

        def decide(before: dict[str, Any]) -> dict[str, Any]:
            return _Products.changes(store, actor, before, patch)

        return entities.public(
            entities.update(store, actor, PRODUCT, product_id, decide, if_match, references=refs)
        )

    @staticmethod
    def remove(store: Store, actor: Actor, product_id: str, if_match: int | None) -> None:
        def check(before: dict[str, Any]) -> None:
            if stock.holds_stock(store, actor.tenant_id, product_id=product_id):
                raise ConflictError(
                    "The product has stock on hand or reserved; issue or adjust it to zero first."
                )

        entities.remove(store, actor, PRODUCT, product_id, if_match, check=check)


def default_warehouse_id(store: Store, tenant_id: str) -> str | None:
    pointer = store.get(keys.default_warehouse(tenant_id), consistent=True)
    return pointer["warehouse_id"] if pointer else None


def _make_default(tenant_id: str, warehouse_id: str, previous: str | None, now: str) -> list[dict[str, Any]]:
    """Point the company's default at ``warehouse_id`` (conditional on the pointer read), and
    take the flag off the previous default."""
    pointer = {**keys.default_warehouse(tenant_id), "warehouse_id": warehouse_id, "updated_at": now}
    if previous is None:
        operations = [put(pointer, "attribute_not_exists(pk)")]
    else:
        operations = [put(pointer, "warehouse_id = :prev", ExpressionAttributeValues={":prev": previous})]
    if previous and previous != warehouse_id:
        operations.append(
            {
                "Update": {
                    "Key": keys.entity(tenant_id, WAREHOUSE.name, previous),
                    "UpdateExpression": "SET is_default = :f, updated_at = :now ADD version :one",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":f": False, ":now": now, ":one": 1},
                }
            }
        )
    return operations


class _Warehouses:
    @staticmethod
    def create(store: Store, actor: Actor, data: Any) -> dict[str, Any]:
        previous = default_warehouse_id(store, actor.tenant_id)
        fields = data.model_dump(mode="json")
        fields["is_default"] = data.is_default or previous is None  # the first warehouse is the default
        item = entities.new_item(WAREHOUSE, actor, fields)
        extra = (
            _make_default(actor.tenant_id, item["id"], previous, item["created_at"])
            if fields["is_default"]
            else []
        )
        entities.write_new(store, [(WAREHOUSE, item)], actor, extra)
        return entities.public(item)

    @staticmethod
    def list(store: Store, tenant_id: str, q: Any) -> Page:
        return entities.list_page(
            store,
            tenant_id,
            WAREHOUSE,
            limit=q.limit,
            cursor=q.cursor,
            updated_since=q.updated_since,
            name_prefix=q.name_prefix,
        )

    @staticmethod
    def update(
        store: Store, actor: Actor, warehouse_id: str, patch: Any, if_match: int | None
    ) -> dict[str, Any]:
        changes = entities.patch_fields(
            entities.given(patch), ("code", "name", "is_default"), {"address": ""}
        )
        extra = None
        if changes.get("is_default"):
            previous = default_warehouse_id(store, actor.tenant_id)
            if previous != warehouse_id:

                def extra(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
                    return _make_default(actor.tenant_id, warehouse_id, previous, utcnow())

        return entities.public(
            entities.update(store, actor, WAREHOUSE, warehouse_id, changes, if_match, extra)
        )

    @staticmethod
    def remove(store: Store, actor: Actor, warehouse_id: str, if_match: int | None) -> None:
        def check(before: dict[str, Any]) -> None:
            if before.get("is_default"):
                raise ConflictError("This is the default warehouse; make another the default first.")
            if stock.holds_stock(store, actor.tenant_id, warehouse_id=warehouse_id):
                raise ConflictError("The warehouse holds stock; transfer or adjust it to zero first.")

        entities.remove(store, actor, WAREHOUSE, warehouse_id, if_match, check=check)


products = _Products()
suppliers = entities.PlainRecords(
    SUPPLIER, ("code", "name", "currency", "payment_terms_days"), {"email": "", "phone": ""}
)
warehouses = _Warehouses()

"""Warehouses: where stock is kept; the code is unique, and one warehouse is the company's default."""

from __future__ import annotations

from typing import Any

from chalicelib.core import entities, keys
from chalicelib.core.entities import Change
from chalicelib.core.errors import ConflictError
from chalicelib.core.store import Actor, Operations, Page, Store, audit_entry, utcnow
from chalicelib.erp import repository, stock
from chalicelib.erp.catalogue import WAREHOUSE, default_warehouse_id


def _make_default(actor: Actor, warehouse_id: str, previous: str | None, now: str) -> Operations:
    """Point the company's default at ``warehouse_id`` (conditional on the pointer read), and
    take the flag off the previous default (unread: an update, audited with the flag it changes)."""
    tenant_id = actor.tenant_id
    pointer = {**keys.default_warehouse(tenant_id), "warehouse_id": warehouse_id, "updated_at": now}
    operations: Operations = [repository.default_pointed(pointer, previous)]
    if previous and previous != warehouse_id:
        operations.append(repository.default_flag_cleared(tenant_id, previous, actor.user_id, now))
        flag = "is_default"
        operations.append(
            audit_entry(actor, "warehouse.update", WAREHOUSE.name, previous, {flag: True}, {flag: False}, now)
        )
    return operations


def create(store: Store, actor: Actor, data: Any) -> dict[str, Any]:
    previous = default_warehouse_id(store, actor.tenant_id)
    fields = data.model_dump(mode="json")
    fields["is_default"] = data.is_default or previous is None  # the first warehouse is the default
    item = entities.new_item(WAREHOUSE, actor, fields)
    extra = _make_default(actor, item["id"], previous, item["created_at"]) if fields["is_default"] else []
    entities.write_new(store, actor, WAREHOUSE, item, extra=extra)
    return entities.public(item)


def list_page(store: Store, tenant_id: str, q: Any) -> Page:
    return entities.list_page(
        store,
        tenant_id,
        WAREHOUSE,
        limit=q.limit,
        cursor=q.cursor,
        updated_since=q.updated_since,
        name_prefix=q.name_prefix,
    )


def update(store: Store, actor: Actor, warehouse_id: str, patch: Any, if_match: int | None) -> dict[str, Any]:
    changes = entities.patch_fields(entities.given(patch), ("code", "name", "is_default"), {"address": ""})
    now = utcnow()
    extra: Operations = []
    if changes.get("is_default"):
        previous = default_warehouse_id(store, actor.tenant_id)
        if previous != warehouse_id:
            extra = _make_default(actor, warehouse_id, previous, now)
    change = Change(changes, extra=extra, at=now)
    return entities.public(
        entities.update(store, actor, WAREHOUSE, warehouse_id, decide=change, if_match=if_match).item
    )


def remove(store: Store, actor: Actor, warehouse_id: str, if_match: int | None) -> None:
    def check(before: dict[str, Any]) -> None:
        if before.get("is_default"):
            raise ConflictError("This is the default warehouse; make another the default first.")
        if stock.holds_stock(store, actor.tenant_id, warehouse_id=warehouse_id):
            raise ConflictError("The warehouse holds stock; transfer or adjust it to zero first.")

    entities.remove(store, actor, WAREHOUSE, warehouse_id, if_match=if_match, check=check)

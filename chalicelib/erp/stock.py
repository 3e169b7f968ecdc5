"""Stock: levels per product and warehouse, and the ledger of movements that changes them.

A level holds ``on_hand``, ``reserved`` and ``available`` (= on hand − reserved) as numbers. Every
change is an ``UpdateItem`` on the level with arithmetic in its update expression and a condition
that the result stays valid (DynamoDB conditions cannot do arithmetic, hence ``available`` is
stored): on hand, reserved and available never below zero, so reserved never exceeds on hand (the
expressions: ``repository.level_change``). The movement that explains the change is written in the
same transaction, so on hand always equals the sum of the ledger, whatever the concurrency: two
reservations racing for the last unit are two transactions on one item, and DynamoDB lets exactly
one condition hold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from chalicelib.core import ids, keys
from chalicelib.core.errors import ConflictError, ValidationError
from chalicelib.core.money import text
from chalicelib.core.store import (
    Actor,
    ConditionFailed,
    Op,
    Operation,
    Operations,
    Page,
    Store,
    audit_entry,
    put,
    utcnow,
)
from chalicelib.erp import inventory, repository

ZERO = Decimal(0)


@dataclasses.dataclass(frozen=True)
class Change:
    """One movement: what happens to on hand and reserved of a product in a warehouse."""

    kind: str
    product_id: str
    warehouse_id: str
    on_hand: Decimal = ZERO
    reserved: Decimal = ZERO
    reason: str = ""
    reference: str = ""


class InsufficientStock(ConflictError):
    slug = "insufficient-stock"
    title = "Not enough stock"


def level_name(product_id: str, warehouse_id: str) -> str:
    """The name of a level's update in a transaction."""
    return f"level {product_id} {warehouse_id}"


def level_update(
    tenant_id: str, product_id: str, warehouse_id: str, on_hand: Decimal, reserved: Decimal, now: str
) -> Op:
    """The level's arithmetic and the conditions that keep it valid, as one transaction item."""
    return Op(
        level_name(product_id, warehouse_id),
        repository.level_change(tenant_id, product_id, warehouse_id, on_hand, reserved, now),
    )


def movement_item(actor: Actor, change: Change, now: str) -> dict[str, Any]:
    movement_id = ids.new_id("mov")
    return {
        **keys.movement(actor.tenant_id, movement_id, change.product_id),
        "id": movement_id,
        "kind": change.kind,
        "product_id": change.product_id,
        "warehouse_id": change.warehouse_id,
        "on_hand_change": change.on_hand,
        "reserved_change": change.reserved,
        "reason": change.reason,
        "reference": change.reference,
        "at": now,
        "by": actor.user_id,
    }


@dataclasses.dataclass
class Planned:
    """The transaction items of some stock changes; ``levels`` maps a level update's name to its
    product and warehouse."""

    operations: Operations
    levels: dict[str, tuple[str, str]]
    movements: list[dict[str, Any]]


def plan(actor: Actor, changes: list[Change], now: str) -> Planned:
    """Level updates (one per product and warehouse: DynamoDB allows one item once per
    transaction) then the movements."""
    merged: dict[tuple[str, str], list[Decimal]] = {}
    for change in changes:
        deltas = merged.setdefault((change.product_id, change.warehouse_id), [ZERO, ZERO])
        deltas[0] += change.on_hand
        deltas[1] += change.reserved
    operations: Operations = []
    levels = {}
    for (product_id, warehouse_id), (on_hand, reserved) in merged.items():
        levels[level_name(product_id, warehouse_id)] = (product_id, warehouse_id)
        operations.append(level_update(actor.tenant_id, product_id, warehouse_id, on_hand, reserved, now))
    movements = [movement_item(actor, change, now) for change in changes]
    operations.extend(put(m) for m in movements)
    operations.extend(inventory.stock_tallies(actor.tenant_id, changes, now))
    return Planned(operations, levels, movements)


def shortage(
    store: Store, tenant_id: str, planned: Planned, name: str | None, labels: dict[str, str]
) -> InsufficientStock:
    """The refusal naming the product and warehouse whose condition failed, with what is there."""
    product_id, warehouse_id = planned.levels.get(name or "", ("", ""))
    level = store.get(keys.stock_level(tenant_id, product_id, warehouse_id), consistent=True) or {}
    name = labels.get(product_id, product_id)
    return InsufficientStock(
        f"Not enough {name} in warehouse {labels.get(warehouse_id, warehouse_id)}: "
        f"on hand {text(Decimal(level.get('on_hand', 0)))}, reserved {text(Decimal(level.get('reserved', 0)))}, "
        f"available {text(Decimal(level.get('available', 0)))}.",
        product_id=product_id,
        warehouse_id=warehouse_id,
        available=text(Decimal(level.get("available", 0))),
    )


def apply(
    store: Store,
    actor: Actor,
    changes: list[Change],
    *,
    before: Sequence[Operation] = (),
    after: Sequence[Operation] = (),
    labels: dict[str, str] | None = None,
    now: str | None = None,
) -> Planned:
    """Apply stock changes in one transaction with ``before`` items first and ``after`` items last
    (a record, its audit entry, reference checks); a failed level condition names the product."""
    planned = plan(actor, changes, now or utcnow())
    try:
        store.transact([*before, *planned.operations, *after])
    except ConditionFailed as exc:
        if exc.name in planned.levels:
            raise shortage(store, actor.tenant_id, planned, exc.name, labels or {}) from exc
        raise
    return planned


def checks(
    tenant_id: str, fields: list[tuple[str, str, str]]
) -> tuple[Operations, dict[str, ValidationError]]:
    """ConditionChecks for (field, kind, id) references, each named by its field, and the error
    for each field if its check fails."""
    operations: Operations = []
    errors = {}
    for field, kind, entity_id in fields:
        if kind == "product":
            check = repository.stocked_product_exists(tenant_id, entity_id)
            message = f"There is no stocked product {entity_id} (a service has no stock)."
        else:
            check = repository.warehouse_exists(tenant_id, entity_id)
            message = f"There is no warehouse {entity_id}."
        operations.append(Op(field, check))
        errors[field] = ValidationError(
            message, errors=[{"loc": ["body", field], "msg": message, "type": "reference"}]
        )
    return operations, errors


def run(
    store: Store,
    actor: Actor,
    changes: list[Change],
    references: list[tuple[str, str, str]],
    action: str,
    record: dict[str, Any],
) -> list[dict[str, Any]]:
    """Check references, apply the changes, audit the operation: one transaction."""
    head, errors = checks(actor.tenant_id, references)
    audit = audit_entry(actor, f"stock.{action}", "stock", changes[0].product_id, None, record)
    try:
        planned = apply(store, actor, changes, before=head, after=[audit])
    except ConditionFailed as exc:
        if exc.name in errors:
            raise errors[exc.name] from exc
        raise
    return planned.movements


def present_level(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "product_id": item["product_id"],
        "warehouse_id": item["warehouse_id"],
        **{k: text(Decimal(item.get(k, 0))) for k in ("on_hand", "reserved", "available")},
        "updated_at": item.get("updated_at", ""),
    }


def present_movement(item: dict[str, Any]) -> dict[str, Any]:
    return {
        **{
            k: item.get(k, "")
            for k in ("id", "kind", "product_id", "warehouse_id", "reason", "reference", "at", "by")
        },
        "on_hand_change": text(Decimal(item["on_hand_change"])),
        "reserved_change": text(Decimal(item["reserved_change"])),
    }


def levels(
    store: Store,
    tenant_id: str,
    product_id: str | None,
    warehouse_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page:
    """Levels of one product (its key prefix) and/or one warehouse (filtered), a page at a time."""
    sort_condition, filter_condition = repository.levels_of(product_id, warehouse_id)
    page = store.query_page(
        tenant_id=tenant_id,
        partition=keys.stock_pk(tenant_id),
        sort_condition=sort_condition,
        filter_condition=filter_condition,
        limit=limit,
        cursor=cursor,
        query_id=f"stock|{product_id}|{warehouse_id}",
    )
    return Page([present_level(i) for i in page.items], page.next_cursor)


def level(store: Store, tenant_id: str, product_id: str, warehouse_id: str) -> dict[str, Any]:
    item = store.get(keys.stock_level(tenant_id, product_id, warehouse_id), consistent=True)
    return present_level(item or {"product_id": product_id, "warehouse_id": warehouse_id})


def movements(
    store: Store, tenant_id: str, product_id: str, warehouse_id: str | None, limit: int, cursor: str | None
) -> Page:
    page = store.query_page(
        tenant_id=tenant_id,
        partition=keys.movements_pk(tenant_id, product_id),
        index="gsi1",
        filter_condition=repository.in_warehouse(warehouse_id),
        limit=limit,
        cursor=cursor,
        newest_first=True,
        query_id=f"movements|{warehouse_id}",
    )
    return Page([present_movement(i) for i in page.items], page.next_cursor)


def adjust(
    store: Store, actor: Actor, product_id: str, warehouse_id: str, quantity: Decimal, reason: str
) -> dict[str, Any]:
    if quantity == 0:
        raise ValidationError(
            "An adjustment changes something.",
            errors=[{"loc": ["body", "quantity"], "msg": "must not be 0", "type": "value_error"}],
        )
    change = Change("adjustment", product_id, warehouse_id, on_hand=quantity, reason=reason)
    record = {
        "product_id": product_id,
        "warehouse_id": warehouse_id,
        "quantity": text(quantity),
        "reason": reason,
    }
    moved = run(
        store,
        actor,
        [change],
        [("product_id", "product", product_id), ("warehouse_id", "warehouse", warehouse_id)],
        "adjust",
        record,
    )
    return {
        "movements": [present_movement(m) for m in moved],
        "levels": [level(store, actor.tenant_id, product_id, warehouse_id)],
    }


def transfer(
    store: Store, actor: Actor, product_id: str, source: str, target: str, quantity: Decimal, reason: str
) -> dict[str, Any]:
    if source == target:
        raise ValidationError(
            "A transfer goes to another warehouse.",
            errors=[{"loc": ["body", "to_warehouse_id"], "msg": "same as from", "type": "value_error"}],
        )
    reference = ids.new_id("trf")
    changes = [
        Change("transfer_out", product_id, source, on_hand=-quantity, reason=reason, reference=reference),
        Change("transfer_in", product_id, target, on_hand=quantity, reason=reason, reference=reference),
    ]
    refs = [
        ("product_id", "product", product_id),
        ("from_warehouse_id", "warehouse", source),
        ("to_warehouse_id", "warehouse", target),
    ]
    record = {
        "product_id": product_id,
        "from": source,
        "to": target,
        "quantity": text(quantity),
        "reference": reference,
    }
    moved = run(store, actor, changes, refs, "transfer", record)
    return {
        "movements": [present_movement(m) for m in moved],
        "levels": [level(store, actor.tenant_id, product_id, w) for w in (source, target)],
    }


def holds_stock(
    store: Store, tenant_id: str, *, product_id: str | None = None, warehouse_id: str | None = None
) -> bool:
    """Whether any level of the product (or in the warehouse) has stock on hand or reserved."""
    sort_condition, filter_condition = repository.holding_stock(product_id, warehouse_id)
    cursor = None
    while True:
        page = store.query_page(
            tenant_id=tenant_id,
            partition=keys.stock_pk(tenant_id),
            sort_condition=sort_condition,
            filter_condition=filter_condition,
            limit=500,
            cursor=cursor,
            query_id="holds",
        )
        if page.items:
            return True
        if not page.next_cursor:
            return False
        cursor = page.next_cursor

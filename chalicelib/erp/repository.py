"""The ERP's DynamoDB expressions: the update, condition, key and filter expressions that stock,
warehouses, reservations, production and the published interface hand to ``core.store`` and
``core.entities``, each built here and named for what it does. Nothing else of the context writes
an expression or imports ``boto3.dynamodb.conditions``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from chalicelib.core import keys
from chalicelib.core.store import put
from chalicelib.erp.catalogue import PRODUCT, WAREHOUSE

ZERO = Decimal(0)


# ---- stock levels -----------------------------------------------------------------------------------
def level_change(
    tenant_id: str, product_id: str, warehouse_id: str, on_hand: Decimal, reserved: Decimal, now: str
) -> dict[str, Any]:
    """The Update of a level: its arithmetic, and the conditions that keep on hand, reserved and
    available at or above zero (the current value must cover each decrease)."""
    available = on_hand - reserved
    values: dict[str, Any] = {
        ":z": ZERO,
        ":oh": on_hand,
        ":rs": reserved,
        ":av": available,
        ":p": product_id,
        ":w": warehouse_id,
        ":now": now,
        ":one": 1,
    }
    conditions = []
    for attr, delta in (("on_hand", on_hand), ("reserved", reserved), ("available", available)):
        if delta < 0:  # the result must stay >= 0: the current value must cover the decrease
            conditions.append(f"{attr} >= :need_{attr}")
            values[f":need_{attr}"] = -delta
    update: dict[str, Any] = {
        "Key": keys.stock_level(tenant_id, product_id, warehouse_id),
        "UpdateExpression": "SET on_hand = if_not_exists(on_hand, :z) + :oh, reserved = if_not_exists(reserved, :z) + :rs, "
        "available = if_not_exists(available, :z) + :av, product_id = :p, warehouse_id = :w, updated_at = :now "
        "ADD version :one",
        "ExpressionAttributeValues": values,
    }
    if conditions:
        update["ConditionExpression"] = " AND ".join(conditions)
    return {"Update": update}


def levels_of(
    product_id: str | None, warehouse_id: str | None
) -> tuple[ConditionBase | None, ConditionBase | None]:
    """The sort key condition (a product's levels: their key prefix) and the filter (one
    warehouse) of a query of the stock partition; None where not asked."""
    return (
        Key("sk").begins_with(keys.stock_prefix(product_id)) if product_id else None,
        Attr("warehouse_id").eq(warehouse_id) if warehouse_id else None,
    )


def holding_stock(
    product_id: str | None, warehouse_id: str | None
) -> tuple[ConditionBase | None, ConditionBase]:
    """The sort key condition (a product's levels, if named) and the filter of the levels with
    stock on hand or reserved (in one warehouse, if named) of a query of the stock partition."""
    return (
        Key("sk").begins_with(keys.stock_prefix(product_id)) if product_id else None,
        (Attr("on_hand").gt(ZERO) | Attr("reserved").gt(ZERO))
        & (Attr("warehouse_id").eq(warehouse_id) if warehouse_id else Attr("pk").exists()),
    )


def in_warehouse(warehouse_id: str | None) -> ConditionBase | None:
    """The filter keeping movements of one warehouse (None: every warehouse)."""
    return Attr("warehouse_id").eq(warehouse_id) if warehouse_id else None


def stocked_product_exists(tenant_id: str, product_id: str) -> dict[str, Any]:
    """A ConditionCheck that the product exists and is stocked (not a service)."""
    return {
        "ConditionCheck": {
            "Key": keys.entity(tenant_id, PRODUCT.name, product_id),
            "ConditionExpression": "attribute_exists(pk) AND kind <> :service",
            "ExpressionAttributeValues": {":service": "service"},
        }
    }


def warehouse_exists(tenant_id: str, warehouse_id: str) -> dict[str, Any]:
    """A ConditionCheck that the warehouse exists."""
    return {
        "ConditionCheck": {
            "Key": keys.entity(tenant_id, WAREHOUSE.name, warehouse_id),
            "ConditionExpression": "attribute_exists(pk)",
        }
    }


# ---- products, for the CRM (through ``published``) --------------------------------------------------
def still_sellable(tenant_id: str, product_id: str) -> dict[str, Any]:
    """A ConditionCheck that the product still exists and is sellable."""
    return {
        "ConditionCheck": {
            "Key": keys.entity(tenant_id, PRODUCT.name, product_id),
            "ConditionExpression": "attribute_exists(pk) AND sellable = :yes",
            "ExpressionAttributeValues": {":yes": True},
        }
    }


def not_cancelled(tenant_id: str, order_id: str) -> dict[str, Any]:
    """A ConditionCheck for the transaction that decides a confirmed order: its cancellation has not
    been handled meanwhile (else the cancellation, which lists what to undo, could miss it)."""
    return {
        "ConditionCheck": {
            "Key": keys.erp_cancelled(tenant_id, order_id),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def cancellation_noted(tenant_id: str, order_id: str, now: str) -> dict[str, Any]:
    """The UpdateItem (its parameters) marking an order's cancellation handled, keeping what an
    earlier delivery noted (its answer)."""
    return {
        "Key": keys.erp_cancelled(tenant_id, order_id),
        "UpdateExpression": "SET #at = if_not_exists(#at, :now)",
        "ExpressionAttributeNames": {"#at": "at"},
        "ExpressionAttributeValues": {":now": now},
    }


def cancellation_answered(tenant_id: str, order_id: str, event_id: str) -> dict[str, Any]:
    """The Update, in the transaction of the cancellation's answer, that notes the answer on the
    order's cancelled marker, once: a redelivered cancellation's answer is refused on it."""
    return {
        "Update": {
            "Key": keys.erp_cancelled(tenant_id, order_id),
            "UpdateExpression": "SET answered = :id",
            "ConditionExpression": "attribute_not_exists(answered)",
            "ExpressionAttributeValues": {":id": event_id},
        }
    }


# ---- warehouses: the company's default ----------------------------------------------------------
def default_pointed(pointer: dict[str, Any], previous: str | None) -> dict[str, Any]:
    """The Put of the company's default warehouse pointer, if it still points at ``previous``
    (None: if there is none yet)."""
    if previous is None:
        return put(pointer, "attribute_not_exists(pk)")
    return put(pointer, "warehouse_id = :prev", ExpressionAttributeValues={":prev": previous})


def default_flag_cleared(tenant_id: str, warehouse_id: str, user_id: str, now: str) -> dict[str, Any]:
    """The Update taking the default flag off a warehouse (unread: its next version, by ``user_id``),
    moved on the type's change index like any change (a syncing client sees it)."""
    index = keys.updated_index(tenant_id, WAREHOUSE.name, now, warehouse_id)
    return {
        "Update": {
            "Key": keys.entity(tenant_id, WAREHOUSE.name, warehouse_id),
            "UpdateExpression": "SET is_default = :f, updated_at = :now, updated_by = :by, gsi1pk = :ipk, "
            "gsi1sk = :isk ADD version :one",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": {
                ":f": False,
                ":now": now,
                ":by": user_id,
                ":one": 1,
                ":ipk": index["gsi1pk"],
                ":isk": index["gsi1sk"],
            },
        }
    }


# ---- reservations -----------------------------------------------------------------------------------
def references_starting(prefix: str) -> ConditionBase:
    """The sort key condition, on the reservations' reference guards, of the references with this
    prefix (guards hold references upper case)."""
    return Key("sk").begins_with(prefix.upper())


# ---- production: a work centre's day bookings -------------------------------------------------------
def days_between(start: str, end: str) -> ConditionBase:
    """The sort key condition of a work centre's day bookings from ``start`` to ``end`` (ISO dates)."""
    return Key("sk").between(start, end)


def day_booked(
    tenant_id: str, work_centre_id: str, day: str, quantity: Decimal, limit: Decimal | None
) -> dict[str, Any]:
    """The Update adding ``quantity`` (negative: a release) to a day's booking; with a ``limit``,
    it fails unless the day's booking is at most ``limit`` before it (booked + quantity stays
    within capacity, written without arithmetic)."""
    update: dict[str, Any] = {
        "Key": keys.capacity_day(tenant_id, work_centre_id, day),
        "UpdateExpression": "SET booked = if_not_exists(booked, :z) + :q",
        "ExpressionAttributeValues": {":z": Decimal(0), ":q": quantity},
    }
    if limit is not None:
        update["ConditionExpression"] = "attribute_not_exists(booked) OR booked <= :limit"
        update["ExpressionAttributeValues"][":limit"] = limit
    return {"Update": update}

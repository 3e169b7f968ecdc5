"""The CRM's DynamoDB expressions: the conditions, key and filter expressions its aggregates hand to
``core.store`` and ``core.entities``, each built here and named for what it does. Nothing else of
the context writes an expression or imports ``boto3.dynamodb.conditions``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from chalicelib.core import keys
from chalicelib.crm.types import CUSTOMER


def customer_still_open(tenant_id: str, customer_id: str) -> dict[str, Any]:
    """A ConditionCheck for a transaction: the customer still exists and is not closed."""
    return {
        "ConditionCheck": {
            "Key": keys.entity(tenant_id, CUSTOMER.name, customer_id),
            "ExpressionAttributeNames": {"#s": "status"},
            "ConditionExpression": "attribute_exists(pk) AND (attribute_not_exists(#s) OR #s <> :closed)",
            "ExpressionAttributeValues": {":closed": "closed"},
        }
    }


def named_exactly(normalised_name: str) -> ConditionBase:
    """The sort key condition, on the name index (gsi2), of the records of exactly this name."""
    return Key("gsi2sk").begins_with(keys.name_index_prefix(normalised_name))


def due_before(at: str) -> ConditionBase:
    """The sort key condition, on the due-time lookup, of what falls due before ``at``."""
    return Key("sk").lt(at)


def of_kinds(kinds: list[str]) -> ConditionBase:
    """The filter keeping timeline entries of these kinds."""
    return Attr("kind").is_in(kinds)


def in_status(status: str | None) -> ConditionBase | None:
    """The filter keeping records in this status (None: any status)."""
    return Attr("status").eq(status) if status else None


def in_statuses(statuses: Iterable[str]) -> ConditionBase:
    """The filter keeping records in any of these statuses."""
    return Attr("status").is_in(list(statuses))

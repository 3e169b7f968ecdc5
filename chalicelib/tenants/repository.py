"""The tenants' DynamoDB expressions: the update, condition, key and filter expressions that roles,
users and the audit log hand to ``core.store``, each built here and named for what it does.
Nothing else of the context writes an expression or imports ``boto3.dynamodb.conditions``."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from chalicelib.core import keys
from chalicelib.core.store import Op, delete


# ---- roles: the company's custom role set, one map item --------------------------------------------
def role_added(tenant_id: str, name: str, role: dict[str, Any]) -> dict[str, Any]:
    """The Update adding a custom role to the company's set; fails if the name is taken."""
    return {
        "Update": {
            "Key": keys.role_set(tenant_id),
            "UpdateExpression": "SET #roles.#name = :role",
            "ConditionExpression": "attribute_not_exists(#roles.#name)",
            "ExpressionAttributeNames": {"#roles": "roles", "#name": name},
            "ExpressionAttributeValues": {":role": role},
        }
    }


def role_replaced(tenant_id: str, name: str, role: dict[str, Any], version: int) -> dict[str, Any]:
    """The Update replacing a custom role; fails unless it is still at ``version``."""
    return {
        "Update": {
            "Key": keys.role_set(tenant_id),
            "UpdateExpression": "SET #roles.#name = :role",
            "ConditionExpression": "#roles.#name.version = :v",
            "ExpressionAttributeNames": {"#roles": "roles", "#name": name},
            "ExpressionAttributeValues": {":role": role, ":v": version},
        }
    }


def role_removed(tenant_id: str, name: str, version: int) -> dict[str, Any]:
    """The Update removing a custom role; fails unless it is still at ``version``."""
    return {
        "Update": {
            "Key": keys.role_set(tenant_id),
            "UpdateExpression": "REMOVE #roles.#name",
            "ConditionExpression": "#roles.#name.version = :v",
            "ExpressionAttributeNames": {"#roles": "roles", "#name": name},
            "ExpressionAttributeValues": {":v": version},
        }
    }


# ---- users ------------------------------------------------------------------------------------------
def owner_count_change(tenant_id: str, delta: int) -> Op:
    """The company's count of enabled owners moved by ``delta``, as the transaction item ``owners``."""
    update: dict[str, Any] = {
        "Key": keys.tenant_profile(tenant_id),
        "UpdateExpression": "ADD owner_count :delta",
        "ExpressionAttributeValues": {":delta": delta},
    }
    if delta < 0:
        # The last enabled owner can be neither removed, disabled nor demoted, whatever the races.
        update["ConditionExpression"] = "owner_count > :one"
        update["ExpressionAttributeValues"][":one"] = 1
    return Op("owners", {"Update": update})


def member_removed(tenant_id: str, user_id: str, version: int) -> dict[str, Any]:
    """The Delete of a member item, if it is still at ``version``."""
    return delete(keys.member(tenant_id, user_id), "version = :v", {":v": version})


# ---- restores: the company's state and epoch, on its profile -------------------------------------
RESTORING = "restoring"


def restore_begun(tenant_id: str, at: str) -> dict[str, Any]:
    """The UpdateItem (its parameters) marking the company restoring in its next epoch, answering the
    new epoch; fails if a restore of it is already running, or there is no such company."""
    return {
        "Key": keys.tenant_profile(tenant_id),
        "UpdateExpression": "SET #state = :restoring, #epoch = if_not_exists(#epoch, :zero) + :one, "
        "restore_started_at = :at",
        "ConditionExpression": "attribute_exists(pk) AND (attribute_not_exists(#state) OR #state <> :restoring)",
        "ExpressionAttributeNames": {"#state": "state", "#epoch": "epoch"},
        "ExpressionAttributeValues": {":restoring": RESTORING, ":zero": 0, ":one": 1, ":at": at},
        "ReturnValues": "UPDATED_NEW",
    }


def restore_ended(tenant_id: str) -> dict[str, Any]:
    """The UpdateItem (its parameters) making the company active again (``state`` removed; done
    twice, the same); fails if there is no such company."""
    return {
        "Key": keys.tenant_profile(tenant_id),
        "UpdateExpression": "REMOVE #state",
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeNames": {"#state": "state"},
    }


# ---- the audit log ----------------------------------------------------------------------------------
def audit_window(sort_attr: str, lower: str, upper: str) -> ConditionBase | None:
    """The sort key condition of entries from ``lower`` to ``upper`` (either "" when open), or None."""
    if lower and upper:
        return Key(sort_attr).between(lower, upper)
    if lower:
        return Key(sort_attr).gte(lower)
    if upper:
        return Key(sort_attr).lte(upper)
    return None


def audit_by_user(user_id: str | None) -> ConditionBase | None:
    """The filter keeping one user's entries (None: every user's)."""
    return Attr("user_id").eq(user_id) if user_id else None


def audit_of_type(entity_type: str | None) -> ConditionBase | None:
    """The filter keeping the entries about one type of record (None: every type)."""
    return Attr("entity_type").eq(entity_type) if entity_type else None

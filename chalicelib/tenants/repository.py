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


# ---- the plan ---------------------------------------------------------------------------------------
def plan_set(tenant_id: str, plan: str, version: int, at: str) -> dict[str, Any]:
    """The profile's plan changed, if the profile is still at ``version``."""
    return {
        "Update": {
            "Key": keys.tenant_profile(tenant_id),
            "UpdateExpression": "SET #plan = :plan, updated_at = :at ADD version :one",
            "ConditionExpression": "version = :v",
            "ExpressionAttributeNames": {"#plan": "plan"},
            "ExpressionAttributeValues": {":plan": plan, ":at": at, ":one": 1, ":v": version},
        }
    }


def time_zone_set(tenant_id: str, time_zone: str, at: str) -> dict[str, Any]:
    """The company's time zone, on its profile (which must exist)."""
    return {
        "Update": {
            "Key": keys.tenant_profile(tenant_id),
            "UpdateExpression": "SET time_zone = :tz, updated_at = :at ADD version :one",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": {":tz": time_zone, ":at": at, ":one": 1},
        }
    }


def registry_plan(tenant_id: str, plan: str) -> dict[str, Any]:
    return {
        "Key": keys.tenant_registry(tenant_id),
        "UpdateExpression": "SET #plan = :plan",
        "ExpressionAttributeNames": {"#plan": "plan"},
        "ExpressionAttributeValues": {":plan": plan},
    }


# ---- users ------------------------------------------------------------------------------------------
def headcount_change(tenant_id: str, owners: int, seats: int, seat_limit: int) -> Op:
    """The company's counts of enabled owners and of seats (enabled users) moved, as the transaction
    item ``headcount``: the last enabled owner can be neither removed, disabled nor demoted, and no
    user is added or enabled past the plan's seats, whatever the races. Its old values come back
    when a condition fails, to say which."""
    update: dict[str, Any] = {
        "Key": keys.tenant_profile(tenant_id),
        "UpdateExpression": "ADD owner_count :owners, seat_count :seats",
        "ExpressionAttributeValues": {":owners": owners, ":seats": seats},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    conditions = []
    if owners < 0:
        conditions.append("owner_count > :one")
        update["ExpressionAttributeValues"][":one"] = 1
    if seats > 0:
        # A company older than seat counting has none yet: it counts from its next change on.
        conditions.append("(attribute_not_exists(seat_count) OR seat_count <= :most)")
        update["ExpressionAttributeValues"][":most"] = seat_limit - seats
    if conditions:
        update["ConditionExpression"] = " AND ".join(conditions)
    return Op("headcount", {"Update": update})


def member_removed(tenant_id: str, user_id: str, version: int) -> dict[str, Any]:
    """The Delete of a member item, if it is still at ``version``."""
    return delete(keys.member(tenant_id, user_id), "version = :v", {":v": version})


# ---- restores and closing: the company's state and epoch, on its profile -------------------------
RESTORING = "restoring"
CLOSING = "closing"
CLOSED = "closed"  # on the registry entry only: the profile is gone with the rest of the company


def restore_begun(tenant_id: str, at: str) -> dict[str, Any]:
    """The UpdateItem (its parameters) marking the company restoring in its next epoch, answering the
    new epoch; fails if a restore of it is already running, it is being closed, or there is no such
    company."""
    return {
        "Key": keys.tenant_profile(tenant_id),
        "UpdateExpression": "SET #state = :restoring, #epoch = if_not_exists(#epoch, :zero) + :one, "
        "restore_started_at = :at",
        "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#state)",
        "ExpressionAttributeNames": {"#state": "state", "#epoch": "epoch"},
        "ExpressionAttributeValues": {":restoring": RESTORING, ":zero": 0, ":one": 1, ":at": at},
        "ReturnValues": "UPDATED_NEW",
    }


def close_begun(tenant_id: str, job_id: str, at: str) -> list[dict[str, Any]]:
    """The transaction marking the company closing in its next epoch (its profile, if it exists and
    is neither restoring nor closing already) and its registry entry closing (``job_id`` closes it)."""
    return [
        {
            "Update": {
                "Key": keys.tenant_profile(tenant_id),
                "UpdateExpression": "SET #state = :closing, #epoch = if_not_exists(#epoch, :zero) + :one, "
                "closing_started_at = :at, closing_job_id = :job",
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#state)",
                "ExpressionAttributeNames": {"#state": "state", "#epoch": "epoch"},
                "ExpressionAttributeValues": {
                    ":closing": CLOSING,
                    ":zero": 0,
                    ":one": 1,
                    ":at": at,
                    ":job": job_id,
                },
            }
        },
        {
            "Update": {
                "Key": keys.tenant_registry(tenant_id),
                "UpdateExpression": "SET #state = :closing, closing_at = :at, closing_job_id = :job",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {":closing": CLOSING, ":at": at, ":job": job_id},
            }
        },
    ]


def close_ended(tenant_id: str, job_id: str) -> list[dict[str, Any]]:
    """The transaction making a company that ``job_id`` began closing open again (its profile and
    registry entry), if that job still holds it."""
    return [
        {
            "Update": {
                "Key": keys.tenant_profile(tenant_id),
                "UpdateExpression": "REMOVE #state, closing_started_at, closing_job_id",
                "ConditionExpression": "#state = :closing AND closing_job_id = :job",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {":closing": CLOSING, ":job": job_id},
            }
        },
        {
            "Update": {
                "Key": keys.tenant_registry(tenant_id),
                "UpdateExpression": "REMOVE #state, closing_at, closing_job_id",
                "ExpressionAttributeNames": {"#state": "state"},
            }
        },
    ]


def registry_closed(tenant_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The UpdateItem (its parameters) marking the company's registry entry closed with ``fields``
    (when, the final backup); done twice, the same."""
    names = {"#state": "state", **{f"#f{n}": name for n, name in enumerate(fields)}}
    values = {":closed": CLOSED, **{f":v{n}": value for n, value in enumerate(fields.values())}}
    return {
        "Key": keys.tenant_registry(tenant_id),
        "UpdateExpression": "SET #state = :closed, "
        + ", ".join(f"#f{n} = :v{n}" for n in range(len(fields))),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
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

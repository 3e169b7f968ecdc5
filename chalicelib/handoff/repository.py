"""The handoff's DynamoDB expressions: the update and condition expressions that the outbox's event
trail and the parked dead letters hand to ``core.store``, each built here and named for what it
does. Nothing else of the handoff writes an expression."""

from __future__ import annotations

from typing import Any

from chalicelib.core import keys
from chalicelib.core.store import delete


def delivery_attempt(item: dict[str, Any], now: str, error: str | None) -> dict[str, Any]:
    """The Update (its body) counting a relay's attempt on an outbox item's trail entry: published
    (the first publication time kept) or failed with ``error``."""
    published = error is None
    return {
        "Key": {"pk": keys.handoff_trail_pk(item["tenant_id"], item["order_id"]), "sk": item["sk"]},
        "UpdateExpression": "ADD attempts :one SET last_attempt_at = :now"
        + (", published_at = if_not_exists(published_at, :now)" if published else ", last_error = :error"),
        "ExpressionAttributeValues": {
            ":one": 1,
            ":now": now,
            **({} if published else {":error": (error or "")[:500]}),
        },
    }


def handled_by(trail_key: dict[str, str], consumer: str, now: str) -> dict[str, Any]:
    """The Update (its body) noting on a trail entry that ``consumer`` handled the event; its
    condition fails for an event that has no trail entry, or that ``consumer`` handled before (the
    mark is what makes a second delivery's write refused)."""
    return {
        "Key": trail_key,
        "UpdateExpression": "SET handled.#c = :now",
        "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(handled.#c)",
        "ExpressionAttributeNames": {"#c": consumer},
        "ExpressionAttributeValues": {":now": now},
    }


def dropped_by(trail_key: dict[str, str], note: dict[str, str]) -> dict[str, Any]:
    """The Update (its body) noting on a trail entry that its consumer dropped the event, and why (the
    first note kept); its condition fails for an event that has no trail entry."""
    return {
        "Key": trail_key,
        "UpdateExpression": "SET dropped = if_not_exists(dropped, :note)",
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeValues": {":note": note},
    }


def dead_letter_removed(key: dict[str, str], message_id: str) -> dict[str, Any]:
    """The Delete of a parked dead letter, if it still holds the message ``message_id``."""
    return delete(key, "message_id = :m", {":m": message_id})

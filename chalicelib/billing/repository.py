"""Billing's DynamoDB expressions: every update of a usage share, the request rate and the plan
history is built here."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.core import keys


def share_saved(
    tenant_id: str, month: str, container: str, seq: int, counts: dict[str, int], at: str
) -> dict[str, Any]:
    """The Update (its body) that records a container's counts of the month for the company as
    totals, not increments, numbered: the same save repeated (a retry whose first answer was lost)
    or overtaken by a later one changes nothing, so no request is counted twice."""
    names = {f"#m{n}": name for n, name in enumerate(counts)}
    values = {f":m{n}": value for n, value in enumerate(counts.values())}
    sets = "".join(f", #m{n} = :m{n}" for n in range(len(counts)))
    return {
        "Key": keys.usage_share(tenant_id, month, container),
        "UpdateExpression": f"SET seq = :seq, #month = :month, updated_at = :at{sets}",
        "ConditionExpression": "attribute_not_exists(seq) OR seq < :seq",
        "ExpressionAttributeNames": {"#month": "month", **names},
        "ExpressionAttributeValues": {":seq": seq, ":month": month, ":at": at, **values},
    }


def month_shares(month: str) -> Any:
    """The sort-key condition of a month's shares in the company's usage partition."""
    return Key("sk").begins_with(keys.usage_month_prefix(month))


def rate_ahead(tenant_id: str, now_ms: int, inc_ms: int, ceiling_ms: int) -> dict[str, Any]:
    """GCRA, the company's theoretical arrival time already ahead of now: push it on by ``inc_ms``
    if that keeps it within ``ceiling_ms`` (now plus the burst)."""
    return {
        "Key": keys.api_rate(tenant_id),
        "UpdateExpression": "SET tat = tat + :inc",
        "ConditionExpression": "tat >= :now AND tat <= :most",
        "ExpressionAttributeValues": {":inc": inc_ms, ":now": now_ms, ":most": ceiling_ms - inc_ms},
        "ReturnValues": "UPDATED_NEW",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def rate_idle(tenant_id: str, now_ms: int, inc_ms: int) -> dict[str, Any]:
    """GCRA, the company's theoretical arrival time behind now (or never set): start it from now."""
    return {
        "Key": keys.api_rate(tenant_id),
        "UpdateExpression": "SET tat = :tat",
        "ConditionExpression": "attribute_not_exists(tat) OR tat < :now",
        "ExpressionAttributeValues": {":tat": now_ms + inc_ms, ":now": now_ms},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def plan_items() -> Any:
    """The sort-key condition of the plan history in the company's billing partition."""
    return Key("sk").begins_with("PLAN#")


def invoice_items() -> Any:
    return Key("sk").begins_with("INVOICE#")


def only_new() -> dict[str, Any]:
    """A PutItem's condition: no item under its key yet (an invoice is written once)."""
    return {"ConditionExpression": "attribute_not_exists(pk)"}

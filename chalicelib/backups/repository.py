"""The backups' DynamoDB and S3 calls. Items travel in DynamoDB's own typed JSON (``{"S": ...}``)
from Query to the backup and back to BatchWriteItem, so a restore writes exactly what was read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from chalicelib.core import aws, keys
from chalicelib.core.config import settings

WRITE_BATCH = 25  # BatchWriteItem's limit


def query(
    partition: str, start: dict[str, Any] | None, limit: int = 1000
) -> tuple[list[dict[str, Any]], Any]:
    """One page of a partition's items, typed, in key order (Query, never Scan); and the key to go
    on from (None at the end)."""
    params: dict[str, Any] = {
        "TableName": settings().table_name,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": partition}},
        "Limit": limit,
    }
    if start:
        params["ExclusiveStartKey"] = start
    answer = aws.dynamodb_wire().query(**params)
    return answer.get("Items", []), answer.get("LastEvaluatedKey")


def every_item(partition: str) -> Iterator[dict[str, Any]]:
    """Every item of a partition (a record's own: a timeline), page by page."""
    start = None
    while True:
        items, start = query(partition, start)
        yield from items
        if not start:
            return


def _batch_write(requests: list[dict[str, Any]]) -> None:
    client = aws.dynamodb_wire()
    table = settings().table_name
    for at in range(0, len(requests), WRITE_BATCH):
        pending = {table: requests[at : at + WRITE_BATCH]}
        delay = 0.05
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if pending:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)


def put_items(items: list[dict[str, Any]]) -> None:
    """Write typed items as they are (a put replaces what is there: repeating it is harmless)."""
    _batch_write([{"PutRequest": {"Item": i}} for i in items])


def delete_keys(key_list: list[dict[str, Any]]) -> None:
    """Delete typed keys (deleting what is gone already is harmless)."""
    _batch_write([{"DeleteRequest": {"Key": k}} for k in key_list])


# ---- the backup records ----------------------------------------------------------------------------
def backup_done(tenant_id: str, backup_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The Update (its body) that completes a backup record with what the manifest says."""
    names = {f"#f{n}": name for n, name in enumerate(fields)}
    values = {f":v{n}": value for n, value in enumerate(fields.values())}
    return {
        "Key": keys.backup(tenant_id, backup_id),
        "UpdateExpression": "SET " + ", ".join(f"#f{n} = :v{n}" for n in range(len(fields))),
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def new_record() -> dict[str, str]:
    return {"ConditionExpression": "attribute_not_exists(pk)"}

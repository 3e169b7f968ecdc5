"""The jobs' DynamoDB expressions and their queue: every update of a job item is built here."""

from __future__ import annotations

import json
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase

from chalicelib.core import aws, keys
from chalicelib.core.config import settings


def of_kind(kind: str) -> ConditionBase:
    return Attr("kind").eq(kind)


def advanced(job: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """The Update (its body) that moves a job on to ``fields``, if no one moved it meanwhile (its
    version is still the one read)."""
    names = {f"#f{n}": name for n, name in enumerate(fields)}
    values = {f":v{n}": value for n, value in enumerate(fields.values())}
    sets = ", ".join(f"#f{n} = :v{n}" for n in range(len(fields)))
    return {
        "Key": keys.job(job["tenant_id"], job["id"]),
        "UpdateExpression": f"SET {sets}, version = version + :one",
        "ConditionExpression": "version = :version",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {**values, ":one": 1, ":version": job["version"]},
    }


def rows_marked(
    tenant_id: str, job_id: str, before: int, after: int, counts: dict[str, int]
) -> dict[str, Any]:
    """The Update (its body), written in the same transaction as the rows it counts, that moves an
    import's row mark from ``before`` to ``after``: a row is written once, whatever the retries."""
    adds = ", ".join(f"#c{n} :c{n}" for n in range(len(counts)))
    update: dict[str, Any] = {
        "Key": keys.job(tenant_id, job_id),
        "UpdateExpression": "SET row_mark = :after" + (f" ADD {adds}" if counts else ""),
        "ConditionExpression": "row_mark = :before",
        "ExpressionAttributeValues": {
            ":after": after,
            ":before": before,
            **{f":c{n}": value for n, value in enumerate(counts.values())},
        },
    }
    if counts:
        update["ExpressionAttributeNames"] = {f"#c{n}": name for n, name in enumerate(counts)}
    return update


def enqueue(tenant_id: str, job_id: str, delay_seconds: int = 0) -> None:
    """Ask the job worker for the job's next step."""
    aws.sqs().send_message(
        QueueUrl=settings().jobs_queue_url,
        MessageBody=json.dumps({"tenant_id": tenant_id, "job_id": job_id}),
        DelaySeconds=max(0, min(900, delay_seconds)),
    )


def put_row_errors(tenant_id: str, job_id: str, errors: list[Any]) -> None:
    """An import's row errors, one item per row (written again by a retried step: the same items)."""
    from chalicelib.core.store import Store

    seen: dict[int, int] = {}
    items = []
    for e in errors:
        n = seen[e.row] = seen.get(e.row, -1) + 1
        item = {**keys.job_error(tenant_id, job_id, e.row, n), "row": e.row, "field": e.field[:200]}
        items.append({**item, "reason": e.reason[:500]})
    Store().batch_put(items)

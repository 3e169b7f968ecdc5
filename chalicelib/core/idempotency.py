"""Where the API's Idempotency-Key records live, and how an answer of any size is kept in them.

Powertools idempotency does the bookkeeping (in progress, completed, payload check, expiry); its
DynamoDB persistence layer writes one record per key under the company's own partition
(``T#<tenant>#IDEMPOTENCY``), never under a key all companies share. A record holds the answer
inline when it fits well under DynamoDB's 400 KB item limit. A larger answer (an import listing
thousands of row errors, an export) is cut into parts of its own partition, written *before* the
record is marked complete, and the record keeps only a pointer: a retry always finds every part,
and the parts outlive the record, so a pointer never points at nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from typing import Any

from chalicelib.core import aws, ids, keys
from chalicelib.core.store import Store

KEEP_SECONDS = 24 * 3600  # how long a key answers its first answer
INLINE_LIMIT = 300_000  # characters of the serialised answer kept in the record itself
PART_BYTES = 350_000  # one part of a larger answer (DynamoDB's item limit is 400 KB)


@functools.lru_cache(maxsize=512)
def persistence(table_name: str, tenant_id: str) -> tuple[Any, Any]:
    """The company's Powertools persistence layer and config (one client shared by all)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

    layer = DynamoDBPersistenceLayer(
        table_name=table_name,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=keys.idempotency_pk(tenant_id),
        expiry_attr="expires_at",
        boto3_client=aws.company_clients(tenant_id)[1],  # the company's own credentials
    )
    # The key names the request (user, method and path, the header); the payload check covers
    # what else makes it this request (body and query), so reusing a key for another one is refused.
    config = IdempotencyConfig(
        event_key_jmespath="[user, route, key]",
        payload_validation_jmespath="[body, query]",
        expires_after_seconds=KEEP_SECONDS,
    )
    return layer, config


def keep(store: Store, tenant_id: str, answer: dict[str, Any]) -> dict[str, Any]:
    """What the record stores for ``answer`` (status, headers, body, binary): itself when it fits,
    else a pointer to its parts, which are written now."""
    if len(json.dumps(answer)) <= INLINE_LIMIT:  # as Powertools serialises it (ASCII escapes)
        return answer
    body = answer["body"]
    data = body.encode("latin-1") if answer["binary"] else body.encode("utf-8")
    answer_id = ids.ulid()
    expires = int(time.time()) + KEEP_SECONDS + 3600  # outlives the record that points here
    parts = [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)]
    store.put_all(
        [
            {**keys.idempotent_answer_part(tenant_id, answer_id, n), "data": p, "expires_at": expires}
            for n, p in enumerate(parts)
        ]
    )
    return {
        "status": answer["status"],
        "headers": answer["headers"],
        "binary": answer["binary"],
        "answer_id": answer_id,
        "parts": len(parts),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def restore(store: Store, tenant_id: str, stored: dict[str, Any]) -> dict[str, Any]:
    """The answer a record stores, its parts read back when it keeps a pointer."""
    if "answer_id" not in stored:
        return stored
    part_keys = [
        keys.idempotent_answer_part(tenant_id, stored["answer_id"], n) for n in range(stored["parts"])
    ]
    found = {}
    for start in range(0, len(part_keys), 100):
        found.update(
            {i["sk"]: i["data"] for i in store.batch_get(part_keys[start : start + 100], consistent=True)}
        )
    data = b"".join(_bytes(found[k["sk"]]) for k in part_keys)
    if hashlib.sha256(data).hexdigest() != stored["sha256"]:
        raise RuntimeError(f"the kept answer {stored['answer_id']} does not match its checksum")
    body = data.decode("latin-1") if stored["binary"] else data.decode("utf-8")
    return {
        "status": stored["status"],
        "headers": stored["headers"],
        "body": body,
        "binary": stored["binary"],
    }


def answer_pointed_to(data: str | None) -> str | None:
    """The ``answer_id`` a record's stored ``data`` (Powertools keeps it as JSON text) points to,
    when its answer was kept in parts; None for an answer kept inline or a record in progress."""
    try:
        stored = json.loads(data) if data else None
    except ValueError:
        return None
    answer_id = stored.get("answer_id") if isinstance(stored, dict) else None
    return answer_id if isinstance(answer_id, str) and keys.is_segment(answer_id) else None


def _bytes(value: Any) -> bytes:
    return bytes(getattr(value, "value", value))  # boto3 reads binary attributes as Binary

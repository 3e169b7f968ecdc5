"""Fixed-window rate limits kept in DynamoDB (one conditional counter update per call)."""

from __future__ import annotations

import time

from chalicelib.core import keys
from chalicelib.core.errors import RateLimitedError
from chalicelib.core.store import ConditionFailed, Store


def hit(store: Store, bucket: str, source: str, limit: int, window_seconds: int, what: str) -> None:
    """Count one call from ``source``; raise RateLimitedError (429, Retry-After) past ``limit``."""
    start = _window_start(window_seconds)
    key = keys.rate_window(bucket, source or "unknown", str(start))
    _count(store, key, limit, start, window_seconds, f"Too many {what} from this address")


def hit_company(
    store: Store, tenant_id: str, bucket: str, limit: int, window_seconds: int, what: str
) -> None:
    """Count one call of the company (its window under its own keys); 429 past ``limit``."""
    start = _window_start(window_seconds)
    key = keys.company_rate_window(tenant_id, bucket, str(start))
    _count(store, key, limit, start, window_seconds, f"Too many {what} from this company")


def _window_start(window_seconds: int) -> int:
    now = int(time.time())
    return now - now % window_seconds


def _count(
    store: Store, key: dict[str, str], limit: int, start: int, window_seconds: int, message: str
) -> None:
    try:
        store.update(
            Key=key,
            UpdateExpression="ADD hits :one SET expires_at = :expires",
            ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
            ExpressionAttributeValues={":one": 1, ":limit": limit, ":expires": start + 2 * window_seconds},
        )
    except ConditionFailed as exc:
        retry_after = max(1, start + window_seconds - int(time.time()))
        raise RateLimitedError(f"{message}; try again in {retry_after} s.", retry_after=retry_after) from exc

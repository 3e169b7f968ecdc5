"""Fixed-window rate limits kept in DynamoDB (one conditional counter update per call)."""

from __future__ import annotations

import time

from chalicelib.core import keys
from chalicelib.core.errors import RateLimitedError
from chalicelib.core.store import ConditionFailed, Store


def hit(store: Store, bucket: str, source: str, limit: int, window_seconds: int, what: str) -> None:
    """Count one call from ``source``; raise RateLimitedError (429, Retry-After) past ``limit``."""
    now = int(time.time())
    window_start = now - now % window_seconds
    try:
        store.update(
            Key=keys.rate_window(bucket, source or "unknown", str(window_start)),
            UpdateExpression="ADD hits :one SET expires_at = :expires",
            ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
            ExpressionAttributeValues={":one": 1, ":limit": limit, ":expires": window_start + 2 * window_seconds},
        )
    except ConditionFailed as exc:
        retry_after = max(1, window_start + window_seconds - now)
        raise RateLimitedError(
            f"Too many {what} from this address; try again in {retry_after} s.", retry_after=retry_after
        ) from exc

"""Opaque, signed list cursors.

A cursor carries DynamoDB's LastEvaluatedKey, bound by HMAC to the tenant and to the query that
produced it (index, filters), so it cannot be replayed by another tenant, on another query, or edited.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from chalicelib.core import keys
from chalicelib.core.errors import BadRequestError


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, tenant_id: str, query: str, payload: bytes) -> str:
    message = b"\x00".join((tenant_id.encode(), query.encode(), payload))
    return _b64(hmac.new(secret, message, hashlib.sha256).digest()[:16])


def encode(secret: bytes, tenant_id: str, query: str, last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    payload = json.dumps(last_key, sort_keys=True, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_mac(secret, tenant_id, query, payload)}"


def decode(secret: bytes, tenant_id: str, query: str, cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    invalid = BadRequestError(
        "The cursor is not valid for this list: pass back next_cursor unchanged, with the same filters.",
        errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "cursor_invalid"}],
    )
    try:
        payload_text, mac = cursor.split(".", 1)
        payload = _unb64(payload_text)
    except (ValueError, UnicodeError) as exc:
        raise invalid from exc
    if not hmac.compare_digest(mac, _mac(secret, tenant_id, query, payload)):
        raise invalid
    try:
        last_key = json.loads(payload)
    except ValueError as exc:
        raise invalid from exc
    # Defence in depth: the key itself must sit inside the tenant's key space.
    if not isinstance(last_key, dict) or not keys.belongs_to(tenant_id, str(last_key.get("pk", ""))):
        raise invalid
    return last_key


def seal(secret: bytes, tenant_id: str, binding: str, payload: dict[str, Any]) -> str:
    """An opaque token of ``payload`` bound by HMAC to the tenant and ``binding`` (a sync token)."""
    data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return f"{_b64(data)}.{_mac(secret, tenant_id, binding, data)}"


def unseal(secret: bytes, tenant_id: str, binding: str, token: str) -> dict[str, Any] | None:
    """The payload ``seal`` made for this tenant and binding, or None (edited, or made for another)."""
    try:
        text, mac = token.split(".", 1)
        data = _unb64(text)
        if not hmac.compare_digest(mac, _mac(secret, tenant_id, binding, data)):
            return None
        payload = json.loads(data)
    except (ValueError, UnicodeError):
        return None
    return payload if isinstance(payload, dict) else None

"""Identifiers: time-ordered, URL-safe, with a type prefix (``cus_01J...``)."""

from __future__ import annotations

import hashlib
import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


def ulid(at_ms: int | None = None, seed: str | None = None) -> str:
    """A 26-character ULID: 48 bits of milliseconds then 80 random bits; sorts by creation. With
    ``at_ms`` and ``seed``: the one ULID of that instant and seed (a daily job's, made twice)."""
    ms = int(time.time() * 1000) if at_ms is None else at_ms
    tail = hashlib.sha256(seed.encode()).digest()[:10] if seed is not None else os.urandom(10)
    value = (ms << 80) | int.from_bytes(tail, "big")
    out = []
    for _ in range(26):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_id(prefix: str) -> str:
    return f"{prefix}_{ulid()}"


def id_pattern(prefix: str) -> str:
    return rf"^{prefix}_[0-9A-HJKMNP-TV-Z]{{26}}$"

"""Identifiers: time-ordered, URL-safe, with a type prefix (``cus_01J...``)."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


def ulid() -> str:
    """A 26-character ULID: 48 bits of milliseconds then 80 random bits; sorts by creation."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    out = []
    for _ in range(26):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_id(prefix: str) -> str:
    return f"{prefix}_{ulid()}"


def id_pattern(prefix: str) -> str:
    return rf"^{prefix}_[0-9A-HJKMNP-TV-Z]{{26}}$"

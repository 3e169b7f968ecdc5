"""The search and lookup forms of names and phone numbers."""

from __future__ import annotations

import unicodedata


def normalise_name(name: str) -> str:
    """Search form of a name: NFKC (full-width to half-width), case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def normalise_prefix(prefix: str) -> str:
    """Search form of a typed prefix: as a name, but a trailing space is kept (it ends a word)."""
    normalised = normalise_name(prefix)
    return normalised + " " if normalised and prefix[-1].isspace() else normalised


def normalise_phone(number: str) -> str:
    """Lookup form of a phone number: its digits, with a leading + kept."""
    digits = "".join(c for c in number if c.isdigit())
    return ("+" + digits) if number.strip().startswith("+") else digits

"""Shared schema pieces: constrained strings, list queries and the list envelope."""

# No `from __future__ import annotations` in model modules: pydantic would compile every field's
# annotation string at import (about 40 ms of cold start); evaluated annotations cost nothing.

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from chalicelib.core.web import PublicModel, StrictModel

# A value in an index key: DynamoDB takes at most 1,024 bytes a key, and the record's id follows it.
KEY_BYTES = 900


def _lower(value: str) -> str:
    return value.lower()


def _octets(value: str) -> str:
    """An email address is at most 254 bytes (RFC 5321), whatever its characters: it is a lookup key."""
    if len(value.encode()) > 254:
        raise ValueError("at most 254 bytes (UTF-8)")
    return value


def _searchable(value: str) -> str:
    """A name's search form is the name index's sort key, and NFKC can make one character many."""
    from chalicelib.core.entities import normalise_name  # entities imports this module

    if len(normalise_name(value).encode()) > KEY_BYTES:
        raise ValueError(f"too long to search: at most {KEY_BYTES} bytes once normalised (NFKC)")
    return value


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"),
    AfterValidator(_lower),
    AfterValidator(_octets),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_searchable)]
# Not stripped: a trailing space ends a word ("zhang " does not match "zhangsan").
NamePrefix = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=100)]
Cursor = Annotated[str, StringConstraints(max_length=2048, pattern=r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")]
Limit = Annotated[int, Field(ge=1, le=100)]


class ListQuery(StrictModel):
    limit: Limit = 50
    cursor: Cursor | None = None


class SyncQuery(ListQuery):
    updated_since: datetime | None = Field(
        default=None, description="Only items changed (or deleted) after this instant, oldest change first."
    )


class PageOut(PublicModel):
    """Base of list answers: ``{"items": [...], "next_cursor": ...}``.

    Each list declares its own subclass with typed ``items``: a concrete class costs nothing at
    import, where a generic ``Page[T]`` would build its validator then (cold start).
    """

    next_cursor: str | None = Field(description="Pass back as `cursor` for the next page; null on the last page.")


# Shared by the CRM's and the ERP's models: one definition each.
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=15, decimal_places=3)]
Price = Annotated[Decimal, Field(ge=0, max_digits=17, decimal_places=4)]
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=6, decimal_places=3)]


class DeletedOut(PublicModel):
    """A deletion, listed by ``updated_since`` so that syncing clients drop the record too."""

    id: str
    deleted: bool = True
    updated_at: str


def iso(value: datetime) -> str:
    """A datetime as the table's sortable UTC text (naive means UTC)."""

    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


__all__ = ["Code", "Currency", "Cursor", "DeletedOut", "Email", "Limit", "ListQuery", "Name", "PageOut", "Percent", "Price",
           "Quantity", "SyncQuery", "iso"]  # fmt: skip

"""Shared schema pieces: constrained strings, list queries and the list envelope."""

# No `from __future__ import annotations` in model modules: pydantic would compile every field's
# annotation string at import (about 40 ms of cold start); evaluated annotations cost nothing.

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from chalicelib.core.web import PublicModel, StrictModel


def _lower(value: str) -> str:
    return value.lower()


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"),
    AfterValidator(_lower),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
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


def iso(value: datetime) -> str:
    """A datetime as the table's sortable UTC text (naive means UTC)."""

    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


__all__ = ["Cursor", "Email", "Limit", "ListQuery", "Name", "PageOut", "SyncQuery", "iso"]

"""The two bases of every API shape, framework-free: a context's models import these, never the edge."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Base of every request model: unknown fields are refused. Text is kept exactly as sent;
    only fields whose type says so (names, codes, emails) are stripped of outer whitespace."""

    # defer_build: a model's validator is built on first use, not at import (cold start).
    model_config = ConfigDict(extra="forbid", defer_build=True)


class PublicModel(BaseModel):
    """Base of every response model."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

"""The jobs' API shapes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from chalicelib.core.models import PublicModel, StrictModel
from chalicelib.core.schemas import ListQuery


class Progress(PublicModel):
    done: int
    total: int
    percent: float
    rate_per_second: float | None = Field(description="Items (or rows) per second so far.")
    eta_seconds: int | None = Field(description="Seconds left at the rate so far; null when not known.")


class JobOut(PublicModel):
    id: str
    kind: Literal["backup", "restore", "import", "export", "offboard"]
    state: Literal["queued", "running", "succeeded", "failed"]
    phase: str
    progress: Progress
    created_at: str
    created_by: str
    started_at: str | None = None
    finished_at: str | None = None
    result: dict[str, Any] | None = Field(
        default=None,
        description="What the job made, once it succeeded (a closing company's final backup links: while it runs).",
    )
    error: str | None = Field(default=None, description="Why the job failed, in words.")
    url: str = Field(description="This job: poll it for progress.")


class JobPage(PublicModel):
    items: list[JobOut]
    next_cursor: str | None = None


class JobQuery(ListQuery):
    kind: Literal["backup", "restore", "import", "export", "offboard"] | None = None


class JobAccepted(StrictModel):
    """A 202's body: the job and where to follow it."""

    job: JobOut

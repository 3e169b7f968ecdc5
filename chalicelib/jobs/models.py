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
    download_url: str | None = Field(
        default=None, description="An export's file: a presigned GET, made when the job is read (an hour)."
    )


class JobPage(PublicModel):
    items: list[JobOut]
    next_cursor: str | None = None


class JobQuery(ListQuery):
    kind: Literal["backup", "restore", "import", "export", "offboard"] | None = None


class JobAccepted(StrictModel):
    """A 202's body: the job and where to follow it."""

    job: JobOut


class ImportJobIn(StrictModel):
    bytes: int = Field(ge=1, description="The file's size: the upload must be exactly this (at most 50 MiB).")
    dry_run: bool = Field(default=False, description="Validate and count, write nothing.")
    encoding: Literal["utf-8", "gb18030", "gbk"] | None = Field(
        default=None, description="Default: UTF-8 (with or without BOM), else GB18030 (GBK)."
    )
    allow_duplicates: bool = False


class ImportJobOut(PublicModel):
    job: JobOut
    upload_url: str = Field(
        description="PUT the file here (Content-Type: text/csv), then POST the job's start."
    )
    expires_in: int
    start_url: str


class RowErrorOut(PublicModel):
    row: int
    field: str
    reason: str


class RowErrorPage(PublicModel):
    items: list[RowErrorOut]
    next_cursor: str | None = None

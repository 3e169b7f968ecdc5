"""The backups' API shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.core.models import PublicModel, StrictModel
from chalicelib.jobs.models import JobOut


class BackupOut(PublicModel):
    id: str
    kind: Literal["scheduled", "on_demand", "pre_restore", "final"]
    state: Literal["running", "complete", "failed"]
    taken_at: str
    completed_at: str | None = None
    items: int | None = None
    bytes: int | None = None
    counts: dict[str, int] | None = Field(
        default=None, description="Items per family (record type and the rest)."
    )
    sha256: str | None = Field(default=None, description="SHA-256 of the data object.")
    job_id: str


class BackupPage(PublicModel):
    items: list[BackupOut]
    next_cursor: str | None = None


class BackupStarted(PublicModel):
    backup: BackupOut
    job: JobOut


class DownloadOut(PublicModel):
    url: str = Field(description="A presigned GET of the data: gzip JSON Lines, one item per line.")
    manifest_url: str
    expires_in: int
    sha256: str
    bytes: int


class RestoreIn(StrictModel):
    confirm_backup_id: str = Field(max_length=64, description="The backup's id, again.")
    confirm_taken_at: str = Field(max_length=40, description="The backup's taken_at, exactly as listed.")

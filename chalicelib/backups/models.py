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


class CloseQuery(StrictModel):
    confirm_company_name: str | None = Field(
        default=None,
        max_length=200,
        description="The company's name exactly as registered (GET /me); needed unless dry_run.",
    )
    dry_run: bool = Field(default=False, description="Count what would be removed; change nothing.")


class RemovalPreview(PublicModel):
    company_name: str
    items: int = Field(description="Items under the company's keys that closing removes.")
    counts: dict[str, int] = Field(description="Items per family (record type and the rest).")
    complete: bool = Field(
        description="False when the company holds more than the preview counts (100,000): the counts so far."
    )
    users: int = Field(description="Users whose sign-in is deleted.")
    kept: list[str] = Field(description="What is kept.")


class CloseOut(PublicModel):
    """With ``dry_run``: what closing would remove (200). Else the job that closes the company (202):
    follow it at ``job.url``; its ``result`` shows the final backup's download links before the
    removal starts."""

    dry_run: bool
    detail: str = Field(description="What closing the company does.")
    preview: RemovalPreview | None = None
    job: JobOut | None = None

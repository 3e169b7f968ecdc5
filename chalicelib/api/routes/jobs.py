"""Jobs and backups: long work followed by its progress; the company's backups, its restore, and
closing it (a final backup, then everything of it removed)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api.shapes import Result
from chalicelib.api.web import STORE, Request, endpoint
from chalicelib.backups import backups, offboard, restore
from chalicelib.backups.models import (
    BackupOut,
    BackupPage,
    BackupStarted,
    CloseOut,
    CloseQuery,
    DownloadOut,
    RemovalPreview,
    RestoreIn,
)
from chalicelib.core.errors import NotFoundError, PermissionDeniedError
from chalicelib.core.schemas import ListQuery
from chalicelib.jobs import jobs, transfer
from chalicelib.jobs.models import JobAccepted, JobOut, JobPage, JobQuery, Progress, RowErrorOut, RowErrorPage

bp = Blueprint(__name__)
JOB_ID = {"job_id": r"^job_[0-9A-HJKMNP-TV-Z]{26}$"}
BACKUP_ID = {"backup_id": r"^bkp_[0-9A-HJKMNP-TV-Z]{26}$"}


def job_out(item: dict[str, Any]) -> JobOut:
    return JobOut(
        id=item["id"],
        kind=item["kind"],
        state=item["state"],
        phase=item.get("phase", ""),
        progress=Progress(**jobs.progress(item)),
        created_at=item["created_at"],
        created_by=item["created_by"],
        started_at=item.get("started_at"),
        finished_at=item.get("finished_at"),
        result=item.get("result"),
        error=item.get("error"),
        url=f"/jobs/{item['id']}",
        download_url=transfer.download(item) if item["state"] == "succeeded" else None,
    )


def accepted(item: dict[str, Any]) -> Result:
    """202: the job, and its URL to follow it."""
    return Result(JobAccepted(job=job_out(item)), status=202, headers={"Location": f"/jobs/{item['id']}"})


def _readable(req: Request, item: dict[str, Any]) -> bool:
    return item["created_by"] == req.me.user_id or req.me.holds("admin.jobs:read")


@endpoint(
    bp,
    "/jobs",
    "GET",
    permission=None,
    any_user=True,
    tag="jobs",
    query=JobQuery,
    response=JobPage,
    summary="The company's jobs, newest first: your own, or everyone's with admin.jobs:read",
)
def list_jobs(req: Request) -> JobPage:
    q = req.query
    page = jobs.list_page(STORE, req.me.tenant_id, limit=q.limit, cursor=q.cursor, kind=q.kind)
    return JobPage(items=[job_out(j) for j in page.items if _readable(req, j)], next_cursor=page.next_cursor)


@endpoint(
    bp,
    "/jobs/{job_id}",
    "GET",
    permission=None,
    any_user=True,
    tag="jobs",
    response=JobOut,
    path_params=JOB_ID,
    summary="A job: its state, progress (done, total, rate, ETA), and its result or its error",
)
def get_job(req: Request) -> JobOut:
    return job_out(_own_job(req))  # a colleague's job needs admin.jobs:read: its result may be data


@endpoint(
    bp,
    "/jobs/{job_id}/start",
    "POST",
    permission=None,
    any_user=True,
    tag="jobs",
    response=JobAccepted,
    status=202,
    path_params=JOB_ID,
    summary="Start an import job once its file is uploaded (its size is checked first)",
)
def start_job(req: Request) -> Result:
    item = _own_job(req)
    return accepted(transfer.start_import(STORE, req.me.actor(), item["id"]))


@endpoint(
    bp,
    "/jobs/{job_id}/errors",
    "GET",
    permission=None,
    any_user=True,
    tag="jobs",
    query=ListQuery,
    response=RowErrorPage,
    path_params=JOB_ID,
    summary="An import job's row errors, by row",
)
def job_errors(req: Request) -> RowErrorPage:
    item = _own_job(req)
    page = transfer.errors_page(
        STORE, req.me.tenant_id, item["id"], limit=req.query.limit, cursor=req.query.cursor
    )
    return RowErrorPage(
        items=[RowErrorOut(**e) for e in transfer.error_list(page)], next_cursor=page.next_cursor
    )


def _own_job(req: Request) -> dict[str, Any]:
    item = jobs.find(STORE, req.me.tenant_id, req.params["job_id"], consistent=True)
    if item is None:
        raise NotFoundError(f"No job {req.params['job_id']}.")
    if not _readable(req, item):
        req.me.require("admin.jobs:read")
    return item


@endpoint(
    bp,
    "/admin/backups",
    "GET",
    permission="admin.backups:read",
    tag="admin",
    query=ListQuery,
    response=BackupPage,
    summary="The company's backups, newest first",
)
def list_backups(req: Request) -> BackupPage:
    page = backups.list_page(STORE, req.me.tenant_id, limit=req.query.limit, cursor=req.query.cursor)
    return BackupPage(
        items=[BackupOut(**backups.public(b)) for b in page.items], next_cursor=page.next_cursor
    )


@endpoint(
    bp,
    "/admin/backups",
    "POST",
    permission="admin.backups:write",
    tag="admin",
    response=BackupStarted,
    status=202,
    summary="Take a backup now (a few an hour); follow its job",
)
def take_backup(req: Request) -> Result:
    started = backups.on_demand(STORE, req.me.actor())
    body = BackupStarted(backup=BackupOut(**backups.public(started["backup"])), job=job_out(started["job"]))
    return Result(body, status=202, headers={"Location": f"/jobs/{started['job']['id']}"})


@endpoint(
    bp,
    "/admin/backups/{backup_id}",
    "GET",
    permission="admin.backups:read",
    tag="admin",
    response=BackupOut,
    path_params=BACKUP_ID,
    summary="A backup",
)
def get_backup(req: Request) -> BackupOut:
    return BackupOut(**backups.public(backups.get(STORE, req.me.tenant_id, req.params["backup_id"])))


@endpoint(
    bp,
    "/admin/backups/{backup_id}/download",
    "GET",
    permission="admin.backups:read",
    tag="admin",
    response=DownloadOut,
    path_params=BACKUP_ID,
    summary="Presigned links to the backup's data (gzip JSON Lines) and manifest, valid an hour",
)
def download_backup(req: Request) -> DownloadOut:
    return DownloadOut(**backups.download_url(STORE, req.me.tenant_id, req.params["backup_id"]))


@endpoint(
    bp,
    "/admin/backups/{backup_id}/restore",
    "POST",
    permission="tenant.data:restore",
    tag="admin",
    body=RestoreIn,
    response=JobAccepted,
    status=202,
    path_params=BACKUP_ID,
    summary="Make the company's records and settings exactly the backup's (owners; name the backup and its time)",
)
def restore_backup(req: Request) -> Result:
    if "owner" not in req.me.roles:
        raise PermissionDeniedError("Only an owner of the company can restore it.")
    body = req.body
    job = restore.request(
        STORE, req.me.actor(), req.params["backup_id"], body.confirm_backup_id, body.confirm_taken_at
    )
    return accepted(job)


@endpoint(
    bp,
    "/tenants/me",
    "DELETE",
    permission="tenant.company:close",
    tag="tenants",
    query=CloseQuery,
    response=CloseOut,
    status=202,
    also=(200, 409, 422),
    summary="Close the company: a final backup to download, then all its data and users removed "
    "(owners; name the company; dry_run=true counts what would go)",
)
def close_company(req: Request) -> Result:
    from chalicelib.api import workers  # the record types' shapes, for the walk

    if "owner" not in req.me.roles:
        raise PermissionDeniedError(
            "Only an owner of the company can close it.", permission="tenant.company:close"
        )
    q = req.query
    outcome = offboard.request(
        STORE, req.me.actor(), workers.shapes(), confirm=q.confirm_company_name, dry_run=q.dry_run
    )
    if outcome["dry_run"]:
        body = CloseOut(dry_run=True, detail=outcome["detail"], preview=RemovalPreview(**outcome["preview"]))
        return Result(body, status=200)
    job = outcome["job"]
    body = CloseOut(dry_run=False, detail=outcome["detail"], job=job_out(job))
    return Result(body, status=202, headers={"Location": f"/jobs/{job['id']}"})

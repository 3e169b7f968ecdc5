"""Imports and exports as jobs: the file travels through S3 by presigned URL, never through the API.

An import: ``POST /import/{entity}/jobs`` makes the job and a presigned PUT for the file (its size
declared); the client uploads, then ``POST /jobs/{id}/start`` checks the object's size itself (S3
takes what a presigned PUT sends, and the local S3 checks nothing) and queues the first step. Each
step reads the file whole and checks every row (the same rows and errors each time), then decides and
writes up to ``STEP_ROWS`` rows after the job's row mark, each transaction of rows moving the mark
on the condition that it is where the step found it (``tabular.MarkedImporter``): a step run twice
writes no row twice. Row errors are items of their own (``keys.job_error``), listed by
``GET /jobs/{id}/errors``; the first ``LISTED_ERRORS`` are in the result.

An export: one step writes the CSV to a file on disk a page at a time and uploads it; the job's
answer carries a presigned GET made when it is read.
"""

from __future__ import annotations

import tempfile
from typing import Any

from chalicelib.core import files, keys, tabular
from chalicelib.core.errors import ConflictError, ValidationError
from chalicelib.core.store import Actor, Page, Store
from chalicelib.jobs import jobs, repository
from chalicelib.jobs.jobs import JobFailed, Step
from chalicelib.tenants import published as tenants

MAX_JOB_BYTES = 50 * 1024 * 1024  # an import job's file
MAX_JOB_ROWS = 100_000
STEP_ROWS = 2_000  # rows one step decides and writes (a few hundred transactions at most)
LISTED_ERRORS = 100  # row errors in the result; all of them at GET /jobs/{id}/errors
URL_SECONDS = 3600


def request_import(store: Store, actor: Actor, entity: str, options: dict[str, Any]) -> dict[str, Any]:
    """An import job waiting for its file, and where to upload it."""
    size = int(options["bytes"])
    if size > MAX_JOB_BYTES:
        raise ValidationError(
            f"An import job takes a file of at most {MAX_JOB_BYTES} bytes.",
            errors=[{"loc": ["body", "bytes"], "msg": f"at most {MAX_JOB_BYTES}", "type": "too_large"}],
        )
    job = jobs.create(store, actor, "import", {"entity": entity, **options}, start=False)
    key = keys.job_upload(actor.tenant_id, job["id"])
    return {
        "job": job,
        "upload_url": files.upload_url(key, "text/csv", URL_SECONDS),
        "expires_in": URL_SECONDS,
    }


def start_import(store: Store, actor: Actor, job_id: str) -> dict[str, Any]:
    """Queue an import whose file is uploaded, once its size is checked: the declared one, within
    the limit."""
    job = jobs.get(store, actor.tenant_id, job_id, consistent=True)
    if job["kind"] != "import":
        raise ConflictError(f"Job {job_id} is a {job['kind']} job: it starts by itself.")
    if job["state"] != "queued" or job.get("phase") != "queued":
        raise ConflictError(f"Job {job_id} is {job['state']}: it was started already.")
    size = files.object_size(keys.job_upload(actor.tenant_id, job_id))
    declared = int(job["params"]["bytes"])
    if size is None:
        raise ConflictError(
            f"Nothing was uploaded for job {job_id} yet: PUT the file to its upload_url first."
        )
    if size > MAX_JOB_BYTES or size != declared:
        raise ValidationError(
            f"The uploaded file is {size} bytes; the job was declared for {declared} "
            f"(at most {MAX_JOB_BYTES}). Make a new import job for this file.",
            errors=[{"loc": ["body", "bytes"], "msg": f"the upload is {size} bytes", "type": "size"}],
        )
    step = Step({}, 0, 0, phase="queued for its first step")
    if not jobs.advance(store, job, step):
        raise ConflictError(f"Job {job_id} was started already.")
    return jobs.get(store, actor.tenant_id, job_id, consistent=True)


def import_step(store: Store, job: dict[str, Any], specs: dict[str, tabular.Spec]) -> Step:
    tenant_id, params = job["tenant_id"], job["params"]
    key = keys.job_upload(tenant_id, job["id"])
    size = files.object_size(key)
    if size is None or size > MAX_JOB_BYTES:  # checked at start; the file may have been replaced since
        raise JobFailed(f"The uploaded file is gone or larger than {MAX_JOB_BYTES} bytes.")
    waiting = _restored(store, job)
    if waiting is not None:
        return waiting
    actor = Actor(tenant_id=tenant_id, user_id=job["created_by"], request_id=job["id"], epoch=job["epoch"])
    marker = tabular.Marker(
        int(job.get("row_mark", 0)),
        lambda before, after, counts: repository.rows_marked(tenant_id, job["id"], before, after, counts),
        lambda errors: repository.put_row_errors(tenant_id, job["id"], errors),
    )
    try:
        done = tabular.import_step(
            store,
            actor,
            specs[params["entity"]],
            files.read_object(key),
            marker,
            step_rows=STEP_ROWS,
            max_rows=MAX_JOB_ROWS,
            dry_run=bool(params.get("dry_run")),
            encoding=params.get("encoding"),
            allow_duplicates=bool(params.get("allow_duplicates")),
        )
    except tabular.Overtaken:
        raise
    except Exception as exc:
        from chalicelib.core.errors import ApiError

        if isinstance(exc, ApiError):  # the file itself is wrong (not CSV, too many rows)
            raise JobFailed(exc.detail) from exc
        raise
    if not done["finished"]:
        return Step({}, done["done"], done["rows"], phase="importing rows")
    now = jobs.find(store, tenant_id, job["id"], consistent=True) or job
    listed = errors_page(store, tenant_id, job["id"], limit=LISTED_ERRORS, cursor=None)
    result = {
        "entity": params["entity"],
        "encoding": done["encoding"],
        "dry_run": bool(params.get("dry_run")),
        "rows": done["rows"],
        "created": int(now.get("created", 0)),
        "updated": int(now.get("updated", 0)),
        "failed": int(now.get("failed", 0)),
        "ignored_columns": done["ignored_columns"],
        "errors": [_error_out(e) for e in listed.items],
        "errors_url": f"/jobs/{job['id']}/errors",
    }
    return Step({}, done["rows"], done["rows"], result=result)


def _restored(store: Store, job: dict[str, Any]) -> Step | None:
    """An import waits while its company is restored, and stops if it was restored since it began:
    what it wrote before is gone, and its rows were decided in the world before."""
    state = tenants.company_state(store, job["tenant_id"])
    if state.epoch != job["epoch"]:
        raise JobFailed(
            f"The company was restored while this import ran; the rows it had written (up to row "
            f"{job.get('row_mark', 0)}) were replaced. Import the file again."
        )
    if state.restoring:
        return Step(
            {},
            int(job.get("done", 0)),
            int(job.get("total", 0)),
            phase="waiting for a restore",
            delay_seconds=30,
        )
    return None


def errors_page(store: Store, tenant_id: str, job_id: str, *, limit: int, cursor: str | None) -> Page:
    return store.query_page(
        tenant_id=tenant_id,
        partition=keys.job_errors_pk(tenant_id, job_id),
        limit=limit,
        cursor=cursor,
        query_id=f"job-errors|{job_id}",
    )


def _error_out(item: dict[str, Any]) -> dict[str, Any]:
    return {"row": int(item["row"]), "field": item["field"], "reason": item["reason"]}


def error_list(page: Page) -> list[dict[str, Any]]:
    return [_error_out(e) for e in page.items]


def request_export(store: Store, actor: Actor, entity: str) -> dict[str, Any]:
    return jobs.create(store, actor, "export", {"entity": entity})


def export_step(store: Store, job: dict[str, Any], specs: dict[str, tabular.Spec]) -> Step:
    """The whole collection to a file on disk, then to S3 (one step: a page of reads at a time)."""
    tenant_id, entity = job["tenant_id"], job["params"]["entity"]
    if tenants.restoring(store, tenant_id):  # half restored: wait
        return Step({}, 0, 0, phase="waiting for a restore", delay_seconds=30)
    key = keys.job_output(tenant_id, job["id"], f"{entity}.csv")
    with tempfile.TemporaryFile() as out:
        rows = tabular.export_to(out, store, tenant_id, specs[entity])
        size = out.tell()
        out.seek(0)
        files.put_file(key, out, "text/csv; charset=utf-8", tags=files.EXPIRES_30_DAYS)
    return Step({}, rows, rows, result={"entity": entity, "rows": rows, "bytes": size, "file": key})


def download(job: dict[str, Any]) -> str | None:
    """A presigned GET of an export's file (made when asked: the link lives an hour)."""
    result = job.get("result") or {}
    if job["kind"] != "export" or "file" not in result:
        return None
    return files.download_url(result["file"], f"{result['entity']}.csv", URL_SECONDS)

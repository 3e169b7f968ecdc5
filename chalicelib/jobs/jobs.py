"""A company's jobs: created by a request (202 with the job's URL), run step by step by the job
worker from the jobs queue, read with their progress.

A job is one item under the company's keys (``T#<tenant>#JOB``, by ULID). The worker runs one
bounded step per message: the job's runner (by kind) reads the job, does a bounded amount of work
from the job's ``cursor`` and answers a ``Step``; the worker then writes the step's cursor and
progress on the condition that the job's ``version`` is still the one it read, and asks the queue for
the next step. A worker that dies before writing leaves the job where it was: the message comes
back and the step runs again from the same cursor, so each runner's step is either idempotent
(a backup's part, a restore's puts and deletes) or writes its own mark in the transaction of its
rows (an import: ``row_mark``). Two deliveries of one message race on the version: one wins, the
other stops.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from chalicelib.core import ids, keys
from chalicelib.core.errors import NotFoundError
from chalicelib.core.store import Actor, ConditionFailed, Page, Store, audit_entry, put_new, utcnow
from chalicelib.jobs import repository

KINDS = ("backup", "restore", "import", "export", "offboard")
TERMINAL = ("succeeded", "failed")
MAX_ATTEMPTS = 5  # deliveries of one step that end in an error before the job is failed
KEEP_DAYS = 90  # a finished job's item expires this long after it ended


class JobFailed(Exception):
    """The job cannot succeed (a backup object that fails its checksum): it ends failed, saying why."""


@dataclasses.dataclass(frozen=True)
class Step:
    """What one step did: where the next starts, the progress, and the result when it is the last."""

    cursor: dict[str, Any]
    done: int
    total: int
    phase: str = ""
    result: dict[str, Any] | None = None  # the job succeeded with this
    delay_seconds: int = 0  # before the next step (a restore waiting for writes to stop)
    output: dict[str, Any] | None = None  # shown as the job's result while it still runs (links to fetch)
    gone: bool = False  # the job removed its own item (an offboarding): nothing to write, no next step


def create(
    store: Store,
    actor: Actor,
    kind: str,
    params: dict[str, Any],
    *,
    total: int = 0,
    job_id: str | None = None,
    start: bool = True,
) -> dict[str, Any]:
    """A new job, queued (``start``: its first step asked for at once)."""
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    now = utcnow()
    job_id = job_id or ids.new_id("job")
    item = {
        **keys.job(actor.tenant_id, job_id),
        "id": job_id,
        "tenant_id": actor.tenant_id,
        "kind": kind,
        "state": "queued",
        "phase": "queued",
        "params": params,
        "cursor": {},
        "done": 0,
        "total": total,
        "row_mark": 0,
        "created_at": now,
        "updated_at": now,
        "created_by": actor.user_id,
        "epoch": actor.epoch,  # the company's world the job began in (a restore starts another)
        "version": 1,
    }
    store.transact(
        [put_new(item), audit_entry(actor, "start", "job", job_id, None, {"kind": kind, **params})]
    )
    if start:
        repository.enqueue(actor.tenant_id, job_id)
    return item


def enqueue(tenant_id: str, job_id: str, delay_seconds: int = 0) -> None:
    """Ask the job worker for the job's (next) step."""
    repository.enqueue(tenant_id, job_id, delay_seconds)


def get(store: Store, tenant_id: str, job_id: str, *, consistent: bool = False) -> dict[str, Any]:
    item = find(store, tenant_id, job_id, consistent=consistent)
    if item is None:
        raise NotFoundError(f"No job {job_id}.")
    return item


def find(store: Store, tenant_id: str, job_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    return store.get(keys.job(tenant_id, job_id), consistent=consistent)


def list_page(
    store: Store, tenant_id: str, *, limit: int, cursor: str | None, kind: str | None = None
) -> Page:
    """The company's jobs, newest first (``kind``: of that kind only)."""
    return store.query_page(
        tenant_id=tenant_id,
        partition=keys.jobs_pk(tenant_id),
        filter_condition=repository.of_kind(kind) if kind else None,
        limit=limit,
        cursor=cursor,
        newest_first=True,
        query_id=f"jobs|{kind or ''}",
    )


def advance(store: Store, job: dict[str, Any], step: Step) -> bool:
    """Write a step's outcome, if the job is still as ``job`` read it; False if another delivery
    moved it on first (this one then stops). A step whose job removed its own item (``gone``: its
    outcome is recorded elsewhere) writes nothing and asks for no next step."""
    if step.gone:
        return True
    now = utcnow()
    fields: dict[str, Any] = {
        "cursor": step.cursor,
        "done": step.done,
        "total": step.total,
        "updated_at": now,
        "state": "succeeded" if step.result is not None else "running",
        "phase": step.phase or job.get("phase", ""),
    }
    if not job.get("started_at"):
        fields["started_at"] = now
    if step.output is not None:
        fields["result"] = step.output
    if step.result is not None:
        fields.update(result=step.result, finished_at=now, phase="done", expires_at=_expiry())
    try:
        store.update(**repository.advanced(job, fields))
    except ConditionFailed:
        return False
    if step.result is None:
        repository.enqueue(job["tenant_id"], job["id"], step.delay_seconds)
    return True


def fail(store: Store, job: dict[str, Any], error: str) -> None:
    """End the job failed, ``error`` saying why in words (once: a job that ended stays as it ended)."""
    now = utcnow()
    fields = {"state": "failed", "error": error[:2000], "finished_at": now, "updated_at": now}
    try:
        store.update(**repository.advanced(job, {**fields, "expires_at": _expiry()}))
    except ConditionFailed:
        pass


def progress(job: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """done/total, the rate so far (per second) and the time left at that rate."""
    done, total = int(job.get("done", 0)), int(job.get("total", 0))
    rate = eta = None
    started = job.get("started_at")
    if started and done:
        end = job.get("finished_at") or (now or datetime.now(UTC)).isoformat()
        seconds = (_instant(end) - _instant(started)).total_seconds()
        if seconds > 0:
            rate = round(done / seconds, 2)
            if job.get("state") not in TERMINAL and total > done:
                eta = round((total - done) / (done / seconds))
    percent = round(100 * done / total, 1) if total else (100.0 if job.get("state") == "succeeded" else 0.0)
    return {
        "done": done,
        "total": total,
        "percent": min(percent, 100.0),
        "rate_per_second": rate,
        "eta_seconds": eta,
    }


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _expiry() -> int:
    return int(datetime.now(UTC).timestamp()) + KEEP_DAYS * 86400

"""A company's restore from one of its backups, as a job: nothing changes until the backup is
verified; then the company's writes stop, a fresh backup is taken, its records and settings become
exactly the backup's, and its writes start again.

Phases (each step resumes from the job's cursor; each is idempotent, so a step run twice after a
worker died does no harm):

1. ``verify``: the backup's record names its manifest's SHA-256; the manifest names the data's size,
   SHA-256 and items per family; the data is read through and checked against all three. A
   truncated or altered object ends the job failed, saying why, before anything changed.
2. ``lock``: the company's state becomes ``restoring`` and its epoch goes up by one (tenants):
   writes answer 503, and every event of the earlier epoch is dropped by the consumers.
3. ``quiesce``: the next step waits ``restore_quiesce_seconds`` (a principal cached before the lock,
   a request under way, a consumer that read the old epoch: all done by then).
4. ``safety``: a backup of the company as it is now (``pre_restore``), writes stopped.
5. ``clear``: every restorable item of the company removed (walked by Query as a backup walks).
6. ``load``: the backup's items written back as they were read (the object's version checked in
   ``verify``, so nothing swapped in between is read).
7. ``unlock``: the company's state back to active, the restore's entry in the audit log.

What a restore keeps as it is (the audit log, users and roles, jobs, backups, idempotency records,
the outbox, dead letters, the handoff trail, reconciliation reports, rate windows, the profile)
is listed in docs/operations.md, and by ``restorable`` in core/keys.py.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from chalicelib.backups import archive, backups, repository
from chalicelib.backups.archive import Mark
from chalicelib.core import files, ids, keys
from chalicelib.core.config import settings
from chalicelib.core.errors import ConflictError, ValidationError
from chalicelib.core.store import Actor, Store
from chalicelib.jobs import jobs
from chalicelib.jobs.jobs import JobFailed, Step
from chalicelib.tenants import published as tenants


def request(
    store: Store, actor: Actor, backup_id: str, confirm_id: str, confirm_taken_at: str
) -> dict[str, Any]:
    """A restore job for a complete backup, once the caller named the backup and its time."""
    record = backups.get(store, actor.tenant_id, backup_id)
    if record["state"] != "complete":
        raise ConflictError(
            f"Backup {backup_id} is {record['state']}: only a complete backup can be restored."
        )
    wrong = []
    if confirm_id != backup_id:
        wrong.append({"loc": ["body", "confirm_backup_id"], "msg": f"must be {backup_id}", "type": "confirm"})
    if confirm_taken_at != record["taken_at"]:
        wrong.append(
            {"loc": ["body", "confirm_taken_at"], "msg": f"must be {record['taken_at']}", "type": "confirm"}
        )
    if wrong:
        raise ValidationError(
            f"A restore replaces all the company's records with backup {backup_id} taken at "
            f"{record['taken_at']}: name both to confirm.",
            errors=wrong,
        )
    running = jobs.list_page(store, actor.tenant_id, limit=20, cursor=None, kind="restore").items
    if any(j["state"] not in jobs.TERMINAL for j in running) or tenants.restoring(store, actor.tenant_id):
        raise ConflictError("A restore of this company is already running.")
    return jobs.create(store, actor, "restore", {"backup_id": backup_id, "taken_at": record["taken_at"]})


def restore_step(store: Store, job: dict[str, Any], shapes: list[keys.TypeShape]) -> Step:
    tenant_id = job["tenant_id"]
    backup_id = job["params"]["backup_id"]
    c: dict[str, Any] = {"phase": "verify", **job["cursor"]}
    record = store.get(keys.backup(tenant_id, backup_id), consistent=True)
    if record is None or record.get("state") != "complete":
        raise JobFailed(f"Backup {backup_id} is no longer there to restore.")
    total = int(record.get("items", 0))
    phase = c["phase"]
    if phase == "verify":
        _verify(record)
        return Step({**c, "phase": "lock"}, 0, total, phase="verified")
    if phase == "lock":
        epoch = _lock(store, tenant_id)
        wait = settings().restore_quiesce_seconds
        return Step(
            {**c, "phase": "safety", "epoch": epoch},
            0,
            total,
            phase="waiting for writes to stop",
            delay_seconds=wait,
        )
    if phase == "safety":
        if not c.get("safety_id"):
            c["safety_id"] = _safety_record(store, tenant_id, job)
        inner, complete = backups.take(store, tenant_id, c["safety_id"], c.get("safety", {}), shapes)
        c["safety"] = inner
        if complete:
            c.update(phase="clear", safety={})
        return Step(c, 0, total, phase="backing up the company as it is now")
    if phase == "clear":
        mark, removed, finished = _clear(tenant_id, shapes, Mark(c.get("index", 0), c.get("last")))
        c.update(index=mark.index, last=mark.last, removed=c.get("removed", 0) + removed)
        if finished:
            c.update(phase="load", index=0, last=None)
        return Step(c, 0, total, phase="removing the company's current records")
    if phase == "load":
        line, finished = _load(record, int(c.get("line", 0)))
        c["line"] = line
        if finished:
            c["phase"] = "unlock"
        return Step(c, line, total, phase="writing the backup's records")
    if phase == "unlock":
        actor = Actor(tenant_id=tenant_id, user_id=job["created_by"], request_id=job["id"])
        store.transact(
            [
                backups.audit(
                    actor, "restore", backup_id, {"taken_at": record["taken_at"], "job_id": job["id"]}
                )
            ]
        )
        tenants.end_restore(store, tenant_id)
        result = {
            "backup_id": backup_id,
            "taken_at": record["taken_at"],
            "restored_items": int(c.get("line", 0)),
            "removed_items": int(c.get("removed", 0)),
            "safety_backup_id": c.get("safety_id"),
            "epoch": c.get("epoch"),
        }
        return Step(c, int(c.get("line", 0)), total, result=result)
    raise JobFailed(f"unknown restore phase {phase!r}")


def _verify(record: dict[str, Any]) -> None:
    try:
        body = files.read_object(record["manifest_key"], record.get("manifest_version", ""))
    except Exception as exc:  # a missing object is the backup's fault, said in words
        raise JobFailed(f"The backup's manifest cannot be read ({exc}); nothing was changed.") from exc
    if hashlib.sha256(body).hexdigest() != record["manifest_sha256"]:
        raise JobFailed(
            "The backup's manifest does not match the checksum recorded when it was taken; nothing was changed."
        )
    manifest = json.loads(body)
    if manifest.get("format") != archive.FORMAT or manifest.get("schema_version") != archive.SCHEMA_VERSION:
        raise JobFailed(
            f"The backup is of format {manifest.get('format')}, schema {manifest.get('schema_version')}: "
            "this version cannot restore it; nothing was changed."
        )
    if manifest.get("tenant_id") != record["tenant_id"]:
        raise JobFailed("The backup's manifest names another company; nothing was changed.")
    archive.verify(manifest, record["object_key"], record.get("object_version", ""))


def _lock(store: Store, tenant_id: str) -> int:
    """Stop the company's writes and start a new epoch. Found locked already: this job's own lock,
    taken by a step whose worker died before it was recorded (a company runs one restore at a time:
    ``request`` refuses a second)."""
    state = tenants.company_state(store, tenant_id)
    if state.restoring:
        return state.epoch
    try:
        return tenants.begin_restore(store, tenant_id)
    except ConflictError as exc:
        raise JobFailed(str(exc)) from exc


def _safety_record(store: Store, tenant_id: str, job: dict[str, Any]) -> str:
    backup_id = f"bkp_{ids.ulid()}"
    backups.begin(store, tenant_id, "pre_restore", backup_id, job["id"])
    return backup_id


def _clear(tenant_id: str, shapes: list[keys.TypeShape], mark: Mark) -> tuple[Mark, int, bool]:
    """Remove the company's restorable items from ``mark`` on, a step's worth: each record after the
    partitions it owns (its timeline), so a step cut short never leaves them without their record."""
    return archive.remove(tenant_id, shapes, mark, restorable_only=True)


def _load(record: dict[str, Any], start: int) -> tuple[int, bool]:
    """Write the backup's items from line ``start`` on, a step's worth; the next line, and whether
    every line is written."""
    batch: list[dict[str, Any]] = []
    line = 0
    for line, row in enumerate(archive.read_lines(record["object_key"], record.get("object_version", "")), 1):
        if line <= start:
            continue
        batch.append(archive.item_of(row))
        if len(batch) == repository.WRITE_BATCH:
            repository.put_items(batch)
            batch = []
        if line - start >= archive.STEP_ITEMS:
            repository.put_items(batch)
            return line, False
    repository.put_items(batch)
    return line if line > start else start, True

"""A company's offboarding (``DELETE /tenants/me``), as a job: its writes stop, a final backup is
taken and links to it are shown on the job, and after a grace period every user of the company
(Cognito), every item under its keys and every object under its prefix in the backup bucket are
removed. Its registry entry stays, marked closed, naming the final backup (kept 30 days); usage and
billing records, once they exist, live under platform keys and stay too (docs/operations.md).

Phases (each step resumes from the job's cursor and is idempotent: conditional updates, puts and
deletes of the same keys, so a worker that dies mid-step does no harm when its message comes back):

1. ``closing``: the company's state becomes ``closing`` and its epoch goes up by one, its registry
   entry says ``closing`` (one transaction): its writes answer 503, the events raised before are
   dropped by the consumers, its other jobs stop at their next step, the schedules skip it. The
   next step waits ``restore_quiesce_seconds`` (requests, consumers and cached principals done).
2. ``backup``: the final backup (kind ``final``, never pruned), its two objects tagged
   ``expires=30d`` (the bucket's lifecycle deletes them 30 days later). If it cannot be taken, the
   company is opened again and the job fails: nothing was removed.
3. ``ready``: presigned links to it (7 days, SigV4's longest) shown as the job's ``result``;
4. ``waiting``: ``offboard_grace_seconds`` pass, for the owner to fetch them while they can sign in.
5. ``users``: every member's Cognito user deleted (read from the members' partition, still there).
6. ``items``: every partition of the catalogue (``keys.partitions``, all of it, not only what a
   backup holds) but the audit log and the jobs, with the partitions each record owns and the parts
   of idempotent answers kept apart from their record; what a record owns goes before the record.
7. ``audit``: the audit log, oldest entry first; an entry about a record that owns partitions (a
   customer's timeline, a quote's revisions, an order's handoff trail, a job's row errors) removes
   them before itself: a record gone long ago (deleted and its tombstone expired, made after a
   backup and removed by a restore) left them behind, and the log names every record ever made.
8. ``objects``: every version of every object under the company's prefix in the backup bucket
   (earlier backups, job files, unfinished uploads) but the final backup's data and manifest.
9. ``jobs``: the company's other jobs and their row errors.
10. ``close``: the registry entry marked closed (when, the final backup, what was removed), then
    this job's own item removed: the outcome is the registry entry's from then on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.backups import archive, backups, repository
from chalicelib.backups.archive import Mark
from chalicelib.core import files, idempotency, ids, keys
from chalicelib.core.config import settings
from chalicelib.core.errors import ApiError, ConflictError, ValidationError
from chalicelib.core.store import Actor, Store, delete, utcnow
from chalicelib.jobs import jobs
from chalicelib.jobs.jobs import JobFailed, Step
from chalicelib.tenants import published as tenants

LINK_SECONDS = 7 * 86400  # a SigV4 presigned URL's longest life
PREVIEW_ITEMS = 100_000  # a dry run counts this many items at most (a request's time)
USERS_STEP = 200  # members whose sign-in one step deletes (Cognito's admin calls are rate-limited)
OBJECT_PAGES = 20  # pages of object versions (1,000 each) one step deletes at most
LAST = ("audit", "jobs")  # the families removed after every other, in phases of their own
KEPT = (
    "the company's registry entry (platform), marked closed, naming the final backup",
    "the final backup's two objects, for 30 days",
    "its usage and billing records (platform keys)",
)
NOTE = (
    "The links are presigned for 7 days, SigV4's longest, and stop working sooner if the credentials "
    "that signed them expire first. The final backup itself is kept 30 days after it was made, then "
    "deleted: until then the platform's operator can issue a new link from the company's registry "
    "entry. Your sign-in stops working when the removal starts."
)


# ---- the request --------------------------------------------------------------------------------
def request(
    store: Store, actor: Actor, shapes: list[keys.TypeShape], *, confirm: str | None, dry_run: bool
) -> dict[str, Any]:
    """Close the caller's company once they named it exactly (``confirm``): the job (``job``). With
    ``dry_run``, what would be removed (``preview``) and nothing changed; the name may then be left
    out. ``detail`` says what closing does."""
    tenant_id = actor.tenant_id
    name = tenants.company_name(store, tenant_id)
    detail = (
        f"Closing {name} stops every change to it, takes a final backup of it whose download links "
        f"the job shows for {_duration(settings().offboard_grace_seconds)} (the backup is kept 30 days), "
        "then removes every record, setting, file and user of the company for good: no one can "
        "sign in to it again. Only its registry entry, marked closed, and its usage and billing "
        "records are kept."
    )
    if (confirm is None and not dry_run) or (confirm is not None and confirm != name):
        raise ValidationError(
            f"{detail} Name the company exactly as registered to confirm; dry_run=true shows what would go.",
            errors=[
                {
                    "loc": ["query", "confirm_company_name"],
                    "msg": "must be the company's name, exactly as registered",
                    "type": "confirm",
                }
            ],
        )
    if dry_run:
        return {"dry_run": True, "detail": detail, "preview": preview(tenant_id, shapes, name)}
    _refuse_while_busy(store, tenant_id)
    job = jobs.create(store, actor, "offboard", {"company_name": name})
    return {"dry_run": False, "detail": detail, "job": job}


def _refuse_while_busy(store: Store, tenant_id: str) -> None:
    state = tenants.company_state(store, tenant_id)
    if state.restoring:
        raise ConflictError("A restore of the company is running: close it once the restore is done.")
    if state.closing:
        raise ConflictError("The company is already being closed.")
    for job in jobs.list_page(store, tenant_id, limit=50, cursor=None).items:
        if job["state"] in jobs.TERMINAL:
            continue
        if job["kind"] == "restore":
            raise ConflictError(
                f"A restore of the company is under way ({job['id']}): close it once the restore is done."
            )
        if job["kind"] == "offboard":
            raise ConflictError(f"The company is already being closed ({job['id']}).")


def preview(tenant_id: str, shapes: list[keys.TypeShape], name: str) -> dict[str, Any]:
    """What closing would remove, counted by the walk the job makes (Query only): items per family,
    users; ``complete`` false when there are more than ``PREVIEW_ITEMS`` (the counts so far)."""
    counts: dict[str, int] = {}
    items, complete = 0, True
    for entry in archive.walk(tenant_id, shapes, Mark(0, None), restorable_only=False):
        if isinstance(entry, Mark):
            if items >= PREVIEW_ITEMS:
                complete = False
                break
            continue
        family, _ = entry
        counts[family] = counts.get(family, 0) + 1
        items += 1
    return {
        "company_name": name,
        "items": items,
        "counts": dict(sorted(counts.items())),
        "complete": complete,
        "users": counts.get("users", 0),
        "kept": list(KEPT),
    }


# ---- the job's steps ----------------------------------------------------------------------------
def offboard_step(store: Store, job: dict[str, Any], shapes: list[keys.TypeShape]) -> Step:
    tenant_id, job_id = job["tenant_id"], job["id"]
    c: dict[str, Any] = {"phase": "closing", "removed": 0, **job["cursor"]}
    phase = c["phase"]
    removed = int(c["removed"])
    total = max(removed, int(job.get("total", 0)))
    if phase == "closing":
        try:
            tenants.begin_close(store, tenant_id, job_id)
        except ApiError as exc:
            raise JobFailed(f"{exc.detail} Nothing was changed.") from exc
        c["phase"] = "backup"
        wait = settings().restore_quiesce_seconds
        return Step(c, 0, 0, phase="waiting for the company's writes to stop", delay_seconds=wait)
    if phase == "backup":
        backup_id = c.get("backup_id") or _final_backup_id(job)
        try:
            backups.begin(store, tenant_id, "final", backup_id, job_id)
            inner, complete = backups.take(
                store, tenant_id, backup_id, c.get("backup", {}), shapes, tags=backups.FINAL_TAGS
            )
        except JobFailed as exc:
            tenants.end_close(store, tenant_id, job_id)
            raise JobFailed(f"{exc} The company is open again; nothing was removed.") from exc
        c.update(backup_id=backup_id, backup=inner)
        read = int(inner.get("items", 0))
        if complete:
            c.update(phase="ready", backup={})
        return Step(c, read, read, phase="taking the final backup")
    if phase == "ready":
        record = backups.get(store, tenant_id, c["backup_id"])
        grace = settings().offboard_grace_seconds
        starts = datetime.now(UTC) + timedelta(seconds=grace)
        c.update(phase="waiting", final=_final(record), remove_after=_instant_text(starts))
        shown = {
            "final_backup": {
                **backups.links(record, LINK_SECONDS),
                "id": record["id"],
                "taken_at": record["taken_at"],
                "items": int(record["items"]),
                "kept_until": c["final"]["kept_until"],
            },
            "removal_starts_at": c["remove_after"],
            "note": NOTE,
        }
        total = int(record["items"])
        return Step(
            c,
            0,
            total,
            phase="waiting for the final backup to be downloaded",
            output=shown,
            delay_seconds=grace,
        )
    if phase == "waiting":
        left = (_instant(c["remove_after"]) - datetime.now(UTC)).total_seconds()
        if left > 0:  # a grace longer than the queue's longest delay (15 minutes) is waited in turns
            return Step(
                c,
                0,
                total,
                phase="waiting for the final backup to be downloaded",
                delay_seconds=int(left) + 1,
            )
        c.update(phase="users", last=None)
        return Step(c, 0, total, phase="deleting the company's users")
    if phase == "users":
        last, deleted = _users(tenant_id, c.get("last"))
        c.update(last=last, users=int(c.get("users", 0)) + deleted)
        if last is None:
            c.update(phase="items", index=0)
        return Step(c, removed, total, phase="deleting the company's users")
    if phase in ("items", "jobs"):
        include: Callable[[keys.Partition], bool] = (
            (lambda p: p.family not in LAST) if phase == "items" else (lambda p: p.family == "jobs")
        )
        spare = keys.job(tenant_id, job_id) if phase == "jobs" else None
        mark, count, finished = _remove(
            tenant_id, shapes, Mark(c.get("index", 0), c.get("last")), include, spare
        )
        removed += count
        c.update(index=mark.index, last=mark.last, removed=removed)
        if finished:
            c.update(phase="audit" if phase == "items" else "close", index=0, last=None)
        text = "removing the company's records" if phase == "items" else "removing the company's jobs"
        return Step(c, removed, max(total, removed), phase=text)
    if phase == "audit":
        last, count, finished = _audit(tenant_id, c.get("last"))
        removed += count
        c.update(last=last, removed=removed)
        if finished:
            c.update(phase="objects", last=None)
        return Step(c, removed, max(total, removed), phase="removing the company's audit log")
    if phase == "objects":
        count, finished = _objects(tenant_id, c["final"])
        c["objects"] = int(c.get("objects", 0)) + count
        if finished:
            c.update(phase="jobs", index=0, last=None)
        return Step(c, removed, max(total, removed), phase="removing the company's files")
    if phase == "close":
        outcome = {
            "closed_at": utcnow(),
            "closing_job_id": job_id,
            "final_backup": c["final"],
            "removed": {
                "items": removed,
                "users": int(c.get("users", 0)),
                "objects": int(c.get("objects", 0)),
            },
        }
        tenants.mark_closed(store, tenant_id, outcome)
        store.transact([delete(keys.job(tenant_id, job_id))])
        return Step(c, removed, removed, result=outcome, gone=True)
    raise JobFailed(f"unknown offboarding phase {phase!r}")


def _final_backup_id(job: dict[str, Any]) -> str:
    """The final backup's id, the same at every try of the job's step (its record is made once)."""
    at_ms = int(_instant(job["created_at"]).timestamp() * 1000)
    return f"bkp_{ids.ulid(at_ms, job['id'] + '|final')}"


def _final(record: dict[str, Any]) -> dict[str, Any]:
    """Where the final backup is, for the registry entry (its record goes with the company)."""
    kept_until = _instant(record["completed_at"]) + timedelta(days=backups.FINAL_DOWNLOAD_DAYS)
    return {
        "id": record["id"],
        "bucket": settings().backup_bucket,
        "object_key": record["object_key"],
        "object_version": record.get("object_version", ""),
        "manifest_key": record["manifest_key"],
        "manifest_version": record.get("manifest_version", ""),
        "sha256": record["sha256"],
        "manifest_sha256": record["manifest_sha256"],
        "bytes": int(record["bytes"]),
        "items": int(record["items"]),
        "taken_at": record["taken_at"],
        "completed_at": record["completed_at"],
        "kept_until": _instant_text(kept_until),
    }


def _users(tenant_id: str, start: dict[str, Any] | None) -> tuple[dict[str, Any] | None, int]:
    """Delete the sign-in of a page of members from ``start``; where the next page starts (None:
    done), and how many there were."""
    page, after = repository.query(keys.members_pk(tenant_id), start, USERS_STEP)
    for member in page:
        email = member.get("email", {}).get("S")
        if email:
            tenants.delete_sign_in(email, member["sk"]["S"])
    return after, len(page)


def _key(item: dict[str, Any]) -> dict[str, Any]:
    return {"pk": item["pk"], "sk": item["sk"]}


def _remove(
    tenant_id: str,
    shapes: list[keys.TypeShape],
    mark: Mark,
    include: Callable[[keys.Partition], bool],
    spare: dict[str, str] | None,
) -> tuple[Mark, int, bool]:
    """Remove the company's items of the partitions ``include`` accepts from ``mark`` on, a step's
    worth (``spare``: the one item left, this job's own). Each record's group (the record, what it
    owns, an idempotency record's answer parts) is deleted owned-first, so a step cut short never
    leaves a part without the record that leads to it."""

    def answer_parts(family: str, item: dict[str, Any]) -> list[dict[str, Any]]:
        answer_id = (
            idempotency.answer_pointed_to(item.get("data", {}).get("S")) if family == "idempotency" else None
        )
        if not answer_id:
            return []
        return [_key(p) for p in repository.every_item(keys.idempotent_answer_pk(tenant_id, answer_id))]

    return archive.remove(
        tenant_id, shapes, mark, restorable_only=False, include=include, spare=spare, parts=answer_parts
    )


def _audit(tenant_id: str, start: dict[str, Any] | None) -> tuple[dict[str, Any] | None, int, bool]:
    """Remove the audit log from ``start`` on, a step's worth, each entry after the partitions its
    record owns; where the next step starts, how many items went, and whether the log is gone."""
    removed = 0
    done: set[tuple[str, str]] = set()
    while removed < archive.STEP_ITEMS:
        page, after = repository.query(keys.audit_pk(tenant_id), start)
        entries = []
        for entry in page:
            record = (entry.get("entity_type", {}).get("S", ""), entry.get("entity_id", {}).get("S", ""))
            if record[0] in keys.PARENT_TYPES and record not in done:
                done.add(record)
                removed += _remove_owned(tenant_id, *record)
            entries.append(_key(entry))
        repository.delete_keys(entries)
        removed += len(entries)
        if not after:
            return None, removed, True
        start = after
    return start, removed, False


def _remove_owned(tenant_id: str, entity_type: str, entity_id: str) -> int:
    """Remove every item of the partitions a record owns (gone or not); how many there were."""
    try:
        owned = keys.owned_by(tenant_id, entity_type, entity_id)
    except keys.InvalidKeyError:  # an entry naming no storable record owns nothing
        return 0
    removed = 0
    for partition in owned:
        doomed = [_key(i) for i in repository.every_item(partition.pk)]
        repository.delete_keys(doomed)
        removed += len(doomed)
    return removed


def _objects(tenant_id: str, final: dict[str, Any]) -> tuple[int, bool]:
    """Delete every version of the company's objects but the final backup's two, a step's worth
    (unfinished uploads aborted first); how many, and whether none is left."""
    prefix = keys.tenant_objects_prefix(tenant_id)
    keep = {final["object_key"], final["manifest_key"]}
    files.abort_uploads(prefix)
    removed = 0
    for _ in range(OBJECT_PAGES):
        versions, more = files.object_versions(prefix)
        doomed = [v for v in versions if v["key"] not in keep]
        files.remove_versions(doomed)
        removed += len(doomed)
        if not more or not doomed:  # a page of the kept two alone: nothing else is left
            return removed, True
    return removed, False


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{round(seconds / 60)} minutes"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _instant_text(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")

"""A company's backups: taken daily by the schedule (one job per company), on demand by its admins,
before each restore; listed, downloaded through a presigned URL, pruned by retention.

A backup is a record under the company's keys (``T#<tenant>#BACKUP``) and two S3 objects: the data
(gzip JSON Lines, KMS-encrypted, written by ``archive``) and its manifest (company, time, items per
family, bytes, SHA-256 of the data, schema and application version). The record keeps the
manifest's own SHA-256 and both objects' versions: a restore trusts the record, checks the manifest
against it and the data against the manifest.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.backups import archive, repository, retention
from chalicelib.backups.archive import Mark
from chalicelib.core import files, ids, keys, plans, ratelimit
from chalicelib.core.config import settings
from chalicelib.core.errors import ConflictError, NotFoundError
from chalicelib.core.store import Actor, ConditionFailed, Page, Store, audit_entry, delete, utcnow
from chalicelib.jobs import jobs
from chalicelib.jobs.jobs import JobFailed, Step
from chalicelib.tenants import published as tenants

DOWNLOAD_SECONDS = 3600  # a download link's life
FINAL_DOWNLOAD_DAYS = 30  # an offboarded company's final backup
FINAL_TAGS = "expires=30d"  # the bucket's lifecycle expires objects so tagged 30 days after they were made
PUBLIC = ("id", "kind", "state", "taken_at", "completed_at", "items", "bytes", "counts", "sha256", "job_id")


def _record(tenant_id: str, backup_id: str, kind: str, job_id: str, now: str) -> dict[str, Any]:
    return {
        **keys.backup(tenant_id, backup_id),
        "id": backup_id,
        "tenant_id": tenant_id,
        "kind": kind,
        "state": "running",
        "taken_at": now,
        "job_id": job_id,
        "object_key": keys.backup_object(tenant_id, backup_id),
        "manifest_key": keys.backup_manifest(tenant_id, backup_id),
    }


def begin(store: Store, tenant_id: str, kind: str, backup_id: str, job_id: str) -> dict[str, Any]:
    """The record of a backup a job takes itself (``pre_restore``, ``final``): made once, the same
    record answered to the job that made it when it asks again (its worker died before noting it)."""
    record = _record(tenant_id, backup_id, kind, job_id, utcnow())
    try:
        store.put_one(record, **repository.new_record())
    except ConditionFailed:
        found = get(store, tenant_id, backup_id)
        if found.get("job_id") != job_id:
            raise
        return found
    return record


def start(
    store: Store, actor: Actor, kind: str, backup_id: str | None = None, job_id: str | None = None
) -> dict[str, Any]:
    """A new backup (its record) and the job that takes it."""
    now = utcnow()
    backup_id, job_id = backup_id or ids.new_id("bkp"), job_id or ids.new_id("job")
    record = _record(actor.tenant_id, backup_id, kind, job_id, now)
    store.put_one(record, **repository.new_record())  # first: a second start of the same id stops here
    job = jobs.create(store, actor, "backup", {"backup_id": backup_id}, job_id=job_id)
    return {"backup": record, "job": job}


def scheduled(store: Store, tenant_id: str, day: date) -> bool:
    """The day's backup of a company, once: the schedule fired again the same day starts nothing
    (the day's ids are made from the day and the company). False when it was started before."""
    at_ms = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    seed = f"{tenant_id}|{day.isoformat()}"
    platform = Actor(tenant_id=tenant_id, user_id="platform", request_id=f"daily-backup-{day.isoformat()}")
    try:
        start(
            store,
            platform,
            "scheduled",
            f"bkp_{ids.ulid(at_ms, seed)}",
            f"job_{ids.ulid(at_ms, seed + '|job')}",
        )
    except ConditionFailed:
        return False
    return True


def on_demand(store: Store, actor: Actor) -> dict[str, Any]:
    """A backup an admin asked for (a few an hour: a 429 past the company's limit)."""
    limit = settings().backup_limit_per_hour
    ratelimit.hit_company(store, actor.tenant_id, "backup", limit, 3600, "backups asked for")
    return start(store, actor, "on_demand")


def get(store: Store, tenant_id: str, backup_id: str) -> dict[str, Any]:
    item = store.get(keys.backup(tenant_id, backup_id), consistent=True)
    if item is None:
        raise NotFoundError(f"No backup {backup_id}.")
    return item


def list_page(store: Store, tenant_id: str, *, limit: int, cursor: str | None) -> Page:
    return store.query_page(
        tenant_id=tenant_id,
        partition=keys.backups_pk(tenant_id),
        limit=limit,
        cursor=cursor,
        newest_first=True,
        query_id="backups",
    )


def public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in PUBLIC if k in item}


def download_url(store: Store, tenant_id: str, backup_id: str) -> dict[str, Any]:
    item = get(store, tenant_id, backup_id)
    if item["state"] != "complete":
        raise ConflictError(f"Backup {backup_id} is {item['state']}: it can be downloaded once complete.")
    return links(item, DOWNLOAD_SECONDS)


def links(item: dict[str, Any], seconds: int) -> dict[str, Any]:
    """Presigned links, ``seconds`` long, to a complete backup's data and manifest (the versions its
    record names)."""
    return {
        "url": files.download_url(
            item["object_key"], f"{item['id']}.jsonl.gz", seconds, item.get("object_version", "")
        ),
        "manifest_url": files.download_url(
            item["manifest_key"], f"{item['id']}.manifest.json", seconds, item.get("manifest_version", "")
        ),
        "expires_in": seconds,
        "sha256": item["sha256"],
        "bytes": item["bytes"],
    }


# ---- the job's steps --------------------------------------------------------------------------------
def backup_step(store: Store, job: dict[str, Any], shapes: list[keys.TypeShape]) -> Step:
    """One step of a backup job: a part of the walk, or the manifest at the end."""
    tenant_id, backup_id = job["tenant_id"], job["params"]["backup_id"]
    if tenants.restoring(store, tenant_id):  # half restored: wait (the restore takes its own first)
        return Step(
            job["cursor"], int(job.get("done", 0)), 0, phase="waiting for a restore", delay_seconds=60
        )
    cursor, finished = take(store, tenant_id, backup_id, job["cursor"], shapes)
    done = int(cursor.get("items", 0))
    if not finished:
        return Step(cursor, done, max(done, int(job.get("total", 0))), phase="reading the company's items")
    record = store.get(keys.backup(tenant_id, backup_id), consistent=True) or {}
    if record.get("kind") in ("scheduled", "on_demand"):
        prune(store, tenant_id, plan_retention(store, tenant_id))
    return Step(cursor, done, done, result={"backup_id": backup_id, **public(record)})


def take(
    store: Store,
    tenant_id: str,
    backup_id: str,
    cursor: dict[str, Any],
    shapes: list[keys.TypeShape],
    *,
    tags: str = "",
) -> tuple[dict[str, Any], bool]:
    """Take a backup one step further from ``cursor``; the next cursor, and whether it is complete.
    ``tags``: the data's and the manifest's S3 tags (a final backup's ``FINAL_TAGS``)."""
    c: dict[str, Any] = {"stage": "walk", "parts": [], "index": 0, "last": None, "counts": {}, "items": 0}
    c.update(cursor)
    object_key = keys.backup_object(tenant_id, backup_id)
    if c["stage"] == "walk":
        try:
            if not _walk(tenant_id, object_key, c, shapes, tags):
                return c, False
        except files.UploadGone:  # completed by a step whose worker died before it was recorded
            return {}, False  # the next step starts the backup again
    if c["stage"] == "seal":
        _seal(store, tenant_id, backup_id, c, tags)
        c["stage"] = "complete"
    return c, True


def _walk(
    tenant_id: str, object_key: str, c: dict[str, Any], shapes: list[keys.TypeShape], tags: str = ""
) -> bool:
    """Items from the cursor's mark on, a step's worth, into parts (``c`` updated); whether the walk
    reached the end (and the upload is complete)."""
    if not c.get("upload_id"):
        c["upload_id"] = files.start_upload(object_key, tags)
    else:  # a step ran before: its upload may have been completed by a step that died unrecorded
        files.still_open(object_key, c["upload_id"])
    carried = files.open_object(c["spill"]) if c.get("spill") else None
    part = archive.PartFile(carried)
    parts, counts, items = list(c["parts"]), dict(c["counts"]), int(c["items"])
    mark, read, finished = Mark(c["index"], c["last"]), 0, True
    try:
        for entry in archive.walk(tenant_id, shapes, mark, restorable_only=True):
            if isinstance(entry, Mark):
                mark = entry
                if part.size() >= archive.PART_BYTES:
                    parts.append(_upload(object_key, c["upload_id"], len(parts) + 1, part))
                    part = archive.PartFile()
                if read >= archive.STEP_ITEMS:
                    finished = False
                    break
                continue
            family, item = entry
            part.write(archive.line(family, item))
            counts[family] = counts.get(family, 0) + 1
            read += 1
            items += 1
        spill = None
        if finished:
            part.write(b"")  # an empty company still makes a (valid, empty) gzip stream
            parts.append(_upload(object_key, c["upload_id"], len(parts) + 1, part))
            version = files.complete_upload(object_key, c["upload_id"], parts)
            c.update(stage="seal", object_version=version)
        elif part.size() >= archive.MIN_PART_BYTES:
            parts.append(_upload(object_key, c["upload_id"], len(parts) + 1, part))
        else:  # too small for a part: kept aside, the next step goes on writing it
            spill = f"{object_key}.spill-{items}"
            files.put_object(spill, part.seal().read(), "application/gzip")
    finally:
        part.close()
    c.update(parts=parts, counts=counts, items=items, index=mark.index, last=mark.last, spill=spill)
    return finished


def _upload(key: str, upload_id: str, number: int, part: archive.PartFile) -> dict[str, Any]:
    return {"n": number, "etag": files.upload_part(key, upload_id, number, part.seal())}


def _seal(store: Store, tenant_id: str, backup_id: str, c: dict[str, Any], tags: str = "") -> None:
    """The manifest beside the data, and the record completed with the manifest's checksum."""
    record = store.get(keys.backup(tenant_id, backup_id), consistent=True)
    if record is None:
        raise JobFailed(f"The record of backup {backup_id} is gone.")
    digest, size = archive.checksum(record["object_key"], c.get("object_version", ""))
    completed = utcnow()
    manifest = {
        "format": archive.FORMAT,
        "tenant_id": tenant_id,
        "backup_id": backup_id,
        "taken_at": record["taken_at"],
        "completed_at": completed,
        "schema_version": archive.SCHEMA_VERSION,
        "app_version": settings().app_version,
        "items": c["items"],
        "counts": dict(sorted(c["counts"].items())),
        "bytes": size,
        "sha256": digest,
        "object": record["object_key"],
        "encoding": "gzip JSON Lines: {family, item}, the item in DynamoDB's typed JSON",
    }
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    manifest_version = files.put_object(record["manifest_key"], body, "application/json", tags)
    store.update(
        **repository.backup_done(
            tenant_id,
            backup_id,
            {
                "state": "complete",
                "completed_at": completed,
                "items": c["items"],
                "counts": manifest["counts"],
                "bytes": size,
                "sha256": digest,
                "manifest_sha256": hashlib.sha256(body).hexdigest(),
                "object_version": c.get("object_version", ""),
                "manifest_version": manifest_version,
            },
        )
    )


# ---- retention --------------------------------------------------------------------------------------
def plan_retention(store: Store, tenant_id: str) -> retention.Policy:
    """What the company's plan keeps (core/plans.json); the default for a company with no profile."""
    try:
        plan = plans.get(str(tenants.profile(store, tenant_id).get("plan")))
    except (KeyError, NotFoundError):
        return retention.DEFAULT
    return retention.Policy(plan.retention.daily, plan.retention.weekly, plan.retention.monthly)


def prune(store: Store, tenant_id: str, policy: retention.Policy = retention.DEFAULT) -> list[str]:
    """Remove the backups retention does not keep (their objects, their records marked pruned); an
    offboarded company's final backup and unfinished ones are never pruned here."""
    records = [
        r
        for r in store.query_all(partition=keys.backups_pk(tenant_id))
        if r.get("state") == "complete" and r.get("kind") != "final"
    ]
    keep = retention.kept(((r["id"], _instant(r["taken_at"])) for r in records), policy)
    pruned = []
    for record in records:
        if record["id"] in keep:
            continue
        files.remove_object(record["object_key"])
        files.remove_object(record["manifest_key"])
        store.transact([delete(keys.backup(tenant_id, record["id"]))])
        pruned.append(record["id"])
    return pruned


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def audit(actor: Actor, action: str, backup_id: str, detail: dict[str, Any]) -> dict[str, Any]:
    return audit_entry(actor, action, "backup", backup_id, None, detail)

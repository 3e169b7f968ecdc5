"""Per-company backups and restore, run as jobs: the round trip, refusals, a worker killed half-way,
retention, and that nothing scans the table."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.conftest import a_customer, a_tenant, a_user, login
from tests.test_handoff import an_order, queue_urls, settle
from tests.test_import_export import csv_bytes, good_row, import_csv
from tests.test_stock import a_product, a_warehouse, receive

KEPT = {
    "USER",
    "AUDIT",
    "IDEMPOTENCY",
    "OUTBOX",
    "DEADLETTER",
    "RECONCILIATION",
    "JOB",
    "BACKUP",
    "RATE",
    "HANDOFF",
}


# ---- helpers -----------------------------------------------------------------------------------------
@pytest.fixture
def pump(aws):
    from app import app
    from infra.pump import Pump

    return Pump(app, aws.region, queue_urls=queue_urls(aws))


def run_jobs(aws, at_most: int = 500) -> list[str]:
    """Deliver the jobs queue's messages to the worker until it is empty, as Lambda would: a step
    that raises (its worker died) leaves its message, which comes back (at once here, after the
    visibility timeout in AWS). The outcome of each delivery."""
    from chalicelib.api import workers
    from chalicelib.tenants.access import CACHE

    sqs = boto3.client("sqs", region_name=aws.region)
    outcomes = []
    for _ in range(at_most):
        got = sqs.receive_message(QueueUrl=aws.jobs_queue_url, MaxNumberOfMessages=1, AttributeNames=["All"])
        if not got.get("Messages"):
            CACHE.clear()  # the principals cached meanwhile (a restoring company's): their 30 s are over
            return outcomes
        message = got["Messages"][0]
        body = json.loads(message["Body"])
        count = int(message["Attributes"].get("ApproximateReceiveCount", "1"))
        try:
            outcomes.append(workers.run_step(body["tenant_id"], body["job_id"], count))
        except Died:
            outcomes.append("died")
            sqs.change_message_visibility(
                QueueUrl=aws.jobs_queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
            continue
        sqs.delete_message(QueueUrl=aws.jobs_queue_url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("the jobs did not finish")


class Died(Exception):
    """A worker killed in the middle of a step (raised by a test's fault)."""


def dies_once(monkeypatch, module, name: str, after: int) -> list[int]:
    """``module.name`` raises Died on its ``after``-th call, once; the calls made are counted."""
    real = getattr(module, name)
    calls = [0]

    def faulty(*args, **kwargs):
        calls[0] += 1
        if calls[0] == after:
            raise Died(f"killed in {name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, faulty)
    return calls


def company_items(aws, tenant_id: str) -> list[dict[str, Any]]:
    """Every item of the company, typed, by Scan (a test may scan; the product never does)."""
    client = boto3.client("dynamodb", region_name=aws.region)
    prefix = f"T#{tenant_id}#"
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=aws.table_name):
        items.extend(i for i in page["Items"] if i["pk"]["S"].startswith(prefix))
    return items


def kept(item: dict[str, Any], tenant_id: str) -> bool:
    """What a restore keeps as it is (docs/operations.md), judged from the key alone."""
    segments = item["pk"]["S"][len(f"T#{tenant_id}#") :].split("#")
    if segments[0] in KEPT or segments[:2] == ["UNIQUE", "USER"]:
        return True
    return segments == ["TENANT"] and item["sk"]["S"] in ("PROFILE", "ROLES")


def canonical(items) -> list[str]:
    return sorted(json.dumps(i, sort_keys=True, ensure_ascii=False) for i in items)


def records(aws, tenant_id: str) -> list[str]:
    """The company's records and settings (what a backup holds), as a canonical dump."""
    return canonical(i for i in company_items(aws, tenant_id) if not kept(i, tenant_id))


def backup_lines(aws, record: dict[str, Any]) -> list[dict[str, Any]]:
    s3 = boto3.client("s3", region_name=aws.region)
    body = s3.get_object(Bucket=aws.backup_bucket, Key=record["object_key"])["Body"].read()
    return [json.loads(line) for line in gzip.decompress(body).splitlines()]


def stored_record(tenant_id: str, backup_id: str) -> dict[str, Any]:
    from chalicelib.core import keys
    from chalicelib.core.store import Store

    record = Store().get(keys.backup(tenant_id, backup_id), consistent=True)
    assert record is not None
    return record


def take_backup(api, aws, tenant) -> dict[str, Any]:
    r = api.post("/admin/backups", tenant.token)
    assert r.status == 202, r.body
    assert r.headers["location"] == f"/jobs/{r.json['job']['id']}"
    run_jobs(aws)
    job = api.get(r.headers["location"], tenant.token).json
    assert job["state"] == "succeeded", job
    backup = api.get(f"/admin/backups/{r.json['backup']['id']}", tenant.token).json
    assert backup["state"] == "complete"
    return backup


# ---- a small company's backup ------------------------------------------------------------------------
def test_a_backup_holds_exactly_the_company_records_and_its_manifest_says_so(api, aws, tenant):
    other = a_tenant(api, "Other Co")
    a_customer(api, other, name="Not mine")
    for n in range(3):
        a_customer(api, tenant, name=f"客户 {n} 😀", code=f"C{n}")
    backup = take_backup(api, aws, tenant)

    record = stored_record(tenant.id, backup["id"])
    lines = backup_lines(aws, record)
    assert canonical(line["item"] for line in lines) == records(aws, tenant.id)
    assert all(line["item"]["pk"]["S"].startswith(f"T#{tenant.id}#") for line in lines)
    s3 = boto3.client("s3", region_name=aws.region)
    manifest = json.loads(s3.get_object(Bucket=aws.backup_bucket, Key=record["manifest_key"])["Body"].read())
    assert manifest["tenant_id"] == tenant.id and manifest["items"] == len(lines) == backup["items"]
    assert manifest["counts"]["customer"] == 3 and manifest["counts"]["unique.customer.code"] == 3
    assert sum(manifest["counts"].values()) == len(lines)
    head = s3.head_object(Bucket=aws.backup_bucket, Key=record["object_key"])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"].endswith(aws.data_key_id)

    link = api.get(f"/admin/backups/{backup['id']}/download", tenant.token)
    assert link.status == 200 and link.json["sha256"] == manifest["sha256"]


def test_backups_and_jobs_are_the_company_own(api, aws, tenant):
    backup = take_backup(api, aws, tenant)
    other = a_tenant(api, "Other Co")
    for path in (
        f"/admin/backups/{backup['id']}",
        f"/admin/backups/{backup['id']}/download",
        f"/jobs/{backup['job_id']}",
    ):
        r = api.get(path, other.token)
        assert r.status == 404 and backup["taken_at"] not in r.body.decode(), path
        assert "sha256" not in r.json and "progress" not in r.json
    restore = api.post(
        f"/admin/backups/{backup['id']}/restore",
        other.token,
        {"confirm_backup_id": backup["id"], "confirm_taken_at": backup["taken_at"]},
    )
    assert restore.status == 404
    assert api.get("/admin/backups", other.token).json["items"] == []
    assert api.get("/jobs", other.token).json["items"] == []


# ---- restore -----------------------------------------------------------------------------------------
def restore(api, tenant, backup, token=None):
    return api.post(
        f"/admin/backups/{backup['id']}/restore",
        token or tenant.token,
        {"confirm_backup_id": backup["id"], "confirm_taken_at": backup["taken_at"]},
    )


def a_busy_company(api, tenant) -> None:
    """Every record type (the isolation tests' targets: CRM, ERP, receivables, a backup) and 2,400
    imported customers: well over 10,000 items."""
    from tests.routes import fresh_targets

    fresh_targets(api, tenant)
    for start in (0, 1200):  # a request writes at most 2,000 rows
        rows = [good_row(n) for n in range(start, start + 1200)]
        assert import_csv(api, tenant.token, csv_bytes(rows, "utf-8")).json["created"] == 1200


def test_a_round_trip_restores_the_company_exactly_and_leaves_others_untouched(api, aws, pump):
    tenant = a_tenant(api, "Round Trip Co")
    other = a_tenant(api, "Bystander Co")
    a_customer(api, other, name="Bystander customer")
    a_busy_company(api, tenant)
    assert len(company_items(aws, tenant.id)) >= 10_000
    bystander = canonical(company_items(aws, other.id))

    backup = take_backup(api, aws, tenant)
    saved = canonical(line["item"] for line in backup_lines(aws, stored_record(tenant.id, backup["id"])))
    assert saved == records(aws, tenant.id)
    families = {line["family"] for line in backup_lines(aws, stored_record(tenant.id, backup["id"]))}
    for family in (
        "customer",
        "contact",
        "activity",
        "quote",
        "order",
        "lead",
        "opportunity",
        "ticket",
        "product",
        "supplier",
        "warehouse",
        "stock",
        "movement",
        "reservation",
        "shipment",
        "purchase_order",
        "work_centre",
        "capacity",
        "bom",
        "production_order",
        "invoice",
        "payment",
        "timeline",
        "settings",
    ):
        assert family in families, family

    # The world moves on: changes, deletions, new records.
    customers = api.get("/crm/customers?limit=5", tenant.token).json["items"]
    api.patch(f"/crm/customers/{customers[0]['id']}", tenant.token, {"tags": ["changed"]})
    assert api.delete(f"/crm/customers/{customers[1]['id']}", tenant.token).status in (200, 204)
    a_customer(api, tenant, name="Born after the backup")
    a_product(api, tenant, "AFTER")
    api.put("/crm/sla", tenant.token, {"hours": {"urgent": 1}})
    assert records(aws, tenant.id) != saved

    started = restore(api, tenant, backup)
    assert started.status == 202, started.body
    run_jobs(aws)
    job = api.get(started.headers["location"], tenant.token).json
    assert job["state"] == "succeeded", job
    assert job["result"]["restored_items"] == len(saved)
    assert records(aws, tenant.id) == saved
    assert canonical(company_items(aws, other.id)) == bystander

    # A fresh backup was taken first, and the audit log names the restore.
    listed = api.get("/admin/backups", tenant.token).json["items"]
    assert [b["kind"] for b in listed if b["id"] == job["result"]["safety_backup_id"]] == ["pre_restore"]
    entries = api.get("/admin/audit?entity_type=backup", tenant.token).json["items"]
    assert any(e["action"] == "restore" and e["entity_id"] == backup["id"] for e in entries)

    # The restored company works: log in, read, confirm an order through the handoff.
    token = login(api, tenant.owner_email)
    assert api.get(f"/crm/customers/{customers[1]['id']}", token).status == 200  # deleted after: back
    warehouse = a_warehouse(api, tenant, "RT", is_default=True)
    tea = a_product(api, tenant, "RT-TEA", list_price="20")
    receive(api, tenant, tea["id"], warehouse["id"], 5)
    order = an_order(api, tenant, customers[2]["id"], [("RT-TEA", 2)])
    assert api.post(f"/crm/orders/{order['id']}/confirm", token).status == 200
    settle(pump)
    assert api.get(f"/crm/orders/{order['id']}", token).json["status"] == "reserved"


def test_a_restore_needs_the_owner_and_names_the_backup_and_its_time(api, aws, tenant):
    a_customer(api, tenant)
    backup = take_backup(api, aws, tenant)
    _, admin = a_user(api, tenant, ["admin"])
    refused = restore(api, tenant, backup, admin)
    assert refused.status == 403 and refused.json["permission"] == "tenant.data:restore"
    wrong = api.post(
        f"/admin/backups/{backup['id']}/restore",
        tenant.token,
        {"confirm_backup_id": backup["id"], "confirm_taken_at": "2020-01-01T00:00:00Z"},
    )
    assert wrong.status == 422
    assert [e["loc"] for e in wrong.json["errors"]] == [["body", "confirm_taken_at"]]
    assert backup["taken_at"] in wrong.json["detail"]
    assert api.get("/jobs?kind=restore", tenant.token).json["items"] == []


def _stored_key(aws, key: str, version: str):
    """moto's stored object of that key and version (the bytes a disk holds)."""
    from moto.s3.models import s3_backends

    bucket = s3_backends["123456789012"]["global"].buckets[aws.backup_bucket]
    return next(k for k in bucket.keys.getlist(key) if k.version_id == version)


@pytest.mark.parametrize("damage", ["truncated data", "altered data", "altered manifest"])
def test_a_damaged_backup_is_refused_before_anything_changes(api, aws, tenant, damage):
    for n in range(30):
        a_customer(api, tenant, name=f"Kept {n}")
    backup = take_backup(api, aws, tenant)
    record = stored_record(tenant.id, backup["id"])
    a_customer(api, tenant, name="After the backup")
    before = records(aws, tenant.id)
    if damage == "altered manifest":
        stored = _stored_key(aws, record["manifest_key"], record["manifest_version"])
        manifest = json.loads(stored.value)
        manifest["counts"]["customer"] += 1
        stored.value = json.dumps(manifest, indent=2, sort_keys=True).encode()
    else:
        stored = _stored_key(aws, record["object_key"], record["object_version"])
        data = stored.value
        stored.value = (
            data[: len(data) // 2]
            if damage == "truncated data"
            else data[:-9] + bytes(b ^ 1 for b in data[-9:])
        )

    started = restore(api, tenant, backup)
    assert started.status == 202
    run_jobs(aws)
    job = api.get(started.headers["location"], tenant.token).json
    assert job["state"] == "failed"
    expected = {"truncated data": "truncated", "altered data": "altered", "altered manifest": "manifest"}
    assert expected[damage] in job["error"] and "nothing was changed" in job["error"]
    assert records(aws, tenant.id) == before
    assert (
        api.post("/crm/customers", tenant.token, {"name": "Still writable", "kind": "company"}).status == 201
    )


def test_a_worker_killed_half_way_through_a_backup_or_a_restore_finishes_right(api, aws, tenant, monkeypatch):
    from chalicelib.backups import repository

    rows = [good_row(n) for n in range(400)]
    import_csv(api, tenant.token, csv_bytes(rows, "utf-8"))
    queries = dies_once(monkeypatch, repository, "query", after=40)
    backup = take_backup(api, aws, tenant)
    assert queries[0] > 40  # it died once, and went on
    saved = canonical(line["item"] for line in backup_lines(aws, stored_record(tenant.id, backup["id"])))
    assert saved == records(aws, tenant.id)

    for n in range(20):
        a_customer(api, tenant, name=f"After {n}")
    writes = dies_once(monkeypatch, repository, "put_items", after=3)
    started = restore(api, tenant, backup)
    outcomes = run_jobs(aws)
    assert "died" in outcomes and writes[0] > 3
    job = api.get(started.headers["location"], tenant.token).json
    assert job["state"] == "succeeded", job
    assert records(aws, tenant.id) == saved


def test_a_worker_killed_after_its_upload_completed_starts_the_backup_again(api, aws, tenant, monkeypatch):
    from chalicelib.backups import archive
    from chalicelib.core import files
    from chalicelib.jobs import jobs

    for n in range(5):
        a_customer(api, tenant, name=f"Early {n}")
    monkeypatch.setattr(archive, "STEP_ITEMS", 4)  # several steps, each leaving its rest aside
    real_advance, died, gone = jobs.advance, [], []

    def advance(store, job, step):
        if step.cursor.get("stage") == "complete" and not died:  # uploaded and sealed, not recorded
            died.append(1)
            raise Died("killed after completing the upload")
        return real_advance(store, job, step)

    real_check = files.still_open

    def still_open(*args, **kwargs):
        try:
            return real_check(*args, **kwargs)
        except files.UploadGone:
            gone.append(1)
            raise

    monkeypatch.setattr(jobs, "advance", advance)
    monkeypatch.setattr(files, "still_open", still_open)
    backup = take_backup(api, aws, tenant)
    assert died and gone  # the step came back, found its upload complete, and began again
    saved = canonical(line["item"] for line in backup_lines(aws, stored_record(tenant.id, backup["id"])))
    assert saved == records(aws, tenant.id)


def test_backup_and_restore_never_scan(api, aws, tenant):
    from chalicelib.core import aws as clients

    a_customer(api, tenant)
    scans = []

    def refuse(**kwargs):
        scans.append(kwargs.get("params", {}).get("TableName"))
        raise AssertionError("a Scan")

    clients.observe("before-call.dynamodb.Scan", refuse)
    try:
        backup = take_backup(api, aws, tenant)
        started = restore(api, tenant, backup)
        run_jobs(aws)
    finally:
        clients.unobserve("before-call.dynamodb.Scan", refuse)
    assert api.get(started.headers["location"], tenant.token).json["state"] == "succeeded"
    assert scans == []


# ---- retention -----------------------------------------------------------------------------------------
def test_retention_over_a_year_keeps_exactly_7_days_4_weeks_and_12_months(api, aws, tenant):
    from chalicelib.backups import backups
    from chalicelib.core import files, keys
    from chalicelib.core.store import Store

    store = Store()
    day = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    made = {}
    for n in range(365):
        at = day + timedelta(days=n)
        backup_id = f"bkp_{n:026d}"
        record = {
            **keys.backup(tenant.id, backup_id),
            "id": backup_id,
            "tenant_id": tenant.id,
            "kind": "scheduled",
            "state": "complete",
            "taken_at": at.isoformat().replace("+00:00", "Z"),
            "job_id": "job_x",
            "object_key": keys.backup_object(tenant.id, backup_id),
            "manifest_key": keys.backup_manifest(tenant.id, backup_id),
        }
        store.put_one(record)
        files.put_object(record["object_key"], b"data", "application/gzip")
        files.put_object(record["manifest_key"], b"{}", "application/json")
        made[backup_id] = at.date()
        backups.prune(store, tenant.id)
    left = {made[r["id"]] for r in store.query_all(partition=keys.backups_pk(tenant.id))}
    d = lambda m, n: datetime(2026, m, n).date()  # noqa: E731
    daily = {d(12, n) for n in range(25, 32)}
    weekly = {d(12, 13), d(12, 20), d(12, 27), d(12, 31)}  # ISO weeks 50 to 53
    monthly = {
        d(1, 31),
        d(2, 28),
        d(3, 31),
        d(4, 30),
        d(5, 31),
        d(6, 30),
        d(7, 31),
        d(8, 31),
        d(9, 30),
        d(10, 31),
        d(11, 30),
        d(12, 31),
    }
    assert left == daily | weekly | monthly
    assert len(left) == 20
    s3 = boto3.client("s3", region_name=aws.region)
    names = {
        o["Key"]
        for p in s3.get_paginator("list_objects_v2").paginate(
            Bucket=aws.backup_bucket, Prefix=f"tenants/{tenant.id}/backups/"
        )
        for o in p.get("Contents", [])
    }
    assert len(names) == 2 * 20

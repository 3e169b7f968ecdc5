"""Closing a company (offboarding, DELETE /tenants/me): a dry run that counts, the confirmation, the
owner alone, a final backup downloadable through the job's link, then nothing of the company left
under its keys, in Cognito or in the bucket but its final backup and its registry entry (closed); a
worker killed half-way; another company untouched."""

from __future__ import annotations

import dataclasses
import gzip
import json
import time
import urllib.parse
import urllib.request
from typing import Any

import boto3
import pytest

from tests.conftest import PASSWORD, a_customer, a_tenant, a_user
from tests.routes import fresh_targets
from tests.test_backups import (
    canonical,
    company_items,
    dies_once,
    records,
    restore,
    run_jobs,
    take_backup,
)
from tests.test_handoff import an_order, queue_urls, settle
from tests.test_import_export import csv_bytes, good_row, import_csv
from tests.test_stock import a_product, a_warehouse, receive

NAME = "Closing Trading 关门 Ltd"


@pytest.fixture
def pump(aws):
    from app import app
    from infra.pump import Pump

    return Pump(app, aws.region, queue_urls=queue_urls(aws))


def close(api, tenant, name: str | None = NAME, *, dry_run: bool = False, token: str | None = None):
    query = {}
    if name is not None:
        query["confirm_company_name"] = name
    if dry_run:
        query["dry_run"] = "true"
    return api.delete(f"/tenants/me?{urllib.parse.urlencode(query)}", token or tenant.token)


def scan_pk(aws, pk: str) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name=aws.region)
    return client.query(
        TableName=aws.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )["Items"]


def objects(aws, tenant_id: str) -> list[tuple[str, str]]:
    """Every version and delete marker under the company's prefix in the bucket."""
    s3 = boto3.client("s3", region_name=aws.region)
    answer = s3.list_object_versions(Bucket=aws.backup_bucket, Prefix=f"tenants/{tenant_id}/")
    return sorted(
        (v["Key"], v["VersionId"]) for k in ("Versions", "DeleteMarkers") for v in answer.get(k, [])
    )


def pool_users(aws, tenant_id: str) -> list[str]:
    """The Cognito users of the company (by their tenant attribute), from the whole pool."""
    idp = boto3.client("cognito-idp", region_name=aws.region)
    found = []
    for page in idp.get_paginator("list_users").paginate(UserPoolId=aws.user_pool_id):
        for user in page["Users"]:
            attributes = {a["Name"]: a["Value"] for a in user["Attributes"]}
            if attributes.get("custom:tenant_id") == tenant_id:
                found.append(user["Username"])
    return found


def registry_entry(tenant_id: str) -> dict[str, Any] | None:
    from chalicelib.core import keys
    from chalicelib.core.store import Store

    return Store().get(keys.tenant_registry(tenant_id), consistent=True)


def a_company_to_close(api, aws, pump, monkeypatch) -> Any:
    """A company with records of every type (the isolation targets: CRM, ERP, a second user, a
    role, a backup and its job, a reconciliation report), an order handed over to the ERP, and the
    leftovers only the audit log leads to: a customer deleted long ago (its tombstone expired, its
    timeline still there), an order made after a backup and removed by a restore (its handoff trail
    kept); and an idempotent answer kept in parts."""
    from chalicelib.core import idempotency

    tenant = a_tenant(api, NAME)
    targets = fresh_targets(api, tenant)
    warehouse = a_warehouse(api, tenant, "OFF", is_default=True)
    tea = a_product(api, tenant, "OFF-TEA", list_price="20")
    receive(api, tenant, tea["id"], warehouse["id"], 10)
    handed = an_order(api, tenant, targets.customer_id, [("OFF-TEA", 2)])
    assert api.post(f"/crm/orders/{handed['id']}/confirm", tenant.token).status == 200
    settle(pump)
    assert api.get(f"/crm/orders/{handed['id']}", tenant.token).json["status"] == "reserved"

    # A customer deleted long ago: its tombstone gone (as TTL removes it), its timeline left behind.
    gone = a_customer(api, tenant, name="Long Gone Co")
    api.post("/crm/activities", tenant.token, {"kind": "call", "customer_id": gone["id"], "subject": "Hello"})
    assert api.delete(f"/crm/customers/{gone['id']}", tenant.token).status in (200, 204)
    client = boto3.client("dynamodb", region_name=aws.region)
    client.delete_item(
        TableName=aws.table_name,
        Key={"pk": {"S": f"T#{tenant.id}#CUSTOMER#DELETED"}, "sk": {"S": gone["id"]}},
    )
    assert scan_pk(aws, f"T#{tenant.id}#TIMELINE#{gone['id']}")

    # An order made after a backup and removed by restoring it: its handoff trail stays.
    backup = take_backup(api, aws, tenant)
    late = an_order(api, tenant, targets.customer_id, [("OFF-TEA", 1)])
    assert api.post(f"/crm/orders/{late['id']}/confirm", tenant.token).status == 200
    settle(pump)
    assert restore(api, tenant, backup).status == 202
    run_jobs(aws)
    assert api.get(f"/crm/orders/{late['id']}", tenant.token).status == 404
    assert scan_pk(aws, f"T#{tenant.id}#HANDOFF#{late['id']}")

    # An answer kept in parts beside its Idempotency-Key record.
    monkeypatch.setattr(idempotency, "INLINE_LIMIT", 10)
    kept = api.post(
        "/crm/customers",
        tenant.token,
        {"name": "Keyed Co", "kind": "company"},
        headers={"Idempotency-Key": "k1"},
    )
    assert kept.status == 201
    monkeypatch.undo()
    assert any("#IDEMPOTENCY#ANSWER#" in i["pk"]["S"] for i in company_items(aws, tenant.id))
    return tenant, f"T#{tenant.id}#TIMELINE#{gone['id']}"


def with_grace(monkeypatch, seconds: int) -> None:
    from chalicelib.backups import offboard
    from chalicelib.core.config import settings

    real = settings()
    monkeypatch.setattr(
        offboard, "settings", lambda: dataclasses.replace(real, offboard_grace_seconds=seconds)
    )


def download(url: str) -> bytes:
    with urllib.request.urlopen(url) as reply:  # the presigned URL, on the local moto server
        return bytes(reply.read())


# ---- refusals --------------------------------------------------------------------------------------
def test_a_dry_run_counts_what_would_go_and_changes_nothing(api, aws):
    tenant = a_tenant(api, NAME)
    a_user(api, tenant, ["sales"])
    for n in range(3):
        a_customer(api, tenant, code=f"DRY-{n}")
    before = canonical(company_items(aws, tenant.id))

    r = close(api, tenant, None, dry_run=True)
    assert r.status == 200, r.body
    preview = r.json["preview"]
    assert r.json["dry_run"] is True and r.json["job"] is None
    assert "final backup" in r.json["detail"] and NAME in r.json["detail"]
    assert preview["company_name"] == NAME and preview["complete"] is True
    assert preview["items"] == len(before) == sum(preview["counts"].values())
    assert preview["counts"]["customer"] == 3 and preview["counts"]["unique.customer.code"] == 3
    assert preview["users"] == 2 and preview["counts"]["users"] == 2
    assert any("registry" in k for k in preview["kept"])
    assert close(api, tenant, dry_run=True).status == 200  # the right name may be given too

    assert canonical(company_items(aws, tenant.id)) == before
    assert api.get("/jobs?kind=offboard", tenant.token).json["items"] == []


def test_closing_needs_the_company_named_exactly(api, aws):
    tenant = a_tenant(api, NAME)
    a_customer(api, tenant)
    before = canonical(company_items(aws, tenant.id))
    for wrong in (None, "Closing Trading", NAME.lower(), NAME + " "):
        r = close(api, tenant, wrong)
        assert r.status == 422, (wrong, r.body)
        assert [e["loc"] for e in r.json["errors"]] == [["query", "confirm_company_name"]]
        assert "final backup" in r.json["detail"] and "removes every record" in r.json["detail"]
    assert close(api, tenant, "Someone Else", dry_run=True).status == 422
    assert canonical(company_items(aws, tenant.id)) == before
    assert api.get("/jobs?kind=offboard", tenant.token).json["items"] == []


def test_only_an_owner_closes_the_company(api, aws):
    tenant = a_tenant(api, NAME)
    _, admin = a_user(api, tenant, ["admin"])
    before = canonical(company_items(aws, tenant.id))
    for dry_run in (False, True):
        refused = close(api, tenant, dry_run=dry_run, token=admin)
        assert refused.status == 403 and refused.json["permission"] == "tenant.company:close"
    assert canonical(company_items(aws, tenant.id)) == before


def test_another_company_cannot_close_this_one(api, aws):
    alpha = a_tenant(api, NAME)
    a_customer(api, alpha)
    beta = a_tenant(api, "Beta Closing Co")
    before = canonical(company_items(aws, alpha.id))
    # There is no company id in the path: beta can only name alpha, and that is not beta's name.
    refused = close(api, beta, NAME, token=beta.token)
    assert refused.status == 422
    assert NAME not in refused.body.decode()
    assert canonical(company_items(aws, alpha.id)) == before
    assert registry_entry(alpha.id).get("state") is None


# ---- the real thing -----------------------------------------------------------------------------------
def test_closing_a_company_leaves_its_final_backup_and_nothing_else(api, aws, pump, monkeypatch):
    from chalicelib.api import workers
    from chalicelib.core.store import Store
    from chalicelib.crm import reconciliation

    tenant, orphan_timeline = a_company_to_close(api, aws, pump, monkeypatch)
    bystander = a_tenant(api, "Bystander Trading")
    a_customer(api, bystander, name="Bystander customer")
    untouched = canonical(company_items(aws, bystander.id))
    # What a backup holds: the company's records and settings; not the timeline of a customer whose
    # tombstone expired (a backup reaches a timeline through its customer).
    saved = [i for i in records(aws, tenant.id) if orphan_timeline not in i]
    users = pool_users(aws, tenant.id)
    assert len(users) >= 2

    with_grace(monkeypatch, 2)
    started = close(api, tenant)
    assert started.status == 202, started.body
    job_url = started.headers["location"]
    assert started.json["job"]["kind"] == "offboard" and job_url == started.json["job"]["url"]
    run_jobs(aws)  # up to the grace period: the next step waits in the queue

    # The final backup's links are on the job; the company takes no changes, reads still answer.
    job = api.get(job_url, tenant.token).json
    assert job["state"] == "running" and job["phase"] == "waiting for the final backup to be downloaded"
    final = job["result"]["final_backup"]
    assert final["expires_in"] == 7 * 86400 and "7 days" in job["result"]["note"]
    data = gzip.decompress(download(final["url"]))
    lines = [json.loads(line) for line in data.splitlines()]
    assert canonical(line["item"] for line in lines) == saved
    manifest = json.loads(download(final["manifest_url"]))
    assert manifest["tenant_id"] == tenant.id and manifest["items"] == len(lines) == final["items"]
    s3 = boto3.client("s3", region_name=aws.region)
    entry = registry_entry(tenant.id)
    assert entry["state"] == "closing"
    for key in (manifest["object"], manifest["object"].replace("items.jsonl.gz", "manifest.json")):
        tags = s3.get_object_tagging(Bucket=aws.backup_bucket, Key=key)["TagSet"]
        assert {"Key": "expires", "Value": "30d"} in tags, key
    listed = api.get("/admin/backups", tenant.token).json["items"]
    assert [b["kind"] for b in listed if b["id"] == final["id"]] == ["final"]
    refused = api.post("/crm/customers", tenant.token, {"name": "Too Late Co", "kind": "company"})
    assert refused.status == 503 and refused.json["type"] == "/problems/closing"
    assert "retry-after" in refused.headers
    assert api.get("/crm/customers?limit=1", tenant.token).status == 200

    time.sleep(3)  # the grace period
    run_jobs(aws)

    # Nothing of the company is left under its keys, in Cognito, or in the bucket but the final backup.
    assert company_items(aws, tenant.id) == []
    assert pool_users(aws, tenant.id) == []
    owner_login = api.post("/auth/login", body={"email": tenant.owner_email, "password": PASSWORD})
    assert owner_login.status == 401
    assert api.get("/me", tenant.token).status == 401  # a token from before: the company is gone
    assert {key for key, _ in objects(aws, tenant.id)} == {
        manifest["object"],
        manifest["object"].replace("items.jsonl.gz", "manifest.json"),
    }
    assert gzip.decompress(download(final["url"])) == data  # the link still works

    entry = registry_entry(tenant.id)
    assert entry["state"] == "closed" and entry["closed_at"]
    assert entry["final_backup"]["id"] == final["id"]
    assert entry["final_backup"]["object_key"] == manifest["object"]
    assert entry["final_backup"]["sha256"] == manifest["sha256"] == final["sha256"]
    assert entry["removed"]["users"] == len(users) and entry["removed"]["items"] > len(saved)

    assert canonical(company_items(aws, bystander.id)) == untouched  # byte for byte

    # The schedules skip it, and write nothing under its keys.
    assert workers.daily_backups(Store())["started"] >= 1  # the bystander's
    runs: list[str] = []
    monkeypatch.setattr(reconciliation, "run", lambda store, tenant_id, **kw: runs.append(tenant_id))
    reconciliation.run_all(Store())
    assert bystander.id in runs and tenant.id not in runs
    assert company_items(aws, tenant.id) == []


def test_a_worker_killed_half_way_through_the_removal_still_leaves_nothing(api, aws, monkeypatch):
    from chalicelib.backups import repository

    tenant = a_tenant(api, NAME)
    fresh_targets(api, tenant)
    import_csv(api, tenant.token, csv_bytes([good_row(n) for n in range(300)], "utf-8"))
    bystander = a_tenant(api, "Bystander Trading")
    a_customer(api, bystander)
    untouched = canonical(company_items(aws, bystander.id))

    deletes = dies_once(monkeypatch, repository, "delete_keys", after=5)
    started = close(api, tenant)
    assert started.status == 202
    outcomes = run_jobs(aws)
    assert "died" in outcomes and deletes[0] > 5

    assert company_items(aws, tenant.id) == []
    assert pool_users(aws, tenant.id) == []
    assert registry_entry(tenant.id)["state"] == "closed"
    assert canonical(company_items(aws, bystander.id)) == untouched

"""Imports and exports as jobs: the file through S3 by presigned URL, each row written once however
often a step runs, bounded work per request, progress and row errors, the export's download."""

from __future__ import annotations

import csv
import io
import urllib.request

import pytest

from tests.conftest import a_tenant, a_user
from tests.test_backups import Died, dies_once, run_jobs
from tests.test_import_export import csv_bytes, good_row


def a_file(rows: int, bad_every: int = 0) -> bytes:
    lines = []
    for n in range(rows):
        row = good_row(n)
        if bad_every and n % bad_every == 0:
            row[4] = "not an email"
        lines.append(row)
    return csv_bytes(lines, "gb18030")


def upload(url: str, data: bytes) -> int:
    request = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": "text/csv"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        return reply.status


def an_import_job(api, tenant, data: bytes, declared: int | None = None, **options):
    made = api.post("/import/customers/jobs", tenant.token, {"bytes": declared or len(data), **options})
    assert made.status == 202, made.body
    assert upload(made.json["upload_url"], data) == 200
    return made


class Calls:
    """DynamoDB calls made, counted on both clients the app uses; billing's own writes (the rate
    limit's lease and the meter's saves, at most two a request: docs/architecture.md) apart."""

    def __init__(self) -> None:
        from chalicelib.core import aws

        self.count = self.billing = 0
        aws.observe("before-parameter-build.dynamodb.*", self._one)

    def _one(self, model, params, **_):
        pk = str((params.get("Key") or {}).get("pk", ""))
        if model.name == "UpdateItem" and ("#BILLING" in pk or "#USAGE" in pk):
            self.billing += 1
        else:
            self.count += 1

    def take(self) -> int:
        count, self.count = self.count, 0
        return count

    def take_billing(self) -> int:
        billing, self.billing = self.billing, 0
        return billing

    def close(self) -> None:
        from chalicelib.core import aws

        aws.unobserve("before-parameter-build.dynamodb.*", self._one)


def test_an_import_job_writes_every_row_once_with_bounded_requests_and_moving_progress(
    api, aws, tenant, monkeypatch
):
    from chalicelib.api import workers
    from chalicelib.jobs import transfer

    monkeypatch.setattr(transfer, "STEP_ROWS", 400)
    data = a_file(2_000, bad_every=50)  # 40 bad rows
    calls = Calls()
    try:
        made = an_import_job(api, tenant, data)
        per_request = {"make": calls.take()}
        billing = calls.take_billing()
        job_id = made.json["job"]["id"]
        assert made.json["job"]["state"] == "queued"
        started = api.post(f"/jobs/{job_id}/start", tenant.token)
        assert started.status == 202, started.body
        per_request["start"] = calls.take()
        billing = max(billing, calls.take_billing())
        seen = []
        while True:
            outcome = workers.run_step(tenant.id, job_id)
            calls.take()
            calls.take_billing()  # a step saves its seconds (docs/architecture.md)
            job = api.get(f"/jobs/{job_id}", tenant.token).json
            per_request["read"] = calls.take()
            billing = max(billing, calls.take_billing())
            seen.append(job["progress"]["done"])
            if outcome != "advanced" or job["state"] != "running":
                break
    finally:
        calls.close()
    assert job["state"] == "succeeded", job
    assert all(n <= 5 for n in per_request.values()), per_request  # whatever the file's size
    assert billing <= 2, billing  # a request's own: a rate lease and a usage save at most
    assert seen == sorted(seen) and len(set(seen)) >= 5  # progress moved, step by step
    result = job["result"]
    assert (result["rows"], result["created"], result["failed"]) == (2_000, 1_960, 40)
    assert result["encoding"] == "gb18030"
    assert [e["row"] for e in result["errors"]][:3] == [2, 52, 102]
    assert result["errors"][0]["field"].startswith("email")
    page = api.get(f"/jobs/{job_id}/errors?limit=100", tenant.token).json
    assert len(page["items"]) == 40
    total = api.get("/crm/customers?limit=1", tenant.token)
    assert total.status == 200
    run_jobs(aws)  # the queued messages left over: each finds the job ended


def test_a_step_killed_half_way_writes_no_row_twice(api, aws, tenant, monkeypatch):
    from chalicelib.core import store as store_module
    from chalicelib.jobs import transfer

    monkeypatch.setattr(transfer, "STEP_ROWS", 300)
    made = an_import_job(api, tenant, a_file(900))
    api.post(f"/jobs/{made.json['job']['id']}/start", tenant.token)
    transactions = dies_once(monkeypatch, store_module.Store, "transact", after=12)
    outcomes = run_jobs(aws)
    assert "died" in outcomes and transactions[0] > 12
    job = api.get(f"/jobs/{made.json['job']['id']}", tenant.token).json
    assert job["state"] == "succeeded" and job["result"]["created"] == 900 and job["result"]["failed"] == 0
    codes = []
    cursor = None
    while True:
        page = api.get(f"/crm/customers?limit=100{'&cursor=' + cursor if cursor else ''}", tenant.token).json
        codes += [c["code"] for c in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert len(codes) == len(set(codes)) == 900


def test_the_job_checks_the_uploaded_size_itself(api, aws, tenant):
    data = a_file(10)
    too_big = api.post("/import/customers/jobs", tenant.token, {"bytes": 60 * 1024 * 1024})
    assert too_big.status == 422 and too_big.json["errors"][0]["loc"] == ["body", "bytes"]
    made = an_import_job(api, tenant, data + b"C99999,Extra Co,\r\n" * 3, declared=len(data))
    job_id = made.json["job"]["id"]
    refused = api.post(f"/jobs/{job_id}/start", tenant.token)
    assert refused.status == 422 and "bytes" in refused.json["detail"]
    assert api.get(f"/jobs/{job_id}", tenant.token).json["state"] == "queued"
    assert api.get("/crm/customers", tenant.token).json["items"] == []
    nothing = api.post("/import/customers/jobs", tenant.token, {"bytes": 10}).json["job"]["id"]
    assert api.post(f"/jobs/{nothing}/start", tenant.token).status == 409


def test_an_export_job_downloads_through_its_presigned_url(api, aws, tenant):
    made = an_import_job(api, tenant, a_file(250))
    api.post(f"/jobs/{made.json['job']['id']}/start", tenant.token)
    run_jobs(aws)
    export = api.post("/export/customers/jobs", tenant.token)
    assert export.status == 202
    run_jobs(aws)
    job = api.get(export.headers["location"], tenant.token).json
    assert job["state"] == "succeeded" and job["result"]["rows"] == 250
    with urllib.request.urlopen(job["download_url"], timeout=30) as reply:
        body = reply.read()
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == 250 and {r["code"] for r in rows} == {f"C{n:05d}" for n in range(250)}


def test_jobs_are_their_starters_and_their_companys(api, aws, tenant):
    made = an_import_job(api, tenant, a_file(5))
    job_id = made.json["job"]["id"]
    other = a_tenant(api, "Other Co")
    for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/errors"):
        assert api.get(path, other.token).status == 404
    assert api.post(f"/jobs/{job_id}/start", other.token).status == 404
    _, sales = a_user(api, tenant, ["sales"])
    colleague = api.get(f"/jobs/{job_id}", sales)
    assert colleague.status == 403 and colleague.json["permission"] == "admin.jobs:read"
    assert api.get("/jobs", sales).json["items"] == []
    assert [j["id"] for j in api.get("/jobs", tenant.token).json["items"]] == [job_id]


@pytest.fixture(autouse=True)
def _no_leftover_died():
    yield
    assert Died  # the fault type is shared with the backup tests


def test_a_step_that_keeps_failing_ends_its_job_failed_in_words(api, aws, tenant, monkeypatch):
    from chalicelib.api import workers

    made = an_import_job(api, tenant, a_file(5))
    job_id = made.json["job"]["id"]
    api.post(f"/jobs/{job_id}/start", tenant.token)

    def broken(kind):
        def run(store, job):
            raise RuntimeError("a bug")

        return run

    monkeypatch.setattr(workers, "_runner", broken)
    for attempt in range(1, 6):
        with pytest.raises(RuntimeError):
            workers.run_step(tenant.id, job_id, attempt)
        assert api.get(f"/jobs/{job_id}", tenant.token).json["state"] == "running"
    assert workers.run_step(tenant.id, job_id, 6) == "failed"
    job = api.get(f"/jobs/{job_id}", tenant.token).json
    assert job["state"] == "failed" and "failed 5 times" in job["error"]


def test_on_demand_backups_are_limited_per_company(api, aws, tenant, monkeypatch):
    from chalicelib.core import config

    monkeypatch.setenv("BACKUP_LIMIT_PER_HOUR", "2")
    config.settings.cache_clear()
    try:
        other = a_tenant(api, "Other Co")
        assert [api.post("/admin/backups", tenant.token).status for _ in range(3)] == [202, 202, 429]
        assert api.post("/admin/backups", other.token).status == 202
    finally:
        monkeypatch.undo()
        config.settings.cache_clear()


# ---- over `make run`'s stack (a stack of this module's own) -----------------------------------------------
from tests.test_readme import _http, local_stack  # noqa: E402, F401  # the stack fixture, and its HTTP


def test_twenty_thousand_rows_as_a_job_over_the_local_stack(local_stack):
    import json
    import time

    call = _http(f"http://127.0.0.1:{local_stack['port']}")
    login = {"email": "owner@demo-trading.example", "password": "demo-owner-pass-1"}
    token = call("POST", "/auth/login", login)[1]["id_token"]
    data = a_file(20_000, bad_every=400)  # 50 bad rows
    status, made = call("POST", "/import/customers/jobs", {"bytes": len(data)}, token)
    assert status == 202, made
    assert upload(made["upload_url"], data) == 200
    status, started = call("POST", f"/jobs/{made['job']['id']}/start", None, token)
    assert status == 202, started
    seen, deadline = [], time.monotonic() + 600
    while time.monotonic() < deadline:
        status, job = call("GET", f"/jobs/{made['job']['id']}", None, token)
        assert status == 200, (job, "".join(local_stack["log"][-40:]))
        seen.append(job["progress"]["done"])
        if job["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.5)
    assert job["state"] == "succeeded", json.dumps(job)[:2000]
    assert len(set(seen)) >= 4 and seen == sorted(seen), seen  # progress moved while it ran
    result = job["result"]
    assert (result["rows"], result["created"], result["failed"]) == (20_000, 19_950, 50)
    assert [e["row"] for e in result["errors"][:2]] == [2, 402]

    status, export = call("POST", "/export/customers/jobs", None, token)
    assert status == 202
    while time.monotonic() < deadline:
        job = call("GET", f"/jobs/{export['job']['id']}", None, token)[1]
        if job["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.5)
    with urllib.request.urlopen(job["download_url"], timeout=60) as reply:
        rows = list(csv.DictReader(io.StringIO(reply.read().decode("utf-8-sig"))))
    codes = {r["code"] for r in rows}
    assert {f"C{n:05d}" for n in range(20_000) if n % 400} <= codes and len(rows) == job["result"]["rows"]

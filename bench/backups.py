"""Issue 12: one company's backup and restore at two sizes, printed as Markdown for docs/performance.md.

    python -m bench.backups [--small 10000] [--large 100000] [--runs 3]

The stack is the tests' (moto server in this process, `infra.provision`); each company is written
straight to the table with BatchWriteItem, in the shapes the API writes (taken from items the API
made: a customer with its code guard and its email, phone and owner lookups; every other customer an
activity with its two lookups and its timeline entry; every tenth a product with its SKU guard, a
stock level and three movements; a warehouse and the default-warehouse setting), keyed by
`chalicelib.core.keys`, so that the backup's walk finds every item: exactly N restorable items.

(a) Peak memory of one backup job's own allocations: in a fresh process per size, after a warm-up
    backup of a small company (clients, service models, the catalogue loaded), `tracemalloc` is
    started and the job runs step by step (`workers.run_step`) as the job worker would; the peak of
    each step, the highest of them. A restore job the same way, then. The peak RSS of a process
    doing only the backup after the same warm-up is printed beside it (what `tracemalloc` cannot
    see: zlib's and OpenSSL's own buffers).
(b) Items per second: in one process per size, the backup job alternating with a bare loop that
    makes the same calls (the same Query pages over the same partitions, Limit 1000, the customers'
    timelines included; the same S3 calls with bodies of the same sizes, replayed from the job's),
    then the restore job alternating with its bare loop (the bare backup's calls for the safety
    backup, the same S3 reads of the backup, the same Query walk with the page's items deleted and
    written back by BatchWriteItem 25 at a time). Median of N runs each.
(c) DynamoDB, S3 and SQS calls per backup and per restore (botocore's before-call events on the app's
    clients): exact.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import logging
import os
import secrets
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WARM_ITEMS = 300  # the warm-up company's size
KiB = 1024


# ---- a company of N items, written straight to the table --------------------------------------------
CITIES = [("上海", "上海市"), ("杭州", "浙江省"), ("深圳", "广东省"), ("北京", "北京市"), ("成都", "四川省")]


def _company(tenant_id: str, size: int) -> Iterator[dict[str, Any]]:
    """The company's restorable items (plain values), exactly ``size`` of them."""
    from chalicelib.core import ids, keys

    user = "6f1c2b9e-0d4a-4c1e-9a77-bench0000001"
    now = "2026-12-02T08:00:00.000000Z"
    stamp = {"created_at": now, "updated_at": now, "created_by": user, "updated_by": user}

    def record(kind: str, entity_id: str, fields: dict[str, Any], name: str = "") -> dict[str, Any]:
        item = {
            **keys.entity(tenant_id, kind, entity_id),
            "id": entity_id,
            "tenant_id": tenant_id,
            **fields,
            "version": 1,
            **stamp,
            **keys.updated_index(tenant_id, kind, now, entity_id),
        }
        if name:
            item.update(keys.name_index(tenant_id, kind, name.lower(), entity_id))
        return item

    def guard(kind: str, field: str, value: str, entity_id: str) -> dict[str, Any]:
        return {**keys.unique_guard(tenant_id, kind, field, value), "entity_id": entity_id, "value": value}

    def lookup(kind: str, lookup_kind: str, value: str, entity_id: str) -> dict[str, Any]:
        return {**keys.lookup(tenant_id, kind, lookup_kind, value, entity_id), "entity_id": entity_id}

    def new_id(prefix: str, n: int, *more: int) -> str:
        """The same ids for every company and every run (a millisecond apart, in order): the same
        partitions and pages every time, so the calls counted are the same every time."""
        return f"{prefix}_{ids.ulid(1_796_000_000_000 + n, '|'.join(map(str, (prefix, n, *more))))}"

    warehouse = new_id("whs", 0)

    def items() -> Iterator[dict[str, Any]]:
        yield record(
            "warehouse",
            warehouse,
            {"code": "SH", "name": "上海主仓", "address": "", "is_default": True},
            "上海主仓",
        )
        yield guard("warehouse", "code", "SH", warehouse)
        yield {**keys.default_warehouse(tenant_id), "warehouse_id": warehouse, "updated_at": now}
        n = 0
        while True:
            city, region = CITIES[n % len(CITIES)]
            customer, name, code = new_id("cus", n), f"{city}第{n}号贸易有限公司", f"C{n:06d}"
            phone, email = f"+86 21 5{n:07d}", f"buyer{n}@example.cn"
            yield record(
                "customer",
                customer,
                {
                    "name": name,
                    "kind": "company",
                    "code": code,
                    "phones": [{"number": phone, "label": ""}],
                    "emails": [{"address": email, "label": ""}],
                    "address": {
                        "line1": f"{city}市中山路{n}号（近地铁站）",
                        "line2": "",
                        "city": city,
                        "region": region,
                        "postal_code": "",
                        "country": "CN",
                    },
                    "tags": ["批发", "老客户"],
                    "custom_fields": {},
                    "status": "active",
                },
                name,
            )
            yield guard("customer", "code", code, customer)
            yield lookup("customer", "email", email, customer)
            yield lookup("customer", "phone", phone.replace(" ", ""), customer)
            yield lookup("customer", "owner", "none", customer)
            if n % 2 == 0:
                activity, subject = new_id("act", n), f"回访：{name}的春季订单"
                yield record(
                    "activity",
                    activity,
                    {
                        "kind": "note",
                        "customer_id": customer,
                        "contact_id": None,
                        "opportunity_id": None,
                        "subject": subject,
                        "body": "",
                        "occurred_at": now,
                        "due_at": None,
                        "assignee_id": None,
                        "done": False,
                        "done_at": None,
                        "owner_id": user,
                    },
                )
                yield lookup("activity", "customer", customer, activity)
                yield lookup("activity", "owner", user, activity)
                yield {
                    **keys.timeline(tenant_id, customer, now, "activity", activity),
                    "at": now,
                    "kind": "activity",
                    "ref_id": activity,
                    "record_id": activity,
                    "customer_id": customer,
                    "summary": {"kind": "note", "subject": subject, "done": False, "assignee_id": None},
                }
            if n % 10 == 0:
                product, sku = new_id("prd", n), f"TEA-{n:06d}"
                yield record(
                    "product",
                    product,
                    {
                        "sku": sku,
                        "name": f"龙井茶 250g 第{n}批",
                        "unit": "pcs",
                        "kind": "stocked",
                        "list_price": "88.00",
                        "currency": "CNY",
                        "standard_cost": "41.50",
                        "category": None,
                        "reorder_point": "20",
                        "lead_time_days": 7,
                        "default_supplier_id": None,
                        "invoicing_policy": "on_order",
                        "sellable": True,
                    },
                    f"龙井茶 250g 第{n}批",
                )
                yield guard("product", "sku", sku, product)
                yield {
                    **keys.stock_level(tenant_id, product, warehouse),
                    "on_hand": 120,
                    "reserved": 0,
                    "available": 120,
                    "product_id": product,
                    "warehouse_id": warehouse,
                    "updated_at": now,
                    "version": 3,
                }
                for m, quantity in enumerate((100, 50, -30)):
                    movement = new_id("mov", n, m)
                    yield {
                        **keys.movement(tenant_id, movement, product),
                        "id": movement,
                        "kind": "adjustment",
                        "product_id": product,
                        "warehouse_id": warehouse,
                        "on_hand_change": quantity,
                        "reserved_change": 0,
                        "reason": "count",
                        "reference": "",
                        "at": now,
                        "by": user,
                    }
            n += 1

    for made, item in enumerate(items()):
        if made == size:
            return
        yield item


def make_company(name: str, size: int) -> str:
    """A company (its registry entry, profile and role set, as signup makes them) and its items."""
    from boto3.dynamodb.types import TypeSerializer

    from chalicelib.backups import repository
    from chalicelib.core import ids, keys
    from chalicelib.core.store import Store, utcnow

    tenant_id, now = ids.new_id("ten"), utcnow()
    Store().put_all(
        [
            {
                **keys.tenant_registry(tenant_id),
                **keys.tenant_registry_index(tenant_id),
                "tenant_id": tenant_id,
                "plan": "pro",
                "created_at": now,
            },
            {
                **keys.tenant_profile(tenant_id),
                "id": tenant_id,
                "company_name": name,
                "plan": "pro",
                "default_currency": "CNY",
                "status": "active",
                "owner_count": 1,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            },
            {**keys.role_set(tenant_id), "roles": {}, "created_at": now},
        ]
    )
    typed = TypeSerializer().serialize
    batch: list[dict[str, Any]] = []
    for item in _company(tenant_id, size):
        batch.append({k: typed(v) for k, v in item.items()})
        if len(batch) == 500:
            repository.put_items(batch)
            batch = []
    repository.put_items(batch)
    return tenant_id


def _no_stream_records(table_name: str, region: str) -> None:
    """moto keeps every record of the table's stream in a list in memory for ever (nothing reads them
    here: the relay is not running); a restore of 100,000 items adds 200,000, and the server's garbage
    collections over them grew long enough for the clients' 5 s read timeout. The server runs in this
    process: its table stops recording (DynamoDB's own stream costs a writer nothing)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    dynamodb_backends[DEFAULT_ACCOUNT_ID][region].tables[table_name].stream_shard = None


# ---- counting calls ----------------------------------------------------------------------------------
class Calls:
    """Every call on the app's clients (DynamoDB both ways, S3, SQS), by service and operation; and the
    S3 calls in order with their bodies' sizes, for a bare loop to replay."""

    def __init__(self) -> None:
        from chalicelib.core import aws

        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()
        self.s3: list[tuple[str, dict[str, Any]]] | None = None
        aws.observe("before-call.dynamodb", self._seen)
        for client in (aws.s3(), aws.sqs()):
            name = client.meta.service_model.service_name
            client.meta.events.register(f"before-call.{name}", self._seen)
        aws.s3().meta.events.register("provide-client-params.s3", self._s3_params)

    def _seen(self, model: Any, **_: Any) -> None:
        self.calls[(model.service_model.service_name, model.name)] += 1

    def _s3_params(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.s3 is None:
            return
        kept = {k: params[k] for k in ("Key", "VersionId") if k in params}
        body = params.get("Body")
        if body is not None:
            kept["size"] = (
                len(body) if isinstance(body, bytes | bytearray) else os.fstat(body.fileno()).st_size
            )
        self.s3.append((model.name, kept))

    def take(self) -> dict[str, dict[str, int]]:
        """The calls since the last take, by service: {operation: n}."""
        out: dict[str, dict[str, int]] = collections.defaultdict(dict)
        for (service, operation), n in sorted(self.calls.items()):
            out[service][operation] = n
        self.calls.clear()
        return dict(out)


# ---- the jobs, as the worker runs them ---------------------------------------------------------------
def _actor(tenant_id: str) -> Any:
    from chalicelib.core.store import Actor

    return Actor(tenant_id=tenant_id, user_id="bench", request_id="bench")


def _run(tenant_id: str, job_id: str, each_step: Callable[[], None] | None = None) -> dict[str, Any]:
    from chalicelib.api import workers
    from chalicelib.jobs import jobs

    while True:
        outcome = workers.run_step(tenant_id, job_id)
        if each_step:
            each_step()
        if outcome != "advanced":
            break
    job = jobs.get(workers.STORE, tenant_id, job_id, consistent=True)
    assert job["state"] == "succeeded", job
    return job


def start_backup(tenant_id: str) -> dict[str, Any]:
    from chalicelib.api import workers
    from chalicelib.backups import backups

    return backups.start(workers.STORE, _actor(tenant_id), "on_demand")["job"]


def start_restore(tenant_id: str, backup_id: str) -> dict[str, Any]:
    from chalicelib.api import workers
    from chalicelib.backups import backups
    from chalicelib.jobs import jobs

    record = backups.get(workers.STORE, tenant_id, backup_id)
    params = {"backup_id": backup_id, "taken_at": record["taken_at"]}
    return jobs.create(workers.STORE, _actor(tenant_id), "restore", params)


def backup(tenant_id: str, each_step: Callable[[], None] | None = None) -> dict[str, Any]:
    return _run(tenant_id, start_backup(tenant_id)["id"], each_step)


def restore(tenant_id: str, backup_id: str, each_step: Callable[[], None] | None = None) -> dict[str, Any]:
    return _run(tenant_id, start_restore(tenant_id, backup_id)["id"], each_step)


# ---- the bare loops ----------------------------------------------------------------------------------
def _pages(partition: str) -> Iterator[list[dict[str, Any]]]:
    """A partition's Query pages, as the walk asks for them (Limit 1000), on the same client."""
    from chalicelib.core import aws
    from chalicelib.core.config import settings

    client, table, start = aws.dynamodb_wire(), settings().table_name, None
    while True:
        params: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
            "Limit": 1000,
        }
        if start:
            params["ExclusiveStartKey"] = start
        answer = client.query(**params)
        yield answer["Items"]
        start = answer.get("LastEvaluatedKey")
        if not start:
            return


def bare_walk(tenant_id: str, on_page: Callable[[list[dict[str, Any]]], None] | None = None) -> int:
    """The same Query pages as the backup's walk: each restorable partition of the catalogue, and for
    each record of a parent type its own partitions (a customer's timeline). The items counted."""
    from chalicelib.api import workers
    from chalicelib.core import keys

    count = 0
    for partition in keys.partitions(tenant_id, workers.shapes()):
        if not partition.restorable:
            continue
        for page in _pages(partition.pk):
            items = [i for i in page if keys.restorable(partition, i["sk"]["S"])]
            if partition.parent:
                for item in page:
                    for owned in keys.owned_by(tenant_id, partition.parent, item["sk"]["S"]):
                        if owned.restorable:
                            for more in _pages(owned.pk):
                                items.extend(more)
            count += len(items)
            if on_page:
                on_page(items)
    return count


class S3Replay:
    """The S3 calls a job made, made again in the same order with bodies of the same sizes, on keys of
    their own (``bare/`` before the job's key); an object the bare loop never wrote is read where the
    job read it."""

    def __init__(self, calls: list[tuple[str, dict[str, Any]]]) -> None:
        self.calls = calls
        sizes = {c["size"] for _, c in calls if "size" in c}
        noise = os.urandom(max(sizes, default=0))
        self.bodies = {size: noise[:size] for size in sizes}

    def run(self) -> None:
        from chalicelib.core import aws
        from chalicelib.core.config import settings

        s3, bucket = aws.s3(), settings().backup_bucket
        sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": settings().data_key_id}
        uploads: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        written: set[str] = set()
        for operation, c in self.calls:
            key = f"bare/{c['Key']}"
            if operation == "CreateMultipartUpload":
                made = s3.create_multipart_upload(
                    Bucket=bucket, Key=key, ContentType="application/gzip", **sse
                )
                uploads[key] = (made["UploadId"], [])
            elif operation == "UploadPart":
                upload_id, parts = uploads[key]
                n = len(parts) + 1
                body = self.bodies[c["size"]]
                tag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=body)
                parts.append({"PartNumber": n, "ETag": tag["ETag"]})
            elif operation == "CompleteMultipartUpload":
                upload_id, parts = uploads.pop(key)
                s3.complete_multipart_upload(
                    Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
                written.add(key)
            elif operation == "PutObject":
                s3.put_object(Bucket=bucket, Key=key, Body=self.bodies[c["size"]], **sse)
                written.add(key)
            elif operation == "GetObject":
                where = (
                    {"Key": key}
                    if key in written
                    else {"Key": c["Key"], **({"VersionId": c["VersionId"]} if "VersionId" in c else {})}
                )
                body = s3.get_object(Bucket=bucket, **where)["Body"]
                while body.read(1024 * 1024):
                    pass
            elif operation == "ListParts":  # a later step checks its upload is still open
                s3.list_parts(Bucket=bucket, Key=key, UploadId=uploads[key][0])
            elif operation == "DeleteObject":
                s3.delete_object(Bucket=bucket, Key=key)
            else:
                raise AssertionError(f"no bare form of S3 {operation}")


def bare_backup(tenant_id: str, s3: S3Replay) -> int:
    count = bare_walk(tenant_id)
    s3.run()
    return count


def bare_restore(tenant_id: str, safety: S3Replay) -> int:
    """The restore's calls: the S3 reads and the safety backup's S3 calls (replayed), the safety
    backup's walk, then the clearing walk with each page's items deleted and written back."""
    from chalicelib.backups import repository

    bare_walk(tenant_id)
    safety.run()

    def clear_and_load(items: list[dict[str, Any]]) -> None:
        repository._batch_write([{"DeleteRequest": {"Key": {"pk": i["pk"], "sk": i["sk"]}}} for i in items])
        repository._batch_write([{"PutRequest": {"Item": i}} for i in items])

    return bare_walk(tenant_id, clear_and_load)


# ---- the child processes -----------------------------------------------------------------------------
def _prepare(warm_tenant: str) -> Calls:
    """Everything a worker container has loaded before its first real job: the clients, their service
    models, the catalogue (a small company's backup and restore, run to the end)."""
    from chalicelib.api import workers

    logging.getLogger("botocore").setLevel(logging.WARNING)
    workers.shapes()
    calls = Calls()
    job = backup(warm_tenant)
    restore(warm_tenant, job["result"]["backup_id"])
    calls.take()
    gc.collect()
    return calls


def child_memory(tenant_id: str, warm_tenant: str) -> dict[str, Any]:
    calls = _prepare(warm_tenant)
    out: dict[str, Any] = {}
    tracemalloc.start()
    for name in ("backup", "restore"):
        steps: list[int] = []

        def each_step(steps: list[int] = steps) -> None:
            steps.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.reset_peak()

        gc.collect()
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        if name == "backup":
            job = backup(tenant_id, each_step)
            backup_id = job["result"]["backup_id"]
        else:
            job = restore(tenant_id, backup_id, each_step)
        out[name] = {
            "peak": max(steps) - before,
            "steps": [s - before for s in steps],
            "items": job["done"],
            "calls": calls.take(),
        }
    tracemalloc.stop()
    return out


def _status(field: str) -> int:
    """A figure of /proc/self/status, in KiB (VmRSS: now; VmHWM: the peak since the last reset)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def child_rss(tenant_id: str, warm_tenant: str) -> dict[str, Any]:
    """The process's resident set during the backup alone: its peak (VmHWM, reset after the warm-up
    by writing 5 to /proc/self/clear_refs) above what it held before."""
    _prepare(warm_tenant)
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    job = backup(tenant_id)
    return {"before_kib": before, "peak_kib": _status("VmHWM"), "items": job["done"]}


def child_throughput(tenant_id: str, warm_tenant: str, runs: int) -> dict[str, Any]:
    calls = _prepare(warm_tenant)
    times: dict[str, list[float]] = {"backup": [], "bare backup": [], "restore": [], "bare restore": []}
    cpu: dict[str, list[float]] = {name: [] for name in times}  # this process's own, of each run
    counted: dict[str, Any] = {}
    replay: dict[str, S3Replay] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        calls.take()
        started, cpu_started = time.perf_counter(), time.process_time()
        result = fn()
        times[name].append(time.perf_counter() - started)
        cpu[name].append(time.process_time() - cpu_started)
        print(
            f"<!-- {name}: {times[name][-1]:.1f} s, {cpu[name][-1]:.1f} s CPU -->",
            file=sys.stderr,
            flush=True,
        )
        counted.setdefault(name, calls.take())
        return result

    state: dict[str, Any] = {}

    def job(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        calls.s3 = [] if name not in replay else None  # the first run's S3 calls, for the bare loop
        result = timed(name, fn)
        if calls.s3 is not None:
            replay[name] = S3Replay(calls.s3)
        calls.s3 = None
        return result

    def real_backup() -> None:
        done = job("backup", lambda: backup(tenant_id))
        state.update(backup_id=done["result"]["backup_id"], items=done["done"])

    def real_restore() -> None:
        done = job("restore", lambda: restore(tenant_id, state["backup_id"]))
        assert done["result"]["restored_items"] == state["items"], done["result"]

    def bare(name: str, fn: Callable[[str, S3Replay], int]) -> Callable[[], None]:
        def run() -> None:
            assert timed(f"bare {name}", lambda: fn(tenant_id, replay[name])) == state["items"]

        return run

    for run in range(runs):
        # The job first in even runs, the bare loop first in odd ones (the first run's job tells the
        # bare loop which S3 calls to make); a restore restores the backup of its own run.
        if run % 2 == 0:
            order = [real_backup, bare("backup", bare_backup), real_restore, bare("restore", bare_restore)]
        else:
            order = [bare("backup", bare_backup), real_backup, bare("restore", bare_restore), real_restore]
        for step in order:
            step()
    items = int(state["items"])
    return {"items": items, "times": times, "cpu": cpu, "calls": counted}


def _child(mode: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.backups", "--child", mode, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,  # its figures; its stderr is ours (progress, or why it failed)
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"child {mode} {args} failed")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ---- the report --------------------------------------------------------------------------------------
def _which(calls: dict[str, dict[str, int]], service: str) -> str:
    ops = calls.get(service, {})
    return f"{sum(ops.values())}: " + ", ".join(f"{n} {op}" for op, n in ops.items()) if ops else "0"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each side, per size")
    parser.add_argument("--memory-only", action="store_true", help="only the peak memory (a) and calls")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--tenant", help=argparse.SUPPRESS)
    parser.add_argument("--warm", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = {
            "memory": lambda: child_memory(args.tenant, args.warm),
            "rss": lambda: child_rss(args.tenant, args.warm),
            "throughput": lambda: child_throughput(args.tenant, args.warm, args.runs),
        }[args.child]()
        print(json.dumps(result))
        return

    warnings.filterwarnings("ignore", message="Tried to parse")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("moto").setLevel(logging.ERROR)
    from infra.moto_server import start_local_aws

    server, endpoint = start_local_aws()
    os.environ.update(
        CURSOR_SECRET=secrets.token_hex(16),
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="ERROR",
        RESTORE_QUIESCE_SECONDS="0",
    )
    try:
        from infra.provision import provision

        stack = provision("benchbackups")
        os.environ.update(stack.local_environment(endpoint))
        _no_stream_records(stack.table_name, stack.region)
        sizes = [args.small, args.large]
        warm = make_company("Warm-up Co", WARM_ITEMS)
        made: dict[int, tuple[str, float]] = {}
        for size in sizes:
            started = time.perf_counter()
            made[size] = (make_company(f"Bench {size}", size), time.perf_counter() - started)
            print(f"<!-- {size} items written in {made[size][1]:.0f} s -->", file=sys.stderr, flush=True)
        gc.freeze()  # moto's tables as written: its full collections no longer walk them (fewer pauses)
        memory, rss, throughput = {}, {}, {}
        for size in sizes:
            started = time.perf_counter()
            memory[size] = _child("memory", "--tenant", made[size][0], "--warm", warm)
            rss[size] = _child("rss", "--tenant", made[size][0], "--warm", warm)
            print(f"<!-- {size}: {json.dumps([memory[size], rss[size]])} -->", file=sys.stderr, flush=True)
            print(
                f"<!-- {size}: memory in {time.perf_counter() - started:.0f} s -->",
                file=sys.stderr,
                flush=True,
            )
        for size in [] if args.memory_only else sizes:
            started = time.perf_counter()
            throughput[size] = _child(
                "throughput", "--tenant", made[size][0], "--warm", warm, "--runs", str(args.runs)
            )
            print(f"<!-- {size}: {json.dumps(throughput[size])} -->", file=sys.stderr, flush=True)
            print(
                f"<!-- {size}: throughput in {time.perf_counter() - started:.0f} s -->",
                file=sys.stderr,
                flush=True,
            )
    finally:
        server.stop()
    report(sizes, made, memory, rss, throughput, args.runs)


def report(
    sizes: list[int],
    made: dict[int, tuple[str, float]],
    memory: dict[int, Any],
    rss: dict[int, Any],
    throughput: dict[int, Any],
    runs: int,
) -> None:
    small, large = sizes
    print("## Peak memory of one job's own allocations (tracemalloc, a fresh process per size)\n")
    print("| | " + " | ".join(f"{s:,} items" for s in sizes) + " | ratio (target <= 1.2) |")
    print("|---|" + "---|" * (len(sizes) + 1))
    for name in ("backup", "restore"):
        peaks = [memory[s][name]["peak"] / KiB for s in sizes]
        cells = " | ".join(f"{p:,.0f} KiB" for p in peaks)
        target = f"**{peaks[1] / peaks[0]:.2f}**" if name == "backup" else f"{peaks[1] / peaks[0]:.2f}"
        print(f"| {name} job | {cells} | {target} |")
    growth = [(rss[s]["peak_kib"] - rss[s]["before_kib"]) / KiB for s in sizes]
    print(
        "| backup job, the process's peak RSS above the warm-up's (no tracemalloc) | "
        + " | ".join(
            f"{g:,.1f} MiB (of {rss[s]['peak_kib'] / KiB:,.0f})" for g, s in zip(growth, sizes, strict=True)
        )
        + " | |\n"
    )
    for s in sizes:
        for name in ("backup", "restore"):
            steps = ", ".join(f"{p / KiB:,.0f}" for p in memory[s][name]["steps"])
            print(f"- {s:,} items, {name}: each step's peak (KiB): {steps}")
    if throughput:
        print_throughput(sizes, throughput, runs)
    print("\n## Calls per job (exact)\n")
    print("| | items | DynamoDB | S3 | SQS |\n|---|---|---|---|---|")
    for s in sizes:
        rows = [("backup (the company's first)", memory[s]["backup"]["calls"])]
        if throughput:
            t = throughput[s]["calls"]
            rows += [
                ("backup (again: one earlier backup pruned)", t["backup"]),
                ("restore", t["restore"]),
                ("bare backup loop", t["bare backup"]),
                ("bare restore loop", t["bare restore"]),
            ]
        else:
            rows.append(("restore (after that backup)", memory[s]["restore"]["calls"]))
        for label, c in rows:
            print(f"| {label} | {s:,} | {_which(c, 'dynamodb')} | {_which(c, 's3')} | {_which(c, 'sqs')} |")
    print(
        "\n"
        + ", ".join(f"{s:,} items written in {made[s][1]:.0f} s (BatchWriteItem)" for s in sizes)
        + f"; the companies: {small:,} and {large:,} restorable items, plus each one's profile, role set "
        "and registry entry."
    )


def print_throughput(sizes: list[int], throughput: dict[int, Any], runs: int) -> None:
    print(f"\n## Items per second (median of {runs} runs each, alternating)\n")
    print(
        "| | items | the job: s / items per s | the bare loop: s / items per s | ratio of the medians "
        "| each run's ratio to its neighbour | CPU of the worker's process, job / bare loop (s) |"
    )
    print("|---|---|---|---|---|---|---|")
    for s in sizes:
        t = throughput[s]
        for name in ("backup", "restore"):
            ours, bare = t["times"][name], t["times"][f"bare {name}"]
            mine, theirs = statistics.median(ours), statistics.median(bare)
            pairs = ", ".join(f"{a / b:.2f}" for a, b in zip(ours, bare, strict=True))
            cpu = (
                f"{statistics.median(t['cpu'][name]):.1f} / {statistics.median(t['cpu'][f'bare {name}']):.1f}"
            )
            print(
                f"| {name} | {t['items']:,} | {mine:.1f} / {t['items'] / mine:,.0f} | "
                f"{theirs:.1f} / {t['items'] / theirs:,.0f} | **{mine / theirs:.2f}** | {pairs} | {cpu} |"
            )
    print()
    for s in sizes:
        t = throughput[s]["times"]
        print(
            f"- {s:,} items, every run (s): "
            + "; ".join(f"{k} " + ", ".join(f"{v:.1f}" for v in vs) for k, vs in t.items())
        )


if __name__ == "__main__":
    main()

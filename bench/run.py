"""Benchmarks of issue 2, printed as Markdown for docs/performance.md.

(a) cold start: `import app` against importing the third-party modules `app` loads, alternating
    runs in fresh interpreters, median of N each;
(b) per request: GET /crm/customers/{id} through chalice.test.Client against a bare Chalice route
    making the same single get_item, both with DynamoDB answered by botocore's Stubber;
(c) DynamoDB calls per API operation, counted on the client against moto (exact, machine-free).

    python -m bench.run [--runs 11] [--requests 2000]
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# ---- (a) cold start ---------------------------------------------------------------------------
def third_party_modules(statement: str = "import app") -> list[str]:
    """Every third-party module (dotted names too: pydantic loads its parts lazily) ``statement`` loads."""
    probe = f"import sys; before = set(sys.modules); {statement}; print(' '.join(sorted(set(sys.modules) - before)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    stdlib = set(sys.stdlib_module_names)
    own = {"app", "chalicelib"}
    return [m for m in out if m.split(".")[0] not in stdlib | own and not m.split(".")[0].startswith("_")]


# What each Lambda imports before it answers its first event: the app, then what its handler
# imports on first use (app.py's handlers import lazily).
HANDLERS = {
    "erp_consumer (SQS)": "import app; from chalicelib.api import handlers; "
    "import aws_lambda_powertools.utilities.batch; from chalicelib.erp import intake",
    "crm_consumer (SQS)": "import app; from chalicelib.api import handlers; "
    "import aws_lambda_powertools.utilities.batch; from chalicelib.crm import order_progress",
    "erp/crm_dead_letters (SQS)": "import app; from chalicelib.api import handlers",
    "relay_on_write (stream), relay_outbox (schedule)": "import app; from chalicelib.api import handlers",
    "reconcile_orders (schedule)": "import app; from chalicelib.crm import reconciliation",
}


def _time_import(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def cold_start(runs: int, statement: str = "import app") -> dict[str, Any]:
    # Bytecode for our modules, as the dependencies have theirs from pip (the deployment package
    # is compiled the same way; see docs/operations.md). PYTHONDONTWRITEBYTECODE would hide it.
    import compileall

    compileall.compile_file(str(ROOT / "app.py"), quiet=1)
    compileall.compile_dir(str(ROOT / "chalicelib"), quiet=1)
    deps = third_party_modules(statement)
    deps_statement = f"import importlib; [importlib.import_module(m) for m in {deps!r}]"
    app_times, dep_times = [], []
    for _ in range(runs):  # alternate, so drift on a noisy machine hits both sides alike
        dep_times.append(_time_import(deps_statement))
        app_times.append(_time_import(statement))
    app_ms, dep_ms = statistics.median(app_times) * 1000, statistics.median(dep_times) * 1000
    return {"deps": deps, "runs": runs, "app_ms": app_ms, "deps_ms": dep_ms, "ratio": app_ms / dep_ms}


# ---- (b) per-request cost ---------------------------------------------------------------------
def _serve_jwks(tmp: Path) -> str:
    """moto's public JWKS over loopback HTTP (PyJWKClient takes http(s) only); fetched once."""
    import functools
    import http.server
    import threading

    import moto

    resources = Path(moto.__file__).parent / "cognitoidp/resources"
    (tmp / "jwks.json").write_bytes(gzip.decompress((resources / "jwks-public.json.gz").read_bytes()))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/jwks.json"


def _request_env(tmp: Path) -> tuple[str, str, str]:
    """Environment for the app with no AWS at all: JWKS from loopback, DynamoDB stubbed."""
    import jwt
    import moto

    resources = Path(moto.__file__).parent / "cognitoidp/resources"
    jwks_url = _serve_jwks(tmp)
    private = json.loads(gzip.decompress((resources / "jwks-private.json.gz").read_bytes()))
    pool, client_id, tenant, user = (
        "us-east-1_bench",
        "benchclient",
        "ten_BENCH",
        "00000000-0000-4000-8000-000000000001",
    )
    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
        TABLE_NAME="bench",
        USER_POOL_ID=pool,
        USER_POOL_CLIENT_ID=client_id,
        JWKS_URL=jwks_url,
        CURSOR_SECRET=secrets.token_hex(16),
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="ERROR",
        PRINCIPAL_CACHE_SECONDS="3600",
        TENANT_ROLE_ARN="arn:aws:iam::123456789012:role/crmerp-bench-tenant-data",
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": f"https://cognito-idp.us-east-1.amazonaws.com/{pool}",
            "aud": client_id,
            "sub": user,
            "token_use": "id",
            "iat": now,
            "exp": now + 3600,
            "custom:tenant_id": tenant,
            "email": "bench@example.com",
        },
        jwt.PyJWK(private).key,
        algorithm="RS256",
        headers={"kid": "dummy"},
    )
    return token, tenant, user


CUSTOMER_ITEM = {
    "pk": {"S": "T#ten_BENCH#CUSTOMER"},
    "sk": {"S": "cus_01J00000000000000000000000"},
    "id": {"S": "cus_01J00000000000000000000000"},
    "name": {"S": "上海张记贸易有限公司"},
    "kind": {"S": "company"},
    "code": {"S": "SH-001"},
    "phones": {"L": []},
    "emails": {"L": []},
    "tags": {"L": [{"S": "vip"}]},
    "custom_fields": {"M": {}},
    "version": {"N": "3"},
    "created_at": {"S": "2026-11-01T00:00:00.000000Z"},
    "updated_at": {"S": "2026-11-02T00:00:00.000000Z"},
    "created_by": {"S": "u"},
    "updated_by": {"S": "u"},
}


class Canned:
    """DynamoDB answered from memory on a client (botocore's ``before-call`` hook answering, as
    botocore's Stubber does, but by operation rather than in a fixed order): the member and the
    company for the principal, the customer for every GetItem, success for every UpdateItem (the
    rate limit's and the meter's writes), counted by the item they write."""

    def __init__(self, client: Any, member: dict[str, Any], profile: dict[str, Any]) -> None:
        self.client = client
        self.answers = {
            "BatchGetItem": {"Responses": {"bench": [member, profile]}},
            "GetItem": {"Item": CUSTOMER_ITEM},
            "UpdateItem": {},
        }
        self.writes: dict[str, int] = {}
        self.calls: dict[str, int] = {}

    def __enter__(self) -> Canned:
        from chalicelib.core import aws

        # Every DynamoDB client (the company's STS session's too) and STS itself answer from memory.
        aws.observe("before-call.dynamodb.*", self._answer, first=True)
        aws.sts().meta.events.register_first(
            "before-call.sts.AssumeRole", self._credentials, unique_id="canned"
        )
        return self

    def __exit__(self, *exc: Any) -> None:
        from chalicelib.core import aws

        aws.unobserve("before-call.dynamodb.*", self._answer)
        aws.sts().meta.events.unregister("before-call.sts.AssumeRole", unique_id="canned")

    def _credentials(self, **_: Any) -> Any:
        from datetime import UTC, datetime, timedelta

        from botocore.awsrequest import AWSResponse

        self.calls["AssumeRole"] = self.calls.get("AssumeRole", 0) + 1
        expires = datetime.now(UTC) + timedelta(hours=1)
        credentials = {"AccessKeyId": "x", "SecretAccessKey": "x", "SessionToken": "x", "Expiration": expires}
        return AWSResponse("http://canned", 200, {}, None), {"Credentials": credentials}

    def _answer(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        self.calls[model.name] = self.calls.get(model.name, 0) + 1
        if model.name == "UpdateItem":
            key = json.loads(params["body"])["Key"]  # the request as it goes on the wire
            what = "rate" if key["sk"]["S"] == "RATE" else "usage"
            self.writes[what] = self.writes.get(what, 0) + 1
        parsed = copy.deepcopy(self.answers[model.name])
        return AWSResponse("http://canned", 200, {}, None), parsed

    def take(self) -> tuple[dict[str, int], dict[str, int]]:
        calls, writes = dict(self.calls), dict(self.writes)
        self.calls.clear()
        self.writes.clear()
        return calls, writes


def per_request(requests: int, rounds: int = 5) -> dict[str, Any]:
    from chalice import Chalice
    from chalice.test import Client

    with tempfile.TemporaryDirectory() as tmp:
        token, tenant, user = _request_env(Path(tmp))
        from app import app
        from chalicelib.billing import published as billing
        from chalicelib.core import aws

        client = aws.dynamodb()
        bare = Chalice("bare")

        @bare.route("/crm/customers/{customer_id}")
        def bare_get(customer_id: str) -> dict[str, Any]:
            item = client.get_item(
                TableName="bench", Key={"pk": f"T#{tenant}#CUSTOMER", "sk": customer_id}
            ).get("Item")
            return {k: v for k, v in item.items() if k not in ("pk", "sk")}

        member = {
            "pk": {"S": f"T#{tenant}#USER"},
            "sk": {"S": user},
            "id": {"S": user},
            "email": {"S": "bench@example.com"},
            "roles": {"L": [{"S": "viewer"}]},
            "enabled": {"BOOL": True},
        }
        profile = {"pk": {"S": f"T#{tenant}#TENANT"}, "sk": {"S": "PROFILE"}, "plan": {"S": "business"}}
        path = "/crm/customers/cus_01J00000000000000000000000"
        headers = {"authorization": f"Bearer {token}"}
        ours, theirs = [], []
        with (
            Canned(client, member, profile) as canned,
            Client(app) as app_client,
            Client(bare) as bare_client,
        ):
            warm = app_client.http.get(path, headers=headers)  # the principal is cached from here on
            assert warm.status_code == 200, warm.body
            assert json.loads(bare_client.http.get(path).body)["name"] == "上海张记贸易有限公司"
            billing.save_due(force=True)
            canned.take()
            counted: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
            for _ in range(rounds):
                for name, target, sink, h in (
                    ("ours", app_client, ours, headers),
                    ("bare", bare_client, theirs, {}),
                ):
                    started = time.perf_counter()
                    for _ in range(requests):
                        target.http.get(path, headers=h)
                    sink.append((time.perf_counter() - started) / requests)
                    counted[name] = canned.take()
    ours_us, theirs_us = statistics.median(ours) * 1e6, statistics.median(theirs) * 1e6
    calls, writes = counted["ours"]
    return {
        "requests": requests,
        "rounds": rounds,
        "ours_us": ours_us,
        "bare_us": theirs_us,
        "ratio": ours_us / theirs_us,
        "calls_per_request": {k: v / requests for k, v in calls.items()},
        "billing_writes_per_request": {k: v / requests for k, v in writes.items()},
    }


# ---- (c) DynamoDB calls per operation -----------------------------------------------------------
def call_counts() -> list[tuple[str, int, str]]:
    from bench.harness import Counter, local_api

    rows = []
    with local_api() as (api, owner_token):
        from chalicelib.tenants.access import CACHE

        counter = Counter()

        def measure(label: str, fn: Any, warm: bool = True) -> Any:
            if not warm:
                CACHE.clear()
            counter.reset()
            result = fn()
            rows.append((label, counter.total, counter.describe()))
            return result

        api.get("/me", owner_token)  # the principal is cached from here on, as in a warm container
        created = measure(
            "POST /crm/customers (create, with code)",
            lambda: api.post(
                "/crm/customers", owner_token, {"name": "Zhang Trading", "kind": "company", "code": "Z-1"}
            ),
        )
        cid = created.json["id"]
        measure(
            "GET /crm/customers/{id}, principal cached", lambda: api.get(f"/crm/customers/{cid}", owner_token)
        )
        measure(
            "GET /crm/customers/{id}, cold principal",
            lambda: api.get(f"/crm/customers/{cid}", owner_token),
            warm=False,
        )
        measure("GET /crm/customers (one page)", lambda: api.get("/crm/customers?limit=50", owner_token))
        measure(
            "GET /crm/customers?name_prefix=zh", lambda: api.get("/crm/customers?name_prefix=zh", owner_token)
        )
        measure(
            "GET /crm/customers?updated_since=...",
            lambda: api.get("/crm/customers?updated_since=2020-01-01T00:00:00Z", owner_token),
        )
        measure(
            "PATCH /crm/customers/{id} (rename)",
            lambda: api.patch(f"/crm/customers/{cid}", owner_token, {"name": "Z2"}),
        )
        measure(
            "PATCH /crm/customers/{id} (change code)",
            lambda: api.patch(f"/crm/customers/{cid}", owner_token, {"code": "Z-2"}),
        )
        measure("DELETE /crm/customers/{id}", lambda: api.delete(f"/crm/customers/{cid}", owner_token))
        measure("GET /me", lambda: api.get("/me", owner_token))
        measure("GET /admin/audit (one page)", lambda: api.get("/admin/audit", owner_token))
        measure(
            "POST /admin/roles",
            lambda: api.post(
                "/admin/roles", owner_token, {"name": "clerk", "permissions": ["crm.customers:read"]}
            ),
        )
        crm_call_counts(api, owner_token, measure)
        measure(
            "POST /tenants (signup; plus Cognito)",
            lambda: api.post(
                "/tenants",
                None,
                {
                    "company_name": "Bench Co",
                    "owner_email": "bench2@example.com",
                    "owner_password": "bench-pass-123",
                },
            ),
        )
    return rows


def crm_call_counts(api: Any, token: str, measure: Any) -> None:
    """The CRM's figures: a timeline page, the 360 view, accepting a quote, converting a lead, import."""
    customer = api.post("/crm/customers", token, {"name": "Timeline Co", "kind": "company"}).json["id"]
    for n in range(60):
        api.post("/crm/activities", token, {"kind": "note", "customer_id": customer, "subject": f"n{n}"})
    api.post("/crm/contacts", token, {"customer_id": customer, "name": "P"})
    lines = [{"product_code": "TEA", "quantity": 1, "unit_price": "10"}]
    for _ in range(3):
        api.post("/crm/orders", token, {"customer_id": customer, "currency": "CNY", "lines": lines})
    activity = {"kind": "call", "customer_id": customer, "subject": "c"}
    measure(
        "POST /crm/activities (with its timeline entry)", lambda: api.post("/crm/activities", token, activity)
    )
    timeline = f"/crm/customers/{customer}/timeline"
    first = measure("GET /crm/customers/{id}/timeline (a page of 50)", lambda: api.get(timeline, token))
    measure(
        "GET /crm/customers/{id}/timeline (the next page)",
        lambda: api.get(f"{timeline}?cursor={first.json['next_cursor']}", token),
    )
    measure(
        "GET /crm/customers/{id}/360 (owner: every part)",
        lambda: api.get(f"/crm/customers/{customer}/360", token),
    )
    quote = api.post("/crm/quotes", token, {"customer_id": customer, "currency": "CNY", "lines": lines}).json[
        "id"
    ]
    measure(
        "POST /crm/quotes/{id}/accept (quote, order, timeline)",
        lambda: api.post(f"/crm/quotes/{quote}/accept", token),
    )
    measure(
        "POST /crm/quotes/{id}/accept again (answers the order)",
        lambda: api.post(f"/crm/quotes/{quote}/accept", token),
    )
    lead = api.post("/crm/leads", token, {"name": "L", "company_name": "LC"}).json["id"]
    measure("POST /crm/leads/{id}/convert", lambda: api.post(f"/crm/leads/{lead}/convert", token))
    rows = "code,name,kind,phone,email\n" + "".join(
        f"B{n:04d},Name {n},company,+86 21 {n:08d},b{n}@x.cn\n" for n in range(1000)
    )
    csv_call = {"raw": rows.encode(), "headers": {"content-type": "text/csv"}}
    made = measure(
        "POST /import/customers (1,000 new rows)",
        lambda: api.call("POST", "/import/customers", token, **csv_call),
    )
    assert made.json["created"] == 1000, made.body[:300]
    measure(
        "POST /import/customers (the same 1,000 rows again: updates)",
        lambda: api.call("POST", "/import/customers", token, **csv_call),
    )
    ownership_call_counts(api, token, measure)
    erp_call_counts(api, token, measure)
    handoff_call_counts(api, token, measure)
    THROUGHPUT.update(handoff_throughput(api, token))


THROUGHPUT: dict[str, Any] = {}


def handoff_throughput(api: Any, token: str, orders: int = 20) -> dict[str, Any]:
    """Orders per second through the handoff (confirm over the API, relay, both consumers) against
    the same number of bare moto calls per service, timed back to back on the same server."""
    import collections

    from app import app
    from chalicelib.api import handlers
    from chalicelib.core import aws
    from infra.pump import Pump

    calls: collections.Counter[str] = collections.Counter()
    pump = Pump(
        app,
        queue_urls={"erp_consumer": os.environ["ERP_QUEUE_URL"], "crm_consumer": os.environ["CRM_QUEUE_URL"]},
    )
    aws.observe("before-call.dynamodb", lambda model, **_: calls.update(["dynamodb"]))
    for name, client in (("events", aws.events()), ("sqs", pump._sqs)):
        client.meta.events.register(f"before-call.{name}", lambda model, _n=name, **_: calls.update([_n]))
    api.post("/erp/products", token, {"sku": "RATE", "name": "Rate tea"})
    product = api.get("/erp/products?sku=RATE", token).json["items"][0]["id"]
    warehouse = api.get("/erp/warehouses", token).json["items"][0]["id"]
    api.post(
        "/erp/stock/adjustments",
        token,
        {"product_id": product, "warehouse_id": warehouse, "quantity": "1000", "reason": "b"},
    )
    customer = api.post("/crm/customers", token, {"name": "Rate Co", "kind": "company"}).json["id"]
    lines = [{"product_code": "RATE", "quantity": "1", "unit_price": "10"}]
    body = {"customer_id": customer, "currency": "CNY", "lines": lines}
    made = [api.post("/crm/orders", token, body).json["id"] for _ in range(orders)]
    handlers.run_relay()
    while pump.run_once():
        pass
    calls.clear()
    started = time.perf_counter()
    for order in made:
        api.post(f"/crm/orders/{order}/confirm", token)
    idle = 0
    while idle < 2:
        moved = handlers.run_relay()["published"] + pump.run_once()
        idle = idle + 1 if moved == 0 else 0
    ours = time.perf_counter() - started
    assert all(api.get(f"/crm/orders/{o}", token).json["status"] == "reserved" for o in made)
    counted = dict(calls)
    key = {"pk": "P#BENCH", "sk": "X"}
    started = time.perf_counter()
    for _ in range(counted.get("dynamodb", 0)):
        aws.dynamodb().get_item(TableName=os.environ["TABLE_NAME"], Key=key)
    for _ in range(counted.get("events", 0)):
        aws.events().put_events(
            Entries=[
                {
                    "Source": "bench.noop",
                    "DetailType": "Noop",
                    "Detail": "{}",
                    "EventBusName": os.environ["EVENT_BUS_NAME"],
                }
            ]
        )
    for _ in range(counted.get("sqs", 0)):
        pump._sqs.get_queue_attributes(QueueUrl=os.environ["ERP_QUEUE_URL"], AttributeNames=["QueueArn"])
    bare = time.perf_counter() - started
    return {
        "orders": orders,
        "ours_s": ours,
        "bare_s": bare,
        "calls": counted,
        "ours_rate": orders / ours,
        "bare_rate": orders / bare,
    }


def handoff_call_counts(api: Any, token: str, measure: Any) -> None:
    """The order handoff: the confirmation on the API path, the relay, each consumer, per order."""
    from app import app
    from chalicelib.api import handlers
    from chalicelib.core import aws
    from infra.pump import Pump

    bus_calls: list[str] = []
    aws.events().meta.events.register("before-call.events", lambda model, **_: bus_calls.append(model.name))
    api.post("/erp/products", token, {"sku": "HAND", "name": "Handoff tea"})
    warehouse = api.get("/erp/warehouses", token).json["items"][0]["id"]
    product = api.get("/erp/products?sku=HAND", token).json["items"][0]["id"]
    api.post(
        "/erp/stock/adjustments",
        token,
        {"product_id": product, "warehouse_id": warehouse, "quantity": "50", "reason": "b"},
    )
    customer = api.post("/crm/customers", token, {"name": "Handoff Co", "kind": "company"}).json["id"]
    lines = [{"product_code": "HAND", "quantity": "1", "unit_price": "10", "tax_rate": "13"}]
    order = api.post("/crm/orders", token, {"customer_id": customer, "currency": "CNY", "lines": lines}).json[
        "id"
    ]
    measure(
        "POST /crm/orders/{id}/confirm (1 line; no EventBridge call)",
        lambda: api.post(f"/crm/orders/{order}/confirm", token),
    )
    assert not bus_calls
    measure("relay: 1 pending event (and 1 put_events)", handlers.run_relay)
    pump = Pump(
        app,
        queue_urls={"erp_consumer": os.environ["ERP_QUEUE_URL"], "crm_consumer": os.environ["CRM_QUEUE_URL"]},
    )
    sources = {s.name: s for s in pump.queue_sources()}
    measure(
        "ERP consumer: 1 OrderConfirmed (reserve, invoice, 4 answers, relay)",
        lambda: pump.deliver(sources["erp_consumer"]),
    )
    measure(
        "CRM consumer: 4 ERP events for the order",
        lambda: [pump.deliver(sources["crm_consumer"]) for _ in range(3)],
    )


def erp_call_counts(api: Any, token: str, measure: Any) -> None:
    """The ERP's figures: a reservation, a receipt, a production completion, a shipment, a payment."""

    def made(path: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = api.post(path, token, body)
        assert reply.status == 201, reply.body
        return reply.json

    supplier = made("/erp/suppliers", {"code": "S", "name": "Leaf Farm"})["id"]
    warehouse = made("/erp/warehouses", {"code": "W", "name": "Main"})["id"]
    leaf, tin = (made("/erp/products", {"sku": sku, "name": sku})["id"] for sku in ("LEAF", "TIN"))
    box = made("/erp/products", {"sku": "BOX", "name": "Box", "kind": "manufactured"})["id"]
    centre = made("/erp/work-centres", {"code": "C", "name": "Packing", "daily_capacity": "100"})["id"]
    components = [{"product_id": leaf, "quantity": "2"}, {"product_id": tin, "quantity": "1"}]
    made("/erp/boms", {"product_id": box, "work_centre_id": centre, "components": components})
    lines = [
        {"product_id": leaf, "quantity": "100", "unit_cost": "1"},
        {"product_id": tin, "quantity": "50", "unit_cost": "2"},
    ]
    po = made("/erp/purchase-orders", {"supplier_id": supplier, "lines": lines})["id"]
    api.post(f"/erp/purchase-orders/{po}/order", token)
    receipt = {
        "warehouse_id": warehouse,
        "lines": [{"line": 1, "quantity": "100"}, {"line": 2, "quantity": "50"}],
    }
    measure(
        "POST /erp/purchase-orders/{id}/receive (2 lines)",
        lambda: api.post(f"/erp/purchase-orders/{po}/receive", token, receipt),
    )
    reservation = {"product_id": leaf, "warehouse_id": warehouse, "quantity": "3", "reference": "SO-BENCH:1"}
    reserved = measure(
        "POST /erp/reservations (named warehouse)", lambda: api.post("/erp/reservations", token, reservation)
    )
    by_default = {**reservation, "warehouse_id": None, "reference": "SO-BENCH:2"}
    measure(
        "POST /erp/reservations (default warehouse)", lambda: api.post("/erp/reservations", token, by_default)
    )
    shipment = {"lines": [{"reservation_id": reserved.json["id"]}]}
    measure("POST /erp/shipments (1 reservation)", lambda: api.post("/erp/shipments", token, shipment))
    planned = measure(
        "POST /erp/production-orders (plan: 2 components, 1 day)",
        lambda: api.post("/erp/production-orders", token, {"product_id": box, "quantity": "10"}),
    )
    order = planned.json["id"]
    measure(
        "POST /erp/production-orders/{id}/complete (2 components)",
        lambda: api.post(f"/erp/production-orders/{order}/complete", token),
    )
    customer = made("/crm/customers", {"name": "Debtor Co", "kind": "company"})["id"]
    invoice = made(
        "/erp/invoices", {"customer_id": customer, "lines": [{"quantity": "1", "unit_price": "100"}]}
    )["id"]
    api.post(f"/erp/invoices/{invoice}/issue", token, {})
    payment = {
        "customer_id": customer,
        "amount": "60",
        "allocations": [{"invoice_id": invoice, "amount": "60"}],
    }
    measure("POST /erp/payments (1 allocation)", lambda: api.post("/erp/payments", token, payment))
    measure("GET /erp/receivables/aging (1 open invoice)", lambda: api.get("/erp/receivables/aging", token))


def ownership_call_counts(api: Any, token: str, measure: Any) -> None:
    """What a permission granted over own records only costs (a sales_rep)."""
    from tests.conftest import PASSWORD, login

    api.post(
        "/admin/users", token, {"email": "rep@bench.example", "roles": ["sales_rep"], "password": PASSWORD}
    )
    rep = login(api, "rep@bench.example")
    own = api.post("/crm/customers", rep, {"name": "Rep Own Co", "kind": "company"}).json["id"]
    pool = api.post("/crm/customers", token, {"name": "Pool Co", "kind": "company", "owner_id": None}).json[
        "id"
    ]
    measure(
        "GET /crm/customers/{id} (sales_rep, own customer)", lambda: api.get(f"/crm/customers/{own}", rep)
    )
    measure(
        "PATCH /crm/customers/{id} (sales_rep, own customer)",
        lambda: api.patch(f"/crm/customers/{own}", rep, {"tags": ["t"]}),
    )
    measure("GET /crm/customers (sales_rep: own records, one page)", lambda: api.get("/crm/customers", rep))
    measure(
        "POST /crm/customers/{id}/claim (from the pool)",
        lambda: api.post(f"/crm/customers/{pool}/claim", rep),
    )
    for body in ({"kind": "note", "subject": "Rep's note"}, {"kind": "call", "subject": "Rep's call"}):
        api.post("/crm/activities", rep, {"customer_id": own, **body})
    api.post("/crm/activities", token, {"customer_id": own, "kind": "note", "subject": "The owner's note"})
    measure(
        "GET /crm/customers/{id}/timeline (sales_rep: its records checked)",
        lambda: api.get(f"/crm/customers/{own}/timeline", rep),
    )
    measure(
        "GET /crm/customers/{id}/360 (sales_rep: each record checked)",
        lambda: api.get(f"/crm/customers/{own}/360", rep),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--counts-only", action="store_true", help="only the call counts and the handoff throughput"
    )
    parser.add_argument("--cold-only", action="store_true", help="only the cold starts")
    parser.add_argument("--request-only", action="store_true", help="only the per-request cost")
    args = parser.parse_args()
    if args.counts_only:
        return print_counts()
    if args.request_only:
        return print_per_request(args.requests)
    cold = cold_start(args.runs)
    print("## Cold start (import)\n")
    packages = sorted({m.split(".")[0] for m in cold["deps"]})
    print(f"Third-party modules `app` imports: {len(cold['deps'])}, from {', '.join(packages)}\n")
    print(f"| | median of {cold['runs']} (ms) |\n|---|---|")
    print(f"| `import app` | {cold['app_ms']:.1f} |\n| its dependencies alone | {cold['deps_ms']:.1f} |")
    print(f"| ratio (target <= 1.25) | **{cold['ratio']:.2f}** |\n")
    print("Each queue, stream and schedule handler, to its first event (the same way, median of each):\n")
    print("| Lambda | ours and dependencies (ms) | dependencies alone (ms) | ratio |\n|---|---|---|---|")
    for name, statement in HANDLERS.items():
        h = cold_start(args.runs, statement)
        print(f"| {name} | {h['app_ms']:.1f} | {h['deps_ms']:.1f} | {h['ratio']:.2f} |")
    print()
    if args.cold_only:
        return None
    print_per_request(args.requests)
    print_counts()


def print_per_request(requests: int) -> None:
    req = per_request(requests)
    print("## Per request: GET /crm/customers/{id}, DynamoDB answered from memory\n")
    print(f"| | median per request over {req['rounds']} rounds of {req['requests']} (us) |\n|---|---|")
    print(
        "| our route (JWT authorizer, principal, rate limit and meter, permission, validation, problem "
        f"middleware) | {req['ours_us']:.0f} |"
    )
    print(f"| bare Chalice route, same get_item | {req['bare_us']:.0f} |")
    print(f"| ratio (target <= 2.0) | **{req['ratio']:.2f}** |\n")
    calls = ", ".join(f"{n:.3f} {k}" for k, n in sorted(req["calls_per_request"].items()))
    writes = ", ".join(f"{n:.3f} {k}" for k, n in sorted(req["billing_writes_per_request"].items()))
    print(f"DynamoDB calls per request of our route: {calls}; of them billing's writes: {writes}.\n")


def print_counts() -> None:
    print("## DynamoDB calls per operation (against moto; exact)\n")
    print("| operation | calls | which |\n|---|---|---|")
    for label, total, which in call_counts():
        print(f"| {label} | {total} | {which} |")
    t = THROUGHPUT
    print("\n## The order handoff end to end (against moto, in process)\n")
    print(
        f"{t['orders']} orders confirmed over the API, relayed, taken by the ERP and CRM consumers; calls on our clients: "
        + ", ".join(f"{n} {k}" for k, n in sorted(t["calls"].items()))
        + "\n"
    )
    print("| | seconds | orders per second |\n|---|---|---|")
    print(f"| the handoff | {t['ours_s']:.2f} | {t['ours_rate']:.1f} |")
    print(f"| the same number of bare calls per service | {t['bare_s']:.2f} | {t['bare_rate']:.1f} |")
    print(f"| ratio | **{t['ours_s'] / t['bare_s']:.2f}** | |")


if __name__ == "__main__":
    main()

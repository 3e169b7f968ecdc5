"""`make run`: the whole stack on this machine.

moto (server mode, loopback) is the AWS; the resources are provisioned from infra/; the API is
`chalice local`; the pump delivers queue messages and schedules to the app's handlers; a demo
company is signed up through the API itself. Ctrl-C stops every process started here.

    python -m infra.local            # start everything (PORT, MOTO_PORT to change ports)
    python -m infra.local fire NAME  # run one queue or scheduled handler now, on the running stack
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The running stack's environment, for `make fire`; a second stack (the tests', the bench's) names
# its own file so that it does not overwrite, or delete on exit, the one of a stack already running.
STATE = Path(os.environ.get("LOCAL_STATE_FILE") or ROOT / ".local" / "env.json")
REGION = "us-east-1"

DEMO_COMPANY = "Demo Trading Co."
OPERATOR = ("operator@platform.example", "demo-operator-pass-1")  # our staff: GET /operator/usage
DEMO_USERS = [
    ("owner", "owner@demo-trading.example", "demo-owner-pass-1"),
    ("sales", "sales@demo-trading.example", "demo-sales-pass-1"),
    ("warehouse", "warehouse@demo-trading.example", "demo-warehouse-pass-1"),
]


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _wait_healthy(base: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("chalice local exited; see its output above")
        if _healthy(base):
            return
        time.sleep(0.2)
    raise SystemExit(f"the API did not answer {base}/health within {seconds} s")


def seed_demo() -> str:
    """Sign up the demo company and add its sales and warehouse users, with the app's own services.

    Done before the API starts, so that once /health answers the demo logins work.
    """
    from chalicelib.core.store import Store
    from chalicelib.core.tokens import VerifiedToken
    from chalicelib.tenants import access, accounts, users
    from chalicelib.tenants.models import SignupIn, UserIn

    store = Store()
    _, owner_email, owner_password = DEMO_USERS[0]
    created = accounts.signup(
        store,
        SignupIn(
            company_name=DEMO_COMPANY, owner_email=owner_email, owner_password=owner_password, plan="business"
        ),
    )
    owner = access.load_principal(
        store,
        VerifiedToken(
            tenant_id=created["tenant_id"], user_id=created["owner_user_id"], email=owner_email, expires_at=0
        ),
        0,
    )
    for role, email, password in DEMO_USERS[1:]:
        users.create(store, owner, UserIn(email=email, roles=[role], password=password))
    seed_erp(store, owner.actor())
    seed_operator()
    return str(created["tenant_id"])


def seed_operator() -> None:
    """The platform's operator in the operators' pool, as docs/operations.md adds one in AWS."""
    import boto3

    from chalicelib.core.config import settings

    idp = boto3.client("cognito-idp", region_name=REGION)
    email, password = OPERATOR
    pool = settings().operator_pool_id
    idp.admin_create_user(
        UserPoolId=pool,
        Username=email,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
    )
    idp.admin_set_user_password(UserPoolId=pool, Username=email, Password=password, Permanent=True)


def seed_erp(store: Any, actor: Any) -> None:
    """The demo's warehouse, supplier and a product with opening stock, through the ERP's services."""
    from decimal import Decimal

    from chalicelib.erp import catalogue, products, stock, warehouses
    from chalicelib.erp.models import ProductIn, SupplierIn, WarehouseIn

    warehouse = warehouses.create(store, actor, WarehouseIn(code="SH", name="上海仓 Shanghai"))
    supplier = catalogue.suppliers.create(
        store, actor, SupplierIn(code="LEAF", name="杭州茶园 Hangzhou Leaf Farm")
    )
    tea = products.create(
        store,
        actor,
        ProductIn(
            sku="TEA-001",
            name="西湖龙井 Longjing tea",
            unit="box",
            list_price=Decimal("368.00"),
            standard_cost=Decimal("210.00"),
            reorder_point=Decimal(20),
            lead_time_days=7,
            default_supplier_id=supplier["id"],
        ),
    )
    stock.adjust(store, actor, tea["id"], warehouse["id"], Decimal(100), "opening stock")


def environment(endpoint: str, stack: Any) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "CURSOR_SECRET": secrets.token_hex(32),
        # Metrics go to CloudWatch as EMF lines in AWS; on a console they only drown the logs.
        "POWERTOOLS_METRICS_DISABLED": "true",
        **stack.local_environment(endpoint),
    }


def _interrupt(*_: Any) -> None:
    # The first signal stops the stack; a second one (a repeated Ctrl-C, or a wrapper such as
    # `timeout` forwarding the same signal) must not cut the clean-up short and leave processes behind.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def run() -> None:
    # Ctrl-C and SIGTERM stop everything, even when started from a shell that ignores SIGINT for
    # background jobs (Python leaves an inherited "ignore" in place).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="Tried to parse")
    port = int(os.environ.get("PORT", "8000"))
    moto_port = int(os.environ.get("MOTO_PORT", "5055"))
    base = f"http://127.0.0.1:{port}"
    from infra.moto_server import start_local_aws

    moto, endpoint = start_local_aws(moto_port, REGION)
    from infra.provision import provision

    stack = provision("local", REGION)
    env = {**environment(endpoint, stack), "PUBLIC_URL": base}  # links in mail point at this stack
    os.environ.update(env)
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps(env, indent=2))
    tenant_id = seed_demo()
    from app import app as chalice_app
    from chalicelib.handoff.outbox import STREAM_FILTER
    from infra.pump import Pump

    pump = Pump(
        chalice_app,
        REGION,
        stream_arns={"relay_on_write": stack.table_stream_arn},
        stream_filters={"relay_on_write": STREAM_FILTER},
    )
    pump.start()

    api = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "chalice"),
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--stage",
            "dev",
            "--no-autoreload",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    try:
        _wait_healthy(base, api)
        _banner(base, endpoint, tenant_id, pump.handler_names())
        while api.poll() is None:
            time.sleep(0.5)
        raise SystemExit(f"chalice local exited with {api.returncode}")
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    finally:
        pump.stop()
        if api.poll() is None:
            api.terminate()
            try:
                api.wait(timeout=10)
            except subprocess.TimeoutExpired:
                api.kill()
        moto.stop()
        STATE.unlink(missing_ok=True)


def _banner(base: str, endpoint: str, tenant_id: str, handlers: list[str]) -> None:
    lines = [
        "",
        f"CRM + ERP API ready on {base}  (local AWS: moto on {endpoint})",
        f"Demo company: {DEMO_COMPANY}  tenant_id={tenant_id}",
        *(f"  {role:<10} {email:<34} password: {password}" for role, email, password in DEMO_USERS),
        f"Platform operator (POST /operator/login, GET /operator/usage): {OPERATOR[0]}  password: {OPERATOR[1]}",
        f"Queue, table-stream and scheduled handlers pumped: {', '.join(handlers) or 'none yet'}",
        "Run one now:  make fire NAME=<handler>",
        "OpenAPI:      curl -s " + base + "/openapi.json",
        "Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


def fire(name: str) -> None:
    if not STATE.exists():
        raise SystemExit("no running stack: start it with `make run` first")
    os.environ.update(json.loads(STATE.read_text()))
    from app import app as chalice_app
    from infra.pump import Pump

    result = Pump(chalice_app, REGION).fire(name)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "fire":
        fire(sys.argv[2])
    else:
        run()

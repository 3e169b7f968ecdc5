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
STATE = ROOT / ".local" / "env.json"
REGION = "us-east-1"

DEMO_COMPANY = "Demo Trading Co."
DEMO_USERS = [
    ("owner", "owner@demo-trading.example", "demo-owner-pass-1"),
    ("sales", "sales@demo-trading.example", "demo-sales-pass-1"),
    ("warehouse", "warehouse@demo-trading.example", "demo-warehouse-pass-1"),
]


def _http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _wait_healthy(base: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("chalice local exited; see its output above")
        try:
            if _http("GET", f"{base}/health")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"the API did not answer {base}/health within {seconds} s")


def seed_demo(base: str) -> dict[str, Any]:
    """Sign up the demo company and add its sales and warehouse users, through the API."""
    (_, owner_email, owner_password) = DEMO_USERS[0]
    status, body = _http(
        "POST",
        f"{base}/tenants",
        {"company_name": DEMO_COMPANY, "owner_email": owner_email, "owner_password": owner_password, "plan": "business"},
    )
    if status != 201:
        raise SystemExit(f"demo signup failed: {status} {body}")
    tenant_id = body["tenant_id"]
    token = _http("POST", f"{base}/auth/login", {"email": owner_email, "password": owner_password})[1]["id_token"]
    for role, email, password in DEMO_USERS[1:]:
        status, body = _http("POST", f"{base}/admin/users", {"email": email, "roles": [role], "password": password}, token)
        if status != 201:
            raise SystemExit(f"demo user {email} failed: {status} {body}")
    return {"tenant_id": tenant_id}


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
    env = environment(endpoint, stack)
    os.environ.update(env)
    STATE.parent.mkdir(exist_ok=True)
    STATE.write_text(json.dumps(env, indent=2))

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
    pump = None
    try:
        _wait_healthy(base, api)
        from app import app as chalice_app
        from infra.pump import Pump

        pump = Pump(chalice_app, REGION)
        pump.start()
        demo = seed_demo(base)
        _banner(base, endpoint, demo["tenant_id"], pump.handler_names())
        while api.poll() is None:
            time.sleep(0.5)
        raise SystemExit(f"chalice local exited with {api.returncode}")
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    finally:
        if pump:
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
        f"Queue and scheduled handlers pumped: {', '.join(handlers) or 'none yet'}",
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

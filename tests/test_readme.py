"""End to end over real HTTP: `make run`'s stack serves the README's walk-through as printed."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    port, moto_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "TABLE_", "USER_POOL", "JWKS", "CURSOR"))
    }
    state = (
        tmp_path_factory.mktemp("stack") / "env.json"
    )  # not the developer's .local/env.json of a `make run` going
    env.update(PORT=str(port), MOTO_PORT=str(moto_port), PYTHONUNBUFFERED="1", LOCAL_STATE_FILE=str(state))
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        output.append(line)
        if "Ctrl-C stops everything" in line:
            break
    banner = "".join(output)
    assert "API ready" in banner, banner[-3000:]
    # Keep reading what the stack logs, or its pipe fills and its processes block on writing.
    threading.Thread(target=lambda: [output.append(line) for line in process.stdout], daemon=True).start()
    yield {
        "port": port,
        "moto_port": moto_port,
        "banner": banner,
        "process": process,
        "state": state,
        "log": output,  # everything the stack printed so far (a failing test shows its tail)
    }
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:  # still busy (a stream backlog): test_ctrl_c checks a clean stop
            process.kill()
            process.wait()


def readme_block(name: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(rf"<!-- {name} -->\s*```sh\n(.*?)```", text, re.S)
    assert block, f"README.md lost its {name} block"
    return block.group(1)


def test_every_shell_block_of_the_readme_is_run_here():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    assert (
        len(blocks) == 3
    )  # the two commands, the walk-through, the handoff: a new one must be run below too
    assert blocks[1:] == [readme_block("walkthrough"), readme_block("handoff")]


def test_make_run_prints_the_demo_logins(local_stack):
    banner = local_stack["banner"]
    assert "Demo Trading Co." in banner
    for role in ("owner", "sales", "warehouse"):
        assert f"{role}@demo-trading.example" in banner


def test_the_readme_walkthrough_and_handoff_work_as_printed(local_stack):
    script = readme_block("walkthrough").replace(
        "API=http://127.0.0.1:8000", f"API=http://127.0.0.1:{local_stack['port']}"
    )
    # The handoff's "sleep 2" becomes a wait of at most 30 s, so a slow machine does not fail it.
    wait = (
        'for _ in $(seq 150); do command curl -s $API/crm/orders/$ORDER -H "Authorization: Bearer $TOKEN" '
        "| jq -e '.erp.invoice_id' >/dev/null && break; sleep 0.2; done"
    )
    handoff = readme_block("handoff")
    assert "\nsleep 2\n" in handoff
    script += handoff.replace("\nsleep 2\n", f"\n{wait}\n")
    # Each curl's answer on a line of its own, so the test can read them one by one.
    script = "set -euo pipefail\ncurl() { command curl -w '\\n' \"$@\"; }\n" + script
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    health, signup, me, created, listed, found, audit, adjusted, reserved, levels, *handed = answers
    confirmed, order, trail = handed
    assert confirmed["status"] == "confirmed" and confirmed["currency"] == "CNY", confirmed
    assert order["status"] == "reserved" and order["erp"]["invoice_id"] and order["total"] == "831.68", order
    assert [e["type"] for e in trail["events"]] == ["OrderConfirmed", "OrderProcessed"], trail
    assert [list(e["handled"]) for e in trail["events"]] == [["erp"], ["crm"]], trail
    assert health == {"status": "ok"}
    assert signup["status"] == "accepted"  # the same answer for an address that had an account
    assert me["tenant"]["company_name"] == "Acme Trading" and me["roles"] == ["owner"]
    assert (
        created["name"] == "上海张记贸易有限公司" and created["address"]["line1"] == "浦东新区世纪大道 100 号"
    )
    assert [c["id"] for c in listed["items"]] == [created["id"]]
    assert [c["id"] for c in found["items"]] == [created["id"]]
    actions = [(e["action"], e["entity_id"]) for e in audit["items"]]
    assert actions[0] == ("customer.create", created["id"])
    assert ("tenant.create", me["tenant"]["id"]) in actions
    assert adjusted["levels"][0]["on_hand"] == "20" and reserved["status"] == "active"
    assert [(lv["on_hand"], lv["reserved"], lv["available"]) for lv in levels["items"]] == [("20", "5", "15")]


def test_the_demo_sales_user_can_work_customers_but_not_read_the_audit(local_stack):
    import urllib.error
    import urllib.request

    base = f"http://127.0.0.1:{local_stack['port']}"

    def call(method, path, body=None, token=None):
        req = urllib.request.Request(
            base + path,
            method=method,
            data=json.dumps(body).encode() if body else None,
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {token}"} if token else {}),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    token = call(
        "POST", "/auth/login", {"email": "sales@demo-trading.example", "password": "demo-sales-pass-1"}
    )[1]["id_token"]
    assert call("POST", "/crm/customers", {"name": "Walk-in", "kind": "person"}, token)[0] == 201
    status, problem = call("GET", "/admin/audit", token=token)
    assert status == 403 and problem["permission"] == "admin.audit:read"
    tea = call("GET", "/erp/products?sku=TEA-001", token=token)[1]["items"][0]
    level = call("GET", f"/erp/stock?product_id={tea['id']}", token=token)[1]["items"][0]
    assert level["on_hand"] == "100"
    body = {"product_id": tea["id"], "warehouse_id": level["warehouse_id"], "quantity": "-1", "reason": "x"}
    assert call("POST", "/erp/stock/adjustments", body, token)[1]["permission"] == "erp.stock:adjust"
    keeper = call(
        "POST",
        "/auth/login",
        {"email": "warehouse@demo-trading.example", "password": "demo-warehouse-pass-1"},
    )[1]
    assert call("POST", "/erp/stock/adjustments", body, keeper["id_token"])[0] == 201


def _http(base):
    import urllib.error
    import urllib.request

    def call(method, path, body=None, token=None):
        req = urllib.request.Request(
            base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {token}"} if token else {}),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    return call


def test_a_confirmed_order_reaches_the_erp_and_back_within_five_seconds(local_stack):
    call = _http(f"http://127.0.0.1:{local_stack['port']}")
    token = call(
        "POST", "/auth/login", {"email": "owner@demo-trading.example", "password": "demo-owner-pass-1"}
    )[1]["id_token"]
    customer = call("POST", "/crm/customers", {"name": "杭州茶馆", "kind": "company"}, token)[1]
    lines = [{"product_code": "TEA-001", "quantity": "2", "unit_price": "368.00", "tax_rate": "13"}]
    order = call(
        "POST", "/crm/orders", {"customer_id": customer["id"], "currency": "CNY", "lines": lines}, token
    )[1]
    started = time.monotonic()
    assert call("POST", f"/crm/orders/{order['id']}/confirm", None, token)[1]["status"] == "confirmed"
    while time.monotonic() - started < 5:
        seen = call("GET", f"/crm/orders/{order['id']}", None, token)[1]
        if seen["status"] == "reserved" and seen["erp"].get("invoice_id"):
            break
        time.sleep(0.2)
    assert seen["status"] == "reserved" and seen["erp"]["invoice_id"], seen
    tea = call("GET", "/erp/products?sku=TEA-001", None, token)[1]["items"][0]
    assert call("GET", f"/erp/stock?product_id={tea['id']}", None, token)[1]["items"][0]["reserved"] == "2"
    invoices = call("GET", f"/erp/invoices?customer_id={customer['id']}", None, token)[1]["items"]
    assert [(i["status"], i["total"]) for i in invoices] == [("issued", order["total"])]
    timeline = call("GET", f"/crm/customers/{customer['id']}/timeline", None, token)[1]["items"]
    told = [e["summary"] for e in timeline if e["summary"].get("event") == "OrderProcessed"]
    assert told == [
        {
            "event": "OrderProcessed",
            "order_id": order["id"],
            "status": "reserved",
            "reserved_lines": 1,
            "backordered_lines": 0,
            "invoice_id": invoices[0]["id"],
        }
    ], timeline


def test_fifty_orders_confirmed_concurrently_over_http_for_ten_units(local_stack):
    from concurrent.futures import ThreadPoolExecutor

    call = _http(f"http://127.0.0.1:{local_stack['port']}")
    token = call(
        "POST", "/auth/login", {"email": "owner@demo-trading.example", "password": "demo-owner-pass-1"}
    )[1]["id_token"]
    supplier = call("GET", "/erp/suppliers", None, token)[1]["items"][0]["id"]
    product = call(
        "POST",
        "/erp/products",
        {"sku": "RACE-10", "name": "Ten units", "default_supplier_id": supplier},
        token,
    )[1]
    warehouse = call("GET", "/erp/warehouses", None, token)[1]["items"][0]["id"]
    adjust = {"product_id": product["id"], "warehouse_id": warehouse, "quantity": "10", "reason": "race"}
    assert call("POST", "/erp/stock/adjustments", adjust, token)[0] == 201
    customer = call("POST", "/crm/customers", {"name": "Race Co", "kind": "company"}, token)[1]
    lines = [{"product_code": "RACE-10", "quantity": "1", "unit_price": "10"}]
    orders = [
        call(
            "POST", "/crm/orders", {"customer_id": customer["id"], "currency": "CNY", "lines": lines}, token
        )[1]["id"]
        for _ in range(50)
    ]
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda o: call("POST", f"/crm/orders/{o}/confirm", None, token)[0], orders))
    assert answers == [200] * 50
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        states = [call("GET", f"/crm/orders/{o}", None, token)[1]["status"] for o in orders]
        if all(s in ("reserved", "backordered") for s in states):
            break
        time.sleep(2)
    assert sorted(states).count("reserved") == 10 and states.count("backordered") == 40, states
    level = call("GET", f"/erp/stock?product_id={product['id']}", None, token)[1]["items"][0]
    assert (level["on_hand"], level["reserved"], level["available"]) == ("10", "10", "0")
    drafts = call("GET", f"/erp/purchase-orders?supplier_id={supplier}&limit=100", None, token)[1]["items"]
    assert sum(1 for d in drafts if d["lines"][0]["product_id"] == product["id"]) == 40


def test_a_company_hammering_the_api_gets_429s_while_another_is_served(local_stack):
    """Issue 13: over make run's stack, one company (free plan: 5 a second, bursts of 10) sends 96
    requests from 8 threads at once; in the same moments a second company, paced under its rate, is
    answered every time. The refusals are 429 problem+json with Retry-After."""
    import threading
    import urllib.error
    import urllib.request
    import uuid

    base = f"http://127.0.0.1:{local_stack['port']}"
    call = _http(base)

    def company() -> str:
        email = f"rate-{uuid.uuid4().hex[:10]}@example.com"
        body = {
            "company_name": "Rate Co",
            "owner_email": email,
            "owner_password": "rate-pass-123",
            "plan": "free",
        }
        assert call("POST", "/tenants", body)[0] == 202
        return call("POST", "/auth/login", {"email": email, "password": "rate-pass-123"})[1]["id_token"]

    busy, calm = company(), company()

    def get(token: str) -> tuple[int, str | None, str]:
        req = urllib.request.Request(base + "/me", headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, None, ""
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Retry-After"), json.loads(e.read()).get("type", "")

    hammered: list[tuple[int, str | None, str]] = []
    served: list[tuple[int, str | None, str]] = []

    def hammer() -> None:
        for _ in range(12):
            hammered.append(get(busy))

    def paced() -> None:
        for _ in range(8):
            served.append(get(calm))
            time.sleep(0.3)  # about 3 a second: under its 5

    threads = [threading.Thread(target=hammer) for _ in range(8)] + [threading.Thread(target=paced)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    statuses = [s for s, _, _ in hammered]
    # Never more than the burst and the rate over the time it took (GCRA admits no more, whatever
    # the machine's speed); the rest refused.
    assert 10 <= statuses.count(200) <= 10 + 5 * elapsed + 1, (elapsed, statuses)
    assert statuses.count(429) == 96 - statuses.count(200) > 0, statuses
    refused = [(r, t) for s, r, t in hammered if s == 429]
    assert all(r is not None and int(r) >= 1 and t == "/problems/rate-limited" for r, t in refused), refused
    assert [s for s, _, _ in served] == [200] * 8, served


def test_ctrl_c_stops_every_process_even_pressed_twice(local_stack):
    process = local_stack["process"]
    assert json.loads(local_stack["state"].read_text())[
        "TABLE_NAME"
    ]  # the running stack's environment, for `make fire`
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(
        signal.SIGINT
    )  # impatient, or a wrapper forwarding the same signal: the clean-up still runs
    assert process.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        port_open(local_stack["port"]) or port_open(local_stack["moto_port"])
    ):
        time.sleep(0.2)
    assert not port_open(local_stack["port"]) and not port_open(local_stack["moto_port"])
    assert not local_stack["state"].exists()

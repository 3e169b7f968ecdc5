"""The order handoff end to end through `make run`'s stack, over real HTTP, against its bare calls.

    python -m bench.stack [--orders 30] [--clients 1]

Starts `python -m infra.local` (moto server, `chalice local`, the pump) on free ports. First five
orders one at a time: how long one takes from its confirmation to reserved and invoiced in the
CRM. Then N orders of a stocked product confirmed over HTTP, clocked until every one is reserved
and invoiced (the consumers' last write). moto's request recorder logs every AWS call the stack
makes in that window, by service; then the same number of bare calls per service (a DynamoDB
`GetItem`, an EventBridge `put_events`, an SQS `get_queue_attributes`, a Cognito
`list_user_pools`) are made one after the other against the same moto server and clocked. The
bench watches the orders through its own DynamoDB client, tagged in its user agent, so its reads
are told apart and not counted.
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TAG = "crmerp-bench"
OWNER = ("owner@demo-trading.example", "demo-owner-pass-1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(base: str) -> Any:
    def call(method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {token}"} if token else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    return call


class Stack:
    """`make run`'s stack in a child process, with moto's recorder writing to a file of ours."""

    def __init__(self, recording: Path) -> None:
        self.port, self.moto_port = _free_port(), _free_port()
        self.recording = recording
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "TABLE_", "USER_POOL", "JWKS", "CURSOR"))
        }
        self.state = recording.parent / "env.json"
        env.update(
            PORT=str(self.port),
            MOTO_PORT=str(self.moto_port),
            PYTHONUNBUFFERED="1",
            MOTO_RECORDER_FILEPATH=str(recording),
            LOCAL_STATE_FILE=str(self.state),
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.local"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        banner = "".join(lines)
        if "API ready" not in banner:
            self.stop()
            raise SystemExit("make run's stack did not start:\n" + banner[-3000:])
        self.tenant_id = re.search(r"tenant_id=(\S+)", banner).group(1)  # type: ignore[union-attr]
        stdout = self.process.stdout
        threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()  # keep its pipe drained
        self.env = json.loads(self.state.read_text())  # what the stack provisioned
        self.api = _http(f"http://127.0.0.1:{self.port}")
        self.moto = f"http://127.0.0.1:{self.moto_port}"

    def recorder(self, action: str) -> str:
        with urllib.request.urlopen(
            urllib.request.Request(f"{self.moto}/moto-api/recorder/{action}", method="POST")
        ) as r:
            return r.read().decode()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _client(service: str, endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(user_agent_extra=TAG),
    )


def calls_by_service(recording: str) -> tuple[collections.Counter[str], collections.Counter[str]]:
    """(calls per service, calls per service.operation) in a moto recording, the bench's own left out."""
    services: collections.Counter[str] = collections.Counter()
    operations: collections.Counter[str] = collections.Counter()
    for line in recording.splitlines():
        entry = json.loads(line)
        headers = {k.lower(): v for k, v in entry["headers"].items()}
        if TAG in headers.get("user-agent", ""):
            continue
        scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", headers.get("authorization", ""))
        service = scope.group(1) if scope else "other"
        target = headers.get("x-amz-target", "")
        if target:
            operation = target.split(".")[-1]
        else:
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode("utf-8", "replace")
            found = re.search(r"Action=(\w+)", body + entry["url"])
            operation = found.group(1) if found else entry["method"]
        services[service] += 1
        operations[f"{service} {operation}"] += 1
    return services, operations


def run(orders: int, clients: int) -> dict[str, Any]:
    from chalicelib.core import keys

    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp) / "moto-recording.jsonl")
        try:
            return _measure(stack, keys, orders, clients)
        finally:
            stack.stop()


def _measure(stack: Stack, keys: Any, orders: int, clients: int) -> dict[str, Any]:
    call = stack.api
    token = call("POST", "/auth/login", {"email": OWNER[0], "password": OWNER[1]})[1]["id_token"]
    product = call("POST", "/erp/products", {"sku": "RATE-1", "name": "Rate tea"}, token)[1]
    warehouse = call("GET", "/erp/warehouses", None, token)[1]["items"][0]["id"]
    adjust = {
        "product_id": product["id"],
        "warehouse_id": warehouse,
        "quantity": str(orders * 10),
        "reason": "bench",
    }
    assert call("POST", "/erp/stock/adjustments", adjust, token)[0] == 201
    customer = call("POST", "/crm/customers", {"name": "Rate Co", "kind": "company"}, token)[1]["id"]
    lines = [{"product_code": "RATE-1", "quantity": "1", "unit_price": "10", "tax_rate": "13"}]
    made = [
        call("POST", "/crm/orders", {"customer_id": customer, "currency": "CNY", "lines": lines}, token)[1][
            "id"
        ]
        for _ in range(orders + 5)
    ]
    table = stack.env["TABLE_NAME"]
    ddb = _client("dynamodb", stack.moto)
    order_keys = [{k: {"S": v} for k, v in keys.entity(stack.tenant_id, "order", o).items()} for o in made]

    def done(waiting: dict[str, dict[str, Any]]) -> bool:
        """Whether every order is reserved and invoiced; reads only those not seen so yet (moto serves
        DynamoDB one call at a time, so the bench's reads would otherwise slow the stack it clocks)."""
        still = list(waiting.values())
        for start in range(0, len(still), 100):
            wanted = {
                table: {
                    "Keys": still[start : start + 100],
                    "ConsistentRead": True,
                    "ProjectionExpression": "id, #s, erp.invoice_id",
                    "ExpressionAttributeNames": {"#s": "status"},
                }
            }
            for i in ddb.batch_get_item(RequestItems=wanted)["Responses"][table]:
                if i["status"]["S"] == "reserved" and i.get("erp", {}).get("M", {}).get("invoice_id", {}).get(
                    "S"
                ):
                    waiting.pop(i["id"]["S"])
        return not waiting

    time.sleep(1.5)  # let the pump drain what the set-up announced
    latencies = []
    for order, key in list(zip(made, order_keys, strict=True))[:5]:  # one at a time: how long one order takes
        waiting = {order: key}
        started = time.perf_counter()
        assert call("POST", f"/crm/orders/{order}/confirm", None, token)[0] == 200
        while not done(waiting):
            time.sleep(0.02)
        latencies.append(time.perf_counter() - started)
    made, order_keys = made[5:], order_keys[5:]
    stack.recorder("reset-recording")
    stack.recorder("start-recording")
    waiting = {o: k for o, k in zip(made, order_keys, strict=True)}
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(lambda o: call("POST", f"/crm/orders/{o}/confirm", None, token)[0], made))
    confirmed = time.perf_counter() - started
    assert answers == [200] * len(made), answers
    while not done(waiting):
        if time.perf_counter() - started > 600:
            raise SystemExit("the orders did not all reach the ERP and back within 10 minutes")
        time.sleep(0.25)
    ours = time.perf_counter() - started
    stack.recorder("stop-recording")
    services, operations = calls_by_service(stack.recording.read_text())

    bare = _bare_calls(stack, services, table)
    return {
        "orders": len(made),
        "clients": clients,
        "latencies": latencies,
        "ours_s": ours,
        "confirm_s": confirmed,
        "bare_s": bare,
        "services": dict(services),
        "operations": dict(operations),
    }


def _bare_calls(stack: Stack, services: collections.Counter[str], table: str) -> float:
    """The same number of calls per service as the run made, each the cheapest of its service."""
    ddb, events, sqs, cognito = (_client(s, stack.moto) for s in ("dynamodb", "events", "sqs", "cognito-idp"))
    queue, bus = stack.env["ERP_QUEUE_URL"], stack.env["EVENT_BUS_NAME"]
    key = {"pk": {"S": "P#BENCH"}, "sk": {"S": "X"}}
    bare = {
        "dynamodb": lambda: ddb.get_item(TableName=table, Key=key),
        "events": lambda: events.put_events(
            Entries=[{"Source": "bench.noop", "DetailType": "Noop", "Detail": "{}", "EventBusName": bus}]
        ),
        "sqs": lambda: sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"]),
        "cognito-idp": lambda: cognito.list_user_pools(MaxResults=1),
    }
    started = time.perf_counter()
    for service, n in services.items():
        make = bare.get(service, bare["dynamodb"])
        for _ in range(n):
            make()
    return time.perf_counter() - started


def report(t: dict[str, Any]) -> str:
    per_order = ", ".join(f"{n / t['orders']:.1f} {s}" for s, n in sorted(t["services"].items()))
    lines = [
        f"## The order handoff through `make run` (real HTTP; {t['orders']} orders, {t['clients']} client(s))\n",
        f"Calls the stack made to moto in the window, per order: {per_order}\n",
        "| | seconds | orders per second |",
        "|---|---|---|",
        f"| confirm over HTTP → reserved and invoiced in the CRM | {t['ours_s']:.2f} | {t['orders'] / t['ours_s']:.1f} |",
        f"| the same number of bare moto calls per service, one after the other | {t['bare_s']:.2f} "
        f"| {t['orders'] / t['bare_s']:.1f} |",
        f"| ratio | **{t['ours_s'] / t['bare_s']:.2f}** | |",
        "",
        f"(the {t['orders']} confirmations alone took {t['confirm_s']:.2f} s over HTTP; one order alone, confirmed to "
        f"reserved and invoiced in the CRM: {', '.join(f'{x:.2f}' for x in t['latencies'])} s)",
        "",
        "| call | count | per order |",
        "|---|---|---|",
        *(
            f"| {op} | {n} | {n / t['orders']:.1f} |"
            for op, n in sorted(t["operations"].items(), key=lambda x: -x[1])
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=30)
    parser.add_argument("--clients", type=int, default=1, help="concurrent HTTP clients confirming")
    args = parser.parse_args()
    print(report(run(args.orders, args.clients)))


if __name__ == "__main__":
    main()

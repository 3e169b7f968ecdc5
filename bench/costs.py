"""What a read and an order confirmation cost on AWS, behind the REST front and behind the HTTP API
front, against the floor of each front (``python -m bench.costs [--orders N] [--reads N]``).

Counted exactly, in process against moto (the app's own clients, the pump doing what Lambda's event
source mappings do, the table's stream feeding the relay as in AWS):

- DynamoDB calls per function, and the request units they use, as DynamoDB bills them: an item
  written, 1 write unit a started KB (2 in a transaction); an item read, a started 4 KB: 1 read unit
  consistent, 0.5 eventually consistent (2 in a transaction); a Query, its items' sizes summed.
  Sizes are the items' JSON as sent or received, a close proxy for DynamoDB's own size;
- Lambda invocations per function (each handler call the pump makes, each API request);
- EventBridge entries published; SQS requests (receive and delete, as the event source mapping
  makes them, counted on the pump's client); STS calls.

Not counted but priced by assumption: each invocation's duration (GB-seconds at the function's
memory, ``DURATION_MS`` below) and the authorizer, whose verdict API Gateway caches per token for
300 s (a client that calls more than once in five minutes pays for it once).

Prices: chalicelib/billing/costs.PRICES, the platform's one price table.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import time
from decimal import Decimal
from typing import Any

# Each function's memory (.chalice/config.json) and the duration assumed per invocation (ms).
MEMORY_MB = {"api": 512, "job-worker": 1024}
DURATION_MS = {"api": 60, "jwt-auth": 15, "erp-consumer": 250, "crm-consumer": 150, "relay-on-write": 80}
DEFAULT_MEMORY_MB = 128


class Meter:
    """Every DynamoDB call of the app (by the function running), Lambda invocation, bus entry,
    SQS request and STS call."""

    def __init__(self) -> None:
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()
        self.write_units: collections.Counter[str] = collections.Counter()
        self.read_units: collections.Counter[str] = collections.Counter()
        self.invocations: collections.Counter[str] = collections.Counter()
        self.other: collections.Counter[str] = collections.Counter()
        self.trace: list[str] | None = None  # each call's function, operation and keys, when asked

    def reset(self) -> None:
        for counter in (self.calls, self.write_units, self.read_units, self.invocations, self.other):
            counter.clear()

    # ---- DynamoDB -------------------------------------------------------------------------------
    def on_request(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        from chalicelib.core import aws

        function = aws.current_function() or "test"
        self.calls[(function, model.name)] += 1
        body = json.loads(params.get("body") or b"{}")
        if self.trace is not None:
            self.trace.append(f"{function:15} {model.name:20} {' '.join(_keys_of(body))}")
        self.write_units[function] += _write_units(model.name, body)

    def on_answer(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        from chalicelib.core import aws

        self.read_units[aws.current_function() or "test"] += _read_units(model.name, parsed, self._consistent)

    _consistent = False

    def before_read(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        body = json.loads(params.get("body") or b"{}")
        self._consistent = bool(body.get("ConsistentRead")) or any(
            t.get("ConsistentRead") for t in (body.get("RequestItems") or {}).values() if isinstance(t, dict)
        )


def _keys_of(body: dict[str, Any]) -> list[str]:
    """The partition and sort keys a request names (for ``--trace``), tenant ids left in."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "pk" in value and isinstance(value["pk"], dict) and "S" in value["pk"]:
                found.append(value["pk"]["S"] + " | " + str(value.get("sk", {}).get("S", "")))
                return
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk({k: v for k, v in body.items() if k not in ("ExpressionAttributeValues",)})
    if body.get("IndexName") or "KeyConditionExpression" in body:
        found.append(f"query {body.get('IndexName', 'table')} {body.get('ExpressionAttributeValues')}")
    return found


def _kb(item: Any, unit: int) -> int:
    return max(1, math.ceil(len(json.dumps(item, default=str)) / unit))


def _write_units(operation: str, body: dict[str, Any]) -> int:
    if operation == "PutItem":
        return _kb(body["Item"], 1024)
    if operation in ("UpdateItem", "DeleteItem"):
        return 1
    if operation == "BatchWriteItem":
        return sum(
            _kb(w["PutRequest"]["Item"], 1024) if "PutRequest" in w else 1
            for writes in body["RequestItems"].values()
            for w in writes
        )
    if operation == "TransactWriteItems":
        return sum(2 * (_kb(i["Put"]["Item"], 1024) if "Put" in i else 1) for i in body["TransactItems"])
    return 0


def _read_units(operation: str, parsed: dict[str, Any], consistent: bool) -> float:
    factor = 1.0 if consistent else 0.5
    if operation == "GetItem":
        return factor * _kb(parsed["Item"], 4096) if parsed.get("Item") else factor
    if operation == "BatchGetItem":
        found = [i for items in parsed.get("Responses", {}).values() for i in items]
        return factor * sum(_kb(i, 4096) for i in found) if found else factor
    if operation == "Query":
        size = sum(len(json.dumps(i, default=str)) for i in parsed.get("Items", []))
        return factor * max(1, math.ceil(size / 4096))
    if operation == "TransactWriteItems":
        return 0.0
    return 0.0


def measure(orders: int, reads: int, trace: bool = False) -> dict[str, Any]:
    from bench.harness import local_api
    from chalicelib.core import aws

    meter = Meter()
    with local_api() as (api, token):
        from app import app
        from chalicelib.handoff.outbox import STREAM_FILTER
        from infra.pump import Pump

        aws.observe("before-call.dynamodb", meter.on_request)
        aws.observe("before-call.dynamodb", meter.before_read)
        aws.observe("after-call.dynamodb", meter.on_answer)
        aws.events().meta.events.register(
            "provide-client-params.events.PutEvents",
            lambda params, **_: meter.other.update({"eventbridge_entries": len(params["Entries"])}),
        )
        aws.sts().meta.events.register("before-call.sts", lambda **_: meter.other.update(["sts_calls"]))
        pump = Pump(
            app,
            queue_urls={
                k: os.environ[v]
                for k, v in (("erp_consumer", "ERP_QUEUE_URL"), ("crm_consumer", "CRM_QUEUE_URL"))
            },
            stream_arns={"relay_on_write": os.environ["TABLE_STREAM_ARN"]},
            stream_filters={"relay_on_write": STREAM_FILTER},
        )

        # SQS requests as Lambda's event source mapping makes them for these messages: the receive
        # that got them and the delete (the pump's empty polls are its own, not the mapping's, whose
        # long polling costs a few requests a minute per queue, whatever the traffic).
        def sqs_request(model: Any, parsed: dict[str, Any], **_: Any) -> None:
            if model.name == "GetQueueAttributes":
                return  # the pump's own lookup of the queue's ARN, which a mapping knows
            if model.name != "ReceiveMessage" or parsed.get("Messages"):
                meter.other.update([f"sqs_{model.name}"])

        pump._sqs.meta.events.register("after-call.sqs", sqs_request)
        real_invoke = pump._invoke

        def counted(name: str, event: dict[str, Any]) -> Any:
            meter.invocations[name.replace("_", "-")] += 1
            return real_invoke(name, event)

        pump._invoke = counted  # type: ignore[method-assign]

        plan = api.put("/billing/plan", token, {"plan": "enterprise"})  # its rate, not free's 5 a second
        assert plan.status == 200, plan.body
        warehouse = api.post("/erp/warehouses", token, {"code": "SH", "name": "Shanghai"}).json["id"]
        product = api.post("/erp/products", token, {"sku": "TEA", "name": "Tea", "list_price": "20"}).json
        body = {
            "product_id": product["id"],
            "warehouse_id": warehouse,
            "quantity": "100000",
            "reason": "count",
        }
        api.post("/erp/stock/adjustments", token, body)
        customer = api.post("/crm/customers", token, {"name": "West Lake Tea", "kind": "company"}).json["id"]

        def settle() -> None:
            idle = 0
            while idle < 3:
                idle = idle + 1 if pump.run_once() == 0 else 0

        # Reads: the principal cached, as in a warm container.
        api.get(f"/crm/customers/{customer}", token)
        meter.reset()
        for _ in range(reads):
            assert api.get(f"/crm/customers/{customer}", token).status == 200
        read = _per(meter, reads, api_requests=reads)
        # Orders: drafts made first (not counted), then each confirmation and its whole handoff.
        line = {"product_code": "TEA", "quantity": "1", "unit_price": "20", "tax_rate": "13"}
        drafts = [
            api.post(
                "/crm/orders", token, {"customer_id": customer, "currency": "CNY", "lines": [line]}
            ).json["id"]
            for _ in range(orders)
        ]
        settle()
        meter.reset()
        started = time.perf_counter()
        for n, order in enumerate(drafts):
            meter.trace = [] if trace and n == orders - 1 else None
            assert api.post(f"/crm/orders/{order}/confirm", token).status == 200
            settle()
            if meter.trace is not None:
                print("\n".join(meter.trace))
                meter.trace = None
        elapsed = time.perf_counter() - started
        confirmation = _per(meter, orders, api_requests=orders)  # before the check's reads below
        confirmation["seconds_per_order_in_process"] = elapsed / orders
        done = [api.get(f"/crm/orders/{o}", token).json["status"] for o in drafts]
        assert done == ["reserved"] * orders, done
    return {"read": read, "confirmation": confirmation}


def _per(meter: Meter, n: int, api_requests: int) -> dict[str, Any]:
    invocations = dict(meter.invocations)
    invocations["api"] = api_requests
    calls: dict[str, float] = collections.defaultdict(float)
    for (function, _op), count in meter.calls.items():
        calls[function] += count / n
    return {
        "dynamodb_calls": round(sum(meter.calls.values()) / n, 2),
        "dynamodb_calls_by_function": {k: round(v, 2) for k, v in sorted(calls.items())},
        "dynamodb_calls_by_operation": {
            f"{f} {op}": round(c / n, 2) for (f, op), c in sorted(meter.calls.items())
        },
        "write_units": round(sum(meter.write_units.values()) / n, 2),
        "write_units_by_function": {k: round(v / n, 2) for k, v in sorted(meter.write_units.items())},
        "read_units": round(sum(meter.read_units.values()) / n, 2),
        "invocations": {k: round(v / n, 2) for k, v in sorted(invocations.items())},
        "eventbridge_entries": meter.other["eventbridge_entries"] / n,
        "sqs_requests": sum(v for k, v in meter.other.items() if k.startswith("sqs_")) / n,
        "sqs_requests_by_kind": {k: v / n for k, v in sorted(meter.other.items()) if k.startswith("sqs_")},
        "sts_calls": meter.other["sts_calls"] / n,
    }


def cost_per_million(figures: dict[str, Any], front: str, authorizer_misses: float = 0.0) -> Decimal:
    """USD per million operations of ``figures`` behind ``front`` ("rest" or "http")."""
    from chalicelib.billing.costs import PRICES

    million = Decimal(1_000_000)
    gateway = PRICES["apigateway_rest_request" if front == "rest" else "apigateway_http_request"]
    invocations = dict(figures["invocations"])
    if front == "rest":
        invocations["jwt-auth"] = authorizer_misses
    gb_seconds = sum(
        Decimal(str(n))
        * Decimal(MEMORY_MB.get(f, DEFAULT_MEMORY_MB))
        / 1024
        * Decimal(DURATION_MS.get(f, 100))
        / 1000
        for f, n in invocations.items()
    )
    total = (
        gateway * Decimal(str(figures["invocations"]["api"]))
        + PRICES["lambda_request"] * Decimal(str(sum(invocations.values())))
        + PRICES["lambda_gb_second"] * gb_seconds
        + PRICES["dynamodb_write_unit"] * Decimal(str(figures["write_units"]))
        + PRICES["dynamodb_read_unit"] * Decimal(str(figures["read_units"]))
        + PRICES["eventbridge_event"] * Decimal(str(figures["eventbridge_entries"]))
        + PRICES["sqs_request"] * Decimal(str(figures["sqs_requests"]))
        + PRICES["sts_request"] * Decimal(str(figures["sts_calls"]))
    )
    return (total * million).quantize(Decimal("0.01"))


def floor(front: str, write_units: float, read_units: float) -> Decimal:
    """The least an operation can cost behind ``front``: the gateway, one API invocation and the
    request units of its own record (a read: one item; a confirmation: its order's own write)."""
    figures = {
        "invocations": {"api": 1},
        "write_units": write_units,
        "read_units": read_units,
        "eventbridge_entries": 0,
        "sqs_requests": 0,
        "sts_calls": 0,
    }
    return cost_per_million(figures, front)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--trace", action="store_true", help="list the last order's DynamoDB calls")
    args = parser.parse_args()
    figures = measure(args.orders, args.reads, args.trace)
    print(json.dumps(figures, indent=2))
    rows = [
        ("a read (GET /crm/customers/{id})", figures["read"], floor("rest", 0, 0.5), floor("http", 0, 0.5)),
        (
            "an order confirmation, handoff included",
            figures["confirmation"],
            floor("rest", 2, 1),
            floor("http", 2, 1),
        ),
    ]
    print("| per million | REST front | its floor | HTTP API front | its floor |")
    print("|---|---|---|---|---|")
    for label, f, rest_floor, http_floor in rows:
        print(
            f"| {label} | ${cost_per_million(f, 'rest')} | ${rest_floor} | ${cost_per_million(f, 'http')} | ${http_floor} |"
        )


if __name__ == "__main__":
    main()

"""Issue 14: what the dashboard, the 360 view, aging, a customer's balance and the recommendations
read at 100 orders and at 5,000 (calls and items, exact), their time per request side by side, and
the dashboard, aging and 360 figures against the records recomputed at each size.

A generated company per size: 20 customers (the first places a quarter of the orders), 8 products,
orders over a year through the records' own write paths (confirmed and moved on by the ERP, paid,
rejected, cancelled, deleted as drafts), an invoice issued for each order that counts, some credited
and some paid (part, in full, with some left on account), opportunities in stages, won and lost.

    python -m bench.insight [--sizes 100 5000] [--requests 15]
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PRODUCTS = ("TEA", "CUP", "POT", "TIN", "KETTLE", "TRAY", "FILTER", "SPOON")
FIRST_DAY = date(2025, 12, 1)


def _at(day: date, rng: random.Random) -> str:
    return f"{day.isoformat()}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00.000000Z"


def make_company(api: Any, token: str, size: int, seed: int) -> dict[str, Any]:
    """The company's records as written (their last versions)."""
    from chalicelib.api.web import STORE
    from chalicelib.core import entities
    from chalicelib.core.entities import Change
    from chalicelib.core.store import Actor
    from chalicelib.crm.types import ORDER
    from chalicelib.erp import receivables
    from chalicelib.erp.models import AllocationIn, PaymentIn

    rng = random.Random(seed)
    me = api.get("/me", token).json
    actor = Actor(me["tenant"]["id"], me["user"]["id"])
    customers = []
    for n in range(20):
        reply = api.post("/crm/customers", token, {"name": f"Customer {seed}-{n}", "kind": "company"})
        assert reply.status == 201, reply.body
        customers.append(reply.json["id"])
    orders: dict[str, dict[str, Any]] = {}
    invoices: dict[str, dict[str, Any]] = {}
    for n in range(size):
        customer = customers[0] if n % 4 == 0 else rng.choice(customers[1:])
        day = FIRST_DAY + timedelta(days=rng.randrange(365))
        lines = [
            {
                "product_code": code,
                "description": code.title(),
                "quantity": str(rng.randrange(1, 5)),
                "net": str(Decimal(rng.randrange(100, 50_000)) / 100),
            }
            for code in rng.sample(PRODUCTS, rng.randrange(1, 4))
        ]
        fields = {
            "customer_id": customer,
            "currency": "CNY" if rng.random() < 0.8 else "USD",
            "total": str(sum(Decimal(li["net"]) for li in lines)),
            "lines": lines,
            "status": "draft",
            "confirmed_at": None,
        }
        at = _at(day, rng)
        item = entities.new_item(ORDER, actor, fields, now=at)
        STORE.transact(entities.create_operations(ORDER, actor, item))
        path = rng.choices(
            ["draft", "deleted", "confirmed", "paid", "rejected", "cancelled"], [4, 2, 30, 50, 7, 7]
        )[0]
        if path == "deleted":
            entities.remove(STORE, actor, ORDER, item["id"])
            continue
        steps = {
            "draft": [],
            "confirmed": ["confirmed", "accepted", "reserved"],
            "paid": ["confirmed", "shipped", "paid"],
        }
        for status in steps.get(path, ["confirmed", "accepted", path]):
            change = Change(fields={"status": status, "confirmed_at": at})
            item = entities.update(STORE, actor, ORDER, item["id"], decide=change).item
        orders[item["id"]] = item
        if path in ("confirmed", "paid"):
            invoice_lines = [
                {
                    "description": li["description"],
                    "quantity": "1",
                    "unit_price": li["net"],
                    "tax_rate": "0",
                    "discount_percent": "0",
                }
                for li in lines
            ]
            draft = entities.new_item(
                receivables.INVOICE,
                actor,
                receivables.new_fields(customer, fields["currency"], invoice_lines),
            )
            STORE.transact(entities.create_operations(receivables.INVOICE, actor, draft))
            invoice = receivables.issue(STORE, actor, draft["id"], day.isoformat(), None)
            move = rng.random()
            if move < 0.15:
                credit = (Decimal(invoice["balance"]) / 4).quantize(Decimal("0.01"))
                invoice = receivables.credit(STORE, actor, invoice["id"], credit, "damaged")["invoice"]
            if path == "paid" or move > 0.7:
                owed = Decimal(invoice["balance"])
                paid = owed if path == "paid" else (owed / 2).quantize(Decimal("0.01"))
                extra = Decimal("5.00") if rng.random() < 0.1 else Decimal(0)
                received = min(day + timedelta(days=rng.randrange(40)), date.today())
                payment = PaymentIn(
                    customer_id=customer,
                    currency=fields["currency"],
                    amount=paid + extra,
                    received_on=received.isoformat(),
                    allocations=[AllocationIn(invoice_id=invoice["id"], amount=paid)],
                )
                receivables.pay(STORE, actor, payment)
            invoices[invoice["id"]] = invoice
    stages = [s["key"] for s in api.get("/crm/pipeline", token).json["stages"]]
    for n in range(max(10, size // 10)):  # through the API: opportunities carry their stage history
        deal = {
            "customer_id": rng.choice(customers),
            "name": f"Deal {n}",
            "currency": "CNY",
            "amount": str(Decimal(rng.randrange(1, 5_000_000)) / 100),
            "stage": rng.choice(stages),
        }
        made = api.post("/crm/opportunities", token, deal)
        assert made.status == 201, made.body
        if rng.random() < 0.3:
            outcome = {"outcome": rng.choice(["won", "lost"])}
            assert api.post(f"/crm/opportunities/{made.json['id']}/close", token, outcome).status == 200
    return {"tenant_id": actor.tenant_id, "customers": customers, "orders": list(orders.values())}


def _every(api: Any, token: str, path: str) -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        reply = api.get(path + (f"&cursor={cursor}" if cursor else ""), token)
        assert reply.status == 200, reply.body
        found.extend(reply.json["items"])
        cursor = reply.json.get("next_cursor")
        if not cursor:
            return found


def check(api: Any, token: str, company: dict[str, Any]) -> dict[str, bool]:
    """The figures against the records recomputed (the tests' brute forces)."""
    from chalicelib.crm.overview import purchase_figures
    from tests.test_balances import FIGURES, kept, recomputed
    from tests.test_customer_360 import _comparable
    from tests.test_dashboard import brute_force, same

    first, last = FIRST_DAY, FIRST_DAY + timedelta(days=364)
    sales_equal = True
    for granularity in ("day", "week", "month"):
        start = last - timedelta(days=365) if granularity != "month" else first
        board = api.get(f"/analytics/dashboard?from={start}&to={last}&granularity={granularity}", token).json
        sales_equal &= same(board["sales"], brute_force(company["orders"], start, last, granularity))
    invoices = _every(api, token, "/erp/invoices?limit=100")
    payments = _every(api, token, "/erp/payments?limit=100")
    today = date.today()
    expected = recomputed(invoices, payments, today)
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        reply = api.get(
            "/erp/receivables/aging?limit=100" + (f"&cursor={cursor}" if cursor else ""), token
        ).json
        rows += reply["rows"]
        cursor = reply["next_cursor"]
        if not cursor:
            break
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(FIGURES, Decimal(0)))
    for (_, currency), figures in expected.items():
        for name, value in figures.items():
            totals[currency][name] += value
    board = api.get("/analytics/dashboard", token).json["receivables"]
    dashboard_receivables = {f["currency"]: {n: Decimal(f[n]) for n in FIGURES} for f in board} == dict(
        totals
    )
    biggest = company["customers"][0]
    view = api.get(f"/crm/customers/{biggest}/360", token).json["purchases"]
    theirs = [o for o in company["orders"] if o["customer_id"] == biggest]
    del view["churn_risk"]
    return {
        "sales (3 granularities)": sales_equal,
        "aging rows": kept(rows) == expected,
        "dashboard receivables": dashboard_receivables,
        "360 purchases": _comparable(view) == _comparable(purchase_figures(theirs)),
    }


class Recorder:
    """The DynamoDB calls a request makes, as (client, operation, parameters), to replay bare."""

    def __init__(self) -> None:
        from chalicelib.core import aws

        self.calls: list[tuple[Any, str, dict[str, Any]]] = []
        aws.observe("provide-client-params.dynamodb.*", self._record)

    def _record(self, params: dict[str, Any], model: Any, client: Any, **_: Any) -> None:
        self.calls.append((client, model.name, copy.deepcopy(params)))

    def close(self) -> None:
        from chalicelib.core import aws

        aws.unobserve("provide-client-params.dynamodb.*", self._record)


def bare(calls: list[tuple[Any, str, dict[str, Any]]]) -> None:
    """The same DynamoDB calls with nothing around them (no route, no auth, no shaping); billing's
    own writes left out, as they are not the read's."""
    from botocore import xform_name

    for client, operation, params in calls:
        if operation in ("GetItem", "Query", "BatchGetItem", "Scan"):
            getattr(client, xform_name(operation))(**params)


def costs(
    api: Any, token: str, company: dict[str, Any], requests: int
) -> dict[str, tuple[int, int, float, float]]:
    """(calls, items, median ms of the route, median ms of its DynamoDB reads replayed bare), the
    two timed in alternation."""
    from tests.reads import Reads

    biggest = company["customers"][0]
    last = FIRST_DAY + timedelta(days=364)
    paths = {
        "dashboard, 12 months by month": f"/analytics/dashboard?from={FIRST_DAY}&to={last}&granularity=month",
        "dashboard, 30 days by day": f"/analytics/dashboard?from={last - timedelta(days=29)}&to={last}",
        "360 view (the biggest customer)": f"/crm/customers/{biggest}/360",
        "aging of the biggest customer": f"/erp/receivables/aging?customer_id={biggest}",
        "balance of the biggest customer": f"/erp/receivables/customers/{biggest}",
        "recommendations (the biggest customer)": f"/crm/customers/{biggest}/recommendations",
    }
    out = {}
    for name, path in paths.items():
        api.get(path, token)  # warm
        recorder = Recorder()
        with Reads() as reads:
            reply = api.get(path, token)
            assert reply.status == 200, reply.body
            calls, items = reads.take()
        recorder.close()
        ours, theirs = [], []
        for _ in range(requests):
            start = time.perf_counter()
            api.get(path, token)
            ours.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            bare(recorder.calls)
            theirs.append((time.perf_counter() - start) * 1000)
        out[name] = (calls, items, statistics.median(ours), statistics.median(theirs))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 5000])
    parser.add_argument("--requests", type=int, default=15)
    args = parser.parse_args()
    from bench.harness import local_api

    results: dict[int, dict[str, Any]] = {}
    from botocore.config import Config

    from chalicelib.core import aws

    # moto in one process slows with a 5,000-order company: a write answered after botocore's 5 s
    # read timeout was sent again and refused by its own first attempt (seen twice). The bench
    # measures the reads, so it waits longer instead.
    aws._CONFIG = aws._CONFIG.merge(Config(read_timeout=120))
    with local_api() as (api, _):
        from tests.conftest import login

        for size in args.sizes:  # a company per size, on the plan without a request cap
            email = f"bench-{size}@example.com"
            body = {
                "company_name": f"Bench {size}",
                "owner_email": email,
                "owner_password": "bench-pass-123",
                "plan": "enterprise",
            }
            assert api.post("/tenants", None, body).status == 202
            token = login(api, email, "bench-pass-123")
            started = time.perf_counter()
            company = make_company(api, token, size, seed=size)
            made = time.perf_counter() - started
            results[size] = {
                "orders": len(company["orders"]),
                "made_s": made,
                "check": check(api, token, company),
                "costs": costs(api, token, company, args.requests),
            }
            print(
                f"# {size} orders generated in {made:.0f} s; checks {results[size]['check']}",
                flush=True,
            )
            for name, (calls, items, ms, bare_ms) in results[size]["costs"].items():
                print(
                    f"#   {name}: {calls} calls, {items} items, {ms:.1f} ms (bare {bare_ms:.1f} ms, "
                    f"ratio {ms / bare_ms:.2f})",
                    flush=True,
                )
    sizes = args.sizes
    print(
        "| read | "
        + " | ".join(f"calls / items at {s}" for s in sizes)
        + " | "
        + " | ".join(f"ms at {s} (bare, ratio)" for s in sizes)
        + " |"
    )
    print("|---|" + "---|" * (2 * len(sizes)))
    for name in results[sizes[0]]["costs"]:
        cells = [f"{results[s]['costs'][name][0]} / {results[s]['costs'][name][1]}" for s in sizes]
        times = [
            f"{results[s]['costs'][name][2]:.1f} ({results[s]['costs'][name][3]:.1f}, "
            f"{results[s]['costs'][name][2] / results[s]['costs'][name][3]:.2f})"
            for s in sizes
        ]
        print(f"| {name} | " + " | ".join(cells) + " | " + " | ".join(times) + " |")
    for size in sizes:
        kept, checked = results[size]["orders"], results[size]["check"]
        print(f"\n{size}: {kept} orders kept (deleted drafts left out); against the records: {checked}")


if __name__ == "__main__":
    main()

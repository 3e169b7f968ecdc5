"""What serving a company costs us on AWS, estimated from its metered counts and AWS's list prices
(us-east-1, on demand, USD): the one price table of the platform, and the operator's report of
usage, revenue, cost and margin per company and per plan.

The estimate is a model, not a bill: each metered unit is priced by what it is assumed to use
(``UNIT_USE``, measured in bench/ where it says so); AWS's free tiers are left out, so it errs high.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from chalicelib.billing import account
from chalicelib.core import aws, keys, plans
from chalicelib.core.store import Store
from chalicelib.tenants import published as tenants

MILLION = Decimal(1_000_000)

# AWS list prices, us-east-1, USD (2026-12; DynamoDB on demand as since its November 2024 cut), first
# tier of each. Change them here only: bench/costs.py and the operators' report both read these.
PRICES: dict[str, Decimal] = {
    "apigateway_rest_request": Decimal("3.50") / MILLION,
    "apigateway_http_request": Decimal("1.00") / MILLION,  # per 512 KB of request
    "lambda_request": Decimal("0.20") / MILLION,
    "lambda_gb_second": Decimal("0.0000166667"),  # x86
    "dynamodb_write_unit": Decimal("0.625") / MILLION,  # a write of up to 1 KB; a transaction's: 2
    "dynamodb_read_unit": Decimal("0.125") / MILLION,  # a consistent read of 4 KB; eventual: 0.5
    "sts_request": Decimal(0),  # STS calls are free
    "dynamodb_gb_month": Decimal("0.25"),
    "dynamodb_pitr_gb_month": Decimal("0.20"),
    "eventbridge_event": Decimal("1.00") / MILLION,
    "sqs_request": Decimal("0.40") / MILLION,
    "s3_gb_month": Decimal("0.023"),
    "cognito_mau": Decimal("0.015"),
}

# What one metered unit is assumed to use.
UNIT_USE: dict[str, dict[str, Decimal]] = {
    # A read: the gateway, a 512 MB Lambda for 60 ms, about 2 read units, and the rate limit's and
    # the meter's writes (at most 2 a request for a quiet company, docs/architecture.md).
    "api_read": {
        "apigateway_rest_request": Decimal(1),
        "lambda_request": Decimal(1),
        "lambda_gb_second": Decimal("0.03"),
        "dynamodb_read_unit": Decimal(2),
        "dynamodb_write_unit": Decimal(2),
    },
    # A write: a transaction of about three items (two write units each) besides the above.
    "api_write": {
        "apigateway_rest_request": Decimal(1),
        "lambda_request": Decimal(1),
        "lambda_gb_second": Decimal("0.05"),
        "dynamodb_read_unit": Decimal(2),
        "dynamodb_write_unit": Decimal(8),
    },
    # A handoff event: the bus, three SQS requests (receive, delete, the relay's), a consumer's
    # Lambda for 200 ms and about ten write units (reservations, invoice, trail, idempotency).
    "handoff_events": {
        "eventbridge_event": Decimal(1),
        "sqs_request": Decimal(3),
        "lambda_request": Decimal("0.1"),
        "lambda_gb_second": Decimal("0.1"),
        "dynamodb_write_unit": Decimal(10),
        "dynamodb_read_unit": Decimal(4),
    },
    # A second of job work: a 1 GiB Lambda.
    "job_seconds": {"lambda_gb_second": Decimal(1)},
    # A stored record a month: about 2 KB with its indexes, lookups and history in DynamoDB, PITR on
    # it, and about 20 gzip copies of 0.3 KB kept as backups.
    "stored_records": {
        "dynamodb_gb_month": Decimal(2) / Decimal(1024 * 1024),
        "dynamodb_pitr_gb_month": Decimal(2) / Decimal(1024 * 1024),
        "s3_gb_month": Decimal(6) / Decimal(1024 * 1024),
    },
    # A seat: a monthly active user of the pool.
    "seats": {"cognito_mau": Decimal(1)},
}


def unit_cost(meter: str) -> Decimal:
    return sum((PRICES[p] * n for p, n in UNIT_USE[meter].items()), Decimal(0))


def estimate(used: dict[str, int]) -> Decimal:
    """The estimated cost of a company's month, in USD, to the cent."""
    total = sum((unit_cost(m) * used.get(m, 0) for m in UNIT_USE), Decimal(0))
    return total.quantize(Decimal("0.01"), ROUND_HALF_UP)


def report(store: Store, month: str) -> dict[str, Any]:
    """Every open company's month: plan, usage, revenue (its invoice, or the bill as it stands),
    estimated cost and margin; the same summed per plan."""
    rows = []
    per_plan: dict[str, dict[str, Decimal | int]] = {}
    for entry in tenants.open_companies(store):
        tenant_id = entry["tenant_id"]
        with aws.tenant_scope(tenant_id):  # a company's figures through its own session only
            rows.append(_row(store, tenant_id, month, per_plan))
    return {
        "month": month,
        "currency": plans.currency(),
        "companies": rows,
        "plans": [
            {
                "plan": plan,
                "companies": s["companies"],
                "revenue": str(s["revenue"]),
                "estimated_cost": str(s["cost"]),
                "margin": str(Decimal(s["revenue"]) - Decimal(s["cost"])),
            }
            for plan, s in sorted(per_plan.items())
        ],
        "unit_costs": {m: str(unit_cost(m).quantize(Decimal("0.0000001"))) for m in UNIT_USE},
    }


def _row(
    store: Store, tenant_id: str, month: str, per_plan: dict[str, dict[str, Decimal | int]]
) -> dict[str, Any]:
    """One company's line of the operators' report (its plan's sums added to ``per_plan``)."""
    report = account.usage_report(store, tenant_id, month)
    used = account.month_used(store, tenant_id, month)
    counted = {
        "api_read": used["api_read"],
        "api_write": used["api_write"],
        "handoff_events": used["handoff_events"],
        "job_seconds": used["job_minutes"] * 60,
        "stored_records": used["stored_records"],
        "seats": report["seats"]["used"],
    }
    invoice = store.get(keys.invoice(tenant_id, month))
    revenue = Decimal(invoice["total"]) if invoice else Decimal(report["estimated_total"])
    cost = estimate(counted)
    sums = per_plan.setdefault(report["plan"], {"companies": 0, "revenue": Decimal(0), "cost": Decimal(0)})
    sums["companies"] = int(sums["companies"]) + 1
    sums["revenue"] = Decimal(sums["revenue"]) + revenue
    sums["cost"] = Decimal(sums["cost"]) + cost
    return {
        "tenant_id": tenant_id,
        "company_name": tenants.company_name(store, tenant_id),
        "plan": report["plan"],
        "usage": counted,
        "revenue": str(revenue),
        "invoiced": invoice is not None,
        "estimated_cost": str(cost),
        "margin": str(revenue - cost),
    }

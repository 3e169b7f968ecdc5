"""The month's bill of a company: the base fee of each plan it had, by day, and what it used past
what they include, priced by the plan it ends the month on. Closing a month writes one invoice per
company, derived from the month (written once: a close run again finds it there).

The rules (docs/api.md, "Billing"):

- Each day of the month (UTC) is on the plan in force at its end; a company is billed from the day
  it signed up. Base fee: each plan's monthly price times its days over the month's days, rounded to
  the cent (half up) per plan.
- Included amounts of the flows (API calls, handoff events, job minutes) are each plan's, by day the
  same way, rounded down to whole units; stored records are a level: the month-end plan's amount
  against the records stored at the close.
- Overage: what was used past the included amount, in whole blocks of the plan's ``per`` (started
  blocks count), at the month-end plan's price; a month ending on a capped plan bills none.
"""

from __future__ import annotations

import calendar
import dataclasses
import math
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from chalicelib.core import plans

CENT = Decimal("0.01")
FLOWS = ("api_calls", "handoff_events", "job_minutes")


@dataclasses.dataclass(frozen=True)
class PlanDays:
    plan: str
    days: int
    first: date
    last: date


def month_days(month: str) -> tuple[date, date]:
    year, number = (int(p) for p in month.split("-"))
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def days_on_plans(
    changes: list[tuple[datetime, str]], month: str, *, since: datetime, until: date | None = None
) -> list[PlanDays]:
    """The month's days by the plan in force at each day's end, in runs; ``changes``: (effective at,
    plan), any order; ``since``: the company's signup (no day before its day is billed); ``until``:
    the last day to count (today, for a month in progress)."""
    first, last = month_days(month)
    if until is not None:
        last = min(last, until)
    ordered = sorted(changes)
    runs: list[PlanDays] = []
    day = max(first, since.astimezone(UTC).date())
    while day <= last:
        end_of_day = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        in_force = [p for at, p in ordered if at < end_of_day]
        if in_force:
            plan = in_force[-1]
            if runs and runs[-1].plan == plan and runs[-1].last == day - timedelta(days=1):
                runs[-1] = dataclasses.replace(runs[-1], days=runs[-1].days + 1, last=day)
            else:
                runs.append(PlanDays(plan, 1, day, day))
        day += timedelta(days=1)
    return runs


def bill(month: str, runs: list[PlanDays], used: dict[str, int]) -> dict[str, Any]:
    """The invoice's lines and totals for the month. ``used``: api_calls, handoff_events,
    job_minutes (this month), stored_records (at the close)."""
    first, last = month_days(month)
    in_month = (last - first).days + 1
    currency = plans.currency()
    lines: list[dict[str, Any]] = []
    for run in runs:
        plan = plans.get(run.plan)
        amount = (plan.monthly_price * run.days / in_month).quantize(CENT, ROUND_HALF_UP)
        lines.append(
            {
                "kind": "base",
                "description": f"{plan.name} plan, {run.days} of {in_month} days "
                f"({run.first.isoformat()} to {run.last.isoformat()})",
                "plan": plan.id,
                "quantity": run.days,
                "unit_price": str(plan.monthly_price),
                "amount": str(amount),
            }
        )
    end_plan = plans.get(runs[-1].plan) if runs else None
    included = {
        meter: sum(plans.get(r.plan).included[meter] * r.days // in_month for r in runs) for meter in FLOWS
    }
    included["stored_records"] = end_plan.included["stored_records"] if end_plan else 0
    usage = []
    for meter in (*FLOWS, "stored_records"):
        over = max(0, used.get(meter, 0) - included[meter])
        usage.append({"meter": meter, "used": used.get(meter, 0), "included": included[meter], "over": over})
        if end_plan is None or end_plan.capped or not over:
            continue
        price = end_plan.overage[meter]
        blocks = math.ceil(over / price.per)
        lines.append(
            {
                "kind": "overage",
                "description": f"{meter.replace('_', ' ')} over the included {included[meter]:,}: "
                f"{over:,}, {blocks:,} × {price.per:,}",
                "meter": meter,
                "quantity": blocks,
                "unit_price": str(price.price),
                "amount": str((price.price * blocks).quantize(CENT)),
            }
        )
    total = sum((Decimal(line["amount"]) for line in lines), Decimal("0.00"))
    return {
        "month": month,
        "currency": currency,
        "plan": end_plan.id if end_plan else None,
        "lines": lines,
        "usage": usage,
        "total": str(total.quantize(CENT)),
    }

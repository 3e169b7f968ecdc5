"""The company's plan, its usage of a month as it stands, and its invoices; the monthly close."""

from __future__ import annotations

import html
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.billing import invoices, meter, repository, usage
from chalicelib.core import keys, plans
from chalicelib.core.errors import BadRequestError, NotFoundError
from chalicelib.core.store import ConditionFailed, Store, utcnow
from chalicelib.tenants import published as tenants


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def history(store: Store, tenant_id: str) -> list[dict[str, Any]]:
    """The company's plan changes, oldest first (a company older than the history: its plan since
    signup)."""
    items = store.query_all(partition=keys.billing_pk(tenant_id), sort_condition=repository.plan_items())
    if items:
        return [{"plan": i["plan"], "effective_at": i["effective_at"], "by": i.get("by")} for i in items]
    profile = tenants.profile(store, tenant_id)
    return [{"plan": profile.get("plan", "free"), "effective_at": profile["created_at"], "by": None}]


def offered(plan: plans.Plan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "name": plan.name,
        "monthly_price": str(plan.monthly_price),
        "currency": plans.currency(),
        "capped": plan.capped,
        "rate": plan.rate.model_dump(),
        "included": dict(plan.included),
        "overage": {m: {"per": o.per, "price": str(o.price)} for m, o in plan.overage.items()},
        "backups_kept": plan.retention.kept,
    }


def plan_view(store: Store, tenant_id: str) -> dict[str, Any]:
    changes = history(store, tenant_id)
    current = changes[-1]
    return {
        "plan": offered(_plan(current["plan"])),
        "since": current["effective_at"],
        "history": changes,
        "offered": [offered(p) for p in plans.catalogue().plans],
    }


def _plan(plan_id: str) -> plans.Plan:
    try:
        return plans.get(plan_id)
    except KeyError:
        return plans.get("free")


def month_used(store: Store, tenant_id: str, month: str) -> dict[str, Any]:
    counted = usage.counted(store, tenant_id, month)
    return {
        "api_read": counted["api_read"],
        "api_write": counted["api_write"],
        "api_calls": counted["api_read"] + counted["api_write"],
        "handoff_events": counted["handoff_events"],
        "job_minutes": math.ceil(counted["job_seconds"] / 60),
        "stored_records": usage.stored_records(store, tenant_id),
    }


def _runs(store: Store, tenant_id: str, month: str, until: date | None) -> list[invoices.PlanDays]:
    changes = history(store, tenant_id)
    profile = tenants.profile(store, tenant_id)
    return invoices.days_on_plans(
        [(_instant(c["effective_at"]), c["plan"]) for c in changes],
        month,
        since=_instant(profile["created_at"]),
        until=until,
    )


def usage_report(
    store: Store, tenant_id: str, month: str | None, now: datetime | None = None
) -> dict[str, Any]:
    """The month's usage so far against the plan, and the bill as it stands."""
    now = now or datetime.now(UTC)
    this_month = meter.month_of(now)
    month = month or this_month
    if month > this_month:
        raise BadRequestError(
            f"{month} has not begun.",
            errors=[{"loc": ["query", "month"], "msg": "a month not begun yet", "type": "value_error"}],
        )
    used = month_used(store, tenant_id, month)
    runs = _runs(store, tenant_id, month, now.date() if month == this_month else None)
    bill = invoices.bill(month, runs, used)
    end_plan = _plan(bill["plan"]) if bill["plan"] else _plan(history(store, tenant_id)[-1]["plan"])
    amounts = {line["meter"]: line["amount"] for line in bill["lines"] if line["kind"] == "overage"}
    return {
        "month": month,
        "as_of": utcnow(),
        "plan": end_plan.id,
        "currency": bill["currency"],
        "api_calls": {"read": used["api_read"], "write": used["api_write"]},
        "seats": {"used": usage.seats(store, tenant_id), "included": end_plan.included["seats"]},
        "meters": [{**u, "overage_amount": amounts.get(u["meter"], "0.00")} for u in bill["usage"]],
        "base_so_far": str(
            sum((Decimal(x["amount"]) for x in bill["lines"] if x["kind"] == "base"), Decimal("0.00"))
        ),
        "estimated_total": bill["total"],
    }


# ---- the monthly close ------------------------------------------------------------------------------
def previous_month(today: date) -> str:
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def scheduled_close(store: Store, today: date | None = None) -> dict[str, Any]:
    """The month before ``today`` closed, unless a run already finished it (one GetItem then)."""
    month = previous_month(today or datetime.now(UTC).date())
    if store.get(keys.invoices_run(month), consistent=True) is not None:
        return {"month": month, "closed": "before"}
    return {"month": month, **close_month(store, month)}


def close_month(store: Store, month: str) -> dict[str, int]:
    """One invoice per open company for ``month`` (written once: run again, it finds them there);
    the run's record once every company has one."""
    made = companies = 0
    for entry in tenants.open_companies(store):
        companies += 1
        made += close_company(store, entry["tenant_id"], month)
    store.put_one({**keys.invoices_run(month), "companies": companies, "finished_at": utcnow()})
    return {"companies": companies, "invoiced": made}


def close_company(store: Store, tenant_id: str, month: str) -> bool:
    """The company's invoice for ``month``; False when it had one already, or no day of the month."""
    if store.get(keys.invoice(tenant_id, month), consistent=True) is not None:
        return False
    runs = _runs(store, tenant_id, month, None)
    if not runs:
        return False
    bill = invoices.bill(month, runs, month_used(store, tenant_id, month))
    item = {
        **keys.invoice(tenant_id, month),
        "id": month,
        "tenant_id": tenant_id,
        "company_name": tenants.company_name(store, tenant_id),
        "issued_at": utcnow(),
        **bill,
    }
    try:
        store.put_one(item, **repository.only_new())
    except ConditionFailed:
        return False  # another run wrote it meanwhile
    return True


def invoice(store: Store, tenant_id: str, month: str) -> dict[str, Any]:
    item = store.get(keys.invoice(tenant_id, month))
    if item is None:
        raise NotFoundError("There is no invoice of this company for that month.")
    return item


def invoices_of(store: Store, tenant_id: str) -> list[dict[str, Any]]:
    """Every invoice of the company, newest first (one a month: a short list)."""
    items = store.query_all(partition=keys.billing_pk(tenant_id), sort_condition=repository.invoice_items())
    return sorted(items, key=lambda i: str(i["month"]), reverse=True)


def document(item: dict[str, Any]) -> str:
    """The invoice as a page to print or forward (every text escaped)."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(str(line['description']))}</td><td class=n>{e(str(line['quantity']))}</td>"
        f"<td class=n>{e(str(line['unit_price']))}</td><td class=n>{e(str(line['amount']))}</td></tr>"
        for line in item["lines"]
    )
    usage_rows = "".join(
        f"<tr><td>{e(u['meter'].replace('_', ' '))}</td><td class=n>{int(u['used']):,}</td>"
        f"<td class=n>{int(u['included']):,}</td><td class=n>{int(u['over']):,}</td></tr>"
        for u in item["usage"]
    )
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>Invoice {e(item['month'])} — {e(item['company_name'])}</title>"
        "<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{padding:.3em .8em;border-bottom:1px solid #ccc;text-align:left}.n{text-align:right}</style>"
        f"<h1>Invoice {e(item['month'])}</h1>"
        f"<p>{e(item['company_name'])} · company {e(item['tenant_id'])}<br>Issued {e(item['issued_at'])}</p>"
        "<table><tr><th>Item</th><th class=n>Quantity</th><th class=n>Unit price</th>"
        f"<th class=n>Amount ({e(item['currency'])})</th></tr>{rows}"
        f"<tr><th colspan=3>Total</th><th class=n>{e(str(item['total']))}</th></tr></table>"
        "<h2>Usage</h2><table><tr><th>Meter</th><th class=n>Used</th><th class=n>Included</th>"
        f"<th class=n>Over</th></tr>{usage_rows}</table></html>"
    )

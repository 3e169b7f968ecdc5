"""The managers' dashboard: the company's figures over a range of days, read from aggregates the
writes keep (chalicelib/crm/sales.py), so a read costs the periods asked for, not the company's size."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalice.app import Blueprint

from chalicelib.api.web import STORE, Request, endpoint
from chalicelib.core import entities, money
from chalicelib.core.errors import BadRequestError
from chalicelib.crm import opportunities, purchases, sales, ticket_figures
from chalicelib.crm.models import (
    CustomersPeriod,
    DashboardOut,
    DashboardQuery,
    InventoryFigure,
    PipelineFigures,
    ProductInsightOut,
    ProductInsightQuery,
    ReceivablesFigure,
    SalesPeriod,
    TicketsFigure,
    TopFigures,
    Withheld,
)
from chalicelib.erp import inventory, receivables
from chalicelib.erp.catalogue import PRODUCT

bp = Blueprint(__name__)

# The longest range a read may ask for, by granularity (days): a day's or week's figures are read per
# day, a month's per month.
LONGEST = {"day": 366, "week": 366, "month": 3660}
# The days a dashboard may name: a business's records, not the calendar's edges (a range's
# arithmetic never leaves what ``date`` holds).
EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 31)
# The dashboard's sections and the read each needs over all records.
SECTIONS = {
    "sales": ("crm.orders:read",),
    "pipeline": ("crm.opportunities:read",),
    "customers": ("crm.customers:read", "crm.activities:read", "crm.leads:read", "crm.opportunities:read"),
    "receivables": ("erp.receivables:read",),
    "tickets": ("crm.tickets:read",),
    "inventory": ("erp.stock:read",),
}


@endpoint(
    bp,
    "/analytics/dashboard",
    "GET",
    permission="analytics.dashboard:read",
    tag="analytics",
    query=DashboardQuery,
    response=DashboardOut,
    summary="The company's figures: orders and revenue per day, week or month; the pipeline and its forecast",
)
def dashboard(req: Request) -> DashboardOut:
    query: DashboardQuery = req.query
    for field, day in (("from", query.start), ("to", query.end)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise BadRequestError(
                f"`{field}` is a day from {EARLIEST} to {LATEST}.",
                errors=[{"loc": ["query", field], "msg": "out of range", "type": "value_error"}],
            )
    end = query.end or datetime.now(UTC).date()
    start = query.start or end - timedelta(days=29)
    if start > end:
        raise BadRequestError(
            "`from` is after `to`.",
            errors=[{"loc": ["query", "from"], "msg": "after `to`", "type": "value_error"}],
        )
    longest = LONGEST[query.granularity]
    if (end - start).days + 1 > longest:
        raise BadRequestError(
            f"A {query.granularity} dashboard covers at most {longest} days.",
            errors=[
                {
                    "loc": ["query", "from"],
                    "msg": f"more than {longest} days before `to`",
                    "type": "value_error",
                }
            ],
        )

    # Each section sums every record of its kind: a user who may read only their own records of a
    # kind would learn the others' from it, so the section is withheld (all of them: 403).
    def missing(section: str) -> str | None:
        """The first permission the section needs that the user does not hold over all records."""
        return next((p for p in SECTIONS[section] if not req.me.holds(p) or req.me.own_only(p)), None)

    withheld = {s: p for s in SECTIONS if (p := missing(s))}
    shown = set(SECTIONS) - set(withheld)
    if not shown:
        req.me.require_all(SECTIONS["sales"][0])
    tenant_id = req.me.tenant_id
    figures = sales.figures(STORE, tenant_id, start, end, query.granularity) if "sales" in shown else None
    stages = (
        [s["key"] for s in opportunities.pipeline(STORE, tenant_id)["stages"]] if "pipeline" in shown else []
    )
    return DashboardOut(
        start=start.isoformat(),
        end=end.isoformat(),
        granularity=query.granularity,
        sales=None if figures is None else [SalesPeriod(**p) for p in figures],
        pipeline=PipelineFigures(**sales.pipeline(STORE, tenant_id, stages)) if "pipeline" in shown else None,
        customers=[
            CustomersPeriod(**p)
            for p in sales.customer_figures(STORE, tenant_id, start, end, query.granularity)
        ]
        if "customers" in shown
        else None,
        receivables=[ReceivablesFigure(**f) for f in receivables.owed(STORE, tenant_id)]
        if "receivables" in shown
        else None,
        top=TopFigures.model_validate(
            {
                "months": [start.isoformat()[:7], end.isoformat()[:7]],
                **purchases.top(STORE, tenant_id, start.isoformat()[:7], end.isoformat()[:7]),
            }
        )
        if "sales" in shown
        else None,
        inventory=[
            InventoryFigure(**f)
            for f in inventory.figures(STORE, tenant_id, start, end, datetime.now(UTC).date())
        ]
        if "inventory" in shown
        else None,
        tickets=TicketsFigure(**ticket_figures.figures(STORE, tenant_id, datetime.now(UTC)))
        if "tickets" in shown
        else None,
        withheld=[Withheld(section=s, permission=p) for s, p in withheld.items()],
    )


@endpoint(
    bp,
    "/analytics/products/{product_id}",
    "GET",
    permission="analytics.dashboard:read",
    tag="analytics",
    query=ProductInsightQuery,
    response=ProductInsightOut,
    path_params={"product_id": PRODUCT.id_pattern},
    summary="A product's sales, cost and margin per month beside the quotes that name it",
)
def product_insight(req: Request) -> ProductInsightOut:
    """Sums every order naming the product: the orders' read over all records, as the dashboard's
    sales; the quotes' interest only with the quotes' read over all records (else null)."""
    req.me.require_all("crm.orders:read")
    query: ProductInsightQuery = req.query
    end = query.end or datetime.now(UTC).strftime("%Y-%m")
    if query.start:
        start = query.start
    else:
        year, month = int(end[:4]), int(end[5:7]) - 11
        start = f"{year + (month - 1) // 12:04d}-{(month - 1) % 12 + 1:02d}"
    months = _months(start, end)
    if not months:
        raise BadRequestError(
            "`from` is after `to`.",
            errors=[{"loc": ["query", "from"], "msg": "after `to`", "type": "value_error"}],
        )
    if len(months) > 60:
        raise BadRequestError(
            "A product's figures cover at most 60 months.",
            errors=[
                {"loc": ["query", "from"], "msg": "more than 60 months before `to`", "type": "value_error"}
            ],
        )
    tenant_id = req.me.tenant_id
    product = entities.get(STORE, tenant_id, PRODUCT, req.params["product_id"])
    quotes_shown = not req.me.own_only("crm.quotes:read") and req.me.holds("crm.quotes:read")
    insight = product_figures(
        product,
        purchases.product_months(STORE, tenant_id, str(product["sku"]), start, end),
        inventory.product_months(STORE, tenant_id, product["id"], start, end),
        months,
        quotes_shown,
    )
    return ProductInsightOut.model_validate(insight)


def _months(start: str, end: str) -> list[str]:
    out: list[str] = []
    year, month = int(start[:4]), int(start[5:7])
    while f"{year:04d}-{month:02d}" <= end and len(out) <= 61:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


FOUR = Decimal("0.0001")


def product_figures(
    product: dict[str, Any],
    sold: dict[str, dict[str, Decimal]],
    stocked: dict[str, dict[str, Decimal]],
    months: list[str],
    quotes_shown: bool,
) -> dict[str, Any]:
    standard = Decimal(str(product.get("standard_cost") or 0))
    rows = []
    for month in months:
        s, k = sold.get(month, {}), stocked.get(month, {})
        quantity = s.get("quantity", Decimal(0))
        revenue = {n.split("#")[1]: v for n, v in s.items() if n.startswith("revenue#") and v}
        received = k.get("rq", Decimal(0))
        costs = {n.split("#")[1]: v / received for n, v in k.items() if n.startswith("rv#") and received}
        unit_cost = costs or {str(product.get("currency") or "CNY"): standard}
        cost = {c: quantity * unit_cost[c] for c in revenue if c in unit_cost}
        rows.append(
            {
                "month": month,
                "orders": int(s.get("orders", 0)),
                "quantity_sold": money.text(quantity),
                "revenue": _totals(revenue),
                "average_price": _totals(
                    {c: v / quantity for c, v in revenue.items()} if quantity else {}, FOUR
                ),
                "received_quantity": money.text(received),
                "unit_cost": _totals(unit_cost, FOUR),
                "cost": _totals(cost),
                "margin": _totals({c: revenue[c] - cost[c] for c in cost}),
                "quotes": int(s.get("quotes", 0)) if quotes_shown else None,
                "quoted_quantity": money.text(s.get("quoted", Decimal(0))) if quotes_shown else None,
            }
        )
    return {
        "product": {
            "id": product["id"],
            "sku": product["sku"],
            "name": product["name"],
            "standard_cost": money.text(standard),
            "currency": str(product.get("currency") or "CNY"),
        },
        "months": rows,
        "diagnosis": diagnosis(rows),
    }


def _totals(values: dict[str, Decimal], places: Decimal | None = None) -> list[dict[str, str]]:
    def shown(value: Decimal, currency: str) -> str:
        return money.text(value.quantize(places) if places else money.round_money(value, currency))

    return [{"currency": c, "total": shown(v, c)} for c, v in sorted(values.items())]


def _change(before: Decimal, after: Decimal) -> str:
    if not before:
        return "new"
    return f"{(after - before) / before * 100:+.1f}%"


def diagnosis(rows: list[dict[str, Any]]) -> list[str]:
    """The last two months with sales compared, per currency with a margin in both."""
    selling = [r for r in rows if Decimal(r["quantity_sold"]) > 0]
    if len(selling) < 2:
        return ["Fewer than two months with sales in the range: nothing to compare."]
    was, now = selling[-2], selling[-1]
    out = []

    def by(row: dict[str, Any], field: str) -> dict[str, Decimal]:
        return {t["currency"]: Decimal(t["total"]) for t in row[field]}

    for currency in sorted(set(by(was, "margin")) & set(by(now, "margin"))):
        price = (by(was, "average_price")[currency], by(now, "average_price")[currency])
        cost = (by(was, "unit_cost")[currency], by(now, "unit_cost")[currency])
        unit_margin = (price[0] - cost[0], price[1] - cost[1])
        quantity = (Decimal(was["quantity_sold"]), Decimal(now["quantity_sold"]))
        facts = (
            f"{currency}, {was['month']} to {now['month']}: margin per unit {money.text(unit_margin[0].quantize(FOUR))}"
            f" to {money.text(unit_margin[1].quantize(FOUR))}; price {_change(*price)}, unit cost {_change(*cost)},"
            f" quantity {_change(*quantity)}"
        )
        if was["quotes"] is not None:
            facts += f", quotes {_change(Decimal(was['quotes']), Decimal(now['quotes']))}"
        if unit_margin[1] < unit_margin[0]:
            cost_part, price_part = cost[1] - cost[0], price[0] - price[1]
            facts += (
                ": a cost problem (the unit cost rose more than the price fell)."
                if cost_part > price_part
                else ": a market problem (the price fell more than the unit cost rose)."
            )
        elif quantity[1] < quantity[0]:
            facts += ": the margin per unit held; fewer units sold (a market problem if quotes fell too)."
        else:
            facts += ": no fall in profit per unit or in units."
        out.append(facts)
    return out or ["No currency with a margin in both months."]

"""The managers' dashboard: the company's figures over a range of days, read from aggregates the
writes keep (chalicelib/crm/sales.py), so a read costs the periods asked for, not the company's size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalice.app import Blueprint

from chalicelib.api.web import STORE, Request, endpoint
from chalicelib.core.errors import BadRequestError
from chalicelib.crm import opportunities, sales
from chalicelib.crm.models import (
    CustomersPeriod,
    DashboardOut,
    DashboardQuery,
    PipelineFigures,
    ReceivablesFigure,
    SalesPeriod,
    Withheld,
)
from chalicelib.erp import receivables

bp = Blueprint(__name__)

# The longest range a read may ask for, by granularity (days): a day's or week's figures are read per
# day, a month's per month.
LONGEST = {"day": 366, "week": 366, "month": 3660}
# The dashboard's sections and the read each needs over all records.
SECTIONS = {
    "sales": ("crm.orders:read",),
    "pipeline": ("crm.opportunities:read",),
    "customers": ("crm.customers:read", "crm.activities:read", "crm.leads:read", "crm.opportunities:read"),
    "receivables": ("erp.receivables:read",),
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
        withheld=[Withheld(section=s, permission=p) for s, p in withheld.items()],
    )

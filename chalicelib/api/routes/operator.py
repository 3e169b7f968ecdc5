"""The platform's operators (our staff, their own user pool): usage, revenue and the estimated cost
of serving each company. No company's token reaches these routes, and an operator's token reaches
no company's route (another issuer and audience, and no company claim)."""

from __future__ import annotations

from datetime import UTC, datetime

from chalice.app import Blueprint

from chalicelib.api.web import STORE, Request, endpoint
from chalicelib.billing import costs, meter
from chalicelib.billing.models import OperatorReportOut, UsageQuery
from chalicelib.core import ratelimit
from chalicelib.core.config import settings
from chalicelib.tenants import identity
from chalicelib.tenants.models import LoginIn, TokensOut

bp = Blueprint(__name__)


@endpoint(
    bp,
    "/operator/login",
    "POST",
    permission=None,
    public=True,
    tag="operator",
    summary="An operator logs in (the platform's operators' pool, not a company's)",
    also=(401,),
    body=LoginIn,
    response=TokensOut,
)
def operator_login(req: Request) -> TokensOut:
    ratelimit.hit(STORE, "login", req.source_ip, settings().login_limit_per_minute, 60, "logins")
    return TokensOut(**identity.login(req.body.email, req.body.password, operator=True))


@endpoint(
    bp,
    "/operator/usage",
    "GET",
    permission=None,
    tag="operator",
    query=UsageQuery,
    response=OperatorReportOut,
    summary="Every company's usage, revenue, estimated AWS cost and margin for a month; per plan too",
)
def operator_usage(req: Request) -> OperatorReportOut:
    month = req.query.month or meter.month_of(datetime.now(UTC))
    return OperatorReportOut(**costs.report(STORE, month))

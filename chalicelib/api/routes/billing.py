"""Billing: the company's plan (owners change it), its usage of a month as it stands, its invoices
(JSON, and a page to print or forward)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api.shapes import Result
from chalicelib.api.web import STORE, Request, endpoint
from chalicelib.billing import account
from chalicelib.billing.models import InvoiceOut, InvoicePage, PlanIn, PlanOut, UsageOut, UsageQuery
from chalicelib.tenants import accounts

bp = Blueprint(__name__)
MONTH = {"month": r"^2\d{3}-(0[1-9]|1[0-2])$"}


@endpoint(
    bp,
    "/billing/plan",
    "GET",
    permission="admin.billing:read",
    tag="billing",
    response=PlanOut,
    summary="The company's plan, since when, its history, and the plans offered",
)
def get_plan(req: Request) -> PlanOut:
    return PlanOut(**account.plan_view(STORE, req.me.tenant_id))


@endpoint(
    bp,
    "/billing/plan",
    "PUT",
    permission="tenant.plan:write",
    tag="billing",
    body=PlanIn,
    response=PlanOut,
    summary="Move the company to another plan (owners): limits change at once, the bill prorates by day",
)
def put_plan(req: Request) -> PlanOut:
    accounts.change_plan(STORE, req.me, req.body.plan)
    return PlanOut(**account.plan_view(STORE, req.me.tenant_id))


@endpoint(
    bp,
    "/billing/usage",
    "GET",
    permission="admin.billing:read",
    tag="billing",
    query=UsageQuery,
    response=UsageOut,
    summary="The month's usage so far, per meter, against the plan; the bill as it stands",
)
def get_usage(req: Request) -> UsageOut:
    return UsageOut(**account.usage_report(STORE, req.me.tenant_id, req.query.month))


def _invoice_out(item: dict[str, Any]) -> InvoiceOut:
    return InvoiceOut(**item, document_url=f"/billing/invoices/{item['month']}/document")


@endpoint(
    bp,
    "/billing/invoices",
    "GET",
    permission="admin.billing:read",
    tag="billing",
    response=InvoicePage,
    summary="Every invoice of the company, newest first (one a month)",
)
def list_billing_invoices(req: Request) -> InvoicePage:
    return InvoicePage(items=[_invoice_out(i) for i in account.invoices_of(STORE, req.me.tenant_id)])


@endpoint(
    bp,
    "/billing/invoices/{month}",
    "GET",
    permission="admin.billing:read",
    tag="billing",
    path_params=MONTH,
    response=InvoiceOut,
    summary="One invoice, by its month (YYYY-MM)",
)
def get_billing_invoice(req: Request) -> InvoiceOut:
    return _invoice_out(account.invoice(STORE, req.me.tenant_id, req.params["month"]))


@endpoint(
    bp,
    "/billing/invoices/{month}/document",
    "GET",
    permission="admin.billing:read",
    tag="billing",
    path_params=MONTH,
    response_type="text/html; charset=utf-8",
    summary="One invoice as an HTML page, to print or forward to an accountant",
)
def billing_invoice_document(req: Request) -> Result:
    item = account.invoice(STORE, req.me.tenant_id, req.params["month"])
    return Result(account.document(item))

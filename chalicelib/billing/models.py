"""API models of billing: the plan, the month's usage, invoices."""

# No `from __future__ import annotations` in model modules (see tenants/models.py).

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from chalicelib.core.models import PublicModel, StrictModel

Month = Annotated[str, StringConstraints(pattern=r"^2[0-9]{3}-(0[1-9]|1[0-2])$")]
PlanId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]


class UsageQuery(StrictModel):
    month: Month | None = Field(default=None, description="YYYY-MM (UTC); this month when left out.")


class PlanIn(StrictModel):
    plan: PlanId = Field(description="The plan to move to: one of GET /billing/plan's `offered`.")


class RateOut(PublicModel):
    per_second: int
    burst: int


class OfferedPlan(PublicModel):
    id: str
    name: str
    monthly_price: str
    currency: str
    capped: bool = Field(description="The included amounts are hard limits (no overage is billed).")
    rate: RateOut
    included: dict[str, int]
    overage: dict[str, dict[str, Any]] = Field(description="Per meter: `per` units cost `price`.")
    backups_kept: int


class PlanOut(PublicModel):
    plan: OfferedPlan
    since: str = Field(description="When the company moved to it.")
    history: list[dict[str, Any]] = Field(description="The plan changes, oldest first.")
    offered: list[OfferedPlan]


class MeterOut(PublicModel):
    meter: str
    used: int
    included: int
    over: int
    overage_amount: str = Field(description="What the overage costs so far, in the plan's currency.")


class UsageOut(PublicModel):
    month: str
    as_of: str
    plan: str
    currency: str
    api_calls: dict[str, int] = Field(description="`read` and `write` calls apart.")
    seats: dict[str, int] = Field(description="Enabled users (`used`) and the plan's seats (`included`).")
    meters: list[MeterOut]
    base_so_far: str
    estimated_total: str = Field(description="The month's bill as it stands: base fee so far and overage.")


class InvoiceLine(PublicModel):
    kind: str
    description: str
    plan: str | None = None
    meter: str | None = None
    quantity: int
    unit_price: str
    amount: str


class InvoiceOut(PublicModel):
    id: str
    month: str
    company_name: str
    issued_at: str
    currency: str
    plan: str | None
    lines: list[InvoiceLine]
    usage: list[dict[str, Any]]
    total: str
    document_url: str = Field(description="The invoice as an HTML page to print or forward.")


class InvoicePage(PublicModel):
    items: list[InvoiceOut]


class OperatorReportOut(PublicModel):
    month: str
    currency: str
    companies: list[dict[str, Any]] = Field(
        description="Per open company: plan, usage, revenue (its invoice, or the bill as it stands), "
        "estimated AWS cost and margin."
    )
    plans: list[dict[str, Any]] = Field(description="The same summed per plan.")
    unit_costs: dict[str, str] = Field(description="The estimated cost of one unit of each meter (USD).")

"""Operations routes of the handoff: dead letters (and, next, reconciliation)."""

from __future__ import annotations

from typing import Annotated

from chalice import Blueprint
from pydantic import Field

from chalicelib.core.schemas import ListQuery
from chalicelib.core.web import STORE, PublicModel, Request, StrictModel, endpoint
from chalicelib.handoff import dead_letters, reconciliation

bp = Blueprint(__name__)


class DeadLetterOut(PublicModel):
    message_id: str
    consumer: str
    type: str
    event_id: str
    order_id: str
    occurred_at: str
    receive_count: int
    parked_at: str


class DeadLetterList(PublicModel):
    items: list[DeadLetterOut]
    next_cursor: str | None = None


class RedriveIn(StrictModel):
    message_ids: Annotated[list[str], Field(max_length=100)] | None = Field(
        default=None, description="Only these messages; default: every dead letter of the company."
    )


class RedriveOut(PublicModel):
    redriven: list[DeadLetterOut]
    more: bool = Field(
        default=False, description=f"More are left: at most {dead_letters.REDRIVE_AT_MOST} move per request."
    )


@endpoint(
    bp,
    "/admin/dead-letters",
    "GET",
    permission="admin.operations:read",
    tag="admin",
    response=DeadLetterList,
    query=ListQuery,
    summary="The company's handoff messages parked from a dead-letter queue, oldest first",
)
def list_dead_letters(req: Request) -> DeadLetterList:
    page = dead_letters.listing(STORE, req.me.tenant_id, req.query.limit, req.query.cursor)
    return DeadLetterList(items=[DeadLetterOut(**d) for d in page.items], next_cursor=page.next_cursor)


@endpoint(
    bp,
    "/admin/dead-letters/redrive",
    "POST",
    permission="admin.operations:write",
    tag="admin",
    body=RedriveIn,
    response=RedriveOut,
    summary="Send the company's dead letters back to their consumers (after a fix)",
)
def redrive_dead_letters(req: Request) -> RedriveOut:
    moved, more = dead_letters.redrive(STORE, req.me.tenant_id, req.body.message_ids)
    return RedriveOut(redriven=[DeadLetterOut(**d) for d in moved], more=more)


class Finding(PublicModel):
    order_id: str
    problem: str
    action: str = Field(description="redriven, released, invoiced (repaired) or needs_person")
    detail: str = ""


class ReconciliationReport(PublicModel):
    id: str
    started_at: str
    finished_at: str
    started_by: str
    grace_seconds: int
    repaired: int
    needs_person: int
    findings: list[Finding]


class ReconcileIn(StrictModel):
    grace_seconds: Annotated[int, Field(ge=0, le=86400)] = Field(
        default=reconciliation.GRACE_SECONDS,
        description="How long a confirmed order may wait for the ERP before it is re-driven.",
    )


@endpoint(
    bp,
    "/admin/reconciliation/run",
    "POST",
    permission="admin.operations:write",
    tag="admin",
    body=ReconcileIn,
    response=ReconciliationReport,
    status=201,
    summary="Compare CRM orders with the ERP; repair what is safe",
)
def run_reconciliation(req: Request) -> ReconciliationReport:
    report = reconciliation.run(STORE, req.me.tenant_id, req.body.grace_seconds, req.me.user_id)
    return ReconciliationReport(**report)


@endpoint(
    bp,
    "/admin/reconciliation/reports/{report_id}",
    "GET",
    permission="admin.operations:read",
    tag="admin",
    response=ReconciliationReport,
    path_params={"report_id": r"^rec_[0-9A-HJKMNP-TV-Z]{26}$"},
    summary="A reconciliation report: what was repaired and what needs a person",
)
def get_reconciliation(req: Request) -> ReconciliationReport:
    return ReconciliationReport(**reconciliation.read(STORE, req.me.tenant_id, req.params["report_id"]))

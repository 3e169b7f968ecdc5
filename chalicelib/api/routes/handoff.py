"""Operations routes of the handoff: dead letters (and, next, reconciliation)."""

from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.web import STORE, Request, endpoint
from chalicelib.core.schemas import ListQuery
from chalicelib.crm import reconciliation as crm_reconciliation
from chalicelib.handoff import dead_letters, reconciliation
from chalicelib.handoff.models import (
    DeadLetterList,
    DeadLetterOut,
    ReconcileIn,
    ReconciliationReport,
    RedriveIn,
    RedriveOut,
)

bp = Blueprint(__name__)


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
    report = crm_reconciliation.run(
        STORE, req.me.tenant_id, req.body.grace_seconds, req.me.user_id, epoch=req.me.epoch
    )
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

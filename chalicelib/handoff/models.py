"""The handoff's operations shapes: parked dead letters, their redrive, reconciliation reports."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from chalicelib.core.models import PublicModel, StrictModel
from chalicelib.handoff import dead_letters, reconciliation


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

"""Operations routes of the handoff: dead letters (and, next, reconciliation)."""

from __future__ import annotations

from typing import Annotated

from chalice import Blueprint
from pydantic import Field

from chalicelib.core.web import PublicModel, Request, StrictModel, endpoint
from chalicelib.handoff import dead_letters

bp = Blueprint(__name__)


class DeadLetterOut(PublicModel):
    message_id: str
    consumer: str
    type: str
    event_id: str
    order_id: str
    occurred_at: str
    receive_count: int


class DeadLetterList(PublicModel):
    items: list[DeadLetterOut]


class RedriveIn(StrictModel):
    message_ids: Annotated[list[str], Field(max_length=100)] | None = Field(
        default=None, description="Only these messages; default: every dead letter of the company."
    )


class RedriveOut(PublicModel):
    redriven: list[DeadLetterOut]


@endpoint(bp, "/admin/dead-letters", "GET", permission="admin.operations:read", tag="admin", response=DeadLetterList,
          summary="The company's handoff messages that ended in a dead-letter queue")  # fmt: skip
def list_dead_letters(req: Request) -> DeadLetterList:
    return DeadLetterList(items=[DeadLetterOut(**d) for d in dead_letters.listing(req.me.tenant_id)])


@endpoint(bp, "/admin/dead-letters/redrive", "POST", permission="admin.operations:write", tag="admin", body=RedriveIn,
          response=RedriveOut, summary="Send the company's dead letters back to their consumers (after a fix)")  # fmt: skip
def redrive_dead_letters(req: Request) -> RedriveOut:
    moved = dead_letters.redrive(req.me.tenant_id, req.body.message_ids)
    return RedriveOut(redriven=[DeadLetterOut(**d) for d in moved])

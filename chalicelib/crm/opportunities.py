"""The sales pipeline (per-tenant stages with their win probability) and opportunities moving
through it; every stage change is kept on the opportunity and on the customer's timeline."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core import entities, keys, money, settings_items
from chalicelib.core.entities import Change, Reference
from chalicelib.core.errors import ConflictError, ValidationError
from chalicelib.core.store import Actor, Page, Store, utcnow
from chalicelib.crm import timeline
from chalicelib.crm.models import CloseIn, OpportunityIn, OpportunityPatch, OpportunityQuery, PipelineIn
from chalicelib.crm.types import CONTACT, CUSTOMER, OPPORTUNITY
from chalicelib.tenants import published as company

DEFAULT_STAGES = [
    {"key": "prospecting", "name": "Prospecting", "probability": 10},
    {"key": "qualification", "name": "Qualification", "probability": 25},
    {"key": "proposal", "name": "Proposal", "probability": 50},
    {"key": "negotiation", "name": "Negotiation", "probability": 75},
]
HISTORY_LIMIT = 200


# ---- pipeline --------------------------------------------------------------------------------------
def pipeline(store: Store, tenant_id: str) -> dict[str, Any]:
    return settings_items.read(store, keys.pipeline(tenant_id), {"stages": DEFAULT_STAGES})


def replace_pipeline(store: Store, actor: Actor, data: PipelineIn, if_match: int | None) -> dict[str, Any]:
    """Replace the stages. Open opportunities keep their stage key; one whose stage is gone shows
    it until moved (the stage is not silently changed under a salesperson's feet)."""
    current = pipeline(store, actor.tenant_id)
    stages = [s.model_dump() for s in data.stages]
    return settings_items.replace(
        store, actor, keys.pipeline(actor.tenant_id), "pipeline", current, {"stages": stages}, if_match
    )


def _stage(stages: list[dict[str, Any]], key: str | None) -> dict[str, Any]:
    if key is None:
        return dict(stages[0])
    for stage in stages:
        if stage["key"] == key:
            return dict(stage)
    raise ValidationError(
        f"There is no stage {key} in the pipeline.",
        errors=[
            {"loc": ["body", "stage"], "msg": f"one of {', '.join(s['key'] for s in stages)}", "type": "enum"}
        ],
    )


# ---- opportunities ---------------------------------------------------------------------------------
def change_entry(item: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    summary = {
        "opportunity": item["name"],
        "from": change["from_stage"],
        "to": change["to_stage"],
        "amount": item["amount"],
        "currency": item["currency"],
    }
    return timeline.entry(
        item["tenant_id"], item["customer_id"], change["at"], "stage_change", item["id"], summary
    )


def new_fields(stages: list[dict[str, Any]], actor: Actor, data: OpportunityIn, now: str) -> dict[str, Any]:
    """The stored fields of a new opportunity, in the given stage or the pipeline's first."""
    stage = _stage(stages, data.stage)
    currency = data.currency
    if currency is None:  # its callers give it the company's first (company.with_currency)
        raise ValueError("an opportunity's currency is decided before its fields")
    return {
        "customer_id": data.customer_id,
        "contact_id": data.contact_id,
        "name": data.name,
        "amount": money.text(money.exact(data.amount, currency, ["body", "amount"])),
        "currency": currency,
        "expected_close_date": data.expected_close_date.isoformat() if data.expected_close_date else None,
        "stage": stage["key"],
        "probability": stage["probability"],
        "status": "open",
        "close_reason": None,
        "closed_at": None,
        "owner_id": data.owner_id or actor.user_id,
        "stage_history": [{"from_stage": None, "to_stage": stage["key"], "at": now, "by": actor.user_id}],
    }


def create(store: Store, actor: Actor, data: OpportunityIn) -> dict[str, Any]:
    data = company.with_currency(store, actor.tenant_id, data)
    now = utcnow()
    item = entities.new_item(
        OPPORTUNITY, actor, new_fields(pipeline(store, actor.tenant_id)["stages"], actor, data, now), now=now
    )
    references = [Reference("customer_id", CUSTOMER, data.customer_id)]
    if data.contact_id:
        references.append(Reference("contact_id", CONTACT, data.contact_id))
    entities.write_new(
        store,
        actor,
        OPPORTUNITY,
        item,
        extra=[change_entry(item, item["stage_history"][0])],
        references=references,
    )
    return entities.public(item)


def list_page(store: Store, tenant_id: str, q: OpportunityQuery) -> Page:
    if q.customer_id:
        return entities.lookup(
            store, tenant_id, OPPORTUNITY, "customer", q.customer_id, limit=q.limit, cursor=q.cursor
        )
    return entities.list_page(
        store,
        tenant_id,
        OPPORTUNITY,
        limit=q.limit,
        cursor=q.cursor,
        updated_since=q.updated_since,
        name_prefix=q.name_prefix,
    )


def update(
    store: Store, actor: Actor, opportunity_id: str, patch: OpportunityPatch, if_match: int | None
) -> dict[str, Any]:
    changes = entities.patch_fields(
        entities.given(patch), ("name", "amount", "currency", "stage", "owner_id"), {}
    )
    stages = pipeline(store, actor.tenant_id)["stages"] if "stage" in changes else []
    now = utcnow()
    references = (
        [Reference("contact_id", CONTACT, changes["contact_id"])] if changes.get("contact_id") else []
    )

    def decide(before: dict[str, Any]) -> Change:
        applied = dict(changes)
        if before["status"] != "open" and set(applied) & {"stage", "amount", "currency"}:
            raise ConflictError(
                f"The opportunity is {before['status']}; its stage and amount no longer change."
            )
        if "amount" in applied or "currency" in applied:
            currency = applied.get("currency", before["currency"])
            value = patch.amount if patch.amount is not None else Decimal(before["amount"])
            field = "amount" if patch.amount is not None else "currency"
            applied["amount"] = money.text(money.exact(value, currency, ["body", field]))
        entries = []
        if "stage" in applied and applied["stage"] != before["stage"]:
            stage = _stage(stages, applied["stage"])
            change = {"from_stage": before["stage"], "to_stage": stage["key"], "at": now, "by": actor.user_id}
            applied.update(
                probability=stage["probability"],
                stage_history=[*before["stage_history"], change][-HISTORY_LIMIT:],
            )
            entries.append(change_entry({**before, **applied}, change))
        return Change(applied, extra=entries, references=references)

    return entities.public(
        entities.update(store, actor, OPPORTUNITY, opportunity_id, decide=decide, if_match=if_match).item
    )


def close(
    store: Store, actor: Actor, opportunity_id: str, data: CloseIn, if_match: int | None
) -> dict[str, Any]:
    """Won or lost, with the reason; closing it the same way again is harmless."""
    now = utcnow()

    def decide(before: dict[str, Any]) -> Change:
        if before["status"] == data.outcome:
            return Change()
        if before["status"] != "open":
            raise ConflictError(f"The opportunity is already {before['status']}.", state=before["status"])
        change = {"from_stage": before["stage"], "to_stage": data.outcome, "at": now, "by": actor.user_id}
        fields = {
            "status": data.outcome,
            "close_reason": data.reason,
            "closed_at": now,
            "probability": 100 if data.outcome == "won" else 0,
            "stage_history": [*before["stage_history"], change][-HISTORY_LIMIT:],
        }
        return Change(fields, extra=[change_entry({**before, **fields}, change)], action=data.outcome)

    return entities.public(
        entities.update(store, actor, OPPORTUNITY, opportunity_id, decide=decide, if_match=if_match).item
    )


def remove(store: Store, actor: Actor, opportunity_id: str, if_match: int | None) -> None:
    entities.remove(store, actor, OPPORTUNITY, opportunity_id, if_match=if_match)

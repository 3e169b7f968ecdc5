"""Leads: prospects not yet customers. new → contacted → qualified → converted, or disqualified
with a reason. Converting makes the customer, the contact and an opportunity in one transaction,
exactly once however often it is retried."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.core import entities
from chalicelib.core.entities import EntityType, normalise_phone
from chalicelib.core.errors import ConflictError, PreconditionFailedError, ValidationError
from chalicelib.core.store import Actor, Page, Store, utcnow
from chalicelib.crm import opportunities
from chalicelib.crm.contacts import CONTACT
from chalicelib.crm.customers import CUSTOMER
from chalicelib.crm.models import ConvertIn, LeadIn, LeadPatch, LeadQuery, OpportunityIn

# Where a lead may go from each status (converting is its own action).
MOVES = {
    "new": {"contacted", "qualified", "disqualified"},
    "contacted": {"qualified", "disqualified"},
    "qualified": {"contacted", "disqualified"},
    "disqualified": {"new"},
    "converted": set(),
}


def _lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    if item.get("email"):
        yield "email", item["email"]
    if item.get("phone"):
        yield "phone", normalise_phone(item["phone"])


LEAD = EntityType("lead", "lea", lookups=_lookups)


def new_fields(body: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Stored fields of a new lead from its validated body (API or import)."""
    return {
        **body,
        "owner_id": body.get("owner_id") or actor.user_id,
        "status": "new",
        "disqualify_reason": None,
        "customer_id": None,
        "contact_id": None,
        "opportunity_id": None,
        "converted_at": None,
    }


def create(store: Store, actor: Actor, data: LeadIn) -> dict[str, Any]:
    return entities.public(entities.create(store, actor, LEAD, new_fields(data.model_dump(mode="json"), actor)))


def list(store: Store, tenant_id: str, q: LeadQuery) -> Page:
    if q.email:
        return entities.lookup(store, tenant_id, LEAD, "email", q.email, q.limit, q.cursor)
    return entities.list_page(
        store, tenant_id, LEAD, limit=q.limit, cursor=q.cursor, updated_since=q.updated_since, name_prefix=q.name_prefix
    )


def update(store: Store, actor: Actor, lead_id: str, patch: LeadPatch, if_match: int | None) -> dict[str, Any]:
    changes = entities.patch_fields(
        entities.given(patch), ("name", "source", "owner_id", "status"), {"company_name": "", "notes": ""}
    )

    def apply(before: dict[str, Any]) -> dict[str, Any]:
        if before["status"] == "converted":
            raise ConflictError("The lead is converted; work its customer and opportunity instead.")
        applied = dict(changes)
        target = applied.get("status")
        if target and target != before["status"]:
            if target not in MOVES[before["status"]]:
                raise ConflictError(f"A {before['status']} lead cannot become {target}.", status=before["status"])
            if target == "disqualified" and not (applied.get("disqualify_reason") or "").strip():
                raise ValidationError(
                    "Say why the lead is disqualified.",
                    errors=[{"loc": ["body", "disqualify_reason"], "msg": "required to disqualify", "type": "missing"}],
                )
            if target != "disqualified":
                applied["disqualify_reason"] = None
        return applied

    return entities.public(entities.update(store, actor, LEAD, lead_id, apply, if_match))


def _derived(prefix: str, lead_id: str) -> str:
    """Records made by converting a lead get ids derived from the lead's: a retried conversion can
    only ever write those same records (each put is conditional on not existing)."""
    return f"{prefix}_{lead_id.split('_', 1)[1]}"


def convert(store: Store, actor: Actor, lead_id: str, data: ConvertIn, if_match: int | None) -> tuple[dict[str, Any], bool]:
    """Returns (the converted lead, whether this call converted it)."""
    lead = entities.get(store, actor.tenant_id, LEAD, lead_id, consistent=True)
    if lead["status"] == "converted":
        return entities.public(lead), False
    if lead["status"] == "disqualified":
        raise ConflictError("A disqualified lead is not converted; move it back to new first.", status="disqualified")
    now = utcnow()
    ids = {"customer": _derived("cus", lead_id), "contact": _derived("con", lead_id), "opportunity": _derived("opp", lead_id)}
    stages = opportunities.pipeline(store, actor.tenant_id)["stages"]

    def make_records(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
        emails = [{"address": before["email"], "label": ""}] if before.get("email") else []
        phones = [{"number": before["phone"], "label": ""}] if before.get("phone") else []
        is_company = bool(before.get("company_name"))
        customer = entities.new_item(CUSTOMER, actor, {
            "name": before["company_name"] or before["name"], "kind": "company" if is_company else "person", "code": None,
            "phones": [] if is_company else phones, "emails": [] if is_company else emails, "address": None, "tags": [],
            "custom_fields": {}, "owner_id": before["owner_id"], "source": before["source"], "lead_id": lead_id,
        }, entity_id=ids["customer"], now=now)  # fmt: skip
        contact = entities.new_item(CONTACT, actor, {
            "customer_id": ids["customer"], "name": before["name"], "title": "", "phones": phones, "emails": emails,
            "birthday": None, "preferences": {}, "marketing_consent": False, "marketing_consent_changed_at": now, "tags": [],
        }, entity_id=ids["contact"], now=now)  # fmt: skip
        wanted = OpportunityIn(
            customer_id=ids["customer"], contact_id=ids["contact"], name=data.opportunity_name or customer["name"],
            amount=data.amount, currency=data.currency, expected_close_date=data.expected_close_date,
            owner_id=before["owner_id"],
        )  # fmt: skip
        opportunity = entities.new_item(
            opportunities.OPPORTUNITY,
            actor,
            opportunities.new_fields(stages, actor, wanted, now),
            entity_id=ids["opportunity"],
            now=now,
        )
        operations = []
        for et, item in ((CUSTOMER, customer), (CONTACT, contact), (opportunities.OPPORTUNITY, opportunity)):
            operations.extend(entities.create_operations(et, actor, item))
        operations.append(opportunities.change_entry(opportunity, opportunity["stage_history"][0]))
        return operations

    changes = {"status": "converted", "customer_id": ids["customer"], "contact_id": ids["contact"],
               "opportunity_id": ids["opportunity"], "converted_at": now}  # fmt: skip

    def apply(before: dict[str, Any]) -> dict[str, Any]:
        if before["status"] in {"converted", "disqualified"}:
            raise ConflictError(f"The lead is {before['status']}.", status=before["status"])
        return changes

    try:
        converted = entities.update(store, actor, LEAD, lead_id, apply, if_match, make_records, action="convert")
    except (ConflictError, PreconditionFailedError):
        # Lost a race with another conversion of the same lead: its records are the answer.
        current = entities.get(store, actor.tenant_id, LEAD, lead_id, consistent=True)
        if if_match is None and current["status"] == "converted":
            return entities.public(current), False
        raise
    return entities.public(converted), True


def remove(store: Store, actor: Actor, lead_id: str, if_match: int | None) -> None:
    entities.remove(store, actor, LEAD, lead_id, if_match)

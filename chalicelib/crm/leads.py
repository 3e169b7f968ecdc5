"""Leads: prospects not yet customers. new → contacted → qualified → converted, or disqualified
with a reason. Converting makes the customer, the contact and an opportunity in one transaction,
exactly once however often it is retried."""

from __future__ import annotations

from typing import Any

from chalicelib.core import entities
from chalicelib.core.entities import Change, Reference
from chalicelib.core.errors import ConflictError, PreconditionFailedError, ValidationError
from chalicelib.core.store import Actor, Operations, Page, Store, utcnow
from chalicelib.crm import customers, opportunities
from chalicelib.crm.models import ConvertIn, LeadIn, LeadPatch, LeadQuery, OpportunityIn
from chalicelib.crm.types import CONTACT, CUSTOMER, LEAD, OPPORTUNITY
from chalicelib.tenants import published as company

# Where a lead may go from each status (converting is its own action).
MOVES = {
    "new": {"contacted", "qualified", "disqualified"},
    "contacted": {"qualified", "disqualified"},
    "qualified": {"contacted", "disqualified"},
    "disqualified": {"new"},
    "converted": set(),
}


def new_fields(body: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Stored fields of a new lead from its validated body (API or import); without ``owner_id`` the
    creator owns it, with ``owner_id: null`` it goes to the shared pool."""
    return {
        **body,
        "status": "new",
        "disqualify_reason": None,
        "customer_id": None,
        "contact_id": None,
        "opportunity_id": None,
        "converted_at": None,
    }


def create(store: Store, actor: Actor, data: LeadIn) -> dict[str, Any]:
    body = data.model_dump(
        mode="json", exclude={"owner_id"} if "owner_id" not in data.model_fields_set else None
    )
    return entities.public(entities.create(store, actor, LEAD, new_fields(body, actor)))


def list_page(store: Store, tenant_id: str, q: LeadQuery) -> Page:
    if q.email:
        return entities.lookup(store, tenant_id, LEAD, "email", q.email, limit=q.limit, cursor=q.cursor)
    return entities.list_page(
        store,
        tenant_id,
        LEAD,
        limit=q.limit,
        cursor=q.cursor,
        updated_since=q.updated_since,
        name_prefix=q.name_prefix,
    )


def changes(store: Store, actor: Actor, before: dict[str, Any], patch: LeadPatch) -> dict[str, Any]:
    """The fields a change of ``before`` sets, by PATCH or by an import's row: a converted lead no
    longer changes, the status moves only along ``MOVES``, disqualifying needs a reason."""
    if before["status"] == "converted":
        raise ConflictError("The lead is converted; work its customer and opportunity instead.")
    applied = entities.patch_fields(
        entities.given(patch), ("name", "source", "owner_id", "status"), {"company_name": "", "notes": ""}
    )
    target = applied.get("status")
    if target and target != before["status"]:
        if target not in MOVES[before["status"]]:
            raise ConflictError(f"A {before['status']} lead cannot become {target}.", state=before["status"])
        if target == "disqualified" and not (applied.get("disqualify_reason") or "").strip():
            raise ValidationError(
                "Say why the lead is disqualified.",
                errors=[
                    {"loc": ["body", "disqualify_reason"], "msg": "required to disqualify", "type": "missing"}
                ],
            )
        if target != "disqualified":
            applied["disqualify_reason"] = None
    return applied


def update(
    store: Store, actor: Actor, lead_id: str, patch: LeadPatch, if_match: int | None
) -> dict[str, Any]:
    def decide(before: dict[str, Any]) -> Change:
        return Change(changes(store, actor, before, patch))

    return entities.public(
        entities.update(store, actor, LEAD, lead_id, decide=decide, if_match=if_match).item
    )


def _customer_fields(lead: dict[str, Any], owner: str) -> dict[str, Any]:
    """The customer a lead becomes: its company, or the person when it names no company."""
    is_company = bool(lead.get("company_name"))
    emails = [{"address": lead["email"], "label": ""}] if lead.get("email") and not is_company else []
    phones = [{"number": lead["phone"], "label": ""}] if lead.get("phone") and not is_company else []
    return {
        "name": lead["company_name"] or lead["name"],
        "kind": "company" if is_company else "person",
        "code": None,
        "phones": phones,
        "emails": emails,
        "address": None,
        "tags": [],
        "custom_fields": {},
        "owner_id": owner,
        "source": lead["source"],
        "lead_id": lead["id"],
    }


def _derived(prefix: str, lead_id: str) -> str:
    """Records made by converting a lead get ids derived from the lead's: a retried conversion can
    only ever write those same records (each put is conditional on not existing)."""
    return f"{prefix}_{lead_id.split('_', 1)[1]}"


def convert(
    store: Store, actor: Actor, lead_id: str, data: ConvertIn, if_match: int | None
) -> tuple[dict[str, Any], bool]:
    """Returns (the converted lead, whether this call converted it)."""
    data = company.with_currency(store, actor.tenant_id, data)
    lead = entities.get(store, actor.tenant_id, LEAD, lead_id, consistent=True)
    if lead["status"] == "converted":
        return entities.public(lead), False
    if lead["status"] == "disqualified":
        raise ConflictError(
            "A disqualified lead is not converted; move it back to new first.", state="disqualified"
        )
    now = utcnow()
    owner = lead.get("owner_id") or actor.user_id  # a lead from the pool goes to whoever converts it
    customer_fields = _customer_fields(lead, owner)
    references = []
    if data.customer_id:  # the lead's company is already a customer: the contact and the deal join it
        references.append(Reference("customer_id", CUSTOMER, data.customer_id))
    elif not data.allow_duplicate:
        # The customer a conversion of this very lead made is no duplicate: a retry that reads the
        # lead before the first conversion commits and looks for duplicates after it finds that one.
        made = _derived("cus", lead_id)
        duplicates = [
            d
            for d in customers.probable_duplicates(store, actor.tenant_id, customer_fields)
            if d["id"] != made
        ]
        entities.refuse_duplicates(
            store,
            actor,
            CUSTOMER,
            duplicates,
            field="customer_id",
            advice="send its id as customer_id to attach the lead to it, or allow_duplicate=true to create a new customer",
        )
    ids = {
        "customer": data.customer_id or _derived("cus", lead_id),
        "contact": _derived("con", lead_id),
        "opportunity": _derived("opp", lead_id),
    }
    stages = opportunities.pipeline(store, actor.tenant_id)["stages"]
    changes = {
        "status": "converted",
        "customer_id": ids["customer"],
        "contact_id": ids["contact"],
        "opportunity_id": ids["opportunity"],
        "converted_at": now,
    }

    def becomes(before: dict[str, Any]) -> Operations:
        """The customer (unless the lead joins one), the contact and the opportunity it becomes."""
        emails = [{"address": before["email"], "label": ""}] if before.get("email") else []
        phones = [{"number": before["phone"], "label": ""}] if before.get("phone") else []
        customer = entities.new_item(CUSTOMER, actor, customer_fields, entity_id=ids["customer"], now=now)
        contact = entities.new_item(
            CONTACT,
            actor,
            {
                "customer_id": ids["customer"],
                "name": before["name"],
                "title": "",
                "phones": phones,
                "emails": emails,
                "birthday": None,
                "preferences": {},
                "marketing_consent": False,
                "marketing_consent_changed_at": now,
                "tags": [],
            },
            entity_id=ids["contact"],
            now=now,
        )
        wanted = OpportunityIn(
            customer_id=ids["customer"],
            contact_id=ids["contact"],
            name=data.opportunity_name or customer_fields["name"],
            amount=data.amount,
            currency=data.currency,
            expected_close_date=data.expected_close_date,
            owner_id=owner,
        )
        opportunity = entities.new_item(
            OPPORTUNITY,
            actor,
            opportunities.new_fields(stages, actor, wanted, now),
            entity_id=ids["opportunity"],
            now=now,
        )
        operations: Operations = []
        records = [(CONTACT, contact), (OPPORTUNITY, opportunity)]
        for et, item in records if data.customer_id else [(CUSTOMER, customer), *records]:
            operations.extend(entities.create_operations(et, actor, item))
        operations.append(opportunities.change_entry(opportunity, opportunity["stage_history"][0]))
        return operations

    def decide(before: dict[str, Any]) -> Change:
        if before["status"] in {"converted", "disqualified"}:
            raise ConflictError(f"The lead is {before['status']}.", state=before["status"])
        return Change(changes, extra=becomes(before), action="convert", references=references)

    try:
        converted = entities.update(store, actor, LEAD, lead_id, decide=decide, if_match=if_match).item
    except (ConflictError, PreconditionFailedError):
        # Lost a race with another conversion of the same lead: its records are the answer.
        current = entities.get(store, actor.tenant_id, LEAD, lead_id, consistent=True)
        if if_match is None and current["status"] == "converted":
            return entities.public(current), False
        raise
    return entities.public(converted), True


def remove(store: Store, actor: Actor, lead_id: str, if_match: int | None) -> None:
    entities.remove(store, actor, LEAD, lead_id, if_match=if_match)

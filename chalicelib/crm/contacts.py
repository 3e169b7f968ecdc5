"""Contacts: the people at a customer, with their preferences and marketing consent."""

from __future__ import annotations

from typing import Any

from chalicelib.core import entities, normalise
from chalicelib.core.entities import Change, Reference
from chalicelib.core.normalise import normalise_phone
from chalicelib.core.store import Actor, Page, Store, utcnow
from chalicelib.crm import automations
from chalicelib.crm.models import ContactIn, ContactPatch, ContactQuery, CreateOptions
from chalicelib.crm.types import CONTACT, CUSTOMER, contact_points


def new_fields(body: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Stored fields of a new contact from its validated body (API or import)."""
    return {**body, "marketing_consent_changed_at": utcnow()}


def probable_duplicates(store: Store, tenant_id: str, fields: dict[str, Any]) -> list[dict[str, str]]:
    """Contacts that are probably this one: the same normalised name at the same customer (its
    contacts: one Query and one BatchGetItem), or the same email or phone anywhere (a Query each)."""
    found: dict[str, str] = {}
    name = normalise.normalise_name(fields["name"])
    colleagues = entities.lookup(store, tenant_id, CONTACT, "customer", fields["customer_id"])
    for item in colleagues.items:
        if normalise.normalise_name(item["name"]) == name:
            found.setdefault(item["id"], "name")
    entities.lookup_matches(store, tenant_id, CONTACT, contact_points(fields), found)
    return [{"id": contact_id, "matched_on": on} for contact_id, on in found.items()]


def create(
    store: Store, actor: Actor, data: ContactIn, options: CreateOptions | None = None
) -> dict[str, Any]:
    fields = new_fields(data.model_dump(mode="json"), actor)
    if not (options and options.allow_duplicate):
        entities.refuse_duplicates(store, actor, CONTACT, probable_duplicates(store, actor.tenant_id, fields))
    references = [Reference("customer_id", CUSTOMER, data.customer_id)]
    made = entities.create(store, actor, CONTACT, fields, references=references)
    automations.after_write(store, actor.tenant_id, "contact_created", made)
    return entities.public(made)


def list_page(store: Store, tenant_id: str, q: ContactQuery) -> Page:
    for kind, value in (
        ("customer", q.customer_id),
        ("email", q.email),
        ("phone", q.phone and normalise_phone(q.phone)),
    ):
        if value:
            return entities.lookup(store, tenant_id, CONTACT, kind, value, limit=q.limit, cursor=q.cursor)
    return entities.list_page(
        store,
        tenant_id,
        CONTACT,
        limit=q.limit,
        cursor=q.cursor,
        updated_since=q.updated_since,
        name_prefix=q.name_prefix,
    )


def changes(store: Store, actor: Actor, before: dict[str, Any], patch: ContactPatch) -> dict[str, Any]:
    """The fields a change of ``before`` sets, by PATCH or by an import's row; a change of consent
    is timed."""
    applied = entities.patch_fields(
        entities.given(patch),
        ("customer_id", "name"),
        {"title": "", "phones": [], "emails": [], "preferences": {}, "tags": [], "marketing_consent": False},
    )
    if "marketing_consent" in applied and applied["marketing_consent"] != before.get("marketing_consent"):
        return {**applied, "marketing_consent_changed_at": utcnow()}
    return applied


def update(
    store: Store, actor: Actor, contact_id: str, patch: ContactPatch, if_match: int | None
) -> dict[str, Any]:
    references = [Reference("customer_id", CUSTOMER, patch.customer_id)] if patch.customer_id else []

    def decide(before: dict[str, Any]) -> Change:
        return Change(changes(store, actor, before, patch), references=references)

    return entities.public(
        entities.update(store, actor, CONTACT, contact_id, decide=decide, if_match=if_match).item
    )


def remove(store: Store, actor: Actor, contact_id: str, if_match: int | None) -> None:
    entities.remove(store, actor, CONTACT, contact_id, if_match=if_match)

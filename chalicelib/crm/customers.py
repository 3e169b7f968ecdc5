"""Customers: create, read, list and search, change, delete; the code is unique per tenant."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.core import entities
from chalicelib.core.entities import EntityType, Unique, normalise_phone
from chalicelib.core.store import Actor, Page, Store
from chalicelib.crm.models import CustomerIn, CustomerPatch, CustomerQuery


def contact_points(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """Exact-match lookups of a customer or contact: each email and each phone number."""
    for email in item.get("emails") or []:
        yield "email", email["address"]
    for phone in item.get("phones") or []:
        yield "phone", normalise_phone(phone["number"])


CUSTOMER = EntityType("customer", "cus", uniques=(Unique("code"),), lookups=contact_points)
public = entities.public


def create(store: Store, actor: Actor, data: CustomerIn) -> dict[str, Any]:
    return public(entities.create(store, actor, CUSTOMER, data.model_dump(mode="json")))


def get(store: Store, tenant_id: str, customer_id: str) -> dict[str, Any]:
    return entities.get(store, tenant_id, CUSTOMER, customer_id)


def list(store: Store, tenant_id: str, q: CustomerQuery) -> Page:
    if q.email or q.phone:
        kind, value = ("email", q.email) if q.email else ("phone", normalise_phone(q.phone or ""))
        return entities.lookup(store, tenant_id, CUSTOMER, kind, value, q.limit, q.cursor)
    return entities.list_page(
        store, tenant_id, CUSTOMER, limit=q.limit, cursor=q.cursor, updated_since=q.updated_since, name_prefix=q.name_prefix
    )


def update(store: Store, actor: Actor, customer_id: str, patch: CustomerPatch, if_match: int | None) -> dict[str, Any]:
    changes = entities.patch_fields(
        entities.given(patch), ("name", "kind"), {"phones": [], "emails": [], "tags": [], "custom_fields": {}}
    )
    return public(entities.update(store, actor, CUSTOMER, customer_id, changes, if_match))


def remove(store: Store, actor: Actor, customer_id: str, if_match: int | None) -> None:
    entities.remove(store, actor, CUSTOMER, customer_id, if_match)

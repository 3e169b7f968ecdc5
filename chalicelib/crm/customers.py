"""Customers: create, read, list and search, change, delete; the code is unique per tenant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.core import entities, keys, normalise
from chalicelib.core.entities import Change, EntityType
from chalicelib.core.errors import ConflictError
from chalicelib.core.normalise import normalise_phone
from chalicelib.core.store import Actor, Page, Store
from chalicelib.crm import automations, repository
from chalicelib.crm.models import CreateOptions, CustomerIn, CustomerPatch, CustomerQuery
from chalicelib.crm.types import CUSTOMER, ORDER, contact_points
from chalicelib.erp import published as erp

public = entities.public


def points(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """A customer's name, emails and phones in the form their index keys hold them."""
    points = [("name", normalise.normalise_name(fields["name"]))]
    points.extend(
        (kind, keys.lookup_prefix("t", CUSTOMER.name, kind, value)[1])
        for kind, value in contact_points(fields)
    )
    return points


def known_points(store: Store, tenant_id: str, at_most: int) -> dict[tuple[str, str], str] | None:
    """Every stored customer's name, email and phone (as ``points`` gives them) to its id, read
    partition by partition; None when a partition holds more than ``at_most`` entries (then asking
    record by record is cheaper). For bulk checks: an import of thousands of rows."""
    found: dict[tuple[str, str], str] = {}
    names = store.query_bounded(
        tenant_id=tenant_id,
        partition=keys.name_index_pk(tenant_id, CUSTOMER.name),
        index="gsi2",
        at_most=at_most,
    )
    if names is None:
        return None
    for item in names:
        found.setdefault(("name", item["gsi2sk"].rsplit("#", 1)[0]), item["id"])
    for kind in ("email", "phone"):
        partition, _ = keys.lookup_prefix(tenant_id, CUSTOMER.name, kind, "")
        entries = store.query_bounded(tenant_id=tenant_id, partition=partition, at_most=at_most)
        if entries is None:
            return None
        for item in entries:
            found.setdefault((kind, item["sk"].rsplit("#", 1)[0] + "#"), item["entity_id"])
    return found


def probable_duplicates(
    store: Store,
    tenant_id: str,
    fields: dict[str, Any],
    known: dict[tuple[str, str], str] | None = None,
    its_points: list[tuple[str, str]] | None = None,
) -> list[dict[str, str]]:
    """Customers that are probably the same one: the same normalised name, email or phone.
    From ``known`` when given (with ``its_points``, the ``points`` of ``fields`` if the caller has
    them already), else one Query per name, email and phone (the name on gsi2, the others on their
    lookups)."""
    found: dict[str, str] = {}
    if known is not None:
        for kind, value in its_points or points(fields):
            if (kind, value) in known:
                found.setdefault(known[(kind, value)], kind)
        return [{"id": customer_id, "matched_on": on} for customer_id, on in found.items()]
    name = normalise.normalise_name(fields["name"])
    named = store.query_page(
        tenant_id=tenant_id,
        partition=keys.name_index_pk(tenant_id, CUSTOMER.name),
        index="gsi2",
        sort_condition=repository.named_exactly(name),
        limit=5,
        query_id="duplicates",
    )
    for item in named.items:
        found.setdefault(item["id"], "name")
    entities.lookup_matches(store, tenant_id, CUSTOMER, contact_points(fields), found)
    return [{"id": customer_id, "matched_on": on} for customer_id, on in found.items()]


def create(
    store: Store, actor: Actor, data: CustomerIn, options: CreateOptions | None = None
) -> dict[str, Any]:
    fields = data.model_dump(mode="json")
    if "owner_id" not in data.model_fields_set:
        del fields["owner_id"]  # the creator owns it
    if not (options and options.allow_duplicate):
        entities.refuse_duplicates(
            store, actor, CUSTOMER, probable_duplicates(store, actor.tenant_id, fields)
        )
    made = entities.create(store, actor, CUSTOMER, fields)
    automations.after_write(store, actor.tenant_id, "customer_created", made)
    return public(made)


def get(store: Store, tenant_id: str, customer_id: str) -> dict[str, Any]:
    return entities.get(store, tenant_id, CUSTOMER, customer_id)


def list_page(store: Store, tenant_id: str, q: CustomerQuery) -> Page:
    if q.email or q.phone:
        kind, value = ("email", q.email) if q.email else ("phone", normalise_phone(q.phone or ""))
        return entities.lookup(store, tenant_id, CUSTOMER, kind, value, limit=q.limit, cursor=q.cursor)
    return entities.list_page(
        store,
        tenant_id,
        CUSTOMER,
        limit=q.limit,
        cursor=q.cursor,
        updated_since=q.updated_since,
        name_prefix=q.name_prefix,
    )


def changes(store: Store, actor: Actor, before: dict[str, Any], patch: CustomerPatch) -> dict[str, Any]:
    """The fields a change of ``before`` sets, by PATCH or by an import's row: the ones given."""
    return entities.patch_fields(
        entities.given(patch),
        ("name", "kind", "status"),
        {"phones": [], "emails": [], "tags": [], "custom_fields": {}},
    )


def update(
    store: Store, actor: Actor, customer_id: str, patch: CustomerPatch, if_match: int | None
) -> dict[str, Any]:
    def decide(before: dict[str, Any]) -> Change:
        return Change(changes(store, actor, before, patch))

    return public(entities.update(store, actor, CUSTOMER, customer_id, decide=decide, if_match=if_match).item)


FINAL_ORDER_STATES = ("cancelled", "rejected", "paid")
SHOWN = 10  # blockers named in a refusal


def _open_business(store: Store, tenant_id: str, customer_id: str) -> dict[str, list[str]]:
    """What ties a customer to the company's books: orders not yet finished (drafts included: they
    would be confirmed for nobody), invoices not void or paid, payments with money on account."""

    def matching(et: EntityType, keep: Callable[[dict[str, Any]], bool]) -> list[str]:
        return entities.lookup_ids(store, tenant_id, et, "customer", customer_id, keep=keep, at_most=SHOWN)

    blockers = {
        "open_order_ids": matching(ORDER, lambda o: o["status"] not in FINAL_ORDER_STATES),
        **erp.open_receivables(store, tenant_id, customer_id, SHOWN),
    }
    return {name: ids for name, ids in blockers.items() if ids}


def remove(store: Store, actor: Actor, customer_id: str, if_match: int | None) -> None:
    """Delete a customer with no open business: refused (409 naming them) while orders are open,
    an invoice is not settled or a payment holds money on account; merge it into another instead.
    The customer's removal lease makes an order, invoice or payment written meanwhile fail its
    reference check, so none is left on a deleted customer."""

    def check(before: dict[str, Any]) -> None:
        blockers = _open_business(store, actor.tenant_id, customer_id)
        if blockers:
            what = ", ".join(
                f"{len(ids)} {name.removesuffix('_ids').replace('_', ' ')}(s)"
                for name, ids in blockers.items()
            )
            raise ConflictError(
                f"The customer still has {what}; finish or cancel them, or merge the customer into another.",
                errors=None,
                **blockers,
            )

    entities.remove(store, actor, CUSTOMER, customer_id, if_match=if_match, check=check, lease=True)

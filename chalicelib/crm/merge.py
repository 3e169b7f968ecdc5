"""Merging a duplicate customer into the one that survives.

Every record of the duplicate (contacts, activities, opportunities, quotes, orders, tickets) is moved
to the survivor in its own transaction, with its timeline entries; then the duplicate's remaining
timeline entries move and the duplicate is deleted. A merge cut short is finished by running it
again: moved records no longer hang off the duplicate, so nothing moves twice.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from chalicelib.core import entities, keys
from chalicelib.core.entities import Change
from chalicelib.core.errors import ValidationError
from chalicelib.core.store import Actor, Store, audit_entry, delete, put
from chalicelib.crm.types import ACTIVITY, CONTACT, CUSTOMER, OPPORTUNITY, ORDER, QUOTE, TICKET
from chalicelib.erp import published as erp

MOVABLE = (
    CONTACT,
    ACTIVITY,
    OPPORTUNITY,
    QUOTE,
    ORDER,
    TICKET,
)


def _timeline(store: Store, tenant_id: str, customer_id: str) -> list[dict[str, Any]]:
    return store.query_all(partition=keys.timeline_pk(tenant_id, customer_id))


def _moved_entry(entry: dict[str, Any], tenant_id: str, survivor_id: str) -> dict[str, Any]:
    moved = {k: v for k, v in entry.items() if k not in ("pk", "sk")}
    return {
        **keys.timeline(tenant_id, survivor_id, entry["at"], entry["kind"], entry["ref_id"]),
        **moved,
        "customer_id": survivor_id,
    }


def merge(store: Store, actor: Actor, survivor_id: str, duplicate_id: str) -> dict[str, Any]:
    """Fold ``duplicate_id`` into ``survivor_id``; returns what moved, per record type."""
    if survivor_id == duplicate_id:
        error = {"loc": ["body", "duplicate_id"], "msg": "same as the survivor", "type": "value"}
        raise ValidationError("A customer cannot be merged into itself.", errors=[error])
    entities.get(store, actor.tenant_id, CUSTOMER, survivor_id)
    duplicate = entities.get(store, actor.tenant_id, CUSTOMER, duplicate_id, consistent=True)
    entries: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in _timeline(store, actor.tenant_id, duplicate_id):
        entries[entry["record_id"]].append(entry)  # an order's ERP events move with it
    moved: dict[str, int] = {}
    for et in MOVABLE:
        count = 0
        while True:
            page = entities.lookup(store, actor.tenant_id, et, "customer", duplicate_id)
            if not page.items:
                break
            for record in page.items:
                own = entries.pop(record["id"], [])  # its timeline entries move with it
                extra = [
                    op
                    for entry in own
                    for op in (
                        delete({"pk": entry["pk"], "sk": entry["sk"]}),
                        put(_moved_entry(entry, actor.tenant_id, survivor_id)),
                    )
                ]
                change = Change({"customer_id": survivor_id}, extra=extra, action="merge")
                entities.update(store, actor, et, record["id"], decide=change)
                count += 1
        moved[et.name] = count
    moved.update(erp.move_receivables(store, actor, survivor_id, duplicate_id))
    for left in entries.values():  # entries of records deleted meanwhile: they move too
        store.transact(
            [
                op
                for e in left
                for op in (
                    delete({"pk": e["pk"], "sk": e["sk"]}),
                    put(_moved_entry(e, actor.tenant_id, survivor_id)),
                )
            ]
        )
    summary = {"survivor_id": survivor_id, "duplicate_id": duplicate_id, "moved": moved}

    merged = audit_entry(actor, "customer.merge", "customer", survivor_id, None, summary)
    entities.remove(store, actor, CUSTOMER, duplicate_id, if_match=duplicate["version"], extra=[merged])
    return summary

"""A customer's timeline: everything that happened with them, newest first, one Query per page.

Entries are written by the service that makes the change, in the same transaction (an activity,
a stage change, a quote, an order, a ticket); later the ERP's order events append to it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from boto3.dynamodb.conditions import Attr

from chalicelib.core import entities, keys
from chalicelib.core.store import Page, Store, delete, put
from chalicelib.crm.customers import CUSTOMER


def entry(tenant_id: str, customer_id: str, at: str, kind: str, ref_id: str, summary: dict[str, Any]) -> dict[str, Any]:
    """The Put of a timeline entry, to add to the transaction of the change it records."""
    return put(
        {
            **keys.timeline(tenant_id, customer_id, at, kind, ref_id),
            "at": at,
            "kind": kind,
            "ref_id": ref_id,
            "customer_id": customer_id,
            "summary": summary,
        }
    )


def remove_entry(tenant_id: str, customer_id: str, at: str, kind: str, ref_id: str) -> dict[str, Any]:
    return delete(keys.timeline(tenant_id, customer_id, at, kind, ref_id))


# Each kind of entry shows to those who may read its records.
KIND_PERMISSIONS = {
    "activity": "crm.activities:read",
    "stage_change": "crm.opportunities:read",
    "quote": "crm.quotes:read",
    "order": "crm.orders:read",
    "ticket": "crm.tickets:read",
}


def readable_kinds(holds: Callable[[str], bool]) -> list[str]:
    return sorted(kind for kind, needed in KIND_PERMISSIONS.items() if holds(needed))


def page(store: Store, tenant_id: str, customer_id: str, limit: int, cursor: str | None, kinds: list[str]) -> Page:
    """Newest first, the kinds the user may read. An empty first page checks that the customer
    exists (404 otherwise). A filtered page may hold fewer than ``limit`` entries."""
    everything = len(kinds) == len(KIND_PERMISSIONS)
    found = store.query_page(
        tenant_id=tenant_id,
        partition=keys.timeline_pk(tenant_id, customer_id),
        limit=limit,
        cursor=cursor,
        newest_first=True,
        filter_condition=None if everything else Attr("kind").is_in(kinds or ["none"]),
        query_id=f"timeline|{','.join(kinds)}",
    )
    if not found.items and cursor is None:
        entities.get(store, tenant_id, CUSTOMER, customer_id)
    return Page([{k: i[k] for k in ("at", "kind", "ref_id", "summary")} for i in found.items], found.next_cursor)

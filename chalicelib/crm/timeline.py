"""A customer's timeline: everything that happened with them, newest first, one Query per page.

Entries are written by the service that makes the change, in the same transaction (an activity,
a stage change, a quote, an order, a ticket); later the ERP's order events append to it too. Each
entry names the record it is about (``record_id``), so a reader sees an entry only when they may
read that record: a user who may read only their own records gets one BatchGetItem more per page.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import entities, keys
from chalicelib.core.store import Actor, Page, Store, delete, put
from chalicelib.crm import repository
from chalicelib.crm.types import CUSTOMER


def entry(
    tenant_id: str,
    customer_id: str,
    at: str,
    kind: str,
    ref_id: str,
    summary: dict[str, Any],
    record_id: str | None = None,
) -> dict[str, Any]:
    """The Put of a timeline entry, to add to the transaction of the change it records.
    ``record_id``: the record it is about, when ``ref_id`` is not (an ERP event on an order)."""
    return put(
        {
            **keys.timeline(tenant_id, customer_id, at, kind, ref_id),
            "at": at,
            "kind": kind,
            "ref_id": ref_id,
            "record_id": record_id or ref_id,
            "customer_id": customer_id,
            "summary": summary,
        }
    )


def remove_entry(tenant_id: str, customer_id: str, at: str, kind: str, ref_id: str) -> dict[str, Any]:
    return delete(keys.timeline(tenant_id, customer_id, at, kind, ref_id))


# Each kind of entry is about a record of one type, and shows to those who may read that record.
KIND_RECORDS = {
    "activity": ("activity", "crm.activities:read"),
    "stage_change": ("opportunity", "crm.opportunities:read"),
    "quote": ("quote", "crm.quotes:read"),
    "order": ("order", "crm.orders:read"),
    "ticket": ("ticket", "crm.tickets:read"),
}


def readable_kinds(actor: Actor) -> list[str]:
    return sorted(kind for kind, (_, needed) in KIND_RECORDS.items() if actor.holds(needed))


def _readable_entries(store: Store, actor: Actor, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries about records the user may read: those of kinds granted over own records only
    are checked against their record's current owner (one BatchGetItem); a deleted record's
    entries show only to those who read all records of its kind."""
    scoped = [e for e in entries if not actor.reads_all(KIND_RECORDS[e["kind"]][1])]
    if not scoped:
        return entries
    needed = {e["record_id"]: KIND_RECORDS[e["kind"]] for e in scoped}
    records = store.batch_get(
        [keys.entity(actor.tenant_id, name, record_id) for record_id, (name, _) in needed.items()]
    )
    visible = {r["id"] for r in records if actor.may_read(needed[r["id"]][1], r)}
    return [e for e in entries if actor.reads_all(KIND_RECORDS[e["kind"]][1]) or e["record_id"] in visible]


def page(store: Store, actor: Actor, customer_id: str, limit: int, cursor: str | None) -> Page:
    """Newest first, the entries the user may read. An empty first page checks that the customer
    exists (404 otherwise). A filtered page may hold fewer than ``limit`` entries."""
    kinds = readable_kinds(actor)
    everything = len(kinds) == len(KIND_RECORDS)
    found = store.query_page(
        tenant_id=actor.tenant_id,
        partition=keys.timeline_pk(actor.tenant_id, customer_id),
        limit=limit,
        cursor=cursor,
        newest_first=True,
        filter_condition=None if everything else repository.of_kinds(kinds or ["none"]),
        query_id=f"timeline|{','.join(kinds)}",
    )
    if not found.items and cursor is None:
        entities.get(store, actor.tenant_id, CUSTOMER, customer_id)
    shown = _readable_entries(store, actor, found.items)
    return Page(
        [{k: i[k] for k in ("at", "kind", "ref_id", "record_id", "summary")} for i in shown],
        found.next_cursor,
    )

"""Service tickets: complaints, requests and questions, with a due time from the tenant's SLA per
priority; open → in_progress → resolved → closed, and reopened from resolved or closed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.core import entities, keys, settings_items
from chalicelib.core.entities import Change, Reference
from chalicelib.core.errors import ConflictError
from chalicelib.core.schemas import iso
from chalicelib.core.store import Actor, Page, Store, utcnow
from chalicelib.crm import automations, repository, timeline
from chalicelib.crm.models import SlaIn, TicketIn, TicketPatch, TicketQuery
from chalicelib.crm.types import ACTIVE, CONTACT, CUSTOMER, TICKET

DEFAULT_SLA = {"urgent": 4, "high": 8, "normal": 24, "low": 72}
MOVES = {
    "open": {"in_progress", "resolved"},
    "in_progress": {"open", "resolved"},
    "resolved": {"closed", "open"},
    "closed": {"open"},
}


def sla(store: Store, tenant_id: str) -> dict[str, Any]:
    return settings_items.read(store, keys.sla(tenant_id), {"hours": DEFAULT_SLA})


def replace_sla(store: Store, actor: Actor, data: SlaIn, if_match: int | None) -> dict[str, Any]:
    current = sla(store, actor.tenant_id)
    hours = {**current["hours"], **data.hours}
    return settings_items.replace(
        store, actor, keys.sla(actor.tenant_id), "sla", current, {"hours": hours}, if_match
    )


def _due(start: str, hours: int) -> str:
    return iso(datetime.fromisoformat(start.replace("Z", "+00:00")) + timedelta(hours=hours))


def with_overdue(item: dict[str, Any], now: str | None = None) -> dict[str, Any]:
    now = now or utcnow()
    return {**item, "overdue": item["status"] in ACTIVE and item["due_at"] < now}


def present(item: dict[str, Any]) -> dict[str, Any]:
    """A stored ticket as the API shows it (with ``overdue``)."""
    return with_overdue(entities.public(item))


def _entry(item: dict[str, Any], event: str, at: str) -> dict[str, Any]:
    summary = {
        "event": event,
        "subject": item["subject"],
        "priority": item["priority"],
        "status": item["status"],
    }
    return timeline.entry(item["tenant_id"], item["customer_id"], at, "ticket", item["id"], summary)


def create(store: Store, actor: Actor, data: TicketIn) -> dict[str, Any]:
    now = utcnow()
    fields = {
        **data.model_dump(mode="json"),
        "status": "open",
        "due_at": _due(now, sla(store, actor.tenant_id)["hours"][data.priority]),
        "resolution": None,
        "resolved_at": None,
        "closed_at": None,
        "reopened": 0,
    }
    item = entities.new_item(TICKET, actor, fields, now=now)
    references = [Reference("customer_id", CUSTOMER, data.customer_id)]
    if data.contact_id:
        references.append(Reference("contact_id", CONTACT, data.contact_id))
    entities.write_new(store, actor, TICKET, item, extra=[_entry(item, "opened", now)], references=references)
    return with_overdue(entities.public(item), now)


def list_page(store: Store, tenant_id: str, q: TicketQuery) -> Page:
    if q.overdue:
        partition, _ = keys.lookup_prefix(tenant_id, TICKET.name, "due", "")
        page = store.query_page(
            tenant_id=tenant_id,
            partition=partition,
            sort_condition=repository.due_before(utcnow()),
            limit=q.limit,
            cursor=q.cursor,
            query_id="overdue",
        )
        items = entities.get_many(store, tenant_id, TICKET, [i["entity_id"] for i in page.items])
        return Page([with_overdue(entities.public(i)) for i in items], page.next_cursor)
    for kind, value in (("customer", q.customer_id), ("assignee", q.assignee_id)):
        if value:
            page = entities.lookup(store, tenant_id, TICKET, kind, value, limit=q.limit, cursor=q.cursor)
            return Page([with_overdue(i) for i in page.items], page.next_cursor)
    page = entities.list_page(
        store, tenant_id, TICKET, limit=q.limit, cursor=q.cursor, updated_since=q.updated_since
    )
    return Page([i if i.get("deleted") else with_overdue(i) for i in page.items], page.next_cursor)


def update(
    store: Store, actor: Actor, ticket_id: str, patch: TicketPatch, if_match: int | None
) -> dict[str, Any]:
    changes = entities.patch_fields(
        entities.given(patch), ("subject", "priority", "status"), {"description": ""}
    )
    hours = sla(store, actor.tenant_id)["hours"] if "priority" in changes else {}
    now = utcnow()
    references = (
        [Reference("contact_id", CONTACT, changes["contact_id"])] if changes.get("contact_id") else []
    )

    def decide(before: dict[str, Any]) -> Change:
        applied = dict(changes)
        target = applied.get("status", before["status"])
        if target != before["status"]:
            if target not in MOVES[before["status"]]:
                raise ConflictError(
                    f"A {before['status']} ticket cannot become {target}.", state=before["status"]
                )
            if target == "resolved":
                applied["resolved_at"] = now
            elif target == "closed":
                applied["closed_at"] = now
            elif target == "open" and before["status"] in {"resolved", "closed"}:
                applied.update(reopened=before.get("reopened", 0) + 1, resolved_at=None, closed_at=None)
        if "priority" in applied and applied["priority"] != before["priority"]:
            applied["due_at"] = _due(before["created_at"], hours[applied["priority"]])
        entries = []
        if target != before["status"]:
            reopened = target == "open" and before["status"] in {"resolved", "closed"}
            entries.append(_entry({**before, **applied}, "reopened" if reopened else target, now))
        return Change(applied, extra=entries, references=references)

    updated = entities.update(store, actor, TICKET, ticket_id, decide=decide, if_match=if_match)
    if updated.changed and changes.get("status") == "resolved" and updated.item.get("resolved_at") == now:
        # Resolved by this change: each resolution is an occurrence (a reopened one fires again).
        automations.after_write(store, actor.tenant_id, "ticket_resolved", updated.item, now)
    return with_overdue(entities.public(updated.item))


def remove(store: Store, actor: Actor, ticket_id: str, if_match: int | None) -> None:
    entities.remove(store, actor, TICKET, ticket_id, if_match=if_match)

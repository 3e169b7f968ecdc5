"""Activities: calls, emails, meetings, notes and tasks with a customer; each is on the timeline."""

from __future__ import annotations

from typing import Any

from chalicelib.core import entities
from chalicelib.core.entities import Change, Reference
from chalicelib.core.schemas import iso
from chalicelib.core.store import Actor, Page, Store, utcnow
from chalicelib.crm import timeline
from chalicelib.crm.models import ActivityIn, ActivityPatch, ActivityQuery
from chalicelib.crm.types import ACTIVITY, CONTACT, CUSTOMER


def _summary(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": item["kind"],
        "subject": item["subject"],
        "done": item["done"],
        "assignee_id": item.get("assignee_id"),
    }


def _entry(item: dict[str, Any]) -> dict[str, Any]:
    return timeline.entry(
        item["tenant_id"], item["customer_id"], item["occurred_at"], "activity", item["id"], _summary(item)
    )


def _references(fields: dict[str, Any]) -> list[Reference]:
    refs = []
    if fields.get("customer_id"):
        refs.append(Reference("customer_id", CUSTOMER, fields["customer_id"]))
    if fields.get("contact_id"):
        refs.append(Reference("contact_id", CONTACT, fields["contact_id"]))
    return refs


def _times(fields: dict[str, Any]) -> dict[str, Any]:
    """Instants as the table's sortable UTC text."""
    for name in ("occurred_at", "due_at"):
        if fields.get(name) is not None:
            fields[name] = iso(fields[name])
    return fields


def create(store: Store, actor: Actor, data: ActivityIn) -> dict[str, Any]:
    now = utcnow()
    fields = _times(data.model_dump())
    fields["occurred_at"] = fields["occurred_at"] or now
    fields["done_at"] = now if data.done else None
    item = entities.new_item(ACTIVITY, actor, fields, now=now)
    entities.write_new(store, actor, ACTIVITY, item, extra=[_entry(item)], references=_references(fields))
    return entities.public(item)


def list_page(store: Store, tenant_id: str, q: ActivityQuery) -> Page:
    for kind, value in (("customer", q.customer_id), ("assignee", q.assignee_id)):
        if value:
            return entities.lookup(store, tenant_id, ACTIVITY, kind, value, limit=q.limit, cursor=q.cursor)
    return entities.list_page(
        store, tenant_id, ACTIVITY, limit=q.limit, cursor=q.cursor, updated_since=q.updated_since
    )


def update(
    store: Store, actor: Actor, activity_id: str, patch: ActivityPatch, if_match: int | None
) -> dict[str, Any]:
    changes = entities.patch_fields(
        _times(patch.model_dump(include=patch.model_fields_set)),
        ("kind", "subject", "occurred_at", "done"),
        {"body": ""},
    )

    def decide(before: dict[str, Any]) -> Change:
        fields = dict(changes)
        if "done" in changes and changes["done"] != before["done"]:
            fields["done_at"] = utcnow() if changes["done"] else None
        after = {**before, **fields}
        entries = []  # the timeline entry moves with the activity's time and shows its summary
        if before["occurred_at"] != after["occurred_at"]:
            entries.append(
                timeline.remove_entry(
                    before["tenant_id"],
                    before["customer_id"],
                    before["occurred_at"],
                    "activity",
                    before["id"],
                )
            )
        if _summary(before) != _summary(after) or before["occurred_at"] != after["occurred_at"]:
            entries.append(_entry(after))
        return Change(fields, extra=entries, references=_references(changes))

    updated = entities.update(store, actor, ACTIVITY, activity_id, decide=decide, if_match=if_match)
    return entities.public(updated.item)


def remove(store: Store, actor: Actor, activity_id: str, if_match: int | None) -> None:
    def drop_entry(before: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            timeline.remove_entry(
                before["tenant_id"], before["customer_id"], before["occurred_at"], "activity", before["id"]
            )
        ]

    entities.remove(store, actor, ACTIVITY, activity_id, if_match=if_match, extra=drop_entry)

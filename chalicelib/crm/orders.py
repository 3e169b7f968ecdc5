"""Sales orders: draft → confirmed → (the ERP's states, with the handoff) ; or cancelled.

What the ERP does with a confirmed order is the order handoff's work; here are the state rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.core import entities
from chalicelib.core.entities import EntityType, Reference
from chalicelib.core.errors import ConflictError
from chalicelib.core.store import Actor, Page, Store, utcnow
from chalicelib.crm import timeline
from chalicelib.crm.contacts import CONTACT
from chalicelib.crm.customers import CUSTOMER
from chalicelib.crm.models import CancelIn, OrderIn, OrderPatch, OrderQuery
from chalicelib.crm.pricing import priced, repriced


def _lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    yield "customer", item["customer_id"]


ORDER = EntityType("order", "ord", name_field=None, lookups=_lookups, owned=True)
CANCELLABLE = {"draft", "confirmed"}


def summary(item: dict[str, Any], event: str) -> dict[str, Any]:
    return {"event": event, "status": item["status"], "total": item["total"], "currency": item["currency"]}


def timeline_entry(item: dict[str, Any], event: str, at: str) -> dict[str, Any]:
    return timeline.entry(item["tenant_id"], item["customer_id"], at, "order", item["id"], summary(item, event))


def order_fields(customer_id: str, contact_id: str | None, currency: str, lines: list[Any], notes: str) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "contact_id": contact_id,
        **priced(lines, currency),
        "notes": notes,
        "status": "draft",
        "quote_id": None,
        "confirmed_at": None,
        "cancelled_at": None,
        "cancel_reason": None,
    }


def create(store: Store, actor: Actor, data: OrderIn) -> dict[str, Any]:
    item = entities.new_item(ORDER, actor, order_fields(data.customer_id, data.contact_id, data.currency, data.lines, data.notes))
    references = [Reference("customer_id", CUSTOMER, data.customer_id)]
    if data.contact_id:
        references.append(Reference("contact_id", CONTACT, data.contact_id))
    entities.write_new(store, [(ORDER, item)], actor, [timeline_entry(item, "created", item["created_at"])], references)
    return entities.public(item)


def list(store: Store, tenant_id: str, q: OrderQuery) -> Page:
    from boto3.dynamodb.conditions import Attr

    status_filter = Attr("status").eq(q.status) if q.status else None
    if q.customer_id:
        page = entities.lookup(store, tenant_id, ORDER, "customer", q.customer_id, q.limit, q.cursor)
        return Page([i for i in page.items if not q.status or i["status"] == q.status], page.next_cursor)
    return entities.list_page(
        store, tenant_id, ORDER, limit=q.limit, cursor=q.cursor, updated_since=q.updated_since,
        filter_condition=status_filter, filter_id=f"status={q.status}",
    )  # fmt: skip


def _require(item: dict[str, Any], allowed: set[str], action: str) -> None:
    if item["status"] not in allowed:
        raise ConflictError(
            f"The order is {item['status']}; it can be {action} only when {' or '.join(sorted(allowed))}.",
            state=item["status"],
        )


def update(store: Store, actor: Actor, order_id: str, patch: OrderPatch, if_match: int | None) -> dict[str, Any]:
    changes = entities.patch_fields(entities.given(patch), ("currency", "lines"), {"notes": ""})

    def apply(before: dict[str, Any]) -> dict[str, Any]:
        _require(before, {"draft"}, "changed")
        return repriced(changes, before, patch.lines)

    references = [Reference("contact_id", CONTACT, changes["contact_id"])] if changes.get("contact_id") else []
    return entities.public(entities.update(store, actor, ORDER, order_id, apply, if_match, references=references))


def confirm(store: Store, actor: Actor, order_id: str, if_match: int | None) -> dict[str, Any]:
    now = utcnow()

    def apply(before: dict[str, Any]) -> dict[str, Any]:
        if before["status"] == "confirmed":
            return {}  # confirming twice is harmless: the same answer
        _require(before, {"draft"}, "confirmed")
        return {"status": "confirmed", "confirmed_at": now}

    def record(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
        return [timeline_entry(after, "confirmed", now)]

    return entities.public(entities.update(store, actor, ORDER, order_id, apply, if_match, record, action="confirm"))


def cancel(store: Store, actor: Actor, order_id: str, data: CancelIn, if_match: int | None) -> dict[str, Any]:
    now = utcnow()

    def apply(before: dict[str, Any]) -> dict[str, Any]:
        if before["status"] == "cancelled":
            return {}
        _require(before, CANCELLABLE, "cancelled")
        return {"status": "cancelled", "cancelled_at": now, "cancel_reason": data.reason}

    def record(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
        return [timeline_entry(after, "cancelled", now)]

    return entities.public(entities.update(store, actor, ORDER, order_id, apply, if_match, record, action="cancel"))


def remove(store: Store, actor: Actor, order_id: str, if_match: int | None) -> None:
    entities.remove(
        store, actor, ORDER, order_id, if_match, check=lambda item: _require(item, {"draft"}, "deleted (cancel it instead)")
    )

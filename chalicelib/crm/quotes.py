"""Quotes: priced offers to a customer. draft → sent → accepted (which creates the sales order,
exactly once however often it is retried) or rejected; a sent or rejected quote is revised into a
new draft revision, and every earlier revision stays readable."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chalicelib.core import entities, keys
from chalicelib.core.entities import Change, Reference
from chalicelib.core.errors import ConflictError, PreconditionFailedError
from chalicelib.core.store import Actor, Operations, Page, Store, put, utcnow
from chalicelib.crm import orders, timeline
from chalicelib.crm.models import QuoteIn, QuotePatch, QuoteQuery, RejectIn
from chalicelib.crm.pricing import priced, repriced
from chalicelib.crm.types import CONTACT, CUSTOMER, ORDER, QUOTE
from chalicelib.tenants import published as company


def _entry(item: dict[str, Any], event: str, at: str) -> dict[str, Any]:
    summary = {
        "event": event,
        "status": item["status"],
        "revision": item["revision"],
        "total": item["total"],
        "currency": item["currency"],
    }
    return timeline.entry(item["tenant_id"], item["customer_id"], at, "quote", item["id"], summary)


def _references(fields: dict[str, Any]) -> list[Reference]:
    refs = [Reference("customer_id", CUSTOMER, fields["customer_id"])] if fields.get("customer_id") else []
    if fields.get("contact_id"):
        refs.append(Reference("contact_id", CONTACT, fields["contact_id"]))
    return refs


def create(store: Store, actor: Actor, data: QuoteIn) -> dict[str, Any]:
    data = company.with_currency(store, actor.tenant_id, data)
    fields = {
        "customer_id": data.customer_id,
        "contact_id": data.contact_id,
        "opportunity_id": data.opportunity_id,
        **priced(data.lines, company.currency(store, actor.tenant_id, data.currency)),
        "valid_until": data.valid_until.isoformat() if data.valid_until else None,
        "notes": data.notes,
        "status": "draft",
        "revision": 1,
        "order_id": None,
        "reject_reason": None,
    }
    item = entities.new_item(QUOTE, actor, fields)
    entities.write_new(
        store,
        actor,
        QUOTE,
        item,
        extra=[_entry(item, "created", item["created_at"])],
        references=_references(fields),
    )
    return entities.public(item)


def list_page(store: Store, tenant_id: str, q: QuoteQuery) -> Page:
    if q.customer_id:
        return entities.lookup(
            store, tenant_id, QUOTE, "customer", q.customer_id, limit=q.limit, cursor=q.cursor
        )
    return entities.list_page(
        store, tenant_id, QUOTE, limit=q.limit, cursor=q.cursor, updated_since=q.updated_since
    )


def _require(item: dict[str, Any], allowed: set[str], action: str) -> None:
    if item["status"] not in allowed:
        raise ConflictError(
            f"The quote is {item['status']}; it can be {action} only when {' or '.join(sorted(allowed))}.",
            state=item["status"],
        )


def update(
    store: Store, actor: Actor, quote_id: str, patch: QuotePatch, if_match: int | None
) -> dict[str, Any]:
    changes = entities.patch_fields(entities.given(patch), ("currency", "lines"), {"notes": ""})

    def decide(before: dict[str, Any]) -> Change:
        _require(before, {"draft"}, "changed (revise it first)")
        return Change(repriced(changes, before, patch.lines), references=_references(changes))

    return entities.public(
        entities.update(store, actor, QUOTE, quote_id, decide=decide, if_match=if_match).item
    )


def _transition(
    store: Store,
    actor: Actor,
    quote_id: str,
    if_match: int | None,
    allowed: set[str],
    action: str,
    changes: dict[str, Any],
    *,
    made: Callable[[dict[str, Any], str], tuple[Operations, Any]] | None = None,
    references: Sequence[Reference] = (),
) -> entities.Written:
    """Move the quote from one of ``allowed`` with ``changes``, on its timeline. ``made``: what the
    move makes besides, from the quote as read at the move's instant: its writes, and what the
    caller gets back as the change's result."""
    now = utcnow()

    def decide(before: dict[str, Any]) -> Change:
        _require(before, allowed, action)
        writes, result = made(before, now) if made else ([], None)
        extra = [_entry({**before, **changes}, action, now), *writes]
        return Change(changes, extra=extra, action=action, references=references, result=result)

    return entities.update(store, actor, QUOTE, quote_id, decide=decide, if_match=if_match)


def send(store: Store, actor: Actor, quote_id: str, if_match: int | None) -> dict[str, Any]:
    return entities.public(
        _transition(store, actor, quote_id, if_match, {"draft"}, "sent", {"status": "sent"}).item
    )


def reject(store: Store, actor: Actor, quote_id: str, data: RejectIn, if_match: int | None) -> dict[str, Any]:
    changes = {"status": "rejected", "reject_reason": data.reason}
    return entities.public(_transition(store, actor, quote_id, if_match, {"sent"}, "rejected", changes).item)


def revise(store: Store, actor: Actor, quote_id: str, if_match: int | None) -> dict[str, Any]:
    """A new draft revision; the one it replaces is kept under the quote's revisions."""
    current = entities.get(store, actor.tenant_id, QUOTE, quote_id, consistent=True)

    def keep(before: dict[str, Any], now: str) -> tuple[Operations, None]:
        revision = {
            **keys.quote_revision(actor.tenant_id, quote_id, before["revision"]),
            **entities.public(before),
        }
        return [put(revision)], None

    changes = {"status": "draft", "revision": current["revision"] + 1, "reject_reason": None}
    return entities.public(
        _transition(
            store, actor, quote_id, if_match, {"sent", "rejected"}, "revised", changes, made=keep
        ).item
    )


def revisions(store: Store, tenant_id: str, quote_id: str, limit: int, cursor: str | None) -> Page:
    """Earlier revisions, newest first (the current one is the quote itself)."""
    entities.get(store, tenant_id, QUOTE, quote_id)
    page = store.query_page(
        tenant_id=tenant_id,
        partition=keys.quote_revisions_pk(tenant_id, quote_id),
        limit=limit,
        cursor=cursor,
        newest_first=True,
        query_id="revisions",
    )
    return Page([entities.public(i) for i in page.items], page.next_cursor)


def order_id_for(quote_id: str) -> str:
    """The order of an accepted quote has an id derived from the quote's, so that a retried accept
    can only ever make that one order (its put is conditional on not existing)."""
    return "ord_" + quote_id.split("_", 1)[1]


def accept(store: Store, actor: Actor, quote_id: str, if_match: int | None) -> tuple[dict[str, Any], bool]:
    """Accept the quote and create its sales order in one transaction. Returns (order, created):
    accepting an accepted quote again answers the same order and creates nothing."""
    current = entities.get(store, actor.tenant_id, QUOTE, quote_id, consistent=True)
    if current["status"] == "accepted":
        return entities.public(
            entities.get(store, actor.tenant_id, ORDER, current["order_id"], consistent=True)
        ), False
    order_id = order_id_for(quote_id)

    def create_order(before: dict[str, Any], now: str) -> tuple[Operations, dict[str, Any]]:
        fields = {
            **{
                k: before[k]
                for k in (
                    "customer_id",
                    "contact_id",
                    "currency",
                    "lines",
                    "subtotal",
                    "taxes",
                    "tax_total",
                    "total",
                )
            },
            "notes": before.get("notes", ""),
            "status": "draft",
            "quote_id": quote_id,
            "opportunity_id": before.get("opportunity_id"),  # the deal it closes: its conversion
            "confirmed_at": None,
            "cancelled_at": None,
            "cancel_reason": None,
            "owner_id": before.get("owner_id"),  # the quote's owner owns its order
        }
        order = entities.new_item(ORDER, actor, fields, entity_id=order_id, now=now)
        writes = [
            *entities.create_operations(ORDER, actor, order),
            orders.timeline_entry(order, "created", now),
        ]
        return writes, order

    changes = {"status": "accepted", "order_id": order_id}
    try:
        # The order names the customer: it must exist and not be being removed (its removal lease).
        customer = [Reference("customer_id", CUSTOMER, current["customer_id"])]
        accepted = _transition(
            store,
            actor,
            quote_id,
            if_match,
            {"draft", "sent"},
            "accepted",
            changes,
            made=create_order,
            references=customer,
        )
    except (ConflictError, PreconditionFailedError):
        # Lost a race with another accept of the same quote: that one's order is the answer.
        if (
            if_match is None
            and entities.get(store, actor.tenant_id, QUOTE, quote_id, consistent=True)["status"] == "accepted"
        ):
            return entities.public(
                entities.get(store, actor.tenant_id, ORDER, order_id, consistent=True)
            ), False
        raise
    return entities.public(accepted.change.result), True


def remove(store: Store, actor: Actor, quote_id: str, if_match: int | None) -> None:
    entities.remove(
        store,
        actor,
        QUOTE,
        quote_id,
        if_match=if_match,
        check=lambda item: _require(item, {"draft", "sent", "rejected"}, "deleted"),
    )

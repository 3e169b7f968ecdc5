"""Sales orders: draft → confirmed → (the ERP's states, with the handoff) ; or cancelled.

What the ERP does with a confirmed order is the order handoff's work; here are the state rules.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import entities, ids, keys
from chalicelib.core.entities import Change, Reference
from chalicelib.core.errors import ConflictError, field_error
from chalicelib.core.store import Actor, ConditionFailed, Operations, Page, Store, utcnow
from chalicelib.crm import repository, timeline
from chalicelib.crm.models import CancelIn, OrderIn, OrderPatch, OrderQuery
from chalicelib.crm.pricing import priced, repriced
from chalicelib.crm.types import CONTACT, CUSTOMER, ORDER
from chalicelib.erp import published as erp
from chalicelib.handoff import outbox
from chalicelib.handoff.contracts import SOURCE_CRM, OrderCancelled, OrderConfirmed, OrderLine
from chalicelib.tenants import published as company


def summary(item: dict[str, Any], event: str) -> dict[str, Any]:
    return {"event": event, "status": item["status"], "total": item["total"], "currency": item["currency"]}


def timeline_entry(item: dict[str, Any], event: str, at: str) -> dict[str, Any]:
    return timeline.entry(
        item["tenant_id"], item["customer_id"], at, "order", item["id"], summary(item, event)
    )


def order_fields(
    customer_id: str, contact_id: str | None, currency: str, lines: list[Any], notes: str
) -> dict[str, Any]:
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
    data = company.with_currency(store, actor.tenant_id, data)
    item = entities.new_item(
        ORDER,
        actor,
        order_fields(
            data.customer_id,
            data.contact_id,
            company.currency(store, actor.tenant_id, data.currency),
            data.lines,
            data.notes,
        ),
    )
    references = [Reference("customer_id", CUSTOMER, data.customer_id)]
    if data.contact_id:
        references.append(Reference("contact_id", CONTACT, data.contact_id))
    entities.write_new(
        store,
        actor,
        ORDER,
        item,
        extra=[timeline_entry(item, "created", item["created_at"])],
        references=references,
    )
    return entities.public(item)


def list_page(store: Store, tenant_id: str, q: OrderQuery) -> Page:
    status_filter = repository.in_status(q.status)
    if q.customer_id:
        page = entities.lookup(
            store, tenant_id, ORDER, "customer", q.customer_id, limit=q.limit, cursor=q.cursor
        )
        return Page([i for i in page.items if not q.status or i["status"] == q.status], page.next_cursor)
    return entities.list_page(
        store,
        tenant_id,
        ORDER,
        limit=q.limit,
        cursor=q.cursor,
        updated_since=q.updated_since,
        filter_condition=status_filter,
        filter_id=f"status={q.status}",
    )


def _require(item: dict[str, Any], allowed: set[str], action: str) -> None:
    if item["status"] not in allowed:
        raise ConflictError(
            f"The order is {item['status']}; it can be {action} only when {' or '.join(sorted(allowed))}.",
            state=item["status"],
        )


def update(
    store: Store, actor: Actor, order_id: str, patch: OrderPatch, if_match: int | None
) -> dict[str, Any]:
    changes = entities.patch_fields(entities.given(patch), ("currency", "lines"), {"notes": ""})

    references = (
        [Reference("contact_id", CONTACT, changes["contact_id"])] if changes.get("contact_id") else []
    )

    def decide(before: dict[str, Any]) -> Change:
        _require(before, {"draft"}, "changed")
        return Change(repriced(changes, before, patch.lines), references=references)

    return entities.public(
        entities.update(store, actor, ORDER, order_id, decide=decide, if_match=if_match).item
    )


def _sellable(
    store: Store, tenant_id: str, customer_id: str, lines: list[dict[str, Any]], *, products: bool = False
) -> list[dict[str, Any]]:
    """Every line's SKU must be a product and the customer not closed (one BatchGetItem of the SKU
    guards and the customer); the transaction then checks each product is sellable and the customer
    still open. Answers the ConditionChecks. With ``products`` (after the transaction refused: a
    second BatchGetItem), a line whose product is not sellable is a 422 naming the line."""
    codes = sorted({line["product_code"].upper() for line in lines})
    customer_key = keys.entity(tenant_id, CUSTOMER.name, customer_id)
    found = store.batch_get([customer_key, *erp.product_keys(tenant_id, codes)])
    customer = next((i for i in found if i["pk"] == customer_key["pk"]), None)
    if customer is None:
        raise ConflictError(f"The order's customer {customer_id} no longer exists.")
    if customer.get("status") == "closed":
        raise ConflictError(
            f"The customer {customer_id} is closed: set its status to active to confirm orders.",
            state="closed",
        )
    guards = [g for g in found if g["pk"] != customer_key["pk"]]
    named = erp.products_named(store, tenant_id, guards) if products else {}
    ids = erp.product_ids(guards)
    for n, line in enumerate(lines):
        loc = ["body", "lines", n, "product_code"]
        code = line["product_code"]
        if code.upper() not in ids or (products and code.upper() not in named):
            raise field_error(
                f"Line {n + 1}: there is no product with SKU {code}.", loc, "unknown SKU", "reference"
            )
        if products and not erp.sellable(named[code.upper()]):
            message = f"Line {n + 1}: the product {code} is not sellable; change the line or the product."
            raise field_error(message, loc, "not sellable", "not_sellable")
    return [
        repository.customer_still_open(tenant_id, customer_id),
        *(erp.still_sellable(tenant_id, ids[code]) for code in codes),
    ]


def confirmed_event(after: dict[str, Any], now: str, epoch: int) -> OrderConfirmed:
    """The order's ``OrderConfirmed``, of the company's world at ``epoch``."""
    return OrderConfirmed(
        tenant_id=after["tenant_id"],
        event_id=ids.new_id("evt"),
        occurred_at=now,
        order_id=after["id"],
        epoch=epoch,
        customer_id=after["customer_id"],
        currency=after["currency"],
        subtotal=after["subtotal"],
        tax_total=after["tax_total"],
        total=after["total"],
        warehouse_id=after.get("warehouse_id"),
        lines=[
            OrderLine.model_validate(
                {"line": n, **{k: str(v) for k, v in line.items() if k in OrderLine.model_fields}}
            )
            for n, line in enumerate(after["lines"], start=1)
        ],
    )


def confirm(store: Store, actor: Actor, order_id: str, if_match: int | None) -> dict[str, Any]:
    """Draft → confirmed with the OrderConfirmed event in the outbox, in one transaction."""
    now = utcnow()

    def decide(before: dict[str, Any]) -> Change:
        if before["status"] not in ("draft", "cancelling", "cancelled", "rejected"):
            return Change()  # confirming twice is harmless: the same answer
        _require(before, {"draft"}, "confirmed")
        checks = _sellable(store, actor.tenant_id, before["customer_id"], before["lines"])
        fields = {"status": "confirmed", "confirmed_at": now, "erp": {"state": "waiting", "last_event": None}}
        after = {**before, **fields}
        event = confirmed_event(after, now, actor.epoch)
        extra = [
            timeline_entry(after, "confirmed", now),
            *outbox.records(event, SOURCE_CRM, {"total": after["total"]}),
            *checks,
        ]
        return Change(fields, extra=extra, action="confirm")

    try:
        return entities.public(
            entities.update(store, actor, ORDER, order_id, decide=decide, if_match=if_match).item
        )
    except ConditionFailed as exc:
        # A product stopped being sellable, or the customer was closed, between the read and the
        # write: read again, so the answer names what changed (422 naming the line, 409 closed).
        order = entities.get(store, actor.tenant_id, ORDER, order_id, consistent=True)
        _sellable(store, actor.tenant_id, order["customer_id"], order["lines"], products=True)
        raise ConflictError("The order's products or customer changed meanwhile; confirm again.") from exc


def cancel(store: Store, actor: Actor, order_id: str, data: CancelIn, if_match: int | None) -> dict[str, Any]:
    """A draft (or an order the ERP rejected) is cancelled at once. A confirmed one becomes
    ``cancelling`` with an ``OrderCancelled`` event in the same transaction; the ERP releases its
    stock, drops its drafts, voids or credits its invoice, and its ``OrderCancellationCompleted``
    makes it ``cancelled``. A shipped order is not cancelled (409)."""
    now = utcnow()

    def decide(before: dict[str, Any]) -> Change:
        if before["status"] in ("cancelled", "cancelling"):
            return Change()
        erp = before.get("erp") or {}
        shipments = erp.get("shipment_ids") or []
        if shipments or erp.get("shipped_at") or before["status"] in ("shipped", "invoiced", "paid"):
            whole = (
                "has shipped"
                if erp.get("shipped_at")
                else f"has shipped in part ({len(shipments)} shipment(s))"
            )
            raise ConflictError(
                f"The order {whole}; it cannot be cancelled: what shipped stays billed. Return the goods and credit "
                "the invoice, or credit what will not ship.",
                state=before["status"],
                shipment_ids=shipments,
            )
        handed_over = before["status"] not in ("draft", "rejected")  # the ERP has it: it undoes its part
        fields = {
            "status": "cancelling" if handed_over else "cancelled",
            "cancelled_at": now,
            "cancel_reason": data.reason,
        }
        after = {**before, **fields}
        extra: Operations = [timeline_entry(after, after["status"], now)]
        if handed_over:
            event = OrderCancelled(
                tenant_id=after["tenant_id"],
                event_id=ids.new_id("evt"),
                occurred_at=now,
                order_id=after["id"],
                epoch=actor.epoch,
                reason=data.reason,
                lines=len(after["lines"]),
            )
            extra += outbox.records(event, SOURCE_CRM, {"reason": data.reason})
        return Change(fields, extra=extra, action="cancel")

    return entities.public(
        entities.update(store, actor, ORDER, order_id, decide=decide, if_match=if_match).item
    )


def trail(store: Store, tenant_id: str, order_id: str) -> list[dict[str, Any]]:
    """The order's handoff events, oldest first, with their delivery attempts."""
    entities.get(store, tenant_id, ORDER, order_id)  # 404 for another tenant's or no order
    return [
        {
            k: item.get(k)
            for k in (
                "event_id",
                "type",
                "source",
                "occurred_at",
                "published_at",
                "attempts",
                "last_error",
                "last_attempt_at",
                "handled",
                "dropped",
                "summary",
            )
        }
        for item in outbox.trail(store, tenant_id, order_id)
    ]


def remove(store: Store, actor: Actor, order_id: str, if_match: int | None) -> None:
    entities.remove(
        store,
        actor,
        ORDER,
        order_id,
        if_match=if_match,
        check=lambda item: _require(item, {"draft"}, "deleted (cancel it instead)"),
    )

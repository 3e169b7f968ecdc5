"""The CRM's side of the handoff: the ERP's events move the order and fill the customer's timeline.

The order's state is computed from what the ERP has reported (accepted, reserved or backordered,
shipped, invoiced, paid; or rejected), not from the last event received, so events arriving out of
order end in the same state. Each event adds one timeline entry keyed by its event id: handling it
again writes the same entry.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import entities, keys
from chalicelib.core.entities import Change
from chalicelib.core.errors import PreconditionFailedError
from chalicelib.core.store import Actor, ConditionFailed, Store
from chalicelib.crm import automations, timeline
from chalicelib.crm.types import ORDER
from chalicelib.handoff import outbox
from chalicelib.handoff.contracts import (
    Event,
    InvoiceIssued,
    OrderAccepted,
    OrderBackordered,
    OrderCancellationCompleted,
    OrderProcessed,
    OrderRejected,
    OrderShipped,
    PaymentReceived,
    ProductionPlanned,
    PurchasePlanned,
    StockReserved,
)
from chalicelib.tenants import published as company

SYSTEM_USER = "system:crm"


def state_of(erp: dict[str, Any]) -> str:
    if erp.get("rejected_reason"):
        return "rejected"
    if erp.get("paid_at"):
        return "paid"
    if erp.get("shipped_at"):
        return "invoiced" if erp.get("invoice_id") else "shipped"
    if erp.get("stock"):
        return str(erp["stock"])
    if erp.get("accepted_at"):
        return "accepted"
    return "confirmed"


def _apply(erp: dict[str, Any], event: Event) -> dict[str, Any]:
    erp = dict(erp)
    if isinstance(event, OrderAccepted):
        erp["accepted_at"] = erp.get("accepted_at") or event.occurred_at
    elif isinstance(event, StockReserved):
        erp["stock"] = "reserved"
        erp["reservation_ids"] = sorted(
            {*erp.get("reservation_ids", []), *(li.reservation_id for li in event.lines)}
        )
    elif isinstance(event, OrderBackordered):
        erp["stock"] = erp.get("stock") if erp.get("stock") == "reserved" else "backordered"
        erp["backordered_lines"] = sorted(
            {*erp.get("backordered_lines", []), *(li.line for li in event.lines)}
        )
        erp["reservation_ids"] = sorted(
            {*erp.get("reservation_ids", []), *(li.reservation_id for li in event.reserved)}
        )
    elif isinstance(event, ProductionPlanned):
        erp["production_order_ids"] = sorted(
            {*erp.get("production_order_ids", []), *event.production_order_ids}
        )
    elif isinstance(event, PurchasePlanned):
        erp["purchase_order_ids"] = sorted({*erp.get("purchase_order_ids", []), *event.purchase_order_ids})
    elif isinstance(event, InvoiceIssued):
        erp["invoice_id"] = event.invoice_id
    elif isinstance(event, OrderShipped):
        erp["shipment_ids"] = sorted({*erp.get("shipment_ids", []), event.shipment_id})
        if event.complete:
            erp["shipped_at"] = erp.get("shipped_at") or event.occurred_at
    elif isinstance(event, PaymentReceived):
        erp["invoice_id"] = erp.get("invoice_id") or event.invoice_id
        if event.paid_in_full:
            erp["paid_at"] = erp.get("paid_at") or event.occurred_at
    elif isinstance(event, OrderProcessed):
        erp["accepted_at"] = erp.get("accepted_at") or event.occurred_at
        erp["stock"] = "backordered" if event.backordered and erp.get("stock") != "reserved" else "reserved"
        erp["reservation_ids"] = sorted(
            {*erp.get("reservation_ids", []), *(li.reservation_id for li in event.reserved)}
        )
        if event.backordered:
            erp["backordered_lines"] = sorted(
                {*erp.get("backordered_lines", []), *(li.line for li in event.backordered)}
            )
        if event.production_order_ids:
            erp["production_order_ids"] = sorted(
                {*erp.get("production_order_ids", []), *event.production_order_ids}
            )
        if event.purchase_order_ids:
            erp["purchase_order_ids"] = sorted(
                {*erp.get("purchase_order_ids", []), *event.purchase_order_ids}
            )
        if event.invoice is not None:
            erp["invoice_id"] = event.invoice.invoice_id
    elif isinstance(event, OrderRejected):
        erp["rejected_reason"] = event.reason
    elif isinstance(event, OrderCancellationCompleted):
        erp["cancellation"] = {
            "released_reservations": event.released_reservations,
            "invoice_action": event.invoice_action,
            "needs_attention": event.needs_attention,
        }
    if event.occurred_at >= (erp.get("last_event_at") or ""):
        erp["last_event"], erp["last_event_at"] = type(event).__name__, event.occurred_at
    erp["state"] = state_of(erp)
    return erp


def _told(event: Event) -> dict[str, Any]:
    """What the customer's timeline shows of an ``OrderProcessed`` beyond the order's new status:
    what the ERP did (reserved and short lines, its plans, the invoice)."""
    if not isinstance(event, OrderProcessed):
        return {}
    told: dict[str, Any] = {
        "reserved_lines": len(event.reserved),
        "backordered_lines": len(event.backordered),
    }
    if event.production_order_ids:
        told["production_order_ids"] = event.production_order_ids
    if event.purchase_order_ids:
        told["purchase_order_ids"] = event.purchase_order_ids
    if event.invoice is not None:
        told["invoice_id"] = event.invoice.invoice_id
    return told


def handle(store: Store, event: Event) -> outbox.Handled:
    """Move the order by one ERP event and note on the event's trail that the CRM handled it, in
    the order's transaction (on its own when the event changes nothing): the order, the trail entry
    and the company's state read in one consistent BatchGetItem, then one transaction. The trail's
    mark is written once: an event handled before (a redelivery, or a concurrent delivery that went
    first) finds it and changes nothing again. An event whose order is gone (a deleted draft never
    confirms) is only marked."""
    actor = Actor(tenant_id=event.tenant_id, user_id=SYSTEM_USER)
    marking = True  # the event has a trail entry to mark in the order's transaction

    def decide(before: dict[str, Any]) -> Change:
        if before["status"] == "draft":
            return Change()  # never handed to the ERP (confirming is what does): no ERP fact applies to it
        erp = _apply(before.get("erp") or {}, event)
        if isinstance(event, OrderCancellationCompleted) or before["status"] == "cancelled":
            status = "cancelled"  # the ERP undid its part: the cancellation is complete
        elif before["status"] == "cancelling":
            status = "cancelling"  # late news of the ERP's progress does not undo a cancellation
        else:
            status = erp["state"]
        summary = {
            "event": type(event).__name__,
            "order_id": event.order_id,
            "status": status,
            **_told(event),
        }
        entry = timeline.entry(
            event.tenant_id,
            before["customer_id"],
            event.occurred_at,
            "order",
            event.event_id,
            summary,
            event.order_id,
        )
        mark = [{"Update": outbox.handled_update(event, "crm")}] if marking else []
        return Change(
            {"erp": erp, "status": status}, extra=[entry, *mark], action=f"erp.{type(event).__name__}"
        )

    for _attempt in range(6):
        order_key = keys.entity(event.tenant_id, ORDER.name, event.order_id)
        found = store.batch_get(
            [company.profile_key(event.tenant_id), order_key, outbox.trail_key(event)], consistent=True
        )
        profile, order, trail = (
            next((i for i in found if (i["pk"], i["sk"]) == (k["pk"], k["sk"])), None)
            for k in (company.profile_key(event.tenant_id), order_key, outbox.trail_key(event))
        )
        reason = company.stale(event.epoch, profile)
        if reason is not None:
            raise outbox.Dropped(reason)
        if trail is not None and "crm" in (trail.get("handled") or {}):
            if order is not None and isinstance(event, OrderShipped):
                # The rules' runs make it act once: a delivery that failed to act fails the event,
                # and this delivery acts for it.
                automations.order_shipped(store, event.tenant_id, order)
            return outbox.Handled([], first=False)  # handled before: the order holds its change
        marking = trail is not None
        if order is None:
            return outbox.Handled([], first=outbox.handled(store, event, "crm"))
        try:
            written = entities.update(store, actor, ORDER, event.order_id, decide=decide, read=order)
        except (PreconditionFailedError, ConditionFailed):
            continue  # another event moved the order, or this one was marked meanwhile: read again
        break
    else:
        raise PreconditionFailedError(f"The order {event.order_id} keeps changing.")
    first = marking and (written.changed or outbox.handled(store, event, "crm"))
    if isinstance(event, OrderShipped):
        # A failure to act fails the event, so the queue delivers it again and the rule acts then.
        automations.order_shipped(store, event.tenant_id, written.item)
    return outbox.Handled([], first=first)

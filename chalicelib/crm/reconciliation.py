"""Reconciliation of the CRM's orders with the ERP: what the CRM finds and repairs, run by run.

- A confirmed order the ERP has not acknowledged after the grace period is re-driven: a new
  ``OrderConfirmed`` goes to the outbox (the ERP's derived ids make a second handling harmless).
- An order whose invoice total differs from the order's total is reported for a person.
- A shipped order whose on-delivery invoice is still a draft has it issued.
- Active reservations of a cancelled order are released (repaired) and reported.

The ERP is asked through its published interface; the run's report and the scheduled run over every
company are the handoff's plumbing (``handoff.reconciliation``).

What a run sends (a re-driven ``OrderConfirmed``, an ``InvoiceIssued``) is of the epoch read with
the company's state before the run began: the scheduled run skips a company being restored, and a run
overtaken by a restore sends events of the old epoch, which the consumers drop.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from chalicelib.core import keys
from chalicelib.core.store import Actor, Store, utcnow
from chalicelib.crm import orders, repository
from chalicelib.crm.types import ORDER
from chalicelib.erp import published as erp
from chalicelib.handoff import outbox, reconciliation
from chalicelib.handoff.contracts import SOURCE_CRM
from chalicelib.handoff.reconciliation import GRACE_SECONDS, SYSTEM_USER
from chalicelib.tenants import published as company


def _orders(store: Store, tenant_id: str, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        page = store.query_page(
            tenant_id=tenant_id,
            partition=keys.entity_pk(tenant_id, ORDER.name),
            filter_condition=repository.in_statuses(statuses),
            limit=200,
            cursor=cursor,
            query_id="reconcile",
        )
        found.extend(page.items)
        cursor = page.next_cursor
        if not cursor:
            return found


def run(
    store: Store,
    tenant_id: str,
    grace_seconds: int = GRACE_SECONDS,
    started_by: str = SYSTEM_USER,
    *,
    epoch: int,
) -> dict[str, Any]:
    """One run over the company's orders; what it sends is of ``epoch`` (the company's, read before)."""
    actor = Actor(tenant_id=tenant_id, user_id=SYSTEM_USER, epoch=epoch)
    now = utcnow()
    cutoff = (
        (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=grace_seconds)).isoformat().replace("+00:00", "Z")
    )
    findings: list[dict[str, Any]] = []
    for order in _orders(store, tenant_id, ("confirmed",)):
        progress = order.get("erp") or {}
        if progress.get("last_event") is None and (order.get("confirmed_at") or now) < cutoff:
            event = orders.confirmed_event(order, utcnow(), epoch)
            outbox.write(store, [(event, SOURCE_CRM, {"redriven": True})])
            findings.append(
                {
                    "order_id": order["id"],
                    "problem": "the ERP has not acknowledged the confirmed order",
                    "action": "redriven",
                    "detail": f"OrderConfirmed sent again as {event.event_id}",
                }
            )
    for order in _orders(
        store, tenant_id, ("accepted", "reserved", "backordered", "shipped", "invoiced", "paid")
    ):
        invoice_id = (order.get("erp") or {}).get("invoice_id")
        if not invoice_id:
            continue
        total = erp.invoice_total(store, tenant_id, invoice_id)
        if total is not None and Decimal(total) != Decimal(str(order["total"])):
            findings.append(
                {
                    "order_id": order["id"],
                    "problem": "the invoice's total differs from the order's",
                    "action": "needs_person",
                    "detail": f"order {order['total']}, invoice {invoice_id} {total}",
                }
            )
    for order in _orders(store, tenant_id, ("shipped",)):  # not invoiced: an on-delivery invoice left a draft
        issued = erp.invoice_on_delivery(store, actor, order["id"])
        if issued:
            findings.append(
                {
                    "order_id": order["id"],
                    "problem": "a shipped order's invoice was still a draft",
                    "action": "invoiced",
                    "detail": f"invoice {issued.invoice_id} issued",
                }
            )
    for order in _orders(store, tenant_id, ("cancelled",)):
        released = erp.release_order(store, actor, order["id"])
        if released:
            findings.append(
                {
                    "order_id": order["id"],
                    "problem": "a cancelled order still held reservations",
                    "action": "released",
                    "detail": ", ".join(released),
                }
            )
    return reconciliation.save(store, tenant_id, now, started_by, grace_seconds, findings)


def run_all(store: Store) -> int:
    """The scheduled run: every company of the registry but those being restored (their records are
    being replaced: nothing to compare until the restore is done) or closed (the registry skips a
    company once its closing began; its profile says so too, read here with the epoch)."""

    def unless_restoring(store: Store, tenant_id: str) -> None:
        state = company.company_state(store, tenant_id)
        if not state.writes_stopped:
            run(store, tenant_id, epoch=state.epoch)

    return reconciliation.for_each_tenant(store, unless_restoring)

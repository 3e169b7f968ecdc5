"""Reconciliation: compare the CRM's orders with the ERP's records, repair what is safe, report the rest.

- A confirmed order the ERP has not acknowledged after the grace period is re-driven: a new
  ``OrderConfirmed`` goes to the outbox (the ERP's derived ids make a second handling harmless).
- An order whose invoice total differs from the order's total is reported for a person.
- Active reservations of a cancelled order are released (repaired) and reported.

A run writes a report (``T#<t>#RECONCILIATION``) that ``GET /admin/reconciliation/reports/{id}``
reads. The scheduled run covers every tenant of the registry; an admin runs it for their own.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr

from chalicelib.core import entities, ids, keys
from chalicelib.core.errors import NotFoundError
from chalicelib.core.store import Actor, Store, put, utcnow
from chalicelib.crm import orders
from chalicelib.erp import receivables, reservations
from chalicelib.handoff import erp_consumer, outbox
from chalicelib.handoff.contracts import SOURCE_CRM

GRACE_SECONDS = 300
SYSTEM_USER = "system:reconciliation"


def report_key(tenant_id: str, report_id: str) -> dict[str, str]:
    return keys.reconciliation_report(tenant_id, report_id)


def _orders(store: Store, tenant_id: str, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        page = store.query_page(
            tenant_id=tenant_id,
            partition=keys.entity_pk(tenant_id, orders.ORDER.name),
            filter_condition=Attr("status").is_in(list(statuses)),
            limit=200,
            cursor=cursor,
            query_id="reconcile",
        )
        found.extend(page.items)
        cursor = page.next_cursor
        if not cursor:
            return found


def run(
    store: Store, tenant_id: str, grace_seconds: int = GRACE_SECONDS, started_by: str = SYSTEM_USER
) -> dict[str, Any]:
    actor = Actor(tenant_id=tenant_id, user_id=SYSTEM_USER)
    now = utcnow()
    cutoff = (
        (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=grace_seconds)).isoformat().replace("+00:00", "Z")
    )
    findings: list[dict[str, Any]] = []
    for order in _orders(store, tenant_id, ("confirmed",)):
        erp = order.get("erp") or {}
        if erp.get("last_event") is None and (order.get("confirmed_at") or now) < cutoff:
            event = orders.confirmed_event(order, utcnow())
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
        invoice = entities.get_many(store, tenant_id, receivables.INVOICE, [invoice_id])
        if invoice and Decimal(str(invoice[0]["total"])) != Decimal(str(order["total"])):
            findings.append(
                {
                    "order_id": order["id"],
                    "problem": "the invoice's total differs from the order's",
                    "action": "needs_person",
                    "detail": f"order {order['total']}, invoice {invoice_id} {invoice[0]['total']}",
                }
            )
    for order in _orders(
        store, tenant_id, ("shipped",)
    ):  # shipped, not invoiced: an on-delivery invoice left a draft
        issued = erp_consumer.invoice_on_delivery(store, actor, order["id"])
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
        active = [
            r
            for r in reservations.list_page(store, tenant_id, f"{order['id']}:", 100, None).items
            if r["status"] == "active"
        ]
        for reservation in active:
            reservations.release(store, actor, reservation["id"], None)
        if active:
            findings.append(
                {
                    "order_id": order["id"],
                    "problem": "a cancelled order still held reservations",
                    "action": "released",
                    "detail": ", ".join(r["id"] for r in active),
                }
            )
    report = {
        "id": ids.new_id("rec"),
        "started_at": now,
        "finished_at": utcnow(),
        "started_by": started_by,
        "grace_seconds": grace_seconds,
        "findings": findings,
        "repaired": sum(1 for f in findings if f["action"] != "needs_person"),
        "needs_person": sum(1 for f in findings if f["action"] == "needs_person"),
    }
    store.transact(
        [
            put(
                {
                    **report_key(tenant_id, report["id"]),
                    **report,
                    "expires_at": int(dt.datetime.now(dt.UTC).timestamp()) + 90 * 86400,
                }
            )
        ]
    )
    return report


def read(store: Store, tenant_id: str, report_id: str) -> dict[str, Any]:
    item = store.get(report_key(tenant_id, report_id))
    if item is None:
        raise NotFoundError(f"There is no reconciliation report {report_id}.")
    return {k: v for k, v in item.items() if k not in ("pk", "sk", "expires_at")}


def run_all(store: Store) -> int:
    """The scheduled run: every tenant of the registry."""
    tenants = store.query_all(partition=keys.tenant_registry_pk())
    for tenant in tenants:
        run(store, tenant["sk"])
    return len(tenants)

"""Customer 360: who they are, who works there, what is open, what they bought and prefer.

Read-only and assembled from the per-customer lookups (a Query and a BatchGetItem per part), so it
costs a bounded number of calls whatever the tenant's size; the counts are in docs/performance.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.core import entities, money
from chalicelib.core.schemas import iso
from chalicelib.core.store import Store
from chalicelib.crm import activities, contacts, opportunities, orders, tickets
from chalicelib.crm.customers import CUSTOMER

LAST_ACTIVITIES = 10
MAX_ORDERS = 1000
TOP_PRODUCTS = 5
NOT_PURCHASES = {"draft", "rejected", "cancelling", "cancelled"}  # never sent, refused by the ERP, or withdrawn


def _all(store: Store, tenant_id: str, et: Any, customer_id: str, most: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while len(found) < most:
        page = entities.lookup(store, tenant_id, et, "customer", customer_id, 100, cursor)
        found.extend(page.items)
        cursor = page.next_cursor
        if not cursor:
            break
    return found[:most]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def purchase_figures(order_items: list[dict[str, Any]]) -> dict[str, Any]:
    bought = sorted(
        (o for o in order_items if o["status"] not in NOT_PURCHASES), key=lambda o: o.get("confirmed_at") or o["created_at"]
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    products: dict[str, dict[str, Any]] = {}
    for order in bought:
        totals[order["currency"]] += Decimal(order["total"])
        for line in order["lines"]:
            empty = {"product_code": line["product_code"], "description": line.get("description", ""), "orders": set(),
                     "quantity": Decimal(0), "revenue": defaultdict(Decimal)}  # fmt: skip
            figure = products.setdefault(line["product_code"], empty)
            figure["orders"].add(order["id"])
            figure["quantity"] += Decimal(line["quantity"])
            figure["revenue"][order["currency"]] += Decimal(line["net"])
    dates = [_when(o.get("confirmed_at") or o["created_at"]) for o in bought]
    average = None
    expected = None
    if len(dates) >= 2:
        seconds = (dates[-1] - dates[0]).total_seconds() / (len(dates) - 1)
        average = money.text((Decimal(seconds) / Decimal(86400)).quantize(Decimal("0.1")))
        expected = iso(dates[-1] + timedelta(seconds=seconds))
    top = sorted(products.values(), key=lambda p: (-len(p["orders"]), -p["quantity"], p["product_code"]))[:TOP_PRODUCTS]
    return {
        "order_count": len(bought),
        "totals": [{"currency": c, "total": money.text(t)} for c, t in sorted(totals.items())],
        "first_order_at": iso(dates[0]) if dates else None,
        "last_order_at": iso(dates[-1]) if dates else None,
        "average_days_between_orders": average,
        "next_order_expected_at": expected,
        "top_products": [
            {"product_code": p["product_code"], "description": p["description"], "orders": len(p["orders"]),
             "quantity": money.text(p["quantity"]),
             "revenue": [{"currency": c, "total": money.text(t)} for c, t in sorted(p["revenue"].items())]}
            for p in top
        ],
    }  # fmt: skip


def customer_360(store: Store, tenant_id: str, customer_id: str, may: Callable[[str], bool]) -> dict[str, Any]:
    """Each part needs the permission to read its records (``may``); a part the user may not read
    is null, so the view never shows more than the user's own routes would."""
    profile = entities.public(entities.get(store, tenant_id, CUSTOMER, customer_id))
    people = _all(store, tenant_id, contacts.CONTACT, customer_id, 100) if may("crm.contacts:read") else None
    deals = None
    if may("crm.opportunities:read"):
        deals = [o for o in _all(store, tenant_id, opportunities.OPPORTUNITY, customer_id, 200) if o["status"] == "open"]
    recent = None
    if may("crm.activities:read"):
        recent = entities.lookup(
            store, tenant_id, activities.ACTIVITY, "customer", customer_id, LAST_ACTIVITIES, newest_first=True
        ).items
    issues = None
    if may("crm.tickets:read"):
        issues = [
            tickets.with_overdue(t)
            for t in _all(store, tenant_id, tickets.TICKET, customer_id, 200)
            if t["status"] in tickets.ACTIVE
        ]
    bought = purchase_figures(_all(store, tenant_id, orders.ORDER, customer_id, MAX_ORDERS)) if may("crm.orders:read") else None
    preferences = None
    if people is not None:
        preferences = [
            {"contact_id": p["id"], "name": p["name"], "preferences": p.get("preferences") or {},
             "marketing_consent": p.get("marketing_consent", False)}
            for p in people
        ]  # fmt: skip
    return {
        "profile": profile,
        "contacts": people,
        "open_opportunities": deals,
        "last_activities": recent,
        "open_tickets": issues,
        "purchases": bought,
        "preferences": preferences,
    }

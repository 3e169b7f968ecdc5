"""Customer 360: who they are, who works there, what is open, what they bought and prefer.

Read-only and assembled from the per-customer lookups (a Query and a BatchGetItem per part) and, for
what the customer bought, from the aggregates the orders keep (chalicelib/crm/purchases.py), so it
reads the same items at 10 orders or 10,000; the counts are in docs/performance.md.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.core import entities, money
from chalicelib.core.schemas import iso
from chalicelib.core.store import Actor, Store
from chalicelib.crm import purchases, tickets
from chalicelib.crm.sales import NOT_PURCHASES
from chalicelib.crm.types import ACTIVE, ACTIVITY, CONTACT, CUSTOMER, OPPORTUNITY, ORDER, TICKET

LAST_ACTIVITIES = 10
ACTIVITIES_EXAMINED = 500  # an @own user's last activities: at most this many read to find them
OWN_ORDERS_EXAMINED = 500  # an @own user's purchase figures: their orders among the newest this many
TOP_PRODUCTS = 5


def _all(store: Store, tenant_id: str, et: Any, customer_id: str, most: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while len(found) < most:
        page = entities.lookup(store, tenant_id, et, "customer", customer_id, cursor=cursor)
        found.extend(page.items)
        cursor = page.next_cursor
        if not cursor:
            break
    return found[:most]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _amount(value: Decimal, currency: str) -> str:
    return money.text(money.round_money(value, currency))


def purchase_figures(order_items: list[dict[str, Any]]) -> dict[str, Any]:
    bought = sorted(
        (o for o in order_items if o["status"] not in NOT_PURCHASES),
        key=lambda o: o.get("confirmed_at") or o["created_at"],
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    products: dict[str, dict[str, Any]] = {}
    for order in bought:
        totals[order["currency"]] += Decimal(order["total"])
        for line in order["lines"]:
            code = str(line["product_code"]).upper()  # as the catalogue's SKUs (and the kept figures)
            empty = {
                "product_code": code,
                "description": line.get("description", ""),
                "orders": set(),
                "quantity": Decimal(0),
                "revenue": defaultdict(Decimal),
            }
            figure = products.setdefault(code, empty)
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
    top = sorted(products.values(), key=lambda p: (-len(p["orders"]), -p["quantity"], p["product_code"]))[
        :TOP_PRODUCTS
    ]
    return {
        "order_count": len(bought),
        "totals": [{"currency": c, "total": _amount(t, c)} for c, t in sorted(totals.items())],
        "first_order_at": iso(dates[0]) if dates else None,
        "last_order_at": iso(dates[-1]) if dates else None,
        "average_days_between_orders": average,
        "next_order_expected_at": expected,
        "top_products": [
            {
                "product_code": p["product_code"],
                "description": p["description"],
                "orders": len(p["orders"]),
                "quantity": money.text(p["quantity"]),
                "revenue": [{"currency": c, "total": _amount(t, c)} for c, t in sorted(p["revenue"].items())],
            }
            for p in top
        ],
    }


def _last_activities(store: Store, actor: Actor, customer_id: str) -> list[dict[str, Any]]:
    """The newest activities the user may read: pages of the customer's, newest first, until
    ``LAST_ACTIVITIES`` readable ones (at most ``ACTIVITIES_EXAMINED`` read)."""
    found: list[dict[str, Any]] = []
    cursor, examined = None, 0
    while len(found) < LAST_ACTIVITIES and examined < ACTIVITIES_EXAMINED:
        size = LAST_ACTIVITIES if actor.reads_all(ACTIVITY.read_permission) else 50
        page = entities.lookup(
            store,
            actor.tenant_id,
            ACTIVITY,
            "customer",
            customer_id,
            limit=size,
            cursor=cursor,
            newest_first=True,
        )
        examined += len(page.items)
        found.extend(entities.readable(actor, ACTIVITY, page.items))
        cursor = page.next_cursor
        if not cursor:
            break
    return found[:LAST_ACTIVITIES]


def _purchases(store: Store, actor: Actor, customer_id: str) -> dict[str, Any] | None:
    """Every order's figures for a user who reads all orders (the aggregates); for one who reads only
    their own, the figures of their own among the customer's newest ``OWN_ORDERS_EXAMINED``; null
    for one who reads none."""
    if not actor.holds(ORDER.read_permission):
        return None
    if actor.reads_all(ORDER.read_permission):
        figures = purchases.figures(store, actor.tenant_id, customer_id)
        return {**figures, "churn_risk": purchases.churn_risk(figures, datetime.now(UTC))}
    newest: list[dict[str, Any]] = []
    cursor = None
    while len(newest) < OWN_ORDERS_EXAMINED:
        page = entities.lookup(
            store,
            actor.tenant_id,
            ORDER,
            "customer",
            customer_id,
            limit=100,
            cursor=cursor,
            newest_first=True,
        )
        newest.extend(page.items)
        cursor = page.next_cursor
        if not cursor:
            break
    figures = purchase_figures(entities.readable(actor, ORDER, newest[:OWN_ORDERS_EXAMINED]))
    return {**figures, "churn_risk": purchases.churn_risk(figures, datetime.now(UTC))}


def customer_360(store: Store, actor: Actor, customer_id: str) -> dict[str, Any]:
    """Each part holds the records the user may read, by each record's own read rule (a user
    who may read only their own sees only their own and the pool's); a part whose kind the user
    may not read at all is null. So the view never shows more than the records' own routes."""
    tenant_id = actor.tenant_id

    def part(et: Any, most: int) -> list[dict[str, Any]] | None:
        if not actor.holds(et.read_permission):
            return None
        return entities.readable(actor, et, _all(store, tenant_id, et, customer_id, most))

    profile = entities.public(entities.get(store, tenant_id, CUSTOMER, customer_id))
    people = part(CONTACT, 100)
    deals = part(OPPORTUNITY, 200)
    recent = _last_activities(store, actor, customer_id) if actor.holds(ACTIVITY.read_permission) else None
    issues = part(TICKET, 200)
    preferences = None
    if people is not None:
        preferences = [
            {
                "contact_id": p["id"],
                "name": p["name"],
                "preferences": p.get("preferences") or {},
                "marketing_consent": p.get("marketing_consent", False),
            }
            for p in people
        ]
    return {
        "profile": profile,
        "contacts": people,
        "open_opportunities": None if deals is None else [o for o in deals if o["status"] == "open"],
        "last_activities": recent,
        "open_tickets": None
        if issues is None
        else [tickets.with_overdue(t) for t in issues if t["status"] in ACTIVE],
        "purchases": _purchases(store, actor, customer_id),
        "preferences": preferences,
    }

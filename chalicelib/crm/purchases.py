"""What a customer bought, kept by the orders' own writes (``store.Tally``), so the 360 view reads
the same items whether the customer placed 10 orders or 10,000.

An order counts while it is a sale (``sales.sale_of``: confirmed and on, not rejected or cancelled).
Per customer (``c#<customer>`` in the ``purchases`` family, one item each, not sharded):

- ``T``: ``orders`` and ``total#<currency>`` (tax included);
- ``I#<confirmed_at>``: ``orders`` confirmed at that instant; the first and the last with any give
  the first and last order (a Query from each end; an instant whose orders were all cancelled is
  passed over);
- ``P#<bucket>``: per product, ``orders#<code>`` (orders naming it), ``quantity#<code>``,
  ``revenue#<code>#<currency>`` (the lines' net) and the last ``description#<code>`` written; a
  product's bucket is its code's CRC-32 modulo 16, so an order of 200 lines writes at most 16 of
  them (a transaction holds 100 items) and the view reads at most 16, however many products.

A write of an order takes away what its old version counted for and adds the new, in the order's
transaction: exact whatever is retried, redelivered or reordered.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.core import keys, money
from chalicelib.core.schemas import iso
from chalicelib.core.store import Store, Tally, sort_key_between, sort_key_prefix, summed
from chalicelib.crm.sales import sale_of

FAMILY = "purchases"
TOP_PRODUCTS = 5
BUCKETS = 16
EDGE_PAGES = (1, 25)  # instants read from each end to find the first and last order: one, then more


def order_tallies(tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Tally]:
    out: list[Tally] = []
    for order, sign in ((before, -1), (after, 1)):
        if order is None or sale_of(order) is None:
            continue
        scope, currency = f"c#{order['customer_id']}", str(order["currency"])
        at = str(order.get("confirmed_at") or order["created_at"])
        total: dict[str, int | Decimal] = {
            "orders": sign,
            f"total#{currency}": sign * Decimal(str(order["total"])),
        }
        out.append(Tally(tenant_id, FAMILY, f"{scope}#T", total, 1))
        out.append(Tally(tenant_id, FAMILY, f"{scope}#I#{at}", {"orders": sign}, 1))
        buckets: dict[int, dict[str, int | Decimal]] = defaultdict(dict)
        described: dict[int, dict[str, str]] = defaultdict(dict)
        for line in order.get("lines") or []:
            code = str(line["product_code"]).upper()  # as the catalogue's SKUs: one product, one figure
            adds, sets = buckets[bucket_of(code)], described[bucket_of(code)]
            adds[f"orders#{code}"] = sign  # once per order, however many lines name it
            for name, value in (
                (f"quantity#{code}", line["quantity"]),
                (f"revenue#{code}#{currency}", line["net"]),
            ):
                adds[name] = adds.get(name, 0) + sign * Decimal(str(value))
            if sign > 0:
                sets[f"description#{code}"] = str(line.get("description") or "")
        for number, adds in sorted(buckets.items()):
            out.append(Tally(tenant_id, FAMILY, f"{scope}#P#{number:02d}", adds, 1, described[number]))
    return out


# ---- bought together (chalicelib/crm/recommendations.py) ------------------------------------------------
TOGETHER = "together"
TOGETHER_MOST = 10  # orders naming more products (a restock says little about taste) are left out
TOGETHER_SHARDS = 4


def together_tallies(
    tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[Tally]:
    out: list[Tally] = []
    for order, sign in ((before, -1), (after, 1)):
        if order is None or sale_of(order) is None:
            continue
        codes = sorted({str(line["product_code"]).upper() for line in order.get("lines") or []})
        if len(codes) > TOGETHER_MOST:
            continue
        for code in codes:
            adds: dict[str, int | Decimal] = {
                "orders": sign,
                **{f"with#{b}": sign for b in codes if b != code},
            }
            out.append(Tally(tenant_id, TOGETHER, f"p#{code}", adds, TOGETHER_SHARDS))
    return out


def bucket_of(code: str) -> int:
    return zlib.crc32(code.encode()) % BUCKETS


def _fields(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in keys.KEY_ATTRIBUTES}


def _edge(store: Store, tenant_id: str, scope: str, newest: bool) -> str | None:
    """The first (or last) instant at which the customer has an order that counts."""
    cursor = None
    while True:
        page = store.query_page(
            tenant_id=tenant_id,
            partition=keys.aggregate_pk(tenant_id, FAMILY),
            sort_condition=sort_key_prefix(f"{scope}#I#"),
            limit=EDGE_PAGES[cursor is not None],
            cursor=cursor,
            newest_first=newest,
            query_id="purchases.edge",
        )
        for item in page.items:
            if Decimal(item.get("orders", 0)) > 0:
                return str(item["sk"]).split("#I#", 1)[1].rsplit("#", 1)[0]
        cursor = page.next_cursor
        if not cursor:
            return None


def last_order_at(store: Store, tenant_id: str, customer_id: str) -> datetime | None:
    """The customer's last order that counts (one Query, more only past cancelled ones)."""
    last = _edge(store, tenant_id, f"c#{customer_id}", newest=True)
    return _when(last) if last else None


def figures(store: Store, tenant_id: str, customer_id: str) -> dict[str, Any]:
    """The 360 view's purchase figures of every order of the customer: how many, totals per currency,
    first and last order, the average days between orders and the next one expected from it, the top
    products (by orders, then quantity). Four Queries."""
    scope = f"c#{customer_id}"
    partition = keys.aggregate_pk(tenant_id, FAMILY)
    total = summed(store.query_all(partition=partition, sort_condition=sort_key_prefix(f"{scope}#T#")))
    count = int(total.get("orders", 0))
    figures: dict[str, dict[str, Any]] = {}
    for item in store.query_all(partition=partition, sort_condition=sort_key_prefix(f"{scope}#P#")):
        for name, value in _fields(item).items():
            kind, code, *currency = name.split("#")
            figure = figures.setdefault(
                code,
                {
                    "orders": Decimal(0),
                    "quantity": Decimal(0),
                    "revenue": defaultdict(Decimal),
                    "description": "",
                },
            )
            if kind == "description":
                figure["description"] = value
            elif kind == "revenue":
                figure["revenue"][currency[0]] += Decimal(value)
            else:
                figure[kind] += Decimal(value)
    products = [
        {
            "product_code": code,
            "description": f["description"],
            "orders": int(f["orders"]),
            "quantity": money.text(f["quantity"]),
            "revenue": [
                {"currency": c, "total": _amount(t, c)} for c, t in sorted(f["revenue"].items()) if t
            ],
        }
        for code, f in figures.items()
        if f["orders"] > 0
    ]
    products.sort(key=lambda p: (-p["orders"], -Decimal(p["quantity"]), p["product_code"]))
    first = _edge(store, tenant_id, scope, newest=False) if count else None
    last = _edge(store, tenant_id, scope, newest=True) if count else None
    average = expected = None
    if first and last and count >= 2:
        seconds = (_when(last) - _when(first)).total_seconds() / (count - 1)
        average = money.text((Decimal(seconds) / Decimal(86400)).quantize(Decimal("0.1")))
        expected = iso(_when(last) + timedelta(seconds=seconds))
    totals = {k.split("#", 1)[1]: v for k, v in total.items() if k.startswith("total#") and v}
    return {
        "order_count": count,
        "totals": [{"currency": c, "total": _amount(t, c)} for c, t in sorted(totals.items())],
        "first_order_at": iso(_when(first)) if first else None,
        "last_order_at": iso(_when(last)) if last else None,
        "average_days_between_orders": average,
        "next_order_expected_at": expected,
        "top_products": products[:TOP_PRODUCTS],
    }


def churn_risk(figures: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """How long since the last order against the customer's usual interval (None under two orders,
    or with orders all at one instant)."""
    last, usual = figures.get("last_order_at"), figures.get("average_days_between_orders")
    if not last or not usual or Decimal(usual) <= 0:
        return None
    since = Decimal((now - _when(last)).total_seconds()) / 86400
    ratio = since / Decimal(usual)
    level = "low" if ratio < Decimal("1.5") else "medium" if ratio < 3 else "high"
    return {
        "level": level,
        "days_since_last_order": money.text(since.quantize(Decimal("0.1"))),
        "usual_interval_days": usual,
        "ratio": money.text(ratio.quantize(Decimal("0.01"))),
    }


def _amount(value: Decimal, currency: str) -> str:
    return money.text(money.round_money(value, currency))


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---- the company's top products and customers per month (the dashboard) --------------------------------
TOP = "top"
TOP_SHOWN = 10


def top_tallies(tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Tally]:
    """A sale's products and customer in its month (of ``confirmed_at``, UTC), in buckets as the
    customer's products are (``m#<YYYY-MM>#p#<bucket>``: ``revenue#<code>#<currency>``,
    ``quantity#<code>``, ``orders#<code>``; ``m#<YYYY-MM>#c#<bucket>``: ``revenue#<customer>#<currency>``,
    ``orders#<customer>``), so an order of 200 lines writes at most 17 items."""
    out: list[Tally] = []
    for order, sign in ((before, -1), (after, 1)):
        sale = sale_of(order)
        if order is None or sale is None:
            continue
        month, currency = sale[0][:7], sale[1]
        customer = str(order["customer_id"])
        customer_adds: dict[str, int | Decimal] = {
            f"revenue#{customer}#{currency}": sign * sale[2],
            f"orders#{customer}": sign,
        }
        out.append(Tally(tenant_id, TOP, f"m#{month}#c#{bucket_of(customer):02d}", customer_adds))
        buckets: dict[int, dict[str, int | Decimal]] = defaultdict(dict)
        for line in order.get("lines") or []:
            code = str(line["product_code"]).upper()  # as the catalogue's SKUs: one product, one figure
            adds = buckets[bucket_of(code)]
            adds[f"orders#{code}"] = sign
            for name, value in (
                (f"quantity#{code}", line["quantity"]),
                (f"revenue#{code}#{currency}", line["net"]),
            ):
                adds[name] = adds.get(name, 0) + sign * Decimal(str(value))
        for number, adds in sorted(buckets.items()):
            out.append(Tally(tenant_id, TOP, f"m#{month}#p#{number:02d}", adds))
    return out


def quote_tallies(tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Tally]:
    """Interest: the quotes that name a product, in the month they were made (``created_at``, UTC),
    as ``quotes#<code>`` and ``quoted#<code>`` (the quantity) on ``m#<YYYY-MM>#q#<bucket>``."""
    out: list[Tally] = []
    for quote, sign in ((before, -1), (after, 1)):
        if quote is None:
            continue
        month = str(quote["created_at"])[:7]
        buckets: dict[int, dict[str, int | Decimal]] = defaultdict(dict)
        for line in quote.get("lines") or []:
            code = str(line["product_code"]).upper()
            adds = buckets[bucket_of(code)]
            adds[f"quotes#{code}"] = sign
            adds[f"quoted#{code}"] = adds.get(f"quoted#{code}", 0) + sign * Decimal(str(line["quantity"]))
        out += [Tally(tenant_id, TOP, f"m#{month}#q#{n:02d}", adds) for n, adds in sorted(buckets.items())]
    return out


def product_months(
    store: Store, tenant_id: str, code: str, first: str, last: str
) -> dict[str, dict[str, Decimal]]:
    """One product's sales and quotes per month (YYYY-MM), from ``first`` to ``last``: ``orders``,
    ``quantity``, ``revenue#<currency>``, ``quotes``, ``quoted``. One Query."""
    code, number = code.upper(), bucket_of(code.upper())
    items = store.query_all(
        partition=keys.aggregate_pk(tenant_id, TOP),
        sort_condition=sort_key_between(f"m#{first}#", f"m#{last}#~"),
    )
    months: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for item in items:
        _, month, kind, bucket, _shard = str(item["sk"]).split("#")
        if kind not in ("p", "q") or int(bucket) != number:
            continue
        for name, value in _fields(item).items():
            field, key, *currency = name.split("#")
            if key == code:
                months[month][f"{field}#{currency[0]}" if currency else field] += Decimal(value)
    return months


def top(store: Store, tenant_id: str, first_month: str, last_month: str) -> dict[str, Any]:
    """The ``TOP_SHOWN`` products and customers of the months from ``first_month`` to ``last_month``
    (YYYY-MM) by orders (then quantity, then code or id; revenue is per currency, so it ranks
    nothing): one Query of the months' buckets (at most 32 items a month, however many orders)."""
    items = store.query_all(
        partition=keys.aggregate_pk(tenant_id, TOP),
        sort_condition=sort_key_between(f"m#{first_month}#", f"m#{last_month}#~"),
    )
    ranked: dict[str, dict[str, dict[str, Any]]] = {"p": {}, "c": {}}
    buyers: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))  # month -> customer
    for item in items:
        _, month, kind, *_rest = str(item["sk"]).split("#")
        if kind not in ranked:
            continue  # the quotes' interest
        for name, value in _fields(item).items():
            field, key, *currency = name.split("#")
            if kind == "c" and field == "orders":
                buyers[month][key] += Decimal(value)
            figure = ranked[kind].setdefault(
                key, {"orders": Decimal(0), "quantity": Decimal(0), "revenue": defaultdict(Decimal)}
            )
            if field == "revenue":
                figure["revenue"][currency[0]] += Decimal(value)
            else:
                figure[field] += Decimal(value)

    def listed(kind: str, label: str) -> list[dict[str, Any]]:
        rows = [
            {
                label: key,
                "orders": int(f["orders"]),
                **({"quantity": money.text(f["quantity"])} if kind == "p" else {}),
                "revenue": [
                    {"currency": c, "total": _amount(t, c)} for c, t in sorted(f["revenue"].items()) if t
                ],
            }
            for key, f in ranked[kind].items()
            if f["orders"] > 0
        ]
        rows.sort(
            key=lambda r: (-Decimal(str(r["orders"])), -Decimal(str(r.get("quantity", 0))), str(r[label]))
        )
        return rows[:TOP_SHOWN]

    return {
        "products": listed("p", "product_code"),
        "customers": listed("c", "customer_id"),
        "active_customers": sum(1 for f in ranked["c"].values() if f["orders"] > 0),
        "active_per_month": [
            {"month": m, "active_customers": sum(1 for n in buyers[m].values() if n > 0)}
            for m in sorted(buyers)
            if any(n > 0 for n in buyers[m].values())
        ],
    }

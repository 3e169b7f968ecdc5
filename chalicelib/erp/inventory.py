"""Inventory turnover and days of stock per product, from figures the stock movements keep
(``store.Tally``, in each movement's transaction), so the dashboard reads neither the levels nor
the ledger.

Per company (the ``stock`` family), products in 16 buckets by their id's CRC-32 (a movement
writes at most 16 items of each kind, however many lines): ``now#<bucket>`` holds ``q#<product>``,
the quantity on hand now over every warehouse; ``m#<YYYY-MM>#<bucket>`` holds, for the month (UTC),
``net#<product>`` (every change of on hand) and ``out#<product>`` (what left: shipments to
customers and consumption by production; transfers between warehouses move nothing).

For the months a range touches, in units: on hand at the end = now − the net of the months after;
at the start = that − the net of the months; turnover = out ÷ the average of the two; days of
stock = on hand now ÷ (out ÷ the days of those months up to today).
"""

from __future__ import annotations

import calendar
import zlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.core import keys, money
from chalicelib.core.store import Store, Tally, sort_key_between, sort_key_prefix, summed

FAMILY = "stock"
BUCKETS = 16
SHARDS = 2  # the buckets take every movement of their products: spread over this many items
OUT = ("shipment", "consumption")
SHOWN = 50


class Moved(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def product_id(self) -> str: ...
    @property
    def on_hand(self) -> Decimal: ...
    @property
    def reserved(self) -> Decimal: ...


def bucket_of(product_id: str) -> int:
    return zlib.crc32(product_id.encode()) % BUCKETS


def stock_tallies(tenant_id: str, changes: Iterable[Moved], now: str) -> list[Tally]:
    held: dict[int, dict[str, int | Decimal]] = defaultdict(dict)
    month: dict[int, dict[str, int | Decimal]] = defaultdict(dict)
    for change in changes:
        number, product = bucket_of(change.product_id), change.product_id
        if change.reserved:
            held[number][f"r#{product}"] = held[number].get(f"r#{product}", 0) + change.reserved
        if not change.on_hand:
            continue
        held[number][f"q#{product}"] = held[number].get(f"q#{product}", 0) + change.on_hand
        month[number][f"net#{product}"] = month[number].get(f"net#{product}", 0) + change.on_hand
        if change.kind in OUT:
            month[number][f"out#{product}"] = month[number].get(f"out#{product}", 0) - change.on_hand
    out = [Tally(tenant_id, FAMILY, f"now#{n:02d}", adds, SHARDS) for n, adds in sorted(held.items())]
    out += [
        Tally(tenant_id, FAMILY, f"m#{now[:7]}#{n:02d}", adds, SHARDS) for n, adds in sorted(month.items())
    ]
    return out


# ---- replenishment: what each product has, has coming and should have, kept in the same items ----------
OPEN_PURCHASES = ("draft", "ordered", "partially_received")
OPEN_PRODUCTION = ("planned", "released", "in_progress")


def _now(tenant_id: str, adds: dict[str, dict[str, int | Decimal]]) -> list[Tally]:
    """Per product, fields (``pt``, ``in``...) added on its ``now#<bucket>`` item."""
    buckets: dict[int, dict[str, int | Decimal]] = defaultdict(dict)
    for product, fields in adds.items():
        into = buckets[bucket_of(product)]
        for field, value in fields.items():
            into[f"{field}#{product}"] = into.get(f"{field}#{product}", 0) + value
    return [Tally(tenant_id, FAMILY, f"now#{n:02d}", a, SHARDS) for n, a in sorted(buckets.items())]


def product_tallies(
    tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[Tally]:
    """A stocked product's reorder point (``pt``), while it exists."""
    adds: dict[str, dict[str, int | Decimal]] = defaultdict(dict)
    for product, sign in ((before, -1), (after, 1)):
        if product is None or product.get("kind") == "service":
            continue
        point = Decimal(str(product.get("reorder_point") or 0))
        if point:
            fields = adds[str(product["id"])]
            fields["pt"] = fields.get("pt", 0) + sign * point
    return _now(tenant_id, adds)


def purchase_order_tallies(
    tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[Tally]:
    """What an open purchase order still has to bring (``in``: ordered less received, per line)."""
    adds: dict[str, dict[str, int | Decimal]] = defaultdict(dict)
    for order, sign in ((before, -1), (after, 1)):
        if order is None or order.get("status") not in OPEN_PURCHASES:
            continue
        for line in order.get("lines") or []:
            left = Decimal(str(line["quantity"])) - Decimal(str(line.get("received") or 0))
            fields = adds[str(line["product_id"])]
            fields["in"] = fields.get("in", 0) + sign * left
    return _now(tenant_id, adds)


def production_order_tallies(
    tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[Tally]:
    """What an open production order will make (``in``)."""
    adds: dict[str, dict[str, int | Decimal]] = defaultdict(dict)
    for order, sign in ((before, -1), (after, 1)):
        if order is None or order.get("status") not in OPEN_PRODUCTION:
            continue
        fields = adds[str(order["product_id"])]
        fields["in"] = fields.get("in", 0) + sign * Decimal(str(order["quantity"]))
    return _now(tenant_id, adds)


def stock_now(store: Store, tenant_id: str) -> dict[str, dict[str, Decimal]]:
    """Per product: ``q`` on hand, ``r`` reserved, ``in`` coming, ``pt`` reorder point. One Query of
    at most 32 items, whatever the size of the catalogue."""
    sums = summed(
        store.query_all(
            partition=keys.aggregate_pk(tenant_id, FAMILY), sort_condition=sort_key_prefix("now#")
        )
    )
    out: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for name, value in sums.items():
        field, _, product = name.partition("#")
        out[product][field] += value
    return out


def receipt_tallies(
    tenant_id: str, receipts: Iterable[tuple[str, Decimal, Decimal, str]], now: str
) -> list[Tally]:
    """Goods received from suppliers (product, quantity, unit cost, currency), on the month's
    bucket as ``rq#<product>`` and ``rv#<product>#<currency>``: the month's average unit cost."""
    month: dict[int, dict[str, int | Decimal]] = defaultdict(dict)
    for product, quantity, unit_cost, currency in receipts:
        adds = month[bucket_of(product)]
        adds[f"rq#{product}"] = adds.get(f"rq#{product}", 0) + quantity
        adds[f"rv#{product}#{currency}"] = adds.get(f"rv#{product}#{currency}", 0) + quantity * unit_cost
    return [
        Tally(tenant_id, FAMILY, f"m#{now[:7]}#{n:02d}", adds, SHARDS) for n, adds in sorted(month.items())
    ]


def product_months(
    store: Store, tenant_id: str, product_id: str, first: str, last: str
) -> dict[str, dict[str, Decimal]]:
    """A product's stock figures per month (YYYY-MM) from ``first`` to ``last``: ``out``, ``net``,
    ``rq`` and ``rv#<currency>``. One Query of the months' buckets."""
    number = bucket_of(product_id)
    items = store.query_all(
        partition=keys.aggregate_pk(tenant_id, FAMILY),
        sort_condition=sort_key_between(f"m#{first}#", f"m#{last}#~"),
    )
    months: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for item in items:
        _, month, bucket, _shard = str(item["sk"]).split("#")
        if int(bucket) != number:
            continue
        for name, value in item.items():
            kind, _, rest = name.partition("#")
            owner, _, currency = rest.partition("#")
            if owner == product_id and kind in ("out", "net", "rq", "rv"):
                months[month][f"{kind}#{currency}" if currency else kind] += Decimal(value)
    return months


def figures(store: Store, tenant_id: str, first: date, last: date, today: date) -> list[dict[str, Any]]:
    """Per product with stock or movement: on hand now, out in the months from ``first``'s to
    ``last``'s, the average on hand, turnover and days of stock; the slowest first (no outflow,
    then the lowest turnover), at most ``SHOWN``. Two Queries."""
    partition = keys.aggregate_pk(tenant_id, FAMILY)
    held = summed(store.query_all(partition=partition, sort_condition=sort_key_prefix("now#")))
    start, end = first.strftime("%Y-%m"), last.strftime("%Y-%m")
    months: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for item in store.query_all(partition=partition, sort_condition=sort_key_between(f"m#{start}#", "m#~")):
        into = months[str(item["sk"]).split("#")[1]]
        for name, value in item.items():
            if name not in keys.KEY_ATTRIBUTES:
                into[name] += Decimal(value)
    last_day = min(today, last.replace(day=calendar.monthrange(last.year, last.month)[1]))
    days = max((last_day - first.replace(day=1)).days + 1, 1)
    products = {name.split("#", 1)[1] for name in held} | {
        name.split("#", 1)[1] for m in months.values() for name in m
    }
    rows = []
    for product in products:
        now_on_hand = held.get(f"q#{product}", Decimal(0))
        after = sum((m.get(f"net#{product}", Decimal(0)) for k, m in months.items() if k > end), Decimal(0))
        within = sum((m.get(f"net#{product}", Decimal(0)) for k, m in months.items() if k <= end), Decimal(0))
        out = sum((m.get(f"out#{product}", Decimal(0)) for k, m in months.items() if k <= end), Decimal(0))
        at_end = now_on_hand - after
        average = (at_end + (at_end - within)) / 2
        if not (now_on_hand or out or average):
            continue
        rows.append(
            {
                "product_id": product,
                "on_hand": money.text(now_on_hand),
                "out": money.text(out),
                "average_on_hand": money.text(average.quantize(Decimal("0.001"))),
                "turnover": money.text((out / average).quantize(Decimal("0.01"))) if average > 0 else None,
                "days_of_stock": money.text((now_on_hand / (out / days)).quantize(Decimal("0.1")))
                if out > 0
                else None,
            }
        )
    rows.sort(key=lambda r: (r["turnover"] is not None, Decimal(r["turnover"] or 0), r["product_id"]))
    return rows[:SHOWN]

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
from chalicelib.core.store import Store, Tally, sort_key_between, sort_key_prefix

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


def bucket_of(product_id: str) -> int:
    return zlib.crc32(product_id.encode()) % BUCKETS


def stock_tallies(tenant_id: str, changes: Iterable[Moved], now: str) -> list[Tally]:
    held: dict[int, dict[str, int | Decimal]] = defaultdict(dict)
    month: dict[int, dict[str, int | Decimal]] = defaultdict(dict)
    for change in changes:
        if not change.on_hand:
            continue
        number, product = bucket_of(change.product_id), change.product_id
        held[number][f"q#{product}"] = held[number].get(f"q#{product}", 0) + change.on_hand
        month[number][f"net#{product}"] = month[number].get(f"net#{product}", 0) + change.on_hand
        if change.kind in OUT:
            month[number][f"out#{product}"] = month[number].get(f"out#{product}", 0) - change.on_hand
    out = [Tally(tenant_id, FAMILY, f"now#{n:02d}", adds, SHARDS) for n, adds in sorted(held.items())]
    out += [
        Tally(tenant_id, FAMILY, f"m#{now[:7]}#{n:02d}", adds, SHARDS) for n, adds in sorted(month.items())
    ]
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


def _sums(items: list[dict[str, Any]]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for item in items:
        for name, value in item.items():
            if name not in keys.KEY_ATTRIBUTES:
                sums[name] += Decimal(value)
    return sums


def figures(store: Store, tenant_id: str, first: date, last: date, today: date) -> list[dict[str, Any]]:
    """Per product with stock or movement: on hand now, out in the months from ``first``'s to
    ``last``'s, the average on hand, turnover and days of stock; the slowest first (no outflow,
    then the lowest turnover), at most ``SHOWN``. Two Queries."""
    partition = keys.aggregate_pk(tenant_id, FAMILY)
    held = _sums(store.query_all(partition=partition, sort_condition=sort_key_prefix("now#")))
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

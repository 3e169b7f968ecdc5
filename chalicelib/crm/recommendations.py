"""What a customer will likely buy next, each with a reason a salesperson can read, and how likely a
customer is to have stopped buying.

Two sources, each read at a bounded cost:

- **Repeat purchases** from the customer's own newest ``RECENT_ORDERS`` orders that count as sales:
  a product bought in two orders or more has a usual interval (first to last, over the orders
  between), so it is due at its last purchase plus that interval. Its score is how far through the
  interval the customer is (days since the last purchase ÷ the interval) up to 1; an overdue product
  keeps 1 until half an interval late, then fades (1.5 ÷ the ratio): long overdue, maybe bought
  elsewhere.
- **Bought together**: the ``together`` aggregate, kept by every order's write, counts per product
  the orders that name it (``orders``) and, per other product, the orders that name both
  (``with#<code>``); orders of more than ``TOGETHER_MOST`` products (a restock says little about
  taste) are left out (chalicelib/crm/purchases.py). For the customer's ``SEEDS`` most bought products, a product they have not
  bought scores the share of the seed's orders that also named it (at least two orders), times 0.9.

Products no longer in the catalogue, or no longer sellable, are left out.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.core import entities, keys, money
from chalicelib.core.schemas import iso
from chalicelib.core.store import Actor, Store
from chalicelib.crm import purchases
from chalicelib.crm.overview import purchase_figures
from chalicelib.crm.purchases import TOGETHER, TOGETHER_SHARDS
from chalicelib.crm.sales import sale_of
from chalicelib.crm.types import ORDER
from chalicelib.erp import published as erp

RECENT_ORDERS = 100
SEEDS = 5
SHOWN = 10
DAY = 86400


def _when(order: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(
        str(order.get("confirmed_at") or order["created_at"]).replace("Z", "+00:00")
    )


def _days(value: float) -> str:
    return money.text(Decimal(value).quantize(Decimal("0.1")))


def history(store: Store, tenant_id: str, customer_id: str) -> list[dict[str, Any]]:
    """The customer's newest ``RECENT_ORDERS`` orders that count as sales, oldest first."""
    page = entities.lookup(
        store, tenant_id, ORDER, "customer", customer_id, limit=RECENT_ORDERS, newest_first=True
    )
    return sorted((o for o in page.items if sale_of(o) is not None), key=_when)


def _repeats(orders: list[dict[str, Any]], now: datetime) -> dict[str, dict[str, Any]]:
    bought: dict[str, list[datetime]] = defaultdict(list)
    described: dict[str, str] = {}
    for order in orders:
        for code in sorted({str(line["product_code"]).upper() for line in order["lines"]}):
            bought[code].append(_when(order))
        for line in order["lines"]:
            described[str(line["product_code"]).upper()] = str(line.get("description") or "")
    out = {}
    for code, times in bought.items():
        if len(times) < 2:
            continue
        interval = (times[-1] - times[0]).total_seconds() / (len(times) - 1)
        if interval < DAY:  # bought twice the same day: no rhythm to read
            continue
        since = (now - times[-1]).total_seconds()
        ratio = since / interval
        score = min(ratio, 1.0) if ratio <= 1.5 else 1.5 / ratio
        due_in = round((interval - since) / DAY)
        when = (
            f"due in {due_in} days"
            if due_in > 0
            else ("due today" if due_in == 0 else f"{-due_in} days overdue")
        )
        out[code] = {
            "product_code": code,
            "description": described[code],
            "source": "repeat",
            "score": score,
            "expected_at": iso(times[-1] + timedelta(seconds=interval)),
            "reason": (
                f"Bought every {_days(interval / DAY)} days on average ({len(times)} orders); last bought "
                f"{_days(since / DAY)} days ago: {when}."
            ),
        }
    return out


def _together(store: Store, tenant_id: str, orders: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    counts: dict[str, int] = defaultdict(int)
    for order in orders:
        for code in {str(line["product_code"]).upper() for line in order["lines"]}:
            counts[code] += 1
    seeds = sorted(counts, key=lambda c: (-counts[c], c))[:SEEDS]
    wanted = [
        keys.aggregate(tenant_id, TOGETHER, f"p#{code}", shard)
        for code in seeds
        for shard in range(TOGETHER_SHARDS)
    ]
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for item in store.batch_get(wanted):
        seed = str(item["sk"]).split("#")[1]
        for name, value in item.items():
            if name not in keys.KEY_ATTRIBUTES:
                sums[seed][name] += Decimal(value)
    out: dict[str, dict[str, Any]] = {}
    for seed in seeds:
        orders_of_seed = sums[seed]["orders"]
        for name, both in sums[seed].items():
            if not name.startswith("with#") or both < 2 or orders_of_seed <= 0:
                continue
            code = name.split("#", 1)[1]
            if code in counts:
                continue  # the customer buys it already: the repeats speak for it
            score = float(both / orders_of_seed) * 0.9
            if code in out and out[code]["score"] >= score:
                continue
            out[code] = {
                "product_code": code,
                "description": "",
                "source": "together",
                "score": score,
                "expected_at": None,
                "reason": (
                    f"Bought with {seed} (which this customer buys) in {int(both)} of "
                    f"{int(orders_of_seed)} orders of {seed}."
                ),
            }
    return out


def recommend(store: Store, actor: Actor, customer_id: str) -> dict[str, Any]:
    """The customer's likely next purchases, best first (at most ``SHOWN``), and their churn risk.

    A user who reads every order gets both sources and the churn risk of every order (the 360
    view's); one who reads only their own orders gets the repeats and the churn risk of the orders
    they may read among the newest, and nothing bought together (it counts everyone's orders)."""
    tenant_id = actor.tenant_id
    every = actor.reads_all(ORDER.read_permission)
    orders = history(store, tenant_id, customer_id)
    if not every:
        orders = entities.readable(actor, ORDER, orders)
    now = datetime.now(UTC)
    if every:
        risk = purchases.churn_risk(purchases.figures(store, tenant_id, customer_id), now)
    else:
        risk = purchases.churn_risk(purchase_figures(orders), now)
    candidates = {**(_together(store, tenant_id, orders) if every else {}), **_repeats(orders, now)}
    candidates = {c: r for c, r in candidates.items() if r["score"] >= 0.25}
    named = erp.products_named(
        store,
        tenant_id,
        store.batch_get(erp.product_keys(tenant_id, sorted(candidates))) if candidates else [],
    )
    out = []
    for code, found in candidates.items():
        product = named.get(code.upper())
        if product is None or not erp.sellable(product):
            continue
        found["description"] = found["description"] or str(product.get("name") or "")
        found["product_id"] = product["id"]
        out.append(found)
    out.sort(key=lambda r: (-r["score"], r["product_code"]))
    shown = [{**r, "score": money.text(Decimal(r["score"]).quantize(Decimal("0.0001")))} for r in out[:SHOWN]]
    return {"customer_id": customer_id, "items": shown, "churn_risk": risk}

"""Sales as the dashboard reads them: orders and revenue per currency, per day and per month of
confirmation, kept by the orders' own writes (``store.Tally``) rather than summed from the orders at
read time, so a read costs the periods asked for, never the number of orders.

An order counts as a sale while its status is one of a purchase (confirmed and on: accepted,
reserved, shipped, invoiced, paid...; not draft, rejected, cancelling or cancelled), on the UTC day
of its ``confirmed_at`` (``created_at`` if it has none), for its ``total`` (tax included). Every write
of an order adds what it takes away from the old version and adds the new one; a write that changes
neither cancels out and writes nothing. The write is the order's versioned transaction, so a
redelivered or reordered event (written once, or not at all) moves the figures exactly once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.core import keys, money
from chalicelib.core.store import Store, Tally, sort_key_between

FAMILY = "sales"
NOT_PURCHASES = frozenset({"draft", "rejected", "cancelling", "cancelled"})  # never sent, refused, withdrawn


def sale_of(order: dict[str, Any] | None) -> tuple[str, str, Decimal] | None:
    """(UTC day, currency, total) of an order that counts as a sale; None for one that does not."""
    if order is None or order.get("status") in NOT_PURCHASES:
        return None
    at = order.get("confirmed_at") or order["created_at"]
    return str(at)[:10], str(order["currency"]), Decimal(str(order["total"]))


def order_tallies(tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Tally]:
    """What a write of an order from ``before`` to ``after`` adds to the sales aggregates (and, for
    an order from an opportunity's quote, to the conversions of the ``customers`` family)."""
    tallies = _ORDER_COUNTS(tenant_id, before, after)
    for order, sign in ((before, -1), (after, 1)):
        sale = sale_of(order)
        if sale is None:
            continue
        day, currency, total = sale
        adds: dict[str, int | Decimal] = {f"orders#{currency}": sign, f"revenue#{currency}": sign * total}
        tallies.extend(_dated(tenant_id, FAMILY, day, adds))
    return tallies


def period_of(day: date, granularity: str) -> str:
    """The period a day falls in: the day itself, its ISO week's Monday, or its month's first day."""
    if granularity == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    if granularity == "month":
        return day.replace(day=1).isoformat()
    return day.isoformat()


def _dated(tenant_id: str, family: str, at: str, adds: dict[str, int | Decimal]) -> list[Tally]:
    """``adds`` on the UTC day and month of ``at`` (an ISO instant)."""
    day = str(at)[:10]
    return [Tally(tenant_id, family, f"day#{day}", adds), Tally(tenant_id, family, f"month#{day[:7]}", adds)]


def per_period(
    store: Store, tenant_id: str, family: str, first: date, last: date, granularity: str
) -> dict[str, dict[str, Decimal]]:
    """A dated family's fields summed per period from ``first`` to ``last`` (days, inclusive): one
    Query of its day aggregates, or of its month aggregates when whole months are asked by month."""
    by_month = granularity == "month" and first.day == 1 and (last + timedelta(days=1)).day == 1
    prefix, start, end = (
        ("month", first.isoformat()[:7], last.isoformat()[:7])
        if by_month
        else ("day", first.isoformat(), last.isoformat())
    )
    items = store.query_all(  # every shard of each day (or month) in the range
        partition=keys.aggregate_pk(tenant_id, family),
        sort_condition=sort_key_between(f"{prefix}#{start}#", f"{prefix}#{end}#~"),
    )
    periods: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for item in items:
        text = item["sk"].split("#")[1]
        day = date.fromisoformat(text if prefix == "day" else f"{text}-01")
        into = periods[period_of(day, granularity)]
        for name, value in item.items():
            if name not in ("pk", "sk"):
                into[name] += Decimal(value)
    return periods


def figures(store: Store, tenant_id: str, first: date, last: date, granularity: str) -> list[dict[str, Any]]:
    """Orders and revenue per period and currency (periods with sales only)."""
    out = []
    for period, sums in sorted(per_period(store, tenant_id, FAMILY, first, last, granularity).items()):
        currencies = sorted({name.split("#", 1)[1] for name in sums if "#" in name})
        rows = [
            {
                "currency": c,
                "orders": int(sums.get(f"orders#{c}", 0)),
                "revenue": money.text(money.round_money(sums.get(f"revenue#{c}", Decimal(0)), c)),
            }
            for c in currencies
            if sums.get(f"orders#{c}") or sums.get(f"revenue#{c}")
        ]
        if rows:
            out.append({"period": period, "sales": rows})
    return out


# ---- customers and activities --------------------------------------------------------------------------
CUSTOMERS = "customers"


Tallies = Callable[[str, dict[str, Any] | None, dict[str, Any] | None], list[Tally]]
MADE = {"customer": "new_customers", "activity": "activities", "lead": "leads"}  # counted on their day


def _dated_counts(kind: str, record: dict[str, Any] | None) -> Counter[tuple[str, str]]:
    """What a record of the CRM counts for in the ``customers`` family, as (UTC day, field): a
    customer, an activity or a lead on the day it was made; a lead, once converted, on the day of its
    conversion; an opportunity won or lost on the day it closed."""
    counted: Counter[tuple[str, str]] = Counter()
    if record is None:
        return counted
    if kind in MADE:
        counted[(str(record["created_at"])[:10], MADE[kind])] += 1
    if kind == "lead" and record.get("status") == "converted" and record.get("converted_at"):
        counted[(str(record["converted_at"])[:10], "leads_converted")] += 1
    if kind == "opportunity" and record.get("status") in ("won", "lost") and record.get("closed_at"):
        counted[(str(record["closed_at"])[:10], f"opportunities_{record['status']}")] += 1
    if kind == "order" and record.get("opportunity_id") and (sale := sale_of(record)):
        counted[(sale[0], "orders_from_opportunities")] += 1
    return counted


def crm_tallies(kind: str) -> Tallies:
    """The tallies of a record type of the CRM (``kind``: customer, activity, lead, opportunity) in
    the ``customers`` family: what the new version counts for less what the old one did (a change of
    neither writes nothing)."""

    def tallies(tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Tally]:
        was, now = _dated_counts(kind, before), _dated_counts(kind, after)
        out = []
        for day, field in sorted(set(was) | set(now)):
            delta = now[(day, field)] - was[(day, field)]
            if delta:
                out.extend(_dated(tenant_id, CUSTOMERS, day, {field: delta}))
        return out

    return tallies


_OPPORTUNITY_COUNTS = crm_tallies("opportunity")
_ORDER_COUNTS = crm_tallies("order")


def opportunity_tallies(
    tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[Tally]:
    """An opportunity feeds the pipeline while open, and the win and loss counts once closed."""
    return pipeline_tallies(tenant_id, before, after) + _OPPORTUNITY_COUNTS(tenant_id, before, after)


CRM_FIELDS = (
    "new_customers",
    "activities",
    "leads",
    "leads_converted",
    "opportunities_won",
    "opportunities_lost",
    "orders_from_opportunities",
)


def customer_figures(
    store: Store, tenant_id: str, first: date, last: date, granularity: str
) -> list[dict[str, Any]]:
    """Per period: new customers, activities logged, leads made and converted, opportunities won and
    lost, and the two rates (None when nothing to divide by). Periods with any of them only."""
    out = []
    for period, sums in sorted(per_period(store, tenant_id, CUSTOMERS, first, last, granularity).items()):
        counts = {f: int(sums.get(f, 0)) for f in CRM_FIELDS}
        if not any(counts.values()):
            continue
        closed = counts["opportunities_won"] + counts["opportunities_lost"]
        out.append(
            {
                "period": period,
                **counts,
                "lead_conversion": _rate(counts["leads_converted"], counts["leads"]),
                "win_rate": _rate(counts["opportunities_won"], closed),
                "opportunity_conversion": _rate(
                    counts["orders_from_opportunities"], counts["opportunities_won"]
                ),
            }
        )
    return out


def _rate(part: int, whole: int) -> str | None:
    return money.text((Decimal(part) / whole).quantize(Decimal("0.0001"))) if whole else None


# ---- the pipeline ----------------------------------------------------------------------------------
PIPELINE = "pipeline"


def pipeline_tallies(
    tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[Tally]:
    """What a write of an opportunity adds to the pipeline: an open one counts in its stage, for its
    amount and its amount weighted by its win probability."""
    tallies = []
    for opportunity, sign in ((before, -1), (after, 1)):
        if opportunity is None or opportunity.get("status") != "open":
            continue
        currency = str(opportunity["currency"])
        amount = Decimal(str(opportunity["amount"]))
        weighted = amount * Decimal(str(opportunity.get("probability") or 0)) / 100
        adds: dict[str, int | Decimal] = {
            f"count#{currency}": sign,
            f"amount#{currency}": sign * amount,
            f"weighted#{currency}": sign * weighted,
        }
        tallies.append(Tally(tenant_id, PIPELINE, f"stage#{opportunity['stage']}", adds))
    return tallies


def pipeline(store: Store, tenant_id: str, stages: list[str]) -> dict[str, Any]:
    """Open opportunities per stage (in the pipeline's order; a stage no longer in it after them) and
    currency, with their amount and weighted forecast; the totals per currency. One Query."""
    items = store.query_all(partition=keys.aggregate_pk(tenant_id, PIPELINE))

    def zero() -> dict[str, Decimal]:
        return {"count": Decimal(0), "amount": Decimal(0), "weighted": Decimal(0)}

    sums: dict[str, dict[str, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(zero))
    for item in items:
        stage = item["sk"].split("#")[1]
        for name, value in item.items():
            kind, _, currency = name.partition("#")
            if currency and kind in ("count", "amount", "weighted"):
                sums[stage][currency][kind] += Decimal(value)
    order = {s: n for n, s in enumerate(stages)}
    rows: list[dict[str, Any]] = []
    totals: dict[str, dict[str, Decimal]] = defaultdict(zero)
    for stage in sorted(sums, key=lambda s: (order.get(s, len(order)), s)):
        for currency, figure in sorted(sums[stage].items()):
            if not figure["count"]:
                continue
            rows.append({"stage": stage, "currency": currency, **_texts(figure)})
            for kind, value in figure.items():
                totals[currency][kind] += value
    return {
        "stages": rows,
        "totals": [{"currency": c, **_texts(f)} for c, f in sorted(totals.items())],
    }


def _texts(figure: dict[str, Decimal]) -> dict[str, Any]:
    return {
        "open": int(figure["count"]),
        "amount": money.text(figure["amount"]),
        "weighted": money.text(figure["weighted"].quantize(Decimal("0.01"))),
    }

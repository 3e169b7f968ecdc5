"""What customers owe, kept by the writes of invoices and payments (``store.Tally``), so aging, a
customer's balance and the dashboard's receivables read a number of items bounded by the calendar
(one per month of history), never by the number of invoices.

Each open invoice's balance (``issued`` or ``partially_paid``) is added, per currency, to two
aggregates of its customer and two of the company (the ``all`` scope, sharded): its due month
(``due#<scope>#2026-12``: the month's total ``open#CNY`` and each day's ``open#CNY#03``) and the
total (``total#<scope>``: ``open#CNY`` and ``invoices#CNY``, how many are open). A payment's
unallocated amount is added to the totals as ``unapplied#CNY``. Every write takes away what the old
version added and adds the new one, in the write's own transaction: a payment, a credit note, a void
or a merge moves the figures exactly when it moves the invoice.

Aging at a day X needs the open balance due before X, X − 30, X − 60 and X − 90: the months before
the month of X − 90 by their totals, the months from it to X's by their days. So a read costs two
Queries per scope: the total, and the due months up to X's.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from chalicelib.core import keys
from chalicelib.core.store import Store, Tally, sort_key_between, sort_key_prefix, summed

FAMILY = "receivables"
OPEN = ("issued", "partially_paid")
BUCKETS = ("current", "days_1_30", "days_31_60", "days_61_90", "over_90")
COMPANY = "all"
COMPANY_SHARDS = 8  # the company's aggregates take every invoice's writes: spread over this many items
ZERO = Decimal(0)


def _scope(customer_id: str | None) -> str:
    return f"c#{customer_id}" if customer_id else COMPANY


def _tallies(
    tenant_id: str, customer_id: str, adds_by_key: dict[str, dict[str, int | Decimal]]
) -> list[Tally]:
    """The same adds on the customer's aggregates and the company's."""
    out = []
    for scope, shards in ((_scope(customer_id), 1), (COMPANY, COMPANY_SHARDS)):
        for key, adds in adds_by_key.items():
            out.append(Tally(tenant_id, FAMILY, key.format(scope=scope), adds, shards))
    return out


def invoice_tallies(
    tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[Tally]:
    """What a write of an invoice adds to the receivables: an open one's balance on its due month
    and day, and in the total."""
    out: list[Tally] = []
    for invoice, sign in ((before, -1), (after, 1)):
        if invoice is None or invoice.get("status") not in OPEN or not invoice.get("due_date"):
            continue
        due, currency = str(invoice["due_date"]), str(invoice["currency"])
        owed = sign * Decimal(str(invoice["balance"]))
        month: dict[str, int | Decimal] = {f"open#{currency}": owed, f"open#{currency}#{due[8:10]}": owed}
        total: dict[str, int | Decimal] = {f"open#{currency}": owed, f"invoices#{currency}": sign}
        out += _tallies(
            tenant_id,
            str(invoice["customer_id"]),
            {f"due#{{scope}}#{due[:7]}": month, "total#{scope}": total},
        )
    return out


def payment_tallies(
    tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[Tally]:
    """What a write of a payment adds: its unallocated amount, on account, in the totals."""
    out: list[Tally] = []
    for payment, sign in ((before, -1), (after, 1)):
        if payment is None:
            continue
        left = Decimal(str(payment.get("unallocated") or 0))
        if left:
            unapplied: dict[str, int | Decimal] = {f"unapplied#{payment['currency']}": sign * left}
            out += _tallies(tenant_id, str(payment["customer_id"]), {"total#{scope}": unapplied})
    return out


# ---- reading -----------------------------------------------------------------------------------------
def aging_of(
    store: Store, tenant_id: str, customer_id: str | None, as_of: dt.date
) -> dict[str, dict[str, Decimal]]:
    """Per currency: the open balance in each bucket at ``as_of``, ``unapplied``, and ``invoices`` (how
    many are open); a customer's (or, with None, the company's). Currencies with anything open or on
    account only. Two Queries."""
    scope = _scope(customer_id)
    partition = keys.aggregate_pk(tenant_id, FAMILY)
    totals = summed(store.query_all(partition=partition, sort_condition=sort_key_prefix(f"total#{scope}#")))
    months = store.query_all(
        partition=partition, sort_condition=sort_key_between(f"due#{scope}#", f"due#{scope}#{as_of:%Y-%m}#~")
    )
    first = (as_of - dt.timedelta(days=90)).strftime("%Y-%m")  # months from it are read by their days
    before_window: dict[str, Decimal] = defaultdict(Decimal)
    days: dict[tuple[str, str], Decimal] = defaultdict(Decimal)  # (currency, day) -> open balance
    for item in months:
        month = item["sk"].split("#")[-2]
        for name, value in item.items():
            if name in keys.KEY_ATTRIBUTES:
                continue
            _, currency, *day = name.split("#")
            if month < first and not day:
                before_window[currency] += Decimal(value)
            elif month >= first and day:
                days[(currency, f"{month}-{day[0]}")] += Decimal(value)
    currencies = sorted({name.split("#", 1)[1] for name, value in totals.items() if value})
    out: dict[str, dict[str, Decimal]] = {}
    for currency in currencies:

        def due_before(day: dt.date, currency: str = currency) -> Decimal:
            text = day.isoformat()
            window = sum((v for (c, d), v in days.items() if c == currency and d < text), ZERO)
            return before_window[currency] + window

        before = [due_before(as_of - dt.timedelta(days=n)) for n in (0, 30, 60, 90)]
        total = totals.get(f"open#{currency}", ZERO)
        out[currency] = {
            "current": total - before[0],
            "days_1_30": before[0] - before[1],
            "days_31_60": before[1] - before[2],
            "days_61_90": before[2] - before[3],
            "over_90": before[3],
            "unapplied": totals.get(f"unapplied#{currency}", ZERO),
            "invoices": totals.get(f"invoices#{currency}", ZERO),
        }
    return out


def customers_page(
    store: Store, tenant_id: str, limit: int, cursor: str | None, as_of: str = ""
) -> tuple[list[str], str | None]:
    """A page of the customers that have, or had, receivables (by id), with the cursor to the next."""
    page = store.query_page(
        tenant_id=tenant_id,
        partition=keys.aggregate_pk(tenant_id, FAMILY),
        sort_condition=sort_key_prefix("total#c#"),
        limit=limit,
        cursor=cursor,
        query_id=f"receivables.customers|{as_of}",  # a cursor goes on with the same as_of only
    )
    return [item["sk"].split("#")[2] for item in page.items], page.next_cursor

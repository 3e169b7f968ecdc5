"""Aging, balances and the dashboard's receivables kept by the writes (chalicelib/erp/balances.py):
they equal the invoices and payments recomputed, and cost the same at 10 invoices or 500."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

from tests.conftest import a_customer, a_tenant
from tests.reads import Reads
from tests.test_receivables import an_invoice

FIGURES = ("current", "days_1_30", "days_31_60", "days_61_90", "over_90", "unapplied")


def every(api, token, path):
    found, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        reply = api.get(path + (f"{sep}cursor={cursor}" if cursor else ""), token)
        assert reply.status == 200, reply.body
        found.extend(reply.json["items"] if "items" in reply.json else reply.json["rows"])
        cursor = reply.json.get("next_cursor")
        if not cursor:
            return found


def recomputed(invoices, payments, as_of: dt.date) -> dict[tuple[str, str], dict[str, Decimal]]:
    """Aging from the records, as docs/api.md defines it: today's open balances by days past due at
    ``as_of``; what each customer has on account."""
    from chalicelib.erp.receivables import bucket

    rows: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(FIGURES, Decimal(0)))
    for invoice in invoices:
        if invoice["status"] in ("issued", "partially_paid"):
            rows[(invoice["customer_id"], invoice["currency"])][bucket(invoice["due_date"], as_of)] += (
                Decimal(invoice["balance"])
            )
    for payment in payments:
        if Decimal(payment["unallocated"]):
            rows[(payment["customer_id"], payment["currency"])]["unapplied"] += Decimal(
                payment["unallocated"]
            )
    return dict(rows)


def kept(rows) -> dict[tuple[str, str], dict[str, Decimal]]:
    return {(r["customer_id"], r["currency"]): {f: Decimal(r[f]) for f in FIGURES} for r in rows}


def test_aging_kept_by_the_writes_equals_the_invoices_and_payments_recomputed(api):
    """Invoices issued over half a year in two currencies, paid in part or in full (some of it left on
    account), credited, voided, and a customer merged into another; aging at several days (past, today,
    the future) equals the records recomputed, per customer and in total."""
    tenant = a_tenant(api)
    rng = random.Random(1412)
    customers = [a_customer(api, tenant)["id"] for _ in range(4)]
    invoices = []
    for _ in range(36):
        issued = dt.date(2026, 1, 5) + dt.timedelta(days=rng.randrange(180))
        invoices.append(
            an_invoice(
                api,
                tenant,
                rng.choice(customers),
                str(Decimal(rng.randrange(100, 500_000)) / 100),
                issued.isoformat(),
                terms=rng.choice([0, 15, 30, 60]),
                currency=rng.choice(["CNY", "CNY", "USD"]),
            )
        )
    for invoice in rng.sample(invoices, 24):
        path, balance = f"/erp/invoices/{invoice['id']}", Decimal(invoice["balance"])
        move = rng.choice(["pay part", "pay all and more", "credit", "void", "pay and credit"])
        if move == "void":
            assert api.post(f"{path}/void", tenant.token).status == 200
            continue
        if move in ("credit", "pay and credit"):
            credit = (balance / 3).quantize(Decimal("0.01"))
            reply = api.post(
                f"{path}/credit-notes", tenant.token, {"amount": str(credit), "reason": "damaged"}
            )
            assert reply.status == 201, reply.body
            balance -= credit
        if move != "credit":
            paid = balance if move == "pay all and more" else (balance / 2).quantize(Decimal("0.01"))
            extra = Decimal(rng.randrange(0, 5000)) / 100 if move == "pay all and more" else Decimal(0)
            body = {
                "customer_id": invoice["customer_id"],
                "currency": invoice["currency"],
                "amount": str(paid + extra),
                "received_on": "2026-07-01",
                "allocations": [{"invoice_id": invoice["id"], "amount": str(paid)}],
            }
            assert api.post("/erp/payments", tenant.token, body).status == 201
    on_account = {"customer_id": customers[1], "currency": "USD", "amount": "77.70"}  # nothing allocated
    assert api.post("/erp/payments", tenant.token, on_account).status == 201
    merged = api.post(f"/crm/customers/{customers[0]}/merge", tenant.token, {"duplicate_id": customers[3]})
    assert merged.status == 200, merged.body

    invoices = every(api, tenant.token, "/erp/invoices?limit=100")
    payments = every(api, tenant.token, "/erp/payments?limit=100")
    assert {i["status"] for i in invoices} == {"issued", "partially_paid", "paid", "void"}
    assert not any(i["customer_id"] == customers[3] for i in invoices)
    today = dt.datetime.now(dt.UTC).date()
    for as_of in (
        dt.date(2026, 3, 31),
        dt.date(2026, 6, 15),
        dt.date(2026, 9, 1),
        today,
        dt.date(2028, 1, 1),
    ):
        expected = recomputed(invoices, payments, as_of)
        rows = every(api, tenant.token, f"/erp/receivables/aging?as_of={as_of}&limit=2")
        assert kept(rows) == expected, as_of
        totals: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
            lambda: dict.fromkeys(FIGURES, Decimal(0))
        )
        for (_, currency), figures in expected.items():
            for name, value in figures.items():
                totals[("*", currency)][name] += value
        reply = api.get(f"/erp/receivables/aging?as_of={as_of}", tenant.token).json
        assert kept(reply["totals"]) == dict(totals), as_of
    for customer in customers[:3]:
        mine = {k: v for k, v in recomputed(invoices, payments, today).items() if k[0] == customer}
        balance = api.get(f"/erp/receivables/customers/{customer}", tenant.token).json
        assert kept(balance["balances"]) == mine
        open_ids = {
            i["id"]
            for i in invoices
            if i["customer_id"] == customer and i["status"] in ("issued", "partially_paid")
        }
        assert {i["id"] for i in balance["open_invoices"]} == open_ids
    assert api.get(f"/erp/receivables/customers/{customers[3]}", tenant.token).status == 404

    # The dashboard's receivables: the company's, aged today, with what is overdue.
    board = api.get("/analytics/dashboard", tenant.token).json["receivables"]
    for figure in board:
        currency = figure["currency"]
        rows = [f for (_, c), f in recomputed(invoices, payments, today).items() if c == currency]
        sums = {name: sum((r[name] for r in rows), Decimal(0)) for name in FIGURES}
        assert {name: Decimal(figure[name]) for name in FIGURES} == sums
        overdue = sum((sums[b] for b in FIGURES[1:5]), Decimal(0))
        assert Decimal(figure["overdue"]) == overdue
        open_ = [
            i for i in invoices if i["currency"] == currency and i["status"] in ("issued", "partially_paid")
        ]
        assert figure["open_invoices"] == len(open_)
    assert {f["currency"] for f in board} == {"CNY", "USD"}


def test_aging_and_a_balance_read_the_same_items_at_10_invoices_and_at_500(api, aws):
    """Two customers with invoices due over the same four months, one with 10 and one with 500: the
    customer's aging reads the same items, and the balance too but for its page of open invoices."""
    from chalicelib.api.web import STORE
    from chalicelib.core import entities
    from chalicelib.core.store import Actor
    from chalicelib.erp import receivables

    tenant = a_tenant(api)
    actor = Actor(tenant.id, tenant.owner_id)
    small, big = a_customer(api, tenant)["id"], a_customer(api, tenant)["id"]
    rng = random.Random(500)
    for customer, count in ((small, 10), (big, 500)):
        for n in range(count):
            issued = dt.date(2026, 2, 1) + dt.timedelta(days=n % 4 * 30 + rng.randrange(25))
            line = {
                "description": "goods",
                "quantity": "1",
                "unit_price": "10",
                "tax_rate": "0",
                "discount_percent": "0",
            }
            fields = receivables.new_fields(customer, "CNY", [line], terms=30)
            item = entities.new_item(receivables.INVOICE, actor, fields)
            STORE.transact(entities.create_operations(receivables.INVOICE, actor, item))
            receivables.issue(STORE, actor, item["id"], issued.isoformat(), None)

    def cost(path):
        # The principal read again when its 30 s cache lapsed (a slow machine writing the 510
        # invoices) is the request's, not the view's: warm it first.
        assert api.get("/me", tenant.token).status == 200
        with Reads() as reads:
            reply = api.get(path, tenant.token)
            assert reply.status == 200, reply.body
            return reads.take(), reply.json

    (small_calls, small_items), small_aging = cost(
        f"/erp/receivables/aging?as_of=2026-06-30&customer_id={small}"
    )
    (big_calls, big_items), big_aging = cost(f"/erp/receivables/aging?as_of=2026-06-30&customer_id={big}")
    assert (small_aging["rows"][0]["open_total"], big_aging["rows"][0]["open_total"]) == ("100.00", "5000.00")
    assert (small_calls, small_items) == (big_calls, big_items)
    (small_calls, small_items), small_balance = cost(f"/erp/receivables/customers/{small}")
    (big_calls, big_items), big_balance = cost(f"/erp/receivables/customers/{big}")
    assert (len(small_balance["open_invoices"]), len(big_balance["open_invoices"])) == (10, 50)
    # The page is read as its lookup entries, then the invoices: two items per invoice listed.
    assert small_calls == big_calls and small_items - 2 * 10 == big_items - 2 * 50
    assert big_balance["next_cursor"]


def test_aging_refuses_the_calendars_edges_another_companys_customer_and_a_cursor_of_other_filters(
    api, tenant
):
    customer = a_customer(api, tenant)["id"]
    for as_of in ("0001-01-01", "9999-12-31"):
        reply = api.get(f"/erp/receivables/aging?as_of={as_of}", tenant.token)
        assert reply.status == 400 and reply.json["errors"][0]["loc"] == ["query", "as_of"], reply.body
    other = a_tenant(api, "Aging Other Co")
    assert api.get(f"/erp/receivables/aging?customer_id={customer}", other.token).status == 404
    for _ in range(3):
        an_invoice(api, tenant, a_customer(api, tenant)["id"], "10", "2026-06-01")
    first = api.get("/erp/receivables/aging?limit=1&as_of=2026-07-01", tenant.token).json
    assert first["next_cursor"]
    cursor = first["next_cursor"]
    moved = api.get(f"/erp/receivables/aging?limit=1&as_of=2026-08-01&cursor={cursor}", tenant.token)
    assert moved.status == 400 and moved.json["errors"][0]["loc"] == ["query", "cursor"], moved.body
    mixed = api.get(f"/erp/receivables/aging?customer_id={customer}&cursor={cursor}", tenant.token)
    assert mixed.status == 400 and mixed.json["errors"][0]["loc"] == ["query", "cursor"], mixed.body

"""Customer 360: everything about one customer in one answer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.crm.overview import purchase_figures
from tests.conftest import a_customer

# History is written straight to the table, stamped in the past (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("backdated_writes")


def order(order_id, day, currency, *lines, status="confirmed"):
    return {
        "id": order_id,
        "status": status,
        "currency": currency,
        "created_at": f"2026-{day}T08:00:00.000000Z",
        "confirmed_at": f"2026-{day}T09:00:00.000000Z",
        "total": str(sum(Decimal(n) for _, _, n in lines)),
        "lines": [{"product_code": code, "quantity": q, "net": n} for code, q, n in lines],
    }


def test_purchase_figures():
    figures = purchase_figures(
        [
            order("o1", "01-01", "CNY", ("TEA", "2", "100.00"), ("CUP", "6", "30.00")),
            order("o2", "01-11", "CNY", ("TEA", "1", "50.00")),
            order("o3", "01-31", "CNY", ("TEA", "3", "150.00"), ("POT", "1", "80.00")),
            order("o4", "02-15", "CNY", ("POT", "9", "999.00"), status="cancelled"),
            order("o5", "02-20", "CNY", ("TEA", "1", "1.00"), status="draft"),
        ]
    )
    assert figures["order_count"] == 3
    assert figures["totals"] == [{"currency": "CNY", "total": "410.00"}]
    assert (figures["first_order_at"], figures["last_order_at"]) == (
        "2026-01-01T09:00:00.000000Z",
        "2026-01-31T09:00:00.000000Z",
    )
    assert figures["average_days_between_orders"] == "15.0"
    assert figures["next_order_expected_at"] == "2026-02-15T09:00:00.000000Z"
    assert [(p["product_code"], p["orders"], p["quantity"]) for p in figures["top_products"]] == [
        ("TEA", 3, "6"),
        ("CUP", 1, "6"),
        ("POT", 1, "1"),
    ]
    assert figures["top_products"][0]["revenue"] == [{"currency": "CNY", "total": "300.00"}]


def test_the_360_view_of_a_customer(api, tenant):
    customer = a_customer(api, tenant, name="杭州西湖茶业")
    cid = customer["id"]
    contact = api.post(
        "/crm/contacts",
        tenant.token,
        {"customer_id": cid, "name": "陈静", "marketing_consent": True, "preferences": {"channel": "wechat"}},
    ).json
    api.post("/crm/opportunities", tenant.token, {"customer_id": cid, "name": "Open deal", "currency": "CNY"})
    closed = api.post(
        "/crm/opportunities", tenant.token, {"customer_id": cid, "name": "Won deal", "currency": "CNY"}
    ).json
    api.post(f"/crm/opportunities/{closed['id']}/close", tenant.token, {"outcome": "won"})
    for n in range(12):
        api.post(
            "/crm/activities", tenant.token, {"kind": "note", "customer_id": cid, "subject": f"note {n}"}
        )
    api.post("/crm/tickets", tenant.token, {"customer_id": cid, "subject": "Open issue"})
    api.post("/erp/products", tenant.token, {"sku": "TEA", "name": "Tea"})
    for _ in range(2):
        lines = [{"product_code": "TEA", "quantity": 2, "unit_price": "50"}]
        made = api.post(
            "/crm/orders", tenant.token, {"customer_id": cid, "currency": "CNY", "lines": lines}
        ).json
        api.post(f"/crm/orders/{made['id']}/confirm", tenant.token)
    view = api.get(f"/crm/customers/{cid}/360", tenant.token)
    assert view.status == 200, view.body
    v = view.json
    assert v["profile"]["name"] == "杭州西湖茶业"
    assert [c["id"] for c in v["contacts"]] == [contact["id"]]
    assert [o["name"] for o in v["open_opportunities"]] == ["Open deal"]
    assert [a["subject"] for a in v["last_activities"]] == [f"note {n}" for n in range(11, 1, -1)]
    assert [t["subject"] for t in v["open_tickets"]] == ["Open issue"]
    assert v["purchases"]["order_count"] == 2 and v["purchases"]["totals"] == [
        {"currency": "CNY", "total": "200.00"}
    ]
    assert v["purchases"]["top_products"][0]["product_code"] == "TEA"
    assert v["preferences"] == [
        {
            "contact_id": contact["id"],
            "name": "陈静",
            "preferences": {"channel": "wechat"},
            "marketing_consent": True,
        }
    ]
    assert api.get("/crm/customers/cus_01J00000000000000000000000/360", tenant.token).status == 404


def test_the_360_and_the_timeline_show_only_what_the_user_may_read(api, tenant):
    from tests.conftest import a_user

    cid = a_customer(api, tenant)["id"]
    api.post("/crm/contacts", tenant.token, {"customer_id": cid, "name": "Private Person"})
    api.post("/crm/activities", tenant.token, {"kind": "call", "customer_id": cid, "subject": "private call"})
    lines = [{"product_code": "TEA", "quantity": 1, "unit_price": "10"}]
    api.post("/crm/orders", tenant.token, {"customer_id": cid, "currency": "CNY", "lines": lines})
    _, warehouse = a_user(api, tenant, ["warehouse"])
    view = api.get(f"/crm/customers/{cid}/360", warehouse).json
    assert view["contacts"] is None and view["last_activities"] is None and view["preferences"] is None
    assert view["purchases"] is not None
    kinds = {e["kind"] for e in api.get(f"/crm/customers/{cid}/timeline", warehouse).json["items"]}
    assert kinds == {"order"}
    assert "Private Person" not in api.get(f"/crm/customers/{cid}/360", warehouse).body.decode()


def _written_orders(actor, customer_ids, count, rng, products=("TEA", "CUP", "POT", "KETTLE")):
    """Orders of the customers written through the records' own write paths: created, confirmed,
    moved on, some rejected, cancelled or deleted as drafts, the same state written again."""
    from chalicelib.api.web import STORE
    from chalicelib.core import entities
    from chalicelib.core.entities import Change
    from chalicelib.crm.types import ORDER

    written = {}
    for n in range(count):
        codes = rng.sample(products, rng.randrange(1, 3))
        lines = [
            {
                "product_code": c,
                "description": f"{c.title()} v{n % 3}",
                "quantity": str(rng.randrange(1, 9)),
                "net": str(Decimal(rng.randrange(100, 100_000)) / 100),
            }
            for c in codes
        ]
        day = 1 + rng.randrange(300)
        fields = {
            "customer_id": rng.choice(customer_ids),
            "currency": rng.choice(["CNY", "CNY", "USD"]),
            "total": str(sum(Decimal(li["net"]) for li in lines)),
            "lines": lines,
            "status": "draft",
            "confirmed_at": None,
        }
        at = f"2026-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}T{rng.randrange(24):02d}:00:00.000000Z"
        item = entities.new_item(ORDER, actor, fields, now=at)
        STORE.transact(entities.create_operations(ORDER, actor, item))
        written[item["id"]] = item
    for order_id in list(written):
        path = rng.choice(["draft", "confirmed", "paid", "paid", "rejected", "cancelled", "deleted"])
        if path == "deleted":
            entities.remove(STORE, actor, ORDER, order_id)
            del written[order_id]
            continue
        if path == "draft":
            continue
        steps = {"confirmed": ["confirmed"], "paid": ["confirmed", "reserved", "shipped", "paid"]}.get(
            path, ["confirmed", "accepted", path]
        )
        confirmed_at = written[order_id]["created_at"]
        for status in steps:
            change = Change(fields={"status": status, "confirmed_at": confirmed_at})
            written[order_id] = entities.update(STORE, actor, ORDER, order_id, decide=change).item
        if rng.random() < 0.3:
            entities.update(STORE, actor, ORDER, order_id, decide=Change(fields={"status": steps[-1]}))
    return list(written.values())


def _an_order_at(actor, customer_id, at, code="TEA"):
    from chalicelib.api.web import STORE
    from chalicelib.core import entities
    from chalicelib.crm.types import ORDER

    line = {"product_code": code, "description": "Tea", "quantity": "1", "net": "10.00"}
    fields = {"customer_id": customer_id, "currency": "CNY", "total": "10.00", "lines": [line]}
    item = entities.new_item(ORDER, actor, {**fields, "status": "confirmed", "confirmed_at": at}, now=at)
    STORE.transact(entities.create_operations(ORDER, actor, item))


def _comparable(figures):
    out = dict(figures)
    out["top_products"] = [
        {**p, "quantity": Decimal(p["quantity"]), "description": None} for p in figures["top_products"]
    ]
    return out


def test_the_kept_purchase_figures_equal_every_order_recomputed(aws):
    """Three customers' orders through their write paths: the figures the orders keep equal the
    orders recomputed (counts, totals per currency, first and last order, the interval, top products)."""
    import random

    from chalicelib.api.web import STORE
    from chalicelib.core import ids
    from chalicelib.core.store import Actor
    from chalicelib.crm import purchases

    rng = random.Random(360)
    tenant = ids.new_id("ten")
    actor = Actor(tenant, "usr_01J00000000000000000000000")
    customers = [ids.new_id("cus") for _ in range(3)]
    orders = _written_orders(actor, customers, 150, rng)
    assert {o["status"] for o in orders} >= {"draft", "paid", "rejected", "cancelled"}
    for customer in customers:
        theirs = [o for o in orders if o["customer_id"] == customer]
        kept = purchases.figures(STORE, tenant, customer)
        assert kept["order_count"] > 5
        assert _comparable(kept) == _comparable(purchase_figures(theirs)), customer
        descriptions = {p["product_code"]: p["description"] for p in kept["top_products"]}
        assert all(d.startswith(c.title()) for c, d in descriptions.items())
    assert purchases.figures(STORE, tenant, ids.new_id("cus"))["order_count"] == 0
    for first, last in (("2026-01", "2026-12"), ("2026-03", "2026-05")):
        assert purchases.top(STORE, tenant, first, last) == _top(orders, first, last), (first, last)


def _top(orders, first, last):
    """The dashboard's top products and customers recomputed from the orders."""
    from collections import defaultdict

    from chalicelib.core import money
    from chalicelib.crm.sales import sale_of

    def zero():
        return {"orders": 0, "quantity": Decimal(0), "revenue": defaultdict(Decimal)}

    products, customers = defaultdict(zero), defaultdict(zero)
    buyers = defaultdict(set)
    for order in orders:
        sale = sale_of(order)
        if sale is None or not first <= sale[0][:7] <= last:
            continue
        buyers[sale[0][:7]].add(order["customer_id"])
        customers[order["customer_id"]]["orders"] += 1
        customers[order["customer_id"]]["revenue"][order["currency"]] += Decimal(order["total"])
        for code in {line["product_code"] for line in order["lines"]}:
            products[code]["orders"] += 1
        for line in order["lines"]:
            products[line["product_code"]]["quantity"] += Decimal(line["quantity"])
            products[line["product_code"]]["revenue"][order["currency"]] += Decimal(line["net"])

    def revenue(figure):
        return [
            {"currency": c, "total": money.text(money.round_money(t, c))}
            for c, t in sorted(figure["revenue"].items())
        ]

    product_rows = sorted(
        (
            {
                "product_code": c,
                "orders": f["orders"],
                "quantity": money.text(f["quantity"]),
                "revenue": revenue(f),
            }
            for c, f in products.items()
        ),
        key=lambda r: (-r["orders"], -Decimal(r["quantity"]), r["product_code"]),
    )
    customer_rows = sorted(
        ({"customer_id": c, "orders": f["orders"], "revenue": revenue(f)} for c, f in customers.items()),
        key=lambda r: (-r["orders"], r["customer_id"]),
    )
    return {
        "products": product_rows[:10],
        "customers": customer_rows[:10],
        "active_customers": len(customers),
        "active_per_month": [{"month": m, "active_customers": len(b)} for m, b in sorted(buyers.items())],
    }


def test_the_360_view_reads_the_same_items_at_10_orders_and_at_500(api, tenant):
    """Two customers buying the same products, one 10 orders and one 500 (a tenth of them cancelled,
    none of them at either end): the 360 view reads the same calls and items, and counts every order."""
    import random

    from chalicelib.core.store import Actor
    from tests.reads import Reads

    actor = Actor(tenant.id, tenant.owner_id)
    small, big = a_customer(api, tenant)["id"], a_customer(api, tenant)["id"]
    rng = random.Random(500)
    _written_orders(actor, [small], 10, random.Random(10), products=("TEA", "CUP"))
    _written_orders(actor, [big], 500, rng, products=("TEA", "CUP"))
    for customer in (small, big):  # the first and the last order count (a cancelled end costs a page more)
        for day in ("2025-12-31", "2027-01-01"):
            _an_order_at(actor, customer, f"{day}T00:00:00.000000Z")

    def cost(customer):
        api.get(f"/crm/customers/{customer}/360", tenant.token)  # the user's principal cached
        with Reads() as reads:
            reply = api.get(f"/crm/customers/{customer}/360", tenant.token)
            assert reply.status == 200, reply.body
            return reads.take(), reply.json["purchases"]

    (small_cost, small_view), (big_cost, big_view) = cost(small), cost(big)
    assert 0 < small_view["order_count"] < 10 and big_view["order_count"] > 150
    assert small_cost == big_cost, (small_cost, big_cost)


def test_a_product_code_in_any_case_is_one_product(aws):
    from chalicelib.api.web import STORE
    from chalicelib.core import ids
    from chalicelib.core.store import Actor
    from chalicelib.crm import purchases

    tenant, customer = ids.new_id("ten"), ids.new_id("cus")
    actor = Actor(tenant, "usr_01J00000000000000000000000")
    for n, code in enumerate(("tea-001", "TEA-001", "Tea-001")):
        _an_order_at(actor, customer, f"2026-05-0{n + 1}T00:00:00.000000Z", code=code)
    kept = purchases.figures(STORE, tenant, customer)["top_products"]
    assert [(p["product_code"], p["orders"]) for p in kept] == [("TEA-001", 3)]


def test_an_order_of_200_products_is_counted_in_one_transaction(aws):
    """An order's products are kept in at most 16 items: its 200 lines fit DynamoDB's 100 items a
    transaction, and every product is counted."""
    from chalicelib.api.web import STORE
    from chalicelib.core import entities, ids
    from chalicelib.core.store import Actor
    from chalicelib.crm import purchases
    from chalicelib.crm.types import ORDER

    tenant, customer = ids.new_id("ten"), ids.new_id("cus")
    actor = Actor(tenant, "usr_01J00000000000000000000000")
    lines = [
        {"product_code": f"SKU-{n:03d}", "description": f"Part {n}", "quantity": str(n + 1), "net": "1.00"}
        for n in range(200)
    ]
    fields = {"customer_id": customer, "currency": "CNY", "total": "200.00", "lines": lines}
    at = "2026-05-01T00:00:00.000000Z"
    item = entities.new_item(ORDER, actor, {**fields, "status": "confirmed", "confirmed_at": at}, now=at)
    operations = entities.create_operations(ORDER, actor, item)
    STORE.transact(operations)
    kept = purchases.figures(STORE, tenant, customer)
    assert kept["order_count"] == 1 and kept["totals"] == [{"currency": "CNY", "total": "200.00"}]
    assert [(p["product_code"], p["quantity"]) for p in kept["top_products"]] == [
        ("SKU-199", "200"),
        ("SKU-198", "199"),
        ("SKU-197", "198"),
        ("SKU-196", "197"),
        ("SKU-195", "196"),
    ]

"""The dashboard (issue 14): figures kept by the writes equal the same figures recomputed from the
records, whatever the order's path (confirmed, moved on by the ERP, rejected, cancelled, redelivered),
and a read costs the same whatever the number of orders."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest

from tests.conftest import a_customer, a_tenant, a_user
from tests.test_handoff import an_order, pump, settle, shop  # noqa: F401  # pump, shop: fixtures

# History is written straight to the table, stamped in the past (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("backdated_writes")

GRANULARITIES = ("day", "week", "month")


def brute_force(orders, first: date, last: date, granularity: str) -> list[dict]:
    """The sales figures recomputed from the orders themselves, as docs/api.md defines them."""
    from chalicelib.crm.sales import NOT_PURCHASES, period_of

    sums: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(lambda: [0, Decimal(0)]))
    for order in orders:
        if order["status"] in NOT_PURCHASES:
            continue
        day = date.fromisoformat((order.get("confirmed_at") or order["created_at"])[:10])
        if first <= day <= last:
            figure = sums[period_of(day, granularity)][order["currency"]]
            figure[0] += 1
            figure[1] += Decimal(order["total"])
    return [
        {
            "period": period,
            "sales": [
                {"currency": c, "orders": n, "revenue": str(total.normalize()) if total else "0"}
                for c, (n, total) in sorted(sums[period].items())
            ],
        }
        for period in sorted(sums)
    ]


def same(figures, expected) -> bool:
    """Revenue compared as numbers (text may differ in trailing zeros)."""

    def numbers(rows):
        return [
            (p["period"], [(s["currency"], s["orders"], Decimal(s["revenue"])) for s in p["sales"]])
            for p in rows
        ]

    return numbers(figures) == numbers(expected)


def test_the_kept_figures_equal_the_orders_recomputed_over_months_of_writes(aws):
    """Orders written over three months through the records' own write paths (created, confirmed,
    moved on, rejected, cancelled, deleted as drafts), in random order; every granularity and several
    ranges equal the brute force."""
    from chalicelib.api.web import STORE
    from chalicelib.core import entities, ids
    from chalicelib.core.entities import Change
    from chalicelib.core.store import Actor
    from chalicelib.crm import sales
    from chalicelib.crm.types import ORDER

    rng = random.Random(14)
    tenant = ids.new_id("ten")
    actor = Actor(tenant, "usr_01J00000000000000000000000")
    start = date(2026, 1, 26)  # a Monday: weeks cross the months' edges
    written = {}
    for _ in range(160):
        day = start + timedelta(days=rng.randrange(75))
        at = f"{day.isoformat()}T{rng.randrange(24):02d}:00:00.000000Z"
        fields = {
            "customer_id": "cus_01J00000000000000000000000",
            "currency": rng.choice(["CNY", "CNY", "USD"]),
            "total": str(Decimal(rng.randrange(1, 10_000_000)) / 100),
            "lines": [],
            "status": "draft",
            "confirmed_at": None,
        }
        item = entities.new_item(ORDER, actor, fields, now=at)
        STORE.transact(entities.create_operations(ORDER, actor, item))
        written[item["id"]] = item
    for order_id in list(written):
        path = rng.choice(["draft", "confirmed", "paid", "rejected", "cancelled", "cancelling", "deleted"])
        if path == "draft":
            continue
        if path == "deleted":
            entities.remove(STORE, actor, ORDER, order_id)
            del written[order_id]
            continue
        confirmed_at = written[order_id]["created_at"]
        steps = {"confirmed": ["confirmed"], "paid": ["confirmed", "reserved", "shipped", "paid"]}.get(
            path, ["confirmed", "accepted", path]
        )
        for status in steps:
            change = Change(fields={"status": status, "confirmed_at": confirmed_at})
            written[order_id] = entities.update(STORE, actor, ORDER, order_id, decide=change).item
        if rng.random() < 0.3:  # the same state written again (a redelivered event): nothing moves
            entities.update(STORE, actor, ORDER, order_id, decide=Change(fields={"status": status}))
    orders = list(written.values())
    assert {o["status"] for o in orders} >= {"draft", "paid", "rejected", "cancelled", "cancelling"}
    ranges = [
        (date(2026, 1, 1), date(2026, 4, 30)),
        (date(2026, 2, 1), date(2026, 3, 31)),  # whole months: read from the months' figures
        (date(2026, 2, 3), date(2026, 3, 17)),
        (date(2026, 3, 1), date(2026, 3, 1)),
    ]
    for first, last in ranges:
        for granularity in GRANULARITIES:
            kept = sales.figures(STORE, tenant, first, last, granularity)
            assert same(kept, brute_force(orders, first, last, granularity)), (first, last, granularity)
    assert sales.figures(STORE, tenant, date(2026, 1, 1), date(2026, 4, 30), "month")  # not empty


def dashboard(api, token, **query):
    text = "&".join(f"{k}={v}" for k, v in query.items())
    return api.get(f"/analytics/dashboard?{text}", token)


def test_the_dashboard_follows_the_handoff_exactly_and_reads_the_same_at_any_size(
    api, tenant, shop, pump, monkeypatch
):
    """Orders confirmed, moved on by the ERP, rejected by it, cancelled; every event delivered again:
    the dashboard equals the orders recomputed; its DynamoDB calls are the same at 4 orders and at
    40."""
    from chalicelib.api import handlers
    from tests.test_import_jobs import Calls

    delivered: list[tuple[str, dict]] = []
    real = handlers.consume_batch

    def recording(consumer, raw_event, context):
        delivered.append((consumer, raw_event))
        return real(consumer, raw_event, context)

    monkeypatch.setattr(handlers, "consume_batch", recording)

    customer = a_customer(api, tenant)
    today = date.today()

    def orders_now():
        return api.get("/crm/orders?limit=100", tenant.token).json["items"]

    def read_calls() -> int:
        calls = Calls()
        try:
            reply = dashboard(api, tenant.token, granularity="month")
            assert reply.status == 200, reply.body
            return calls.take()
        finally:
            calls.close()

    made = [an_order(api, tenant, customer["id"], [("TEA", 1)]) for _ in range(4)]
    for order in made[:3]:
        assert api.post(f"/crm/orders/{order['id']}/confirm", tenant.token).status == 200
    settle(pump)
    small = read_calls()
    reply = dashboard(api, tenant.token).json
    assert same(reply["sales"], brute_force(orders_now(), today - timedelta(days=29), today, "day"))
    assert reply["sales"][-1]["sales"] == [{"currency": "CNY", "orders": 3, "revenue": "67.80"}]

    more = [an_order(api, tenant, customer["id"], [("TEA", 1)]) for _ in range(36)]
    for order in more:
        api.post(f"/crm/orders/{order['id']}/confirm", tenant.token)
    api.patch(f"/erp/products/{shop['tea']['id']}", tenant.token, {"sellable": False})  # some are rejected
    settle(pump)
    api.patch(f"/erp/products/{shop['tea']['id']}", tenant.token, {"sellable": True})
    for order in more[:5]:
        api.post(f"/crm/orders/{order['id']}/cancel", tenant.token)
    settle(pump)
    # Every event of the handoff delivered again, in reverse: the orders do not move, nor the figures.
    before = dashboard(api, tenant.token).json
    invoices = api.get("/erp/invoices?limit=100", tenant.token).json["items"]
    monkeypatch.undo()  # the consumers as they are
    redelivered = redeliver_all(delivered)
    assert redelivered > 40, redelivered
    assert dashboard(api, tenant.token).json == before
    # The rejected orders' confirmations, again now that the product sells: still rejected, no invoice.
    assert api.get("/erp/invoices?limit=100", tenant.token).json["items"] == invoices
    orders = orders_now()
    assert {o["status"] for o in orders} & {"rejected", "cancelled"}
    for granularity in GRANULARITIES:
        first = today - timedelta(days=40)
        kept = dashboard(api, tenant.token, granularity=granularity, **{"from": first.isoformat()}).json
        assert same(kept["sales"], brute_force(orders, first, today, granularity)), granularity
    assert read_calls() == small  # 4 orders or 40: the same calls


def redeliver_all(delivered: list[tuple[str, dict]]) -> int:
    """Every batch the consumers were given, again and newest first: through the consumer (its
    idempotency record answers) and below it (each event's handler itself, as after an idempotency
    record that expired)."""
    import json

    from chalicelib.api import handlers
    from chalicelib.handoff import contracts
    from infra.pump import LambdaContext as Context

    events = 0
    for consumer, raw_event in reversed(delivered):
        answer = handlers.consume_batch(consumer, raw_event, Context(f"{consumer}_consumer"))
        assert answer["batchItemFailures"] == []
        for record in reversed(raw_event["Records"]):
            envelope = json.loads(record["body"])
            handlers.CONSUMERS[consumer](contracts.parse(envelope["detail-type"], envelope["detail"]))
            events += 1
    return events


def test_the_dashboard_is_the_companys_own_and_needs_every_orders_read(api, tenant, shop):
    order = an_order(api, tenant, a_customer(api, tenant)["id"], [("TEA", 1)])
    assert api.post(f"/crm/orders/{order['id']}/confirm", tenant.token).status == 200
    other = a_tenant(api, "Another Dashboard Co")
    mine = dashboard(api, tenant.token, granularity="month").json
    assert mine["sales"][-1]["sales"][0]["orders"] >= 1
    theirs = dashboard(api, other.token, granularity="month")
    assert theirs.status == 200 and theirs.json["sales"] == [], theirs.body
    _, viewer = a_user(api, tenant, ["viewer"])
    assert dashboard(api, viewer).status == 200
    _, rep = a_user(api, tenant, ["sales_rep"])
    assert dashboard(api, rep).status == 403
    # A custom role holding the dashboard but the orders' read over its own orders only: refused.
    role = {"name": "own-dash", "permissions": ["analytics.dashboard:read", "crm.orders:read@own"]}
    assert api.post("/admin/roles", tenant.token, role).status == 201
    _, own = a_user(api, tenant, ["own-dash"])
    refused = dashboard(api, own)
    assert refused.status == 403 and refused.json["permission"] == "crm.orders:read", refused.body


def test_the_pipeline_equals_the_open_opportunities_recomputed(aws):
    """Opportunities created, moved between stages, re-priced, won, lost and deleted at random: the
    kept pipeline per stage and currency equals the open ones summed."""
    from chalicelib.api.web import STORE
    from chalicelib.core import entities, ids
    from chalicelib.core.entities import Change
    from chalicelib.core.store import Actor
    from chalicelib.crm import sales
    from chalicelib.crm.types import OPPORTUNITY

    rng = random.Random(7)
    tenant = ids.new_id("ten")
    actor = Actor(tenant, "usr_01J00000000000000000000000")
    stages = [("lead", 10), ("qualified", 25), ("proposal", 60), ("negotiation", 80)]
    written = {}
    for n in range(80):
        stage, probability = rng.choice(stages)
        fields = {
            "customer_id": "cus_01J00000000000000000000000",
            "name": f"Deal {n}",
            "currency": rng.choice(["CNY", "USD"]),
            "amount": str(Decimal(rng.randrange(1, 5_000_000)) / 100),
            "stage": stage,
            "probability": probability,
            "status": "open",
        }
        item = entities.new_item(OPPORTUNITY, actor, fields)
        STORE.transact(entities.create_operations(OPPORTUNITY, actor, item))
        written[item["id"]] = item
    for opportunity_id in list(written):
        for _ in range(rng.randrange(4)):
            stage, probability = rng.choice(stages)
            move = rng.choice(["stage", "amount", "won", "lost", "delete", "stage"])
            if move == "delete":
                entities.remove(STORE, actor, OPPORTUNITY, opportunity_id)
                del written[opportunity_id]
                break
            if move in ("won", "lost") and written[opportunity_id]["status"] != "open":
                continue
            closed_at = f"2026-03-{rng.randrange(1, 32):02d}T10:00:00.000000Z"
            fields = {
                "stage": {"stage": stage, "probability": probability},
                "amount": {"amount": str(Decimal(rng.randrange(1, 5_000_000)) / 100)},
                "won": {"status": "won", "closed_at": closed_at},
                "lost": {"status": "lost", "closed_at": closed_at},
            }[move]
            change = Change(fields=fields)
            written[opportunity_id] = entities.update(
                STORE, actor, OPPORTUNITY, opportunity_id, decide=change
            ).item
    expected: dict = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for o in written.values():
        if o["status"] == "open":
            figure = expected[(o["stage"], o["currency"])]
            figure[0] += 1
            figure[1] += Decimal(o["amount"])
            figure[2] += Decimal(o["amount"]) * o["probability"] / 100
    kept = sales.pipeline(STORE, tenant, [s for s, _ in stages])
    assert [(r["stage"], r["currency"]) for r in kept["stages"]] == sorted(
        expected, key=lambda k: ([s for s, _ in stages].index(k[0]), k[1])
    )
    for row in kept["stages"]:
        count, amount, weighted = expected[(row["stage"], row["currency"])]
        assert (row["open"], Decimal(row["amount"])) == (count, amount)
        assert Decimal(row["weighted"]) == weighted.quantize(Decimal("0.01"))
    assert {o["status"] for o in written.values()} >= {"open", "won", "lost"}
    # Won and lost by the day they closed, against the records.
    closed: dict = defaultdict(lambda: [0, 0])
    for o in written.values():
        if o["status"] in ("won", "lost"):
            closed[o["closed_at"][:10]][0 if o["status"] == "won" else 1] += 1
    days = sales.customer_figures(STORE, tenant, date(2026, 3, 1), date(2026, 3, 31), "day")
    assert {p["period"]: [p["opportunities_won"], p["opportunities_lost"]] for p in days} == dict(closed)
    for p in days:
        won, lost = p["opportunities_won"], p["opportunities_lost"]
        assert Decimal(p["win_rate"]) == (Decimal(won) / (won + lost)).quantize(Decimal("0.0001"))


def test_a_user_who_reads_only_some_opportunities_gets_the_pipeline_withheld(api, tenant):
    role = {
        "name": "sales-dash",
        "permissions": ["analytics.dashboard:read", "crm.orders:read", "crm.opportunities:read@own"],
    }
    assert api.post("/admin/roles", tenant.token, role).status == 201
    _, user = a_user(api, tenant, ["sales-dash"])
    reply = dashboard(api, user).json
    assert reply["sales"] == [] and reply["pipeline"] is None
    assert reply["withheld"] == [
        {"section": "pipeline", "permission": "crm.opportunities:read"},
        {"section": "customers", "permission": "crm.customers:read"},
        {"section": "receivables", "permission": "erp.receivables:read"},
        {"section": "tickets", "permission": "crm.tickets:read"},
        {"section": "inventory", "permission": "erp.stock:read"},
    ]
    assert reply["customers"] is None and reply["receivables"] is None
    whole = dashboard(api, tenant.token).json
    assert whole["withheld"] == [] and whole["pipeline"] == {"stages": [], "totals": []}
    assert whole["receivables"] == [] and whole["tickets"] == {"open": 0, "overdue": 0}
    assert whole["inventory"] == []


def test_new_customers_and_activities_logged_are_the_records_that_exist(api, tenant):
    """Customers and activities made through the API (one of each deleted again): the day's figures
    count those that exist; an opportunity made through the API is in the pipeline."""
    customers = [a_customer(api, tenant) for _ in range(5)]
    for customer in customers[:3]:
        for _ in range(2):
            body = {"customer_id": customer["id"], "kind": "call", "subject": "Follow-up"}
            assert api.post("/crm/activities", tenant.token, body).status == 201, body
    activity = api.get("/crm/activities?limit=1", tenant.token).json["items"][0]
    assert api.delete(f"/crm/activities/{activity['id']}", tenant.token).status in (200, 204)
    assert api.delete(f"/crm/customers/{customers[4]['id']}", tenant.token).status in (200, 204)
    deal = {
        "customer_id": customers[0]["id"],
        "name": "Tea for the year",
        "amount": "1200.50",
        "currency": "CNY",
    }
    made = api.post("/crm/opportunities", tenant.token, deal)
    assert made.status == 201, made.body
    reply = dashboard(api, tenant.token, granularity="month").json
    existing = (
        len(api.get("/crm/customers?limit=100", tenant.token).json["items"]),
        len(api.get("/crm/activities?limit=100", tenant.token).json["items"]),
    )
    assert existing == (4, 5)
    assert [(p["new_customers"], p["activities"]) for p in reply["customers"]] == [existing]
    # Leads: three made, one converted into a customer (a fifth, new, customer).
    leads = [
        api.post("/crm/leads", tenant.token, {"name": f"Lead {n}", "company_name": f"Lead Co {n}"})
        for n in range(3)
    ]
    assert all(lead.status == 201 for lead in leads), leads[0].body
    converted = api.post(f"/crm/leads/{leads[0].json['id']}/convert", tenant.token, {})
    assert converted.status in (200, 201), converted.body
    period = dashboard(api, tenant.token, granularity="month").json["customers"][0]
    assert (period["leads"], period["leads_converted"], period["lead_conversion"]) == (3, 1, "0.3333")
    assert period["new_customers"] == 5 and period["win_rate"] is None
    # An opportunity won and its quote's order confirmed: the conversion of the period.
    from tests.test_stock import a_product

    a_product(api, tenant, "TEA")
    deal = made.json
    quote = {
        "customer_id": deal["customer_id"],
        "opportunity_id": deal["id"],
        "currency": "CNY",
        "lines": [{"product_code": "TEA", "quantity": "1", "unit_price": "10"}],
    }
    quoted = api.post("/crm/quotes", tenant.token, quote)
    assert quoted.status == 201, quoted.body
    for step in ("send", "accept"):
        api.post(f"/crm/quotes/{quoted.json['id']}/{step}", tenant.token)
    order = api.get(f"/crm/quotes/{quoted.json['id']}", tenant.token).json["order_id"]
    assert order and api.get(f"/crm/orders/{order}", tenant.token).json["opportunity_id"] == deal["id"]
    period = dashboard(api, tenant.token, granularity="month").json["customers"][0]
    assert (period["orders_from_opportunities"], period["opportunity_conversion"]) == (0, None)  # a draft
    assert api.post(f"/crm/orders/{order}/confirm", tenant.token).status == 200
    assert api.post(f"/crm/opportunities/{deal['id']}/close", tenant.token, {"outcome": "won"}).status == 200
    period = dashboard(api, tenant.token, granularity="month").json["customers"][0]
    assert (period["orders_from_opportunities"], period["opportunities_won"]) == (1, 1)
    assert period["opportunity_conversion"] == "1.0000"
    total = reply["pipeline"]["totals"][0]
    probability = Decimal(made.json["probability"])
    weighted = (Decimal("1200.50") * probability / 100).quantize(Decimal("0.01"))
    assert (total["currency"], total["open"], total["amount"], Decimal(total["weighted"])) == (
        "CNY",
        1,
        "1200.50",
        weighted,
    )


@pytest.mark.parametrize(
    "query, field",
    [
        ({"from": "2026-03-02", "to": "2026-03-01"}, "from"),
        ({"from": "2024-01-01", "to": "2026-03-01"}, "from"),
        ({"from": "2026-02-30"}, "from"),
        ({"granularity": "year"}, "granularity"),
        ({"to": "yesterday"}, "to"),
        ({"to": "0001-01-05"}, "to"),
        ({"from": "9999-12-01", "to": "9999-12-31", "granularity": "month"}, "from"),
    ],
)
def test_a_bad_range_is_a_400_naming_the_field(api, tenant, query, field):
    reply = dashboard(api, tenant.token, **query)
    assert reply.status == 400, reply.body
    assert reply.json["errors"][0]["loc"] == ["query", field], reply.body


def test_open_and_overdue_tickets_equal_the_tickets_recomputed_at_any_instant(aws):
    """Tickets due over two months, moved through their states, reopened, deleted: open and overdue
    at several instants (the start of a month, mid-day, a second before and after a due time) equal
    the tickets counted."""
    from datetime import UTC, datetime

    from chalicelib.api.web import STORE
    from chalicelib.core import entities, ids
    from chalicelib.core.entities import Change
    from chalicelib.core.store import Actor
    from chalicelib.crm import ticket_figures
    from chalicelib.crm.types import TICKET

    rng = random.Random(15)
    tenant = ids.new_id("ten")
    actor = Actor(tenant, "usr_01J00000000000000000000000")
    written = {}
    for _ in range(120):
        due = datetime(2026, 5, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(61 * 86400))
        fields = {
            "customer_id": "cus_01J00000000000000000000000",
            "subject": "Broken pot",
            "status": "open",
            "priority": "normal",
            "due_at": due.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        item = entities.new_item(TICKET, actor, fields)
        STORE.transact(entities.create_operations(TICKET, actor, item))
        written[item["id"]] = item
    for ticket_id in list(written):
        for status in rng.choice(
            [[], ["in_progress"], ["resolved"], ["resolved", "closed"], ["resolved", "open"], ["x"]]
        ):
            if status == "x":
                entities.remove(STORE, actor, TICKET, ticket_id)
                del written[ticket_id]
                break
            written[ticket_id] = entities.update(
                STORE, actor, TICKET, ticket_id, decide=Change({"status": status})
            ).item
    some_due = sorted(t["due_at"] for t in written.values() if t["status"] in ("open", "in_progress"))[40]
    due_at = datetime.fromisoformat(some_due.replace("Z", "+00:00")).replace(microsecond=0)
    instants = [
        datetime(2026, 4, 30, tzinfo=UTC),
        datetime(2026, 6, 1, tzinfo=UTC),
        datetime(2026, 6, 15, 13, 30, 5, tzinfo=UTC),
        due_at - timedelta(seconds=1),
        due_at + timedelta(seconds=1),
        datetime(2026, 8, 1, tzinfo=UTC),
    ]
    active = [t for t in written.values() if t["status"] in ("open", "in_progress")]
    for now in instants:
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        expected = {"open": len(active), "overdue": sum(1 for t in active if t["due_at"] < stamp)}
        assert ticket_figures.figures(STORE, tenant, now) == expected, now
    assert (
        0 < ticket_figures.figures(STORE, tenant, datetime(2026, 6, 1, tzinfo=UTC))["overdue"] < len(active)
    )


def test_inventory_turnover_and_days_of_stock_equal_the_movements_recomputed(aws):
    """Receipts, adjustments, transfers, shipments-like consumption over five months in two
    warehouses: per product, on hand, out, the average on hand, turnover and days of stock of a
    range's months equal the ledger recomputed."""
    from chalicelib.api.web import STORE
    from chalicelib.core import ids
    from chalicelib.core.store import Actor
    from chalicelib.erp import inventory, stock

    rng = random.Random(16)
    tenant = ids.new_id("ten")
    actor = Actor(tenant, "usr_01J00000000000000000000000")
    products = [ids.new_id("prd") for _ in range(6)]
    warehouses = [ids.new_id("whs") for _ in range(2)]
    ledger = []  # (month, kind, product, change)
    on_hand = defaultdict(Decimal)
    for n in range(150):
        day = date(2026, 3, 1) + timedelta(days=rng.randrange(150))
        now = f"{day.isoformat()}T10:00:00.000000Z"
        product, warehouse = rng.choice(products), rng.choice(warehouses)
        kind = rng.choice(["receipt", "receipt", "consumption", "shipment", "adjustment", "transfer"])
        quantity = Decimal(rng.randrange(1, 50))
        if kind in ("consumption", "shipment", "transfer") and on_hand[(product, warehouse)] < quantity:
            kind = "receipt"
        if kind == "transfer":
            other = warehouses[1 - warehouses.index(warehouse)]
            changes = [
                stock.Change("transfer_out", product, warehouse, on_hand=-quantity),
                stock.Change("transfer_in", product, other, on_hand=quantity),
            ]
        elif kind == "shipment":  # reserved first, then shipped, as an order's goods go
            stock.apply(
                STORE, actor, [stock.Change("reservation", product, warehouse, reserved=quantity)], now=now
            )
            changes = [stock.Change("shipment", product, warehouse, on_hand=-quantity, reserved=-quantity)]
        else:
            sign = (
                -1
                if kind == "consumption"
                or (kind == "adjustment" and on_hand[(product, warehouse)] > quantity and n % 2)
                else 1
            )
            changes = [stock.Change(kind, product, warehouse, on_hand=sign * quantity)]
        stock.apply(STORE, actor, changes, now=now)
        for change in changes:
            on_hand[(product, change.warehouse_id)] += change.on_hand
            ledger.append((now[:7], change.kind, product, change.on_hand))

    def recomputed(first: date, last: date, today: date) -> dict:
        start, end = first.isoformat()[:7], last.isoformat()[:7]
        last_day = min(today, date(last.year, last.month, 1) + timedelta(days=31))
        last_day = min(
            today, (date(last.year + last.month // 12, last.month % 12 + 1, 1) - timedelta(days=1))
        )
        days = (last_day - first.replace(day=1)).days + 1
        rows = {}
        for product in products:
            now_q = sum((c for _, _, p, c in ledger if p == product), Decimal(0))
            after = sum((c for m, _, p, c in ledger if p == product and m > end), Decimal(0))
            within = sum((c for m, _, p, c in ledger if p == product and start <= m <= end), Decimal(0))
            out = -sum(
                (
                    c
                    for m, k, p, c in ledger
                    if p == product and start <= m <= end and k in ("shipment", "consumption")
                ),
                Decimal(0),
            )
            average = ((now_q - after) + (now_q - after - within)) / 2
            rows[product] = (
                now_q,
                out,
                average,
                (now_q / (out / days)).quantize(Decimal("0.1")) if out else None,
            )
        return rows

    for first, last in ((date(2026, 3, 1), date(2026, 7, 31)), (date(2026, 4, 10), date(2026, 5, 20))):
        today = date(2026, 12, 3)
        kept = {r["product_id"]: r for r in inventory.figures(STORE, tenant, first, last, today)}
        expected = recomputed(first, last, today)
        assert set(kept) == {p for p, (q, o, a, _) in expected.items() if q or o or a}
        for product, (now_q, out, average, days_of_stock) in expected.items():
            if product not in kept:
                continue
            row = kept[product]
            assert (Decimal(row["on_hand"]), Decimal(row["out"])) == (now_q, out), product
            assert Decimal(row["average_on_hand"]) == average.quantize(Decimal("0.001"))
            if average > 0:
                assert Decimal(row["turnover"]) == (out / average).quantize(Decimal("0.01"))
            assert row["days_of_stock"] == (None if days_of_stock is None else str(days_of_stock))
        assert any(Decimal(r["out"]) > 0 for r in kept.values())

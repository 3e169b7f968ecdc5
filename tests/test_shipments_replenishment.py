"""Shipping reserved stock; replenishment suggestions and the draft purchase orders made from them."""

from __future__ import annotations

from tests.test_purchasing_production import a_supplier
from tests.test_stock import a_product, a_warehouse, level, receive


def test_shipping_issues_reserved_stock_once(api, tenant):
    tea = a_product(api, tenant, "TEA")
    store = a_warehouse(api, tenant, "SH")
    receive(api, tenant, tea["id"], store["id"], 10)
    reservation = api.post(
        "/erp/reservations", tenant.token, {"product_id": tea["id"], "quantity": "6", "reference": "SO-S:1"}
    ).json
    part = api.post(
        "/erp/shipments",
        tenant.token,
        {
            "lines": [{"reservation_id": reservation["id"], "quantity": "2"}],
            "carrier": "SF Express",
            "tracking_number": "SF123",
        },
    )
    assert part.status == 201 and part.json["lines"][0]["quantity"] == "2"
    assert level(api, tenant, tea["id"], store["id"]) == {"on_hand": "8", "reserved": "4", "available": "4"}
    too_much = api.post(
        "/erp/shipments", tenant.token, {"lines": [{"reservation_id": reservation["id"], "quantity": "5"}]}
    )
    assert too_much.status == 422 and too_much.json["errors"][0]["loc"] == ["body", "lines", "0", "quantity"]
    rest = api.post("/erp/shipments", tenant.token, {"lines": [{"reservation_id": reservation["id"]}]})
    assert rest.json["lines"][0]["quantity"] == "4"
    assert api.get(f"/erp/reservations/{reservation['id']}", tenant.token).json["status"] == "shipped"
    assert level(api, tenant, tea["id"], store["id"]) == {"on_hand": "4", "reserved": "0", "available": "4"}
    again = api.post("/erp/shipments", tenant.token, {"lines": [{"reservation_id": reservation["id"]}]})
    assert again.status == 422  # nothing left: shipping twice is refused
    assert len(api.get("/erp/shipments", tenant.token).json["items"]) == 2
    ledger = api.get(f"/erp/stock/movements?product_id={tea['id']}", tenant.token).json["items"]
    assert [(m["kind"], m["on_hand_change"], m["reserved_change"]) for m in ledger[:2]] == [
        ("shipment", "-4", "-4"),
        ("shipment", "-2", "-2"),
    ]


def test_a_shipment_audits_each_reservation_it_ships(api, tenant):
    """Found in review: a shipment changed its reservations (shipped quantity, status) with no audit
    entry for them; each now has one, with the reservation before and after."""
    tea, cup = a_product(api, tenant, "TEA"), a_product(api, tenant, "CUP")
    store = a_warehouse(api, tenant, "SH")
    reservations = []
    for product, reference in ((tea, "SO-A:1"), (cup, "SO-A:2")):
        receive(api, tenant, product["id"], store["id"], 5)
        body = {"product_id": product["id"], "quantity": "3", "reference": reference}
        reservations.append(api.post("/erp/reservations", tenant.token, body).json)
    lines = [
        {"reservation_id": reservations[0]["id"], "quantity": "1"},
        {"reservation_id": reservations[1]["id"]},
    ]
    assert api.post("/erp/shipments", tenant.token, {"lines": lines}).status == 201
    for reservation, shipped, status in ((reservations[0], "1", "active"), (reservations[1], "3", "shipped")):
        url = f"/admin/audit?entity_type=reservation&entity_id={reservation['id']}"
        entries = api.get(url, tenant.token).json["items"]
        assert [e["action"] for e in entries] == ["reservation.ship", "reservation.create"]
        before, after = entries[0]["before"], entries[0]["after"]  # numbers as the snapshot's JSON has them
        assert (str(before["shipped"]), before["status"]) == ("0", "active")
        assert (str(after["shipped"]), after["status"]) == (shipped, status)
        assert entries[0]["user_id"] == tenant.owner_id


def test_replenishment_suggests_per_supplier_and_not_twice(api, tenant):
    leaf, farm = a_supplier(api, tenant, "LEAF"), a_supplier(api, tenant, "FARM")
    store = a_warehouse(api, tenant, "SH")
    tea = a_product(
        api, tenant, "TEA", reorder_point="10", default_supplier_id=leaf["id"], standard_cost="2.5"
    )
    cup = a_product(api, tenant, "CUP", reorder_point="4", default_supplier_id=farm["id"])
    a_product(api, tenant, "FULL", reorder_point="1", default_supplier_id=farm["id"])  # stocked enough below
    loose = a_product(api, tenant, "LOOSE", reorder_point="2")  # no supplier
    box = a_product(api, tenant, "BOX", kind="manufactured", reorder_point="5")
    a_product(api, tenant, "ADVICE", kind="service", reorder_point="5")
    receive(api, tenant, tea["id"], store["id"], 3)
    receive(
        api, tenant, api.get("/erp/products?sku=FULL", tenant.token).json["items"][0]["id"], store["id"], 1
    )
    po = api.post(
        "/erp/purchase-orders",
        tenant.token,
        {"supplier_id": farm["id"], "lines": [{"product_id": cup["id"], "quantity": "1"}]},
    )
    assert po.status == 201

    suggested = api.get("/erp/replenishment", tenant.token).json
    by_supplier = {g["supplier_id"]: {li["sku"]: li for li in g["lines"]} for g in suggested["purchase"]}
    assert set(by_supplier) == {leaf["id"], farm["id"], None}
    assert (
        by_supplier[leaf["id"]]["TEA"]["available"],
        by_supplier[leaf["id"]]["TEA"]["suggested_quantity"],
    ) == ("3", "17")
    assert (
        by_supplier[farm["id"]]["CUP"]["incoming"],
        by_supplier[farm["id"]]["CUP"]["suggested_quantity"],
    ) == ("1", "7")
    assert list(by_supplier[None]) == ["LOOSE"] and loose["id"] == by_supplier[None]["LOOSE"]["product_id"]
    assert [p["sku"] for p in suggested["produce"]] == ["BOX"] and box["id"]

    made = api.post("/erp/replenishment", tenant.token, {"supplier_ids": [leaf["id"]]})
    assert made.status == 201 and len(made.json["created"]) == 1
    draft = made.json["created"][0]
    assert (draft["supplier_id"], draft["status"], draft["lines"][0]["quantity"], draft["total"]) == (
        leaf["id"],
        "draft",
        "17",
        "42.50",
    )
    again = api.get("/erp/replenishment", tenant.token).json
    assert leaf["id"] not in {g["supplier_id"] for g in again["purchase"]}  # the draft counts as incoming


def test_replenishment_reads_the_same_at_10_products_and_at_500(api):
    """The suggestions come from the figures the writes keep: at 10 products or 500 (each with a
    reorder point, stock and an open order), the same calls, at most 32 items of figures, plus the
    products suggested."""
    from chalicelib.api.web import STORE
    from chalicelib.core import entities
    from chalicelib.core.store import Actor
    from chalicelib.erp import stock
    from chalicelib.erp.catalogue import PRODUCT
    from tests.conftest import a_tenant
    from tests.reads import Reads

    def company(products: int) -> tuple:
        tenant = a_tenant(api, f"Stocked {products}")
        actor = Actor(tenant.id, tenant.owner_id)
        warehouse = a_warehouse(api, tenant, "MAIN")["id"]
        for n in range(products):
            fields = {"sku": f"P{n:04d}", "name": f"Part {n}", "kind": "stocked", "reorder_point": "10"}
            item = entities.new_item(PRODUCT, actor, {**fields, "standard_cost": "1", "unit": "pcs"})
            STORE.transact(entities.create_operations(PRODUCT, actor, item))
            on_hand = "4" if n < 3 else "50"  # three under their point
            stock.apply(
                STORE, actor, [stock.Change("receipt", item["id"], warehouse, on_hand=Decimal(on_hand))]
            )
        return tenant

    from decimal import Decimal

    costs = []
    for size in (10, 500):
        tenant = company(size)
        api.get("/erp/replenishment", tenant.token)
        with Reads() as reads:
            reply = api.get("/erp/replenishment", tenant.token)
            assert reply.status == 200, reply.body
            costs.append(reads.take())
        suggested = [li["sku"] for g in reply.json["purchase"] for li in g["lines"]]
        assert suggested == ["P0000", "P0001", "P0002"], suggested
        assert all(li["suggested_quantity"] == "16" for g in reply.json["purchase"] for li in g["lines"])
    (small_calls, small_items), (big_calls, big_items) = costs
    assert small_calls == big_calls and small_items <= big_items <= 32 + 3, costs

"""Products, warehouses and stock: levels that never go wrong, whatever the concurrency."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core.errors import ApiError
from chalicelib.core.store import Actor, Store
from chalicelib.erp import reservations, stock
from tests.conftest import a_tenant, a_user


def a_product(api, tenant, sku: str, **fields):
    r = api.post("/erp/products", tenant.token, {"sku": sku, "name": f"Product {sku}", **fields})
    assert r.status == 201, r.body
    return r.json


def a_warehouse(api, tenant, code: str, **fields):
    r = api.post("/erp/warehouses", tenant.token, {"code": code, "name": f"Warehouse {code}", **fields})
    assert r.status == 201, r.body
    return r.json


def level(api, tenant, product_id, warehouse_id):
    items = api.get(f"/erp/stock?product_id={product_id}&warehouse_id={warehouse_id}", tenant.token).json[
        "items"
    ]
    return {k: items[0][k] for k in ("on_hand", "reserved", "available")} if items else None


def receive(api, tenant, product_id, warehouse_id, quantity, reason="opening count"):
    body = {
        "product_id": product_id,
        "warehouse_id": warehouse_id,
        "quantity": str(quantity),
        "reason": reason,
    }
    r = api.post("/erp/stock/adjustments", tenant.token, body)
    assert r.status == 201, r.body
    return r.json


def test_products_have_unique_skus_and_are_found_by_sku_and_category(api, tenant):
    tea = a_product(
        api, tenant, "TEA-1", list_price="12.50", category="Drinks", reorder_point="5", lead_time_days=3
    )
    assert (tea["list_price"], tea["reorder_point"], tea["kind"], tea["invoicing_policy"]) == (
        "12.50",
        "5",
        "stocked",
        "on_order",
    )
    clash = api.post("/erp/products", tenant.token, {"sku": "tea-1", "name": "Other"})
    assert clash.status == 409 and clash.json["existing_id"] == tea["id"]
    assert [p["id"] for p in api.get("/erp/products?sku=Tea-1", tenant.token).json["items"]] == [tea["id"]]
    assert [p["id"] for p in api.get("/erp/products?category=drinks", tenant.token).json["items"]] == [
        tea["id"]
    ]
    bad = api.post("/erp/products", tenant.token, {"sku": "X", "name": "X", "list_price": "-1"})
    assert bad.status == 422 and bad.json["errors"][0]["loc"] == ["body", "list_price"]
    no_supplier = api.post(
        "/erp/products",
        tenant.token,
        {"sku": "Y", "name": "Y", "default_supplier_id": "sup_01M8JZ8N0XHMFZFK7SWV6DBJG9"},
    )
    assert no_supplier.status == 422 and no_supplier.json["errors"][0]["loc"] == [
        "body",
        "default_supplier_id",
    ]
    supplier = api.post("/erp/suppliers", tenant.token, {"code": "S1", "name": "Leaf Farm"}).json
    linked = a_product(api, tenant, "TEA-2", default_supplier_id=supplier["id"])
    assert linked["default_supplier_id"] == supplier["id"]


def test_one_default_warehouse(api, tenant):
    first = a_warehouse(api, tenant, "SH")
    assert first["is_default"] is True  # the first one is the default
    second = a_warehouse(api, tenant, "HZ")
    assert second["is_default"] is False
    third = a_warehouse(api, tenant, "SZ", is_default=True)
    listed = {w["code"]: w["is_default"] for w in api.get("/erp/warehouses", tenant.token).json["items"]}
    assert listed == {"SH": False, "HZ": False, "SZ": True}
    assert api.delete(f"/erp/warehouses/{third['id']}", tenant.token).status == 409
    assert (
        api.patch(f"/erp/warehouses/{second['id']}", tenant.token, {"is_default": True}).json["is_default"]
        is True
    )
    listed = {w["code"]: w["is_default"] for w in api.get("/erp/warehouses", tenant.token).json["items"]}
    assert listed == {"SH": False, "HZ": True, "SZ": False}


def test_adjustments_transfers_reservations_and_the_ledger(api, tenant):
    tea = a_product(api, tenant, "TEA")
    sh, hz = a_warehouse(api, tenant, "SH"), a_warehouse(api, tenant, "HZ")
    receive(api, tenant, tea["id"], sh["id"], 10)
    assert level(api, tenant, tea["id"], sh["id"]) == {"on_hand": "10", "reserved": "0", "available": "10"}

    reserved = api.post(
        "/erp/reservations", tenant.token, {"product_id": tea["id"], "quantity": "4", "reference": "SO-A:1"}
    )
    assert reserved.status == 201 and reserved.json["warehouse_id"] == sh["id"]  # the default warehouse
    assert level(api, tenant, tea["id"], sh["id"]) == {"on_hand": "10", "reserved": "4", "available": "6"}
    again = api.post(
        "/erp/reservations", tenant.token, {"product_id": tea["id"], "quantity": "4", "reference": "SO-A:1"}
    )
    assert (
        again.status == 409 and again.json["existing_id"] == reserved.json["id"]
    )  # a retry reserves nothing more

    # Removing more than is available (on hand minus reserved) is refused, naming the product; nothing changes.
    short = api.post(
        "/erp/stock/adjustments",
        tenant.token,
        {"product_id": tea["id"], "warehouse_id": sh["id"], "quantity": "-7", "reason": "broken"},
    )
    assert short.status == 409 and short.json["product_id"] == tea["id"] and short.json["available"] == "6"
    move = {
        "product_id": tea["id"],
        "from_warehouse_id": sh["id"],
        "to_warehouse_id": hz["id"],
        "quantity": "5",
    }
    moved = api.post("/erp/stock/transfers", tenant.token, move)
    assert moved.status == 201, moved.body
    assert level(api, tenant, tea["id"], sh["id"]) == {"on_hand": "5", "reserved": "4", "available": "1"}
    assert level(api, tenant, tea["id"], hz["id"]) == {"on_hand": "5", "reserved": "0", "available": "5"}
    too_much = api.post("/erp/stock/transfers", tenant.token, {**move, "quantity": "2"})
    assert too_much.status == 409

    released = api.post(f"/erp/reservations/{reserved.json['id']}/release", tenant.token)
    assert released.json["status"] == "released"
    assert (
        api.post(f"/erp/reservations/{reserved.json['id']}/release", tenant.token).json["version"]
        == released.json["version"]
    )
    assert level(api, tenant, tea["id"], sh["id"]) == {"on_hand": "5", "reserved": "0", "available": "5"}

    ledger = api.get(f"/erp/stock/movements?product_id={tea['id']}", tenant.token).json["items"]
    kinds = [m["kind"] for m in ledger]  # a transfer's two movements share an instant: either order
    assert kinds[0] == "release" and set(kinds[1:3]) == {"transfer_in", "transfer_out"}
    assert kinds[3:] == ["reservation", "adjustment"]
    assert sum(Decimal(m["on_hand_change"]) for m in ledger) == 10
    assert (
        api.get("/erp/reservations?reference=SO-A:", tenant.token).json["items"][0]["id"]
        == reserved.json["id"]
    )


def test_refusals_name_the_field_and_change_nothing(api, tenant):
    service = a_product(api, tenant, "CONSULT", kind="service")
    tea = a_product(api, tenant, "TEA")
    sh = a_warehouse(api, tenant, "SH")
    body = {"product_id": service["id"], "warehouse_id": sh["id"], "quantity": "1", "reason": "x"}
    refused = api.post("/erp/stock/adjustments", tenant.token, body)
    assert refused.status == 422 and refused.json["errors"][0]["loc"] == ["body", "product_id"]
    ghost = api.post(
        "/erp/stock/adjustments",
        tenant.token,
        {**body, "product_id": tea["id"], "warehouse_id": "whs_01M8JZ8N0XHMFZFK7SWV6DBJG9"},
    )
    assert ghost.status == 422 and ghost.json["errors"][0]["loc"] == ["body", "warehouse_id"]
    no_reason = api.post(
        "/erp/stock/adjustments", tenant.token, {**body, "product_id": tea["id"], "reason": ""}
    )
    assert no_reason.status == 422 and no_reason.json["errors"][0]["loc"] == ["body", "reason"]
    assert api.get(f"/erp/stock?product_id={tea['id']}", tenant.token).json["items"] == []
    receive(api, tenant, tea["id"], sh["id"], 3)
    assert api.delete(f"/erp/products/{tea['id']}", tenant.token).status == 409  # it has stock
    assert api.delete(f"/erp/warehouses/{sh['id']}", tenant.token).status == 409


def test_sales_reads_stock_but_cannot_change_it(api, tenant):
    tea = a_product(api, tenant, "TEA")
    sh = a_warehouse(api, tenant, "SH")
    _, sales = a_user(api, tenant, ["sales"])
    _, warehouse = a_user(api, tenant, ["warehouse"])
    body = {"product_id": tea["id"], "warehouse_id": sh["id"], "quantity": "5", "reason": "count"}
    assert api.post("/erp/stock/adjustments", sales, body).json["permission"] == "erp.stock:adjust"
    assert api.post("/erp/stock/adjustments", warehouse, body).status == 201
    assert api.get(f"/erp/stock?product_id={tea['id']}", sales).json["items"][0]["on_hand"] == "5"


def test_fifty_concurrent_reservations_of_ten_units(api, tenant):
    """50 threads, each its own client to the moto server, reserve 1 unit of 10 available."""
    tea = a_product(api, tenant, "TEA")
    sh = a_warehouse(api, tenant, "SH")
    receive(api, tenant, tea["id"], sh["id"], 10)
    actor = Actor(tenant_id=tenant.id, user_id=tenant.owner_id)
    barrier, outcomes = threading.Barrier(50), []

    def reserve(n: int) -> None:
        store = Store()
        barrier.wait()
        try:
            reservations.reserve(store, actor, tea["id"], sh["id"], Decimal(1), f"SO-race:{n}")
            outcomes.append("reserved")
        except ApiError as exc:
            outcomes.append(f"{exc.status} {type(exc).__name__}")

    threads = [threading.Thread(target=reserve, args=(n,)) for n in range(50)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(outcomes) == sorted(["reserved"] * 10 + ["409 InsufficientStock"] * 40)
    assert level(api, tenant, tea["id"], sh["id"]) == {"on_hand": "10", "reserved": "10", "available": "0"}
    listed = api.get("/erp/reservations?reference=SO-race:&limit=100", tenant.token).json["items"]
    assert len(listed) == 10 and {r["status"] for r in listed} == {"active"}


@pytest.fixture(scope="module")
def ledger_world(api):
    tenant = a_tenant(api, "Ledger Ltd")
    products = [a_product(api, tenant, f"P{n}")["id"] for n in range(2)]
    warehouses = [a_warehouse(api, tenant, f"W{n}")["id"] for n in range(2)]
    return tenant, products, warehouses


OPERATION = st.tuples(
    st.sampled_from(["adjust", "transfer", "reserve", "release"]),
    st.integers(0, 1),  # product
    st.integers(0, 1),  # warehouse
    st.integers(-6, 9),  # quantity (adjustments may be negative)
)


@settings(
    max_examples=5, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(OPERATION, min_size=60, max_size=80))
def test_on_hand_is_always_the_sum_of_the_ledger_and_never_negative(api, ledger_world, operations):
    tenant, products, warehouses = ledger_world
    store, actor = Store(), Actor(tenant_id=tenant.id, user_id=tenant.owner_id)
    active: list[str] = []
    for n, (kind, p, w, q) in enumerate(operations):
        product, warehouse, other = products[p], warehouses[w], warehouses[1 - w]
        try:
            if kind == "adjust" and q:
                stock.adjust(store, actor, product, warehouse, Decimal(q), "count")
            elif kind == "transfer" and q > 0:
                stock.transfer(store, actor, product, warehouse, other, Decimal(q), "")
            elif kind == "reserve" and q > 0:
                active.append(
                    reservations.reserve(
                        store, actor, product, warehouse, Decimal(q), f"inv{n}-{id(operations)}"
                    )["id"]
                )
            elif kind == "release" and active:
                reservations.release(store, actor, active.pop(q % len(active)), None)
        except stock.InsufficientStock:
            pass  # refused cleanly: the checks below show that nothing changed
        for item in store.query_all(partition=f"T#{tenant.id}#STOCK"):
            assert min(Decimal(item["on_hand"]), Decimal(item["reserved"]), Decimal(item["available"])) >= 0
            assert Decimal(item["available"]) == Decimal(item["on_hand"]) - Decimal(item["reserved"])
    for product in products:
        for warehouse in warehouses:
            ledger = stock.movements(store, tenant.id, product, warehouse, 1000, None).items
            now = stock.level(store, tenant.id, product, warehouse)
            assert Decimal(now["on_hand"]) == sum((Decimal(m["on_hand_change"]) for m in ledger), Decimal(0))
            assert Decimal(now["reserved"]) == sum(
                (Decimal(m["reserved_change"]) for m in ledger), Decimal(0)
            )

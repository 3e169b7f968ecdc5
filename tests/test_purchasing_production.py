"""Purchase orders and their receipts; bills of materials, capacity planning and production."""

from __future__ import annotations

import datetime as dt

from tests.test_stock import a_product, a_warehouse, level, receive


def a_supplier(api, tenant, code="LEAF"):
    r = api.post("/erp/suppliers", tenant.token, {"code": code, "name": f"Supplier {code}"})
    assert r.status == 201, r.body
    return r.json


def test_a_purchase_order_from_draft_to_received(api, tenant):
    supplier = a_supplier(api, tenant)
    tea, cup = a_product(api, tenant, "TEA"), a_product(api, tenant, "CUP")
    store = a_warehouse(api, tenant, "SH")
    lines = [
        {"product_id": tea["id"], "quantity": "10", "unit_cost": "3.25"},
        {"product_id": cup["id"], "quantity": "4"},
    ]
    po = api.post("/erp/purchase-orders", tenant.token, {"supplier_id": supplier["id"], "lines": lines}).json
    assert (po["status"], po["total"], [li["line"] for li in po["lines"]]) == ("draft", "32.50", [1, 2])
    assert (
        api.patch(f"/erp/purchase-orders/{po['id']}", tenant.token, {"notes": "urgent"}).json["notes"]
        == "urgent"
    )
    path = f"/erp/purchase-orders/{po['id']}"
    early = api.post(f"{path}/receive", tenant.token, {"lines": [{"line": 1, "quantity": "1"}]})
    assert early.status == 409  # a draft is not received

    assert api.post(f"{path}/order", tenant.token).json["status"] == "ordered"
    assert api.patch(path, tenant.token, {"notes": "late change"}).status == 409
    part = api.post(f"{path}/receive", tenant.token, {"lines": [{"line": 1, "quantity": "6"}]})
    assert part.json["status"] == "partially_received" and part.json["lines"][0]["received"] == "6"
    assert level(api, tenant, tea["id"], store["id"])["on_hand"] == "6"
    over = api.post(
        f"{path}/receive",
        tenant.token,
        {"lines": [{"line": 2, "quantity": "4"}, {"line": 1, "quantity": "5"}]},
    )
    assert over.status == 422 and over.json["errors"][0]["loc"] == ["body", "lines", "1", "quantity"]
    assert level(api, tenant, cup["id"], store["id"]) is None  # the refused receipt changed nothing
    rest = api.post(
        f"{path}/receive",
        tenant.token,
        {"lines": [{"line": 2, "quantity": "4"}, {"line": 1, "quantity": "4"}]},
    )
    assert rest.json["status"] == "received"
    assert (
        level(api, tenant, tea["id"], store["id"])["on_hand"],
        level(api, tenant, cup["id"], store["id"])["on_hand"],
    ) == (
        "10",
        "4",
    )
    assert api.post(f"{path}/cancel", tenant.token).status == 409
    ledger = api.get(f"/erp/stock/movements?product_id={tea['id']}", tenant.token).json["items"]
    assert [(m["kind"], m["on_hand_change"], m["reference"]) for m in ledger] == [
        ("receipt", "4", po["id"]),
        ("receipt", "6", po["id"]),
    ]

    other = api.post(
        "/erp/purchase-orders", tenant.token, {"supplier_id": supplier["id"], "lines": lines}
    ).json
    assert api.post(f"/erp/purchase-orders/{other['id']}/order", tenant.token).status == 200
    assert (
        api.delete(f"/erp/purchase-orders/{other['id']}", tenant.token).status == 409
    )  # only a draft is deleted
    assert api.post(f"/erp/purchase-orders/{other['id']}/cancel", tenant.token).json["status"] == "cancelled"
    listed = api.get("/erp/purchase-orders?status=cancelled", tenant.token).json["items"]
    assert [p["id"] for p in listed] == [other["id"]]


def day(offset: int) -> str:
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=offset)).isoformat()


def test_planning_by_materials_and_capacity_then_completion_all_or_nothing(api, tenant):
    leaf = a_product(api, tenant, "LEAF", lead_time_days=5)
    tin = a_product(api, tenant, "TIN", lead_time_days=2)
    gift = a_product(api, tenant, "GIFT-BOX", kind="manufactured")
    store = a_warehouse(api, tenant, "SH")
    receive(api, tenant, leaf["id"], store["id"], 100)
    receive(api, tenant, tin["id"], store["id"], 3)
    centre = api.post(
        "/erp/work-centres", tenant.token, {"code": "PACK", "name": "Packing", "daily_capacity": "10"}
    ).json
    bom = {
        "product_id": gift["id"],
        "work_centre_id": centre["id"],
        "components": [
            {"product_id": leaf["id"], "quantity": "2"},
            {"product_id": tin["id"], "quantity": "1"},
        ],
    }
    assert api.post("/erp/boms", tenant.token, bom).status == 201
    assert api.post("/erp/boms", tenant.token, bom).status == 409  # one bill of materials per product

    first = api.post(
        "/erp/production-orders", tenant.token, {"product_id": gift["id"], "quantity": "25"}
    ).json
    # 25 tins needed, 3 there: tins arrive in 2 days; then 10 a day.
    assert first["shortages"] == [
        {"product_id": tin["id"], "needed": "25", "available": "3", "ready_on": day(2)}
    ]
    assert [(b["day"], b["quantity"]) for b in first["bookings"]] == [
        (day(2), "10"),
        (day(3), "10"),
        (day(4), "5"),
    ]
    assert (first["planned_start"], first["planned_finish"], first["status"]) == (day(2), day(4), "planned")
    second = api.post(
        "/erp/production-orders", tenant.token, {"product_id": gift["id"], "quantity": "10"}
    ).json
    assert [(b["day"], b["quantity"]) for b in second["bookings"]] == [(day(4), "5"), (day(5), "5")]
    assert (
        api.post(f"/erp/production-orders/{second['id']}/cancel", tenant.token).json["status"] == "cancelled"
    )
    third = api.post("/erp/production-orders", tenant.token, {"product_id": gift["id"], "quantity": "5"}).json
    assert third["planned_finish"] == day(4)  # the cancelled order's capacity came back

    # Completing with a component short changes nothing and names the component.
    path = f"/erp/production-orders/{first['id']}"
    assert api.post(f"{path}/release", tenant.token).json["status"] == "released"
    short = api.post(f"{path}/complete", tenant.token)
    assert short.status == 409 and short.json["product_id"] == tin["id"] and "TIN" in short.json["detail"]
    assert level(api, tenant, leaf["id"], store["id"])["on_hand"] == "100"
    assert level(api, tenant, gift["id"], store["id"]) is None
    assert api.get(path, tenant.token).json["status"] == "released"

    receive(api, tenant, tin["id"], store["id"], 30)
    done = api.post(f"{path}/complete", tenant.token)
    assert done.status == 200 and done.json["status"] == "done" and done.json["completed_at"]
    assert level(api, tenant, leaf["id"], store["id"])["on_hand"] == "50"
    assert level(api, tenant, tin["id"], store["id"])["on_hand"] == "8"
    assert level(api, tenant, gift["id"], store["id"])["on_hand"] == "25"
    assert (
        api.post(f"{path}/complete", tenant.token).json["version"] == done.json["version"]
    )  # again: no change
    assert api.post(f"{path}/cancel", tenant.token).status == 409


def test_a_product_without_a_bill_of_materials_is_not_planned(api, tenant):
    tea = a_product(api, tenant, "TEA")
    a_warehouse(api, tenant, "SH")
    refused = api.post("/erp/production-orders", tenant.token, {"product_id": tea["id"], "quantity": "1"})
    assert refused.status == 422 and refused.json["errors"][0]["loc"] == ["body", "product_id"]

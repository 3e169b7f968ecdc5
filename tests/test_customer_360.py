"""Customer 360: everything about one customer in one answer."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.crm.overview import purchase_figures
from tests.conftest import a_customer


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

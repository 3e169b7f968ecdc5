"""Quotes and sales orders through the API."""

from __future__ import annotations

from tests.conftest import a_customer

LINES = [
    {
        "product_code": "TEA-01",
        "description": "龙井茶 250g",
        "quantity": 3,
        "unit_price": 19.99,
        "discount_percent": 10,
        "tax_rate": 13,
    },
    {"product_code": "CUP-02", "quantity": "12", "unit_price": "4.50", "tax_rate": "13"},
]


def a_quote(api, tenant, customer_id, lines=LINES, currency="CNY"):
    r = api.post(
        "/crm/quotes", tenant.token, {"customer_id": customer_id, "currency": currency, "lines": lines}
    )
    assert r.status == 201, r.body
    return r.json


def test_a_quote_is_priced_on_the_server_exactly(api, tenant):
    customer = a_customer(api, tenant)
    quote = a_quote(api, tenant, customer["id"])
    assert [line["net"] for line in quote["lines"]] == ["53.97", "54.00"]
    assert quote["lines"][0]["unit_price"] == "19.99"  # a JSON number, kept exactly as written
    assert (quote["subtotal"], quote["tax_total"], quote["total"]) == ("107.97", "14.04", "122.01")
    assert quote["status"] == "draft" and quote["revision"] == 1
    bad = api.post(
        "/crm/quotes",
        tenant.token,
        {
            "customer_id": customer["id"],
            "currency": "CNY",
            "lines": [{"product_code": "X", "quantity": 0, "unit_price": "1.001"}],
        },
    )
    assert bad.status == 422
    assert {tuple(e["loc"]) for e in bad.json["errors"]} == {("body", "lines", "0", "quantity")}
    too_precise = api.post(
        "/crm/quotes",
        tenant.token,
        {
            "customer_id": customer["id"],
            "currency": "CNY",
            "lines": [{"product_code": "X", "quantity": 1, "unit_price": "1.00001"}],
        },
    )
    assert too_precise.status == 422


def test_changing_lines_or_currency_reprices(api, tenant):
    quote = a_quote(api, tenant, a_customer(api, tenant)["id"])
    r = api.patch(
        f"/crm/quotes/{quote['id']}",
        tenant.token,
        {"lines": [{"product_code": "A", "quantity": 2, "unit_price": "0.125"}]},
    )
    assert r.json["total"] == "0.25"
    yen = api.patch(f"/crm/quotes/{quote['id']}", tenant.token, {"currency": "JPY"}).json
    assert yen["currency"] == "JPY" and yen["total"] == "0"


def test_send_reject_revise_keeps_every_revision(api, tenant):
    quote = a_quote(api, tenant, a_customer(api, tenant)["id"])
    path = f"/crm/quotes/{quote['id']}"
    assert api.post(path + "/reject", tenant.token).status == 409  # a draft cannot be rejected
    assert api.post(path + "/send", tenant.token).json["status"] == "sent"
    assert api.patch(path, tenant.token, {"notes": "x"}).status == 409  # a sent quote does not change
    rejected = api.post(path + "/reject", tenant.token, {"reason": "太贵了"}).json
    assert rejected["status"] == "rejected" and rejected["reject_reason"] == "太贵了"
    revised = api.post(path + "/revise", tenant.token).json
    assert revised["status"] == "draft" and revised["revision"] == 2 and revised["reject_reason"] is None
    cheaper = api.patch(
        path, tenant.token, {"lines": [{"product_code": "TEA-01", "quantity": 3, "unit_price": "17.00"}]}
    ).json
    assert cheaper["total"] == "51.00"
    history = api.get(path + "/revisions", tenant.token).json["items"]
    assert [(h["revision"], h["status"], h["total"]) for h in history] == [(1, "rejected", "122.01")]


def test_accepting_a_quote_three_times_makes_one_order(api, tenant):
    customer = a_customer(api, tenant)
    quote = a_quote(api, tenant, customer["id"])
    replies = [api.post(f"/crm/quotes/{quote['id']}/accept", tenant.token) for _ in range(3)]
    assert [r.status for r in replies] == [201, 200, 200]
    assert len({r.json["id"] for r in replies}) == 1
    order = replies[0].json
    assert order["quote_id"] == quote["id"] and order["status"] == "draft"
    assert (order["total"], order["lines"]) == (quote["total"], quote["lines"])
    listed = api.get(f"/crm/orders?customer_id={customer['id']}", tenant.token).json["items"]
    assert [o["id"] for o in listed] == [order["id"]]
    assert api.get(f"/crm/quotes/{quote['id']}", tenant.token).json["order_id"] == order["id"]
    assert api.delete(f"/crm/quotes/{quote['id']}", tenant.token).status == 409


def test_concurrent_accepts_make_one_order_and_all_answer_it(api, tenant):
    import threading

    from chalicelib.core.store import Actor, Store
    from chalicelib.crm import quotes

    quote = a_quote(api, tenant, a_customer(api, tenant)["id"])
    actor = Actor(tenant_id=tenant.id, user_id=tenant.owner_id)
    outcomes, barrier = [], threading.Barrier(6)

    def accept() -> None:
        barrier.wait()
        order, created = quotes.accept(Store(), actor, quote["id"], None)
        outcomes.append((order["id"], created))

    threads = [threading.Thread(target=accept) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(outcomes) == 6 and len({order_id for order_id, _ in outcomes}) == 1
    assert [created for _, created in outcomes].count(True) == 1
    assert len(api.get("/crm/orders", tenant.token).json["items"]) == 1


def test_order_states(api, tenant):
    customer = a_customer(api, tenant)
    for sku in ("TEA-01", "CUP-02"):
        api.post("/erp/products", tenant.token, {"sku": sku, "name": sku})
    order = api.post(
        "/crm/orders", tenant.token, {"customer_id": customer["id"], "currency": "EUR", "lines": LINES}
    ).json
    path = f"/crm/orders/{order['id']}"
    confirmed = api.post(path + "/confirm", tenant.token).json
    assert confirmed["status"] == "confirmed" and confirmed["confirmed_at"]
    again = api.post(path + "/confirm", tenant.token)
    assert again.status == 200 and again.json["version"] == confirmed["version"]  # harmless, nothing changed
    assert api.patch(path, tenant.token, {"notes": "late"}).status == 409
    assert api.delete(path, tenant.token).status == 409
    # A confirmed order is cancelled through the ERP: cancelling until it has undone its part.
    cancelled = api.post(path + "/cancel", tenant.token, {"reason": "customer changed mind"}).json
    assert cancelled["status"] == "cancelling" and cancelled["cancel_reason"] == "customer changed mind"
    refused = api.post(path + "/confirm", tenant.token)
    assert refused.status == 409 and refused.json["state"] == "cancelling"
    events = [
        e["summary"]["event"]
        for e in api.get(f"/crm/customers/{customer['id']}/timeline", tenant.token).json["items"]
        if e["kind"] == "order"
    ]
    assert events == ["cancelling", "confirmed", "created"]
    assert [o["id"] for o in api.get("/crm/orders?status=cancelling", tenant.token).json["items"]] == [
        order["id"]
    ]


def test_confirming_needs_every_sku_to_be_a_sellable_product(api, tenant):
    customer = a_customer(api, tenant)
    api.post("/erp/products", tenant.token, {"sku": "TEA-01", "name": "Tea"})
    retired = api.post(
        "/erp/products", tenant.token, {"sku": "CUP-02", "name": "Cup", "sellable": False}
    ).json
    order = api.post(
        "/crm/orders", tenant.token, {"customer_id": customer["id"], "currency": "EUR", "lines": LINES}
    ).json
    path = f"/crm/orders/{order['id']}/confirm"
    unsellable = api.post(path, tenant.token)
    assert unsellable.status == 422 and "CUP-02" in unsellable.json["detail"]
    assert api.get(f"/crm/orders/{order['id']}", tenant.token).json["status"] == "draft"
    api.patch(f"/erp/products/{retired['id']}", tenant.token, {"sku": "CUP-03"})
    unknown = api.post(path, tenant.token)
    assert unknown.status == 422 and unknown.json["errors"][0]["loc"] == [
        "body",
        "lines",
        "1",
        "product_code",
    ]
    api.patch(f"/erp/products/{retired['id']}", tenant.token, {"sku": "CUP-02", "sellable": True})
    assert api.post(path, tenant.token).json["status"] == "confirmed"


def test_stale_if_match_on_an_action_is_412(api, tenant):
    quote = a_quote(api, tenant, a_customer(api, tenant)["id"])
    r = api.post(f"/crm/quotes/{quote['id']}/send", tenant.token, headers={"if-match": '"9"'})
    assert r.status == 412
    assert api.get(f"/crm/quotes/{quote['id']}", tenant.token).json["status"] == "draft"


def test_what_names_no_currency_is_in_the_companys(api):
    """Issue 10, item 15: the currency chosen at signup (CNY unless chosen) is the default of orders,
    quotes, deals, invoices and payments; one that names its own keeps it."""
    from tests.conftest import PASSWORD, login, unique_email

    email = unique_email("yen")
    body = {
        "company_name": "Yen Trading",
        "owner_email": email,
        "owner_password": PASSWORD,
        "default_currency": "JPY",
    }
    assert api.post("/tenants", body=body).status == 202
    token = login(api, email)
    assert api.get("/me", token).json["tenant"]["default_currency"] == "JPY"
    customer = api.post("/crm/customers", token, {"name": "Sato", "kind": "person"}).json["id"]
    lines = [{"product_code": "TEA", "quantity": "2", "unit_price": "300"}]
    made = {
        "/crm/orders": {"customer_id": customer, "lines": lines},
        "/crm/quotes": {"customer_id": customer, "lines": lines},
        "/crm/opportunities": {"customer_id": customer, "name": "Tea", "amount": "600"},
        "/erp/invoices": {"customer_id": customer, "lines": lines},
        "/erp/payments": {"customer_id": customer, "amount": "600"},
    }
    for path, fields in made.items():
        reply = api.post(path, token, fields)
        assert reply.status == 201 and reply.json["currency"] == "JPY", (path, reply.body)
    named = api.post("/crm/orders", token, {"customer_id": customer, "lines": lines, "currency": "USD"}).json
    assert (named["currency"], named["total"]) == ("USD", "600.00")
    refused = api.post("/tenants", body={**body, "owner_email": unique_email("x"), "default_currency": "yen"})
    assert refused.status == 422 and refused.json["errors"][0]["loc"] == ["body", "default_currency"]

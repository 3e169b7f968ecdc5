"""A product's sales, cost and margin per month beside the quotes that name it: a fall in profit
told apart as a cost problem or a market problem."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote as url_quote

import pytest

from tests.conftest import a_customer, a_tenant, a_user
from tests.test_purchasing_production import a_supplier
from tests.test_stock import a_product, a_warehouse

# History is written straight to the table, stamped in the past (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("backdated_writes")


def _months():
    this = datetime.now(UTC).strftime("%Y-%m")
    year, month = int(this[:4]), int(this[5:7])
    previous = f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"
    return previous, this


def an_order(tenant, customer, code, quantity, net, at, status="confirmed"):
    from chalicelib.api.web import STORE
    from chalicelib.core import entities
    from chalicelib.core.store import Actor
    from chalicelib.crm.types import ORDER

    actor = Actor(tenant.id, tenant.owner_id)
    line = {"product_code": code, "description": "Tea", "quantity": quantity, "net": net}
    fields = {"customer_id": customer, "currency": "CNY", "total": net, "lines": [line], "status": status}
    item = entities.new_item(ORDER, actor, {**fields, "confirmed_at": at}, now=at)
    STORE.transact(entities.create_operations(ORDER, actor, item))


def test_a_dearer_supply_at_the_same_price_is_told_as_a_cost_problem(api):
    tenant = a_tenant(api, "Insight Tea Co")
    previous, this = _months()
    tea = a_product(api, tenant, "TEA", standard_cost="6", list_price="10")
    store = a_warehouse(api, tenant, "SH")
    customer = a_customer(api, tenant)["id"]
    an_order(tenant, customer, "tea", "5", "50.00", f"{previous}-10T08:00:00.000000Z")  # the SKU in any case
    an_order(tenant, customer, "TEA", "5", "50.00", f"{previous}-20T08:00:00.000000Z")
    an_order(tenant, customer, "TEA", "10", "100.00", f"{this}-01T08:00:00.000000Z")
    an_order(tenant, customer, "TEA", "99", "990.00", f"{this}-01T09:00:00.000000Z", status="cancelled")
    supplier = a_supplier(api, tenant)
    lines = [{"product_id": tea["id"], "quantity": "20", "unit_cost": "8"}]
    po = api.post("/erp/purchase-orders", tenant.token, {"supplier_id": supplier["id"], "lines": lines}).json
    assert api.post(f"/erp/purchase-orders/{po['id']}/order", tenant.token).status == 200
    body = {"warehouse_id": store["id"], "lines": [{"line": 1, "quantity": "20"}]}
    assert api.post(f"/erp/purchase-orders/{po['id']}/receive", tenant.token, body).status == 200, po
    quote = {
        "customer_id": customer,
        "currency": "CNY",
        "lines": [{"product_code": "TEA", "quantity": "3", "unit_price": "10"}],
    }
    assert api.post("/crm/quotes", tenant.token, quote).status == 201

    reply = api.get(f"/analytics/products/{tea['id']}?from={previous}&to={this}", tenant.token)
    assert reply.status == 200, reply.body
    was, now = reply.json["months"]
    assert (was["month"], was["orders"], was["quantity_sold"], was["revenue"]) == (
        previous,
        2,
        "10",
        [{"currency": "CNY", "total": "100.00"}],
    )
    assert was["unit_cost"] == [{"currency": "CNY", "total": "6.0000"}]  # no receipt: the standard cost
    assert was["margin"] == [{"currency": "CNY", "total": "40.00"}]
    assert (now["orders"], now["quantity_sold"], now["received_quantity"]) == (1, "10", "20")
    assert now["unit_cost"] == [{"currency": "CNY", "total": "8.0000"}]
    assert now["margin"] == [{"currency": "CNY", "total": "20.00"}]
    assert (now["quotes"], now["quoted_quantity"]) == (1, "3")
    assert reply.json["diagnosis"] == [
        f"CNY, {previous} to {this}: margin per unit 4.0000 to 2.0000; price +0.0%, unit cost +33.3%, "
        "quantity +0.0%, quotes new: a cost problem (the unit cost rose more than the price fell)."
    ]

    # Another company's token: no such product. A user who reads only their own orders: refused.
    assert api.get(f"/analytics/products/{tea['id']}", a_tenant(api, "Other Co").token).status == 404
    _, rep = a_user(api, tenant, ["sales_rep"])
    assert api.get(f"/analytics/products/{tea['id']}", rep).status == 403
    bad = api.get(f"/analytics/products/{tea['id']}?from={this}&to={previous}", tenant.token)
    assert bad.status == 400 and bad.json["errors"][0]["loc"] == ["query", "from"]
    arabic_digits = url_quote("2\u0660\u0662\u0666-11")
    arabic = api.get(f"/analytics/products/{tea['id']}?from={arabic_digits}", tenant.token)
    assert arabic.status == 400 and arabic.json["errors"][0]["loc"] == ["query", "from"], arabic.body

"""The next purchase: repeat purchases due by the customer's own interval, products bought together
by others, each with its reason; churn risk on the 360 view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import a_customer, a_tenant, a_user
from tests.test_stock import a_product

# History is written straight to the table, stamped in the past (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("backdated_writes")

NOW = datetime.now(UTC)


def an_order(tenant, customer_id, codes, days_ago, status="confirmed", by=None):
    """A confirmed order (and on) of ``codes`` written through the orders' own write path, owned by
    the user ``by`` (the owner by default)."""
    from chalicelib.api.web import STORE
    from chalicelib.core import entities
    from chalicelib.core.store import Actor
    from chalicelib.crm.types import ORDER

    actor = Actor(tenant.id, by or tenant.owner_id)
    at = (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lines = [
        {"product_code": c, "description": f"{c} as ordered", "quantity": "1", "net": "10.00"} for c in codes
    ]
    fields = {"customer_id": customer_id, "currency": "CNY", "total": f"{10 * len(codes)}.00", "lines": lines}
    item = entities.new_item(ORDER, actor, {**fields, "status": status, "confirmed_at": at}, now=at)
    STORE.transact(entities.create_operations(ORDER, actor, item))
    return item


def test_a_product_bought_every_30_days_and_last_bought_29_days_ago_comes_first_with_its_reason(api):
    tenant = a_tenant(api)
    products = {sku: a_product(api, tenant, sku) for sku in ("TEA", "CUP", "POT", "TIN", "OLD")}
    assert (
        api.patch(f"/erp/products/{products['OLD']['id']}", tenant.token, {"sellable": False}).status == 200
    )
    me, others = a_customer(api, tenant)["id"], [a_customer(api, tenant)["id"] for _ in range(5)]
    for n in range(6):  # TEA every 30 days, the last 29 days ago
        an_order(tenant, me, ["TEA"], 29 + 30 * n)
    an_order(tenant, me, ["POT"], 100)  # every 90 days, the last 10 days ago: far from due
    an_order(tenant, me, ["POT"], 10)
    an_order(tenant, me, ["OLD"], 200)  # due long ago, but no longer sold
    an_order(tenant, me, ["OLD"], 170)
    an_order(tenant, me, ["TEA"], 5, status="cancelled")  # a cancelled order buys nothing
    for n, other in enumerate(others):  # others buy CUP with TEA in 4 of 10 orders of TEA
        an_order(tenant, other, ["TEA", "CUP"] if n < 4 else ["TEA"], 40 + n)
        an_order(tenant, other, ["TIN"], 40 + n)
    an_order(tenant, others[0], ["TEA", "OLD"], 3)
    an_order(tenant, others[1], ["TEA", "OLD"], 3)

    reply = api.get(f"/crm/customers/{me}/recommendations", tenant.token)
    assert reply.status == 200, reply.body
    items = reply.json["items"]
    first = items[0]
    assert (first["product_code"], first["source"]) == ("TEA", "repeat"), items
    assert (
        first["reason"]
        == "Bought every 30.0 days on average (6 orders); last bought 29.0 days ago: due in 1 days."
    )
    assert abs(float(first["score"]) - 29 / 30) < 0.001 and first["description"] == "TEA as ordered"
    assert first["expected_at"][:10] == (NOW + timedelta(days=1)).date().isoformat()
    cup = next(i for i in items if i["product_code"] == "CUP")
    # TEA is in 7 of the others' orders and 6 of mine: CUP in 4 of its 13, times 0.9.
    assert (cup["source"], cup["score"], cup["description"]) == ("together", "0.2769", "Product CUP")
    assert cup["reason"] == "Bought with TEA (which this customer buys) in 4 of 13 orders of TEA."
    assert cup["product_id"] == products["CUP"]["id"] and first["product_id"] == products["TEA"]["id"]
    codes = [i["product_code"] for i in items]
    assert "OLD" not in codes and "TIN" not in codes  # not sold any more; never bought with TEA
    assert "POT" not in codes  # a ninth of its interval gone: not due
    assert reply.json["churn_risk"]["level"] == "low"


def test_a_user_who_reads_only_their_own_orders_gets_repeats_from_them_and_nothing_bought_together(api):
    tenant = a_tenant(api)
    for sku in ("TEA", "CUP", "POT"):
        a_product(api, tenant, sku)
    rep, rep_token = a_user(api, tenant, ["sales_rep"])
    customer = api.post("/crm/customers", rep_token, {"name": "Rep's Own Tea House", "kind": "company"}).json[
        "id"
    ]
    for days in (87, 58, 29):
        an_order(tenant, customer, ["TEA"], days, by=rep)  # the rep's: TEA every 29 days, due now
    for days in (29, 19, 9):
        an_order(tenant, customer, ["CUP"], days)  # a colleague's: CUP every 10 days, due now
    other = a_customer(api, tenant)["id"]
    for days in (40, 41, 42):
        an_order(tenant, other, ["TEA", "POT"], days)  # POT is bought with TEA

    mine = api.get(f"/crm/customers/{customer}/recommendations", rep_token)
    assert mine.status == 200, mine.body
    assert [(i["product_code"], i["source"]) for i in mine.json["items"]] == [("TEA", "repeat")]
    assert mine.json["churn_risk"]["usual_interval_days"] == "29.0"
    whole = api.get(f"/crm/customers/{customer}/recommendations", tenant.token).json
    assert {(i["product_code"], i["source"]) for i in whole["items"]} == {
        ("TEA", "repeat"),
        ("CUP", "repeat"),
        ("POT", "together"),
    }
    assert whole["churn_risk"]["usual_interval_days"] == "15.6"  # six orders over 78 days
    # Another rep's customer is not theirs to see; a user without the orders' read is refused.
    assert api.get(f"/crm/customers/{other}/recommendations", rep_token).status == 404
    _, service = a_user(api, tenant, ["service"])
    refused = api.get(f"/crm/customers/{customer}/recommendations", service)
    assert refused.status == 403 and refused.json["permission"] == "crm.orders:read"

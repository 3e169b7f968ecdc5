"""Idempotency-Key on POST: a retried request answers the first answer and does nothing twice."""

from __future__ import annotations

from tests.conftest import a_customer, a_tenant


def test_a_retried_create_makes_one_record(api, tenant):
    body = {"name": "Retry Co", "kind": "company"}
    first = api.post("/crm/customers", tenant.token, body, headers={"Idempotency-Key": "create-retry-co"})
    again = api.post("/crm/customers", tenant.token, body, headers={"Idempotency-Key": "create-retry-co"})
    assert first.status == again.status == 201 and first.json["id"] == again.json["id"]
    assert again.headers.get("idempotent-replayed") == "true" and "idempotent-replayed" not in first.headers
    assert [c["id"] for c in api.get("/crm/customers?name_prefix=retry co", tenant.token).json["items"]] == [first.json["id"]]

    other = api.post("/crm/customers", tenant.token, {**body, "name": "Other Co"}, headers={"Idempotency-Key": "create-retry-co"})
    assert other.status == 422 and other.json["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert api.get("/crm/customers?name_prefix=other co", tenant.token).json["items"] == []


def test_an_action_with_a_key_is_replayed_and_keys_are_per_company(api, tenant):
    customer = a_customer(api, tenant)
    lines = [{"product_code": "X", "quantity": 1, "unit_price": 1}]
    order = api.post("/crm/orders", tenant.token, {"customer_id": customer["id"], "currency": "CNY", "lines": lines}).json
    path = f"/crm/orders/{order['id']}/cancel"
    first = api.post(path, tenant.token, {"reason": "r"}, headers={"Idempotency-Key": "k1"})
    again = api.post(path, tenant.token, {"reason": "r"}, headers={"Idempotency-Key": "k1"})
    assert again.status == first.status == 200 and again.json == first.json  # the first answer, not a second cancel
    assert again.headers.get("idempotent-replayed") == "true"
    # The same key in another company is another request.
    elsewhere = a_tenant(api, "Elsewhere Ltd")
    made = api.post("/crm/customers", elsewhere.token, {"name": "Retry Co", "kind": "company"}, headers={"Idempotency-Key": "k1"})
    assert made.status == 201 and "idempotent-replayed" not in made.headers
    too_long = api.post(
        "/crm/customers", tenant.token, {"name": "Long", "kind": "company"}, headers={"Idempotency-Key": "x" * 300}
    )
    assert too_long.status == 400

"""Idempotency-Key on POST: a retried request answers the first answer and does nothing twice."""

from __future__ import annotations

from tests.conftest import a_customer, a_tenant


def test_a_retried_create_makes_one_record(api, tenant):
    body = {"name": "Retry Co", "kind": "company"}
    first = api.post("/crm/customers", tenant.token, body, headers={"Idempotency-Key": "create-retry-co"})
    again = api.post("/crm/customers", tenant.token, body, headers={"Idempotency-Key": "create-retry-co"})
    assert first.status == again.status == 201 and first.json["id"] == again.json["id"]
    assert again.headers.get("idempotent-replayed") == "true" and "idempotent-replayed" not in first.headers
    assert [c["id"] for c in api.get("/crm/customers?name_prefix=retry co", tenant.token).json["items"]] == [
        first.json["id"]
    ]

    other = api.post(
        "/crm/customers",
        tenant.token,
        {**body, "name": "Other Co"},
        headers={"Idempotency-Key": "create-retry-co"},
    )
    assert other.status == 422 and other.json["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert api.get("/crm/customers?name_prefix=other co", tenant.token).json["items"] == []


def test_an_action_with_a_key_is_replayed_and_keys_are_per_company(api, tenant):
    customer = a_customer(api, tenant)
    lines = [{"product_code": "X", "quantity": 1, "unit_price": 1}]
    order = api.post(
        "/crm/orders", tenant.token, {"customer_id": customer["id"], "currency": "CNY", "lines": lines}
    ).json
    path = f"/crm/orders/{order['id']}/cancel"
    first = api.post(path, tenant.token, {"reason": "r"}, headers={"Idempotency-Key": "k1"})
    again = api.post(path, tenant.token, {"reason": "r"}, headers={"Idempotency-Key": "k1"})
    assert (
        again.status == first.status == 200 and again.json == first.json
    )  # the first answer, not a second cancel
    assert again.headers.get("idempotent-replayed") == "true"
    # The same key in another company is another request.
    elsewhere = a_tenant(api, "Elsewhere Ltd")
    made = api.post(
        "/crm/customers",
        elsewhere.token,
        {"name": "Retry Co", "kind": "company"},
        headers={"Idempotency-Key": "k1"},
    )
    assert made.status == 201 and "idempotent-replayed" not in made.headers
    too_long = api.post(
        "/crm/customers",
        tenant.token,
        {"name": "Long", "kind": "company"},
        headers={"Idempotency-Key": "x" * 300},
    )
    assert too_long.status == 400


def _import(api, token, data: bytes, query: str, key: str):
    return api.call(
        "POST",
        f"/import/customers{query}",
        token,
        raw=data,
        headers={"content-type": "text/csv", "Idempotency-Key": key},
    )


def _customers_csv(rows: list[tuple[str, str, str]]) -> bytes:
    lines = ["code,name,email", *(",".join(r) for r in rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_the_same_key_with_another_query_is_not_answered_with_the_first_answer(api, tenant):
    data = _customers_csv([("Q-1", "Query Co", "buyer@query.example")])
    dry = _import(api, tenant.token, data, "?dry_run=true", "import-q")
    assert dry.status == 200 and dry.json["dry_run"] is True
    real = _import(api, tenant.token, data, "?dry_run=false", "import-q")
    assert real.status == 422, real.body  # not the dry run's answer replayed
    assert real.json["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert "idempotent-replayed" not in real.headers
    assert api.get("/crm/customers?name_prefix=query co", tenant.token).json["items"] == []
    # The same query in another order is the same request: the dry run's answer again.
    again = _import(api, tenant.token, data, "?dry_run=true&encoding=utf-8", "import-q2")
    reordered = _import(api, tenant.token, data, "?encoding=utf-8&dry_run=true", "import-q2")
    assert reordered.headers.get("idempotent-replayed") == "true" and reordered.json == again.json


def test_an_answer_over_the_item_limit_is_kept_and_replayed(api, tenant, monkeypatch):
    # One good row and thousands of bad ones, every error listed: an answer well over 400 KB. (The
    # import lists 1,000 at most; any route's answer may outgrow an item, so the cap is lifted here.)
    from chalicelib.core import tabular as transfer

    monkeypatch.setattr(transfer, "MAX_ERRORS", 10_000)
    rows = [("BIG-1", "Big Answer Co", "buyer@big.example")]
    rows += [(f"BAD-{n}", f"Bad {n}", f"not-an-email-{n}") for n in range(4000)]
    first = _import(api, tenant.token, _customers_csv(rows), "", "import-big")
    assert first.status == 200, first.body[:300]
    assert len(first.body) > 400 * 1024 and first.json["created"] == 1 and first.json["failed"] == 4000
    again = _import(api, tenant.token, _customers_csv(rows), "", "import-big")
    assert again.status == 200 and again.body == first.body
    assert again.headers.get("idempotent-replayed") == "true"
    assert len(api.get("/crm/customers?name_prefix=big answer", tenant.token).json["items"]) == 1


def test_keyed_requests_are_kept_under_the_company_keys(api, aws, tenant):
    import boto3

    api.post(
        "/crm/customers",
        tenant.token,
        {"name": "Kept Co", "kind": "company"},
        headers={"Idempotency-Key": "kept"},
    )
    table = boto3.client("dynamodb", region_name=aws.region)

    def count(pk: str) -> int:
        values = {":pk": {"S": pk}}
        return table.query(
            TableName=aws.table_name, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=values
        )["Count"]

    assert count("P#IDEMPOTENCY#api") == 0
    assert count(f"T#{tenant.id}#IDEMPOTENCY") == 1

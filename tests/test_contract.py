"""No input is a 500, and /openapi.json says what the server does: the causes a fuzzer found, each
reproduced by hand (dates, nesting, numbers, key sizes, nulls) and the contract's gaps."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.conftest import a_customer
from tests.test_errors import assert_problem


def locs(problem) -> list[list[str]]:
    """Each error's location, and the prefixes of those that go deeper (a union's branches)."""
    return [e["loc"][:n] for e in problem["errors"] for n in range(1, len(e["loc"]) + 1)]


def a_draft_invoice(api, tenant) -> dict:
    customer = a_customer(api, tenant)
    body = {
        "customer_id": customer["id"],
        "lines": [{"description": "goods", "quantity": "1", "unit_price": "10"}],
    }
    reply = api.post("/erp/invoices", tenant.token, body)
    assert reply.status == 201, reply.body
    return reply.json


def test_a_query_that_breaks_a_rule_is_400_as_any_bad_query(api, tenant):
    problem = assert_problem(api.get("/admin/audit?entity_id=x", tenant.token), 400, "bad-request")
    assert ["query", "entity_type"] in locs(problem)


# ---- dates and instants: one type each, refusing the impossible and what overflows -----------------
@pytest.mark.parametrize("day", ["2024-02-30", "2024-13-01", "2023-02-29", "20240101", "9999-12-31"])
def test_an_impossible_or_overflowing_issue_date_is_422_and_the_invoice_stays_a_draft(api, tenant, day):
    invoice = a_draft_invoice(api, tenant)
    problem = assert_problem(
        api.post(f"/erp/invoices/{invoice['id']}/issue", tenant.token, {"issue_date": day}),
        422,
        "validation-error",
    )
    assert ["body", "issue_date"] in locs(problem)
    assert api.get(f"/erp/invoices/{invoice['id']}", tenant.token).json["status"] == "draft"


def test_a_payment_received_on_an_impossible_day_is_refused_and_not_stored(api, tenant):
    customer = a_customer(api, tenant)
    body = {"customer_id": customer["id"], "amount": "10", "received_on": "2024-02-30"}
    problem = assert_problem(api.post("/erp/payments", tenant.token, body), 422, "validation-error")
    assert ["body", "received_on"] in locs(problem)
    assert api.get(f"/erp/payments?customer_id={customer['id']}", tenant.token).json["items"] == []


@pytest.mark.parametrize("as_of", ["2024-02-30", "9999-12-32", "0"])
def test_aging_as_of_an_impossible_day_is_400_naming_it(api, tenant, as_of):
    problem = assert_problem(
        api.get(f"/erp/receivables/aging?as_of={as_of}", tenant.token), 400, "bad-request"
    )
    assert ["query", "as_of"] in locs(problem)


OVERFLOWING = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:00:00-05:00",
    "0",
    "1700000000",
    "2024-02-30T00:00:00Z",
]


def sync_lists(api) -> list[str]:
    doc = api.get("/openapi.json").json
    return sorted(
        p
        for p, ops in doc["paths"].items()
        if any(q["name"] == "updated_since" for q in ops.get("get", {}).get("parameters", []))
    )


def test_every_sync_list_refuses_an_instant_out_of_range_or_a_number(api, tenant):
    paths = sync_lists(api)
    assert len(paths) == 17
    for path in paths:
        for value in OVERFLOWING:
            reply = api.get(f"{path}?updated_since={quote(value)}", tenant.token)
            problem = assert_problem(reply, 400, "bad-request")
            assert ["query", "updated_since"] in locs(problem), (path, value)
        assert (
            api.get(f"{path}?updated_since={quote('2024-01-01T08:00:00+08:00')}", tenant.token).status == 200
        )


@pytest.mark.parametrize("name", ["from", "to"])
def test_the_audit_window_refuses_an_instant_out_of_range(api, tenant, name):
    for value in OVERFLOWING[:2]:
        problem = assert_problem(
            api.get(f"/admin/audit?{name}={quote(value)}", tenant.token), 400, "bad-request"
        )
        assert ["query", name] in locs(problem)


@pytest.mark.parametrize("field", ["occurred_at", "due_at"])
def test_an_activity_at_an_instant_out_of_range_is_422_and_not_stored(api, tenant, field):
    customer = a_customer(api, tenant)
    for value in OVERFLOWING:
        body = {"kind": "call", "customer_id": customer["id"], "subject": "s", field: value}
        problem = assert_problem(api.post("/crm/activities", tenant.token, body), 422, "validation-error")
        assert ["body", field] in locs(problem)
    assert api.get(f"/crm/activities?customer_id={customer['id']}", tenant.token).json["items"] == []


# ---- JSON nesting, big numbers, key sizes -------------------------------------------------------------
@pytest.mark.parametrize("depth", [10_000, 100])
def test_json_nested_too_deep_is_400_on_every_json_route(api, tenant, depth):
    nested = "[" * depth + "]" * depth
    for method, path in (("POST", "/crm/customers"), ("PUT", "/crm/sla"), ("POST", "/auth/login")):
        raw = ('{"name": "x", "kind": "person", "custom_fields": {"deep": ' + nested + "}}").encode()
        problem = assert_problem(api.call(method, path, tenant.token, raw=raw), 400, "bad-request")
        assert ["body"] in locs(problem)
    assert api.get("/crm/customers", tenant.token).json["items"] == []


def test_a_custom_field_integer_beyond_dynamodb_numbers_is_422(api, tenant):
    for value in (10**38, -(10**38), 10**100):
        raw = json.dumps(
            {"name": "Big Numbers Co", "kind": "company", "custom_fields": {"n": value}}
        ).encode()
        problem = assert_problem(
            api.call("POST", "/crm/customers", tenant.token, raw=raw), 422, "validation-error"
        )
        assert ["body", "custom_fields", "n"] in locs(problem)
    assert api.get("/crm/customers", tenant.token).json["items"] == []
    largest = a_customer(api, tenant, custom_fields={"n": 10**38 - 1, "m": -(10**38 - 1)})
    assert api.get(f"/crm/customers/{largest['id']}", tenant.token).json["custom_fields"] == {
        "n": 10**38 - 1,
        "m": -(10**38 - 1),
    }


GROWS = "\ufdfa" * 31  # 31 characters, 1,023 bytes once NFKC spells each ligature out


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/crm/customers", {"name": GROWS, "kind": "company"}, "name"),
        ("/crm/leads", {"name": GROWS}, "name"),
        ("/erp/suppliers", {"code": "S-NFKC", "name": GROWS}, "name"),
        ("/erp/products", {"sku": "P-NFKC", "name": "Tea", "category": "\ufdfa" * 30}, "category"),
    ],
)
def test_text_that_grows_past_the_key_limit_under_nfkc_is_422(api, tenant, path, body, field):
    problem = assert_problem(api.post(path, tenant.token, body), 422, "validation-error")
    assert ["body", field] in locs(problem)
    assert api.get(path, tenant.token).json["items"] == []


def test_a_name_prefix_that_grows_past_the_key_limit_is_400(api, tenant):
    problem = assert_problem(
        api.get(f"/crm/customers?name_prefix={quote(GROWS)}", tenant.token), 400, "bad-request"
    )
    assert ["query", "name_prefix"] in locs(problem)


def test_long_names_in_any_script_still_fit(api, tenant):
    for name in ("张" * 200, "😀" * 200, "\ufdfa" * 20):
        assert a_customer(api, tenant, name=name)["name"] == name


@pytest.mark.parametrize(
    "email", ["a\x00b@example.com", "a\x07@example.com", "ab@exa\x1fmple.com", "a@example.c\x7fm"]
)
def test_an_email_with_a_control_character_is_422(api, tenant, email):
    problem = assert_problem(
        api.post("/crm/leads", tenant.token, {"name": "Lead", "email": email}), 422, "validation-error"
    )
    assert ["body", "email"] in locs(problem)


@pytest.mark.parametrize("email", ["#" * 200 + "@example.com", "a@" + "例" * 200 + ".cn"])
def test_an_email_too_long_for_its_lookup_key_is_422(api, tenant, email):
    problem = assert_problem(
        api.post("/crm/leads", tenant.token, {"name": "Lead", "email": email}), 422, "validation-error"
    )
    assert ["body", "email"] in locs(problem)
    assert api.get("/crm/leads", tenant.token).json["items"] == []


def test_the_longest_emails_still_fit(api, tenant):
    for email in (
        "#" * 64 + "@example.com",
        "a@" + "例" * 80 + ".cn",
    ):  # the local part's 64 octets; 246 bytes
        reply = api.post("/crm/leads", tenant.token, {"name": "Lead", "email": email})
        assert reply.status == 201 and reply.json["email"] == email


# ---- nulls in a PATCH ---------------------------------------------------------------------------------
def test_a_supplier_patched_with_null_email_and_phone_clears_them_and_still_lists(api, tenant):
    supplier = api.post(
        "/erp/suppliers", tenant.token, {"code": "S-NULL", "name": "Leaf", "email": "a@leaf.example"}
    ).json
    reply = api.patch(f"/erp/suppliers/{supplier['id']}", tenant.token, {"email": None, "phone": None})
    assert reply.status == 200, reply.body
    assert (reply.json["email"], reply.json["phone"]) == ("", "")
    listed = api.get("/erp/suppliers", tenant.token)
    assert listed.status == 200 and [s["email"] for s in listed.json["items"]] == [""]
    problem = assert_problem(
        api.patch(f"/erp/suppliers/{supplier['id']}", tenant.token, {"name": None}), 422, "validation-error"
    )
    assert ["body", "name"] in locs(problem)


# ---- strict bodies and queries --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/crm/activities", {"kind": "call", "subject": "s", "done": "yes"}, "done"),
        ("/crm/activities", {"kind": "call", "subject": "s", "occurred_at": 0}, "occurred_at"),
        (
            "/erp/suppliers",
            {"code": "S-BOOL", "name": "Leaf", "payment_terms_days": True},
            "payment_terms_days",
        ),
        (
            "/erp/suppliers",
            {"code": "S-TEXT", "name": "Leaf", "payment_terms_days": "30"},
            "payment_terms_days",
        ),
        ("/crm/contacts", {"name": "P", "marketing_consent": 1}, "marketing_consent"),
        ("/crm/customers", {"name": 5, "kind": "company"}, "name"),
        ("/crm/opportunities", {"name": "Deal", "currency": "CNY", "amount": True}, "amount"),
        ("/crm/opportunities", {"name": "Deal", "currency": "CNY", "amount": "1e3"}, "amount"),
        ("/crm/opportunities", {"name": "Deal", "currency": "CNY", "amount": " 12"}, "amount"),
        ("/crm/opportunities", {"name": "Deal", "currency": "CNY", "amount": "١٢"}, "amount"),
        ("/crm/opportunities", {"name": "Deal", "currency": "CNY", "amount": "12\n"}, "amount"),
        (
            "/crm/opportunities",
            {"name": "Deal", "currency": "CNY", "expected_close_date": 0},
            "expected_close_date",
        ),
    ],
)
def test_a_json_body_is_not_coerced(api, tenant, path, body, field):
    customer = a_customer(api, tenant)
    body = (
        {**body, "customer_id": customer["id"]}
        if path != "/erp/suppliers" and path != "/crm/customers"
        else body
    )
    problem = assert_problem(api.post(path, tenant.token, body), 422, "validation-error")
    assert ["body", field] in locs(problem)


def test_amounts_are_still_read_exactly_from_json_numbers_and_text(api, tenant):
    customer = a_customer(api, tenant)
    line = b'{"product_code": "A", "quantity": 1.5, "unit_price": 12.3456, "tax_rate": "13"}'
    raw = b'{"customer_id": "%s", "currency": "CNY", "lines": [%s]}' % (customer["id"].encode(), line)
    reply = api.call("POST", "/crm/quotes", tenant.token, raw=raw)
    assert reply.status == 201, reply.body
    assert (reply.json["lines"][0]["quantity"], reply.json["lines"][0]["unit_price"]) == ("1.5", "12.3456")
    lines = [{"product_code": "A", "quantity": "1", "unit_price": "-0"}]
    problem = assert_problem(
        api.post(
            "/crm/quotes", tenant.token, {"customer_id": customer["id"], "currency": "CNY", "lines": lines}
        ),
        422,
        "validation-error",
    )
    assert ["body", "lines", "0", "unit_price"] in locs(problem)


def test_error_locations_are_strings_as_the_schema_says(api, tenant):
    customer = a_customer(api, tenant)
    lines = [{"product_code": "NO-SUCH-SKU", "quantity": "1", "unit_price": "1"}]
    order = api.post(
        "/crm/orders", tenant.token, {"customer_id": customer["id"], "currency": "CNY", "lines": lines}
    ).json
    problem = assert_problem(
        api.post(f"/crm/orders/{order['id']}/confirm", tenant.token), 422, "validation-error"
    )
    assert problem["errors"][0]["loc"] == ["body", "lines", "0", "product_code"]


# ---- methods and the document ---------------------------------------------------------------------------
def test_a_wrong_method_names_the_allowed_ones(api, tenant):
    reply = api.call("PUT", "/crm/customers", tenant.token, {"name": "x"})
    assert_problem(reply, 405, "method-not-allowed")
    assert set(reply.headers["allow"].split(", ")) == {"GET", "POST"}
    assert set(api.call("DELETE", "/erp/invoices", tenant.token).headers["allow"].split(", ")) == {
        "GET",
        "POST",
    }


def operation(doc, method: str, path: str) -> dict:
    return doc["paths"][path][method.lower()]


def test_every_status_the_server_answers_is_declared(api):
    doc = api.get("/openapi.json").json
    assert "401" in operation(doc, "POST", "/auth/login")["responses"]
    assert "401" in operation(doc, "POST", "/auth/refresh")["responses"]
    assert {"400", "413", "415", "422"} <= operation(doc, "POST", "/import/{entity}")["responses"].keys()
    for path in ("/crm/quotes/{quote_id}/accept", "/crm/leads/{lead_id}/convert"):
        assert {"200", "201"} <= operation(doc, "POST", path)["responses"].keys()
    actions = [
        (p, op)
        for p, ops in doc["paths"].items()
        for m, op in ops.items()
        if m == "post" and "If-Match" in {q["name"] for q in op["parameters"]}
    ]
    assert len(actions) >= 20
    for path, op in actions:
        assert {"409", "412"} <= op["responses"].keys(), path
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for code, response in op["responses"].items():
                assert "X-Request-Id" in response.get("headers", {}), (method, path, code)


def test_bodies_that_may_be_omitted_are_declared_optional(api):
    doc = api.get("/openapi.json").json
    for path in (
        "/crm/quotes/{quote_id}/reject",
        "/erp/invoices/{invoice_id}/issue",
        "/admin/reconciliation/run",
    ):
        assert operation(doc, "POST", path)["requestBody"]["required"] is False, path
    assert operation(doc, "POST", "/crm/customers")["requestBody"]["required"] is True


def test_import_takes_csv_and_export_answers_csv_in_the_document(api):
    doc = api.get("/openapi.json").json
    body = operation(doc, "POST", "/import/{entity}")["requestBody"]
    assert body["required"] is True and list(body["content"]) == ["text/csv"]
    exported = operation(doc, "GET", "/export/{entity}")["responses"]["200"]["content"]
    assert list(exported) == ["text/csv"]


def test_decimal_fields_are_declared_as_decimal_text_or_number(api):
    doc = api.get("/openapi.json").json
    line = doc["components"]["schemas"]["LineIn"]["properties"]
    for field in ("quantity", "unit_price", "discount_percent", "tax_rate"):
        kinds = {s["type"]: s for s in line[field]["anyOf"]}
        assert set(kinds) == {"string", "number"}, field
        assert kinds["string"]["pattern"] and "maximum" in kinds["number"], field

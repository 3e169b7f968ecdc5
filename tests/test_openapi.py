"""GET /openapi.json: a valid OpenAPI 3.1 document covering every route with its permission."""

from __future__ import annotations

from openapi_spec_validator import validate

from tests.routes import CALLS


def test_the_document_is_valid_openapi_31(api):
    r = api.get("/openapi.json")
    assert r.status == 200
    doc = r.json
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_every_route_is_documented_with_its_permission(api):
    from app import app

    doc = api.get("/openapi.json").json
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == {(m, p) for p, methods in app.routes.items() for m in methods}
    for call in CALLS:
        op = doc["paths"][call.route][call.method.lower()]
        assert op["security"] == [{"bearer": []}]
        if call.route != "/me" and not call.route.startswith("/jobs"):  # any user: no permission
            assert op["x-permission"] and op["x-permission"] in op["description"]
    assert doc["paths"]["/tenants"]["post"]["security"] == []
    # Every authenticated POST takes an Idempotency-Key (the promise), and says so.
    posts = [op for ops in doc["paths"].values() for m, op in ops.items() if m == "post" and op["security"]]
    assert len(posts) > 40 and all(
        any(p["name"] == "Idempotency-Key" for p in op["parameters"]) for op in posts
    )


def test_schemas_come_from_the_models(api):
    doc = api.get("/openapi.json").json
    create = doc["paths"]["/crm/customers"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    schema = doc["components"]["schemas"][ref]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "kind"}
    assert "422" in create["responses"] and "409" in create["responses"]
    params = {p["name"] for p in doc["paths"]["/crm/customers"]["get"]["parameters"]}
    assert params == {
        "limit",
        "cursor",
        "updated_since",
        "name_prefix",
        "email",
        "phone",
        "owner",
        "sync",
        "sync_token",
    }
    patch = doc["paths"]["/crm/customers/{customer_id}"]["patch"]
    assert "If-Match" in {p["name"] for p in patch["parameters"]} and "412" in patch["responses"]

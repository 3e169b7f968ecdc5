"""Tenant isolation: a second tenant's token, on every route, never reaches the first tenant's data."""

from __future__ import annotations

import json

import pytest

from tests.conftest import a_tenant
from tests.routes import CALLS, OPERATOR, PUBLIC, fresh_targets


def test_the_route_table_covers_every_route_of_the_app():
    from app import app

    declared = {(method, path) for path, methods in app.routes.items() for method in methods}
    assert declared - PUBLIC - OPERATOR == {(c.method, c.route) for c in CALLS}


@pytest.fixture(scope="module")
def alpha(api):
    return a_tenant(api, "Alpha Holdings")


@pytest.fixture(scope="module")
def beta(api):
    return a_tenant(api, "Beta Industries")


COLLECTIONS = [
    "/crm/customers",
    "/admin/users",
    "/crm/contacts",
    "/crm/activities",
    "/crm/quotes",
    "/crm/orders",
    "/crm/leads",
    "/crm/opportunities",
    "/erp/products",
    "/erp/suppliers",
    "/erp/warehouses",
    "/erp/stock",
    "/erp/reservations",
    "/erp/purchase-orders",
    "/erp/work-centres",
    "/erp/boms",
    "/erp/production-orders",
    "/erp/invoices",
    "/erp/payments",
    "/erp/shipments",
]


@pytest.fixture(scope="module")
def alpha_targets(api, alpha):
    """One populated alpha for every call: beta's calls must not change it, which each test checks."""
    return fresh_targets(api, alpha)


def snapshot(api, tenant):
    state = {path: api.get(f"{path}?limit=100", tenant.token).json for path in COLLECTIONS}
    state["roles"] = api.get("/admin/roles", tenant.token).json
    state["pipeline"] = api.get("/crm/pipeline", tenant.token).json
    return state


@pytest.mark.parametrize("call", CALLS, ids=lambda c: f"{c.method} {c.route}")
def test_another_tenant_gets_404_or_only_its_own_data(api, alpha, beta, alpha_targets, call):
    targets = alpha_targets
    secrets = [
        alpha.id,
        alpha.owner_id,
        alpha.owner_email,
        targets.customer_id,
        targets.user_id,
        targets.role_name,
        "Alpha Secret Co",
        "Alpha Holdings",
        *(value for name, value in targets.erp.items() if name != "invoice_month"),  # a month is no secret
    ]
    before = snapshot(api, alpha)
    path, body = call.make(targets)
    reply = api.call(call.method, path, beta.token, body, headers=call.headers)
    sent = path + (body.decode("gbk") if isinstance(body, bytes) else json.dumps(body))
    names_an_alpha_record = "{" in call.route and "{entity}" not in call.route
    if names_an_alpha_record:
        assert reply.status == 404, (call, reply.status, reply.body)
        assert reply.content_type == "application/problem+json"
    elif body and any(s in sent for s in secrets):
        # A new record that names one of alpha's records: that record does not exist for beta.
        assert reply.status == 422, (call, reply.status, reply.body)
        assert reply.json["errors"][0]["type"] == "reference"
    else:
        assert reply.status in (200, 201, 202), (call, reply.status, reply.body)
    # The reply may echo what the caller sent (the path in `instance`), nothing else of alpha's.
    text = reply.body.decode("utf-8-sig")
    leaked = [s for s in secrets if s in text and s not in sent]
    assert not leaked, f"{call.method} {path} leaked {leaked}"
    assert snapshot(api, alpha) == before


def test_searching_by_the_other_tenants_name_finds_nothing(api, alpha, beta, alpha_targets):
    assert api.get("/crm/customers?name_prefix=alpha", alpha.token).json["items"]
    assert api.get("/crm/customers?name_prefix=alpha", beta.token).json["items"] == []


def test_the_audit_log_of_another_tenants_entity_is_empty(api, alpha, beta, alpha_targets):
    targets = alpha_targets
    query = f"/admin/audit?entity_type=customer&entity_id={targets.customer_id}"
    assert api.get(query, alpha.token).json["items"]
    assert api.get(query, beta.token).json["items"] == []
    assert api.get(f"/admin/audit?user_id={alpha.owner_id}", beta.token).json["items"] == []

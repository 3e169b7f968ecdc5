"""Every built-in role against every route: allowed or denied as docs/api.md documents."""

from __future__ import annotations

import pytest

from tests.conftest import a_tenant, a_user
from tests.routes import CALLS, fresh_targets

ADMIN_ROUTES = {(c.method, c.route) for c in CALLS if c.route.startswith("/admin")}
CUSTOMER_READ = {("GET", "/crm/customers"), ("GET", "/crm/customers/{customer_id}")}
EVERYONE = {("GET", "/me")}
ALL = {(c.method, c.route) for c in CALLS}

# Written out by hand from the documented role table, not derived from the code under test.
ALLOWED = {
    "owner": ALL,
    "admin": ALL,
    "sales": EVERYONE | CUSTOMER_READ | {("POST", "/crm/customers"), ("PATCH", "/crm/customers/{customer_id}")},
    "service": EVERYONE | CUSTOMER_READ | {("PATCH", "/crm/customers/{customer_id}")},
    "finance": EVERYONE | CUSTOMER_READ,
    "warehouse": EVERYONE | CUSTOMER_READ,
    "viewer": EVERYONE | CUSTOMER_READ,
}


@pytest.fixture(scope="module")
def company(api):
    return a_tenant(api, "Matrix Ltd")


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_role_against_every_route(api, company, role):
    _, token = a_user(api, company, [role])
    targets = fresh_targets(api, company)
    wrong = []
    for call in sorted(CALLS, key=lambda c: c.method == "DELETE"):  # deletes last: they consume the targets
        path, body = call.make(targets)
        reply = api.call(call.method, path, token, body)
        allowed = (call.method, call.route) in ALLOWED[role]
        if allowed and not 200 <= reply.status < 300:
            wrong.append(f"{call.method} {call.route}: expected success, got {reply.status} {reply.body[:200]!r}")
        if not allowed and (reply.status != 403 or reply.json.get("permission") is None):
            wrong.append(f"{call.method} {call.route}: expected 403 naming the permission, got {reply.status}")
    assert not wrong, "\n".join(wrong)

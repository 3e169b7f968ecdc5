"""Tenant administration: signup, /me, users, roles, the owner rules and the audit log."""

from __future__ import annotations

from urllib.parse import quote

from tests.conftest import PASSWORD, a_customer, a_tenant, a_user, login, unique_email


def test_signup_creates_the_company_and_its_owner(api):
    email = unique_email("founder")
    r = api.post(
        "/tenants",
        body={
            "company_name": "深圳华强电子",
            "owner_email": email,
            "owner_password": PASSWORD,
            "plan": "business",
        },
    )
    assert r.status == 202 and r.headers["location"] == "/me"
    me = api.get("/me", login(api, email)).json
    assert me["tenant"]["id"].startswith("ten_") and me["tenant"]["created_at"]
    tenant = me["tenant"]
    assert (tenant["company_name"], tenant["plan"], tenant["default_currency"]) == (
        "深圳华强电子",
        "business",
        "CNY",
    )
    assert me["user"]["email"] == email
    assert me["roles"] == ["owner"]
    assert "tenant.owners:manage" in me["permissions"] and "crm.customers:delete" in me["permissions"]


def test_signup_validates_and_makes_nothing_for_a_taken_email(api, tenant):
    bad = api.post(
        "/tenants", body={"company_name": "", "owner_email": "x", "owner_password": "short", "plan": "gold"}
    )
    assert bad.status == 422
    assert {tuple(e["loc"]) for e in bad.json["errors"]} == {
        ("body", "company_name"),
        ("body", "owner_email"),
        ("body", "owner_password"),
        ("body", "plan"),
    }
    taken = api.post(
        "/tenants",
        body={"company_name": "Copy", "owner_email": tenant.owner_email, "owner_password": PASSWORD},
    )
    assert taken.status == 202  # as for a free address (tests/test_identity_privacy.py)
    assert api.get("/me", login(api, tenant.owner_email)).json["tenant"]["company_name"] == "Acme Trading"


def test_signup_is_rate_limited_per_source(api, monkeypatch):
    import dataclasses

    from chalicelib.core import config

    limited = dataclasses.replace(config.settings(), signup_limit_per_hour=0)
    monkeypatch.setattr("chalicelib.api.routes.tenants.settings", lambda: limited)
    r = api.post(
        "/tenants", body={"company_name": "Spam", "owner_email": unique_email(), "owner_password": PASSWORD}
    )
    assert r.status == 429
    assert int(r.headers["retry-after"]) >= 1
    assert r.json["type"] == "/problems/rate-limited"


def test_wrong_password_is_401(api, tenant):
    r = api.post("/auth/login", body={"email": tenant.owner_email, "password": "wrong-password-1"})
    assert r.status == 401 and r.content_type == "application/problem+json"


def test_admin_adds_users_with_roles_and_lists_them(api, tenant):
    user_id, token = a_user(api, tenant, ["sales"])
    me = api.get("/me", token).json
    assert me["roles"] == ["sales"] and me["tenant"]["id"] == tenant.id
    assert "crm.customers:create" in me["permissions"] and "crm.customers:delete" not in me["permissions"]
    listed = api.get("/admin/users", tenant.token).json["items"]
    assert {u["id"] for u in listed} == {tenant.owner_id, user_id}
    r = api.get(f"/admin/users/{user_id}", tenant.token)
    assert r.headers["etag"] == '"1"' and r.json["enabled"] is True


def test_a_user_without_password_is_invited(api, tenant):
    r = api.post("/admin/users", tenant.token, {"email": unique_email("invitee"), "roles": ["viewer"]})
    assert r.status == 201
    assert r.json["enabled"] is True


def test_unknown_roles_are_refused(api, tenant):
    r = api.post("/admin/users", tenant.token, {"email": unique_email(), "roles": ["wizard"]})
    assert r.status == 422 and r.json["errors"][0]["loc"] == ["body", "roles"]


def test_nobody_grants_a_permission_they_do_not_hold(api, tenant):
    _, admin = a_user(api, tenant, ["admin"])
    # An admin cannot make owners, nor create a role holding the owner-only permission.
    assert (
        api.post(
            "/admin/users", admin, {"email": unique_email(), "roles": ["owner"], "password": PASSWORD}
        ).status
        == 403
    )
    r = api.post("/admin/roles", admin, {"name": "kingmaker", "permissions": ["tenant.owners:manage"]})
    assert r.status == 403
    # ... but can grant what it holds.
    assert (
        api.post("/admin/roles", admin, {"name": "clerk", "permissions": ["crm.customers:read"]}).status
        == 201
    )
    # A user who holds more than the caller cannot be changed by the caller.
    assert api.patch(f"/admin/users/{tenant.owner_id}", admin, {"enabled": False}).status == 403


def test_the_last_owner_cannot_be_removed_disabled_or_demoted(api):
    t = a_tenant(api)
    path = f"/admin/users/{t.owner_id}"
    for change in ({"enabled": False}, {"roles": ["admin"]}):
        r = api.patch(path, t.token, change)
        assert r.status == 409 and "owner" in r.json["detail"]
    assert api.delete(path, t.token).status == 409
    # With a second owner, the first may step down.
    second_id, second = a_user(api, t, ["owner"])
    assert api.patch(path, t.token, {"roles": ["admin"]}).status == 200
    assert api.patch(f"/admin/users/{second_id}", second, {"enabled": False}).status == 409
    assert api.get("/me", second).json["roles"] == ["owner"]


def test_custom_roles_grant_their_permissions(api, tenant):
    r = api.post(
        "/admin/roles",
        tenant.token,
        {"name": "readonly-crm", "description": "Looks only", "permissions": ["crm.customers:read"]},
    )
    assert r.status == 201 and r.headers["etag"] == '"1"'
    user_id, token = a_user(api, tenant, ["readonly-crm"])
    a_customer(api, tenant)
    assert api.get("/crm/customers", token).status == 200
    assert api.post("/crm/customers", token, {"name": "n", "kind": "person"}).status == 403
    r = api.put(
        "/admin/roles/readonly-crm",
        tenant.token,
        {"description": "Reads and creates", "permissions": ["crm.customers:read", "crm.customers:create"]},
        headers={"if-match": '"1"'},
    )
    assert r.status == 200 and r.json["version"] == 2
    assert api.post("/crm/customers", token, {"name": "n", "kind": "person"}).status == 201
    stale = api.put(
        "/admin/roles/readonly-crm", tenant.token, {"permissions": []}, headers={"if-match": '"1"'}
    )
    assert stale.status == 412
    # A role that somebody holds cannot be deleted.
    assert api.delete("/admin/roles/readonly-crm", tenant.token).status == 409
    assert api.patch(f"/admin/users/{user_id}", tenant.token, {"roles": ["viewer"]}).status == 200
    assert api.delete("/admin/roles/readonly-crm", tenant.token).status == 204
    names = [role["name"] for role in api.get("/admin/roles", tenant.token).json["items"]]
    assert "readonly-crm" not in names and "owner" in names


def test_role_names_and_permissions_are_checked(api, tenant):
    assert api.post("/admin/roles", tenant.token, {"name": "sales", "permissions": []}).status == 409
    r = api.post("/admin/roles", tenant.token, {"name": "odd", "permissions": ["crm.customers:fly"]})
    assert r.status == 422 and r.json["errors"][0]["loc"] == ["body", "permissions"]
    assert api.put("/admin/roles/owner", tenant.token, {"permissions": []}).status == 409
    assert api.put("/admin/roles/nosuch", tenant.token, {"permissions": []}).status == 404


def test_removing_a_user_revokes_access(api, tenant):
    user_id, token = a_user(api, tenant, ["viewer"])
    assert api.delete(f"/admin/users/{user_id}", tenant.token).status == 204
    assert api.get("/crm/customers", token).status == 401
    assert api.get(f"/admin/users/{user_id}", tenant.token).status == 404


def test_audit_filters_by_entity_user_and_time(api):
    t = a_tenant(api)
    sales_id, sales = a_user(api, t, ["sales"])
    mine = a_customer(api, t, name="By owner")
    r = api.post("/crm/customers", sales, {"name": "By sales", "kind": "person"})
    theirs = r.json
    everything = api.get("/admin/audit", t.token).json["items"]
    assert [e["action"] for e in everything][:3] == ["customer.create", "customer.create", "user.create"]
    by_sales = api.get(f"/admin/audit?user_id={sales_id}", t.token).json["items"]
    assert [e["entity_id"] for e in by_sales] == [theirs["id"]]
    only_users = api.get("/admin/audit?entity_type=user", t.token).json["items"]
    assert {e["entity_id"] for e in only_users} == {t.owner_id, sales_id}
    one = api.get(f"/admin/audit?entity_type=customer&entity_id={mine['id']}", t.token).json["items"]
    assert [e["action"] for e in one] == ["customer.create"]
    cut = everything[1]["at"]
    older = api.get(f"/admin/audit?to={quote(cut)}", t.token).json["items"]
    assert [e["id"] for e in older] == [e["id"] for e in everything[1:]]
    newer = api.get(f"/admin/audit?from={quote(cut)}", t.token).json["items"]
    assert [e["id"] for e in newer] == [e["id"] for e in everything[:2]]
    assert api.get("/admin/audit?entity_id=x", t.token).status == 400


def test_a_password_is_used_exactly_as_typed(api):
    email = unique_email("spaces")
    password = " with spaces 42 "
    r = api.post(
        "/tenants", body={"company_name": "Spaces", "owner_email": email, "owner_password": password}
    )
    assert r.status == 202
    assert api.post("/auth/login", body={"email": email, "password": password}).status == 200
    assert api.post("/auth/login", body={"email": email, "password": password.strip()}).status == 401

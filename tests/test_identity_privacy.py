"""Identity does not tell who exists: signup and invitations answer an address in use exactly as a
free one, a weak password is refused before existence is asked, invitations are rate limited per
company, and the pool is set so that nobody gets around the API."""

from __future__ import annotations

import dataclasses

import boto3

from tests.conftest import PASSWORD, a_tenant, login, unique_email

WEAK = "onlyletters"  # long enough, but no digit: the pool's policy refuses it


def signup(api, email: str, password: str = PASSWORD, name: str = "Probe Co"):
    return api.post("/tenants", body={"company_name": name, "owner_email": email, "owner_password": password})


def test_signup_answers_a_taken_address_exactly_as_a_free_one(api, tenant):
    free = signup(api, unique_email("free"))
    taken = signup(api, tenant.owner_email, name="Squatter Co")
    assert (taken.status, taken.json, taken.headers.get("location")) == (
        free.status,
        free.json,
        free.headers.get("location"),
    )
    assert free.status == 202 and tenant.id not in taken.body.decode()
    # Nothing changed for the address's owner: same company, same password.
    assert api.get("/me", login(api, tenant.owner_email)).json["tenant"]["id"] == tenant.id


def test_a_probe_with_a_weak_password_learns_nothing(api, tenant):
    for email in (tenant.owner_email, unique_email("free")):
        r = signup(api, email, WEAK)
        assert r.status == 422 and [e["loc"] for e in r.json["errors"]] == [["body", "owner_password"]], (
            r.body
        )
        r = api.post("/admin/users", tenant.token, {"email": email, "roles": ["viewer"], "password": WEAK})
        assert r.status == 422 and [e["loc"] for e in r.json["errors"]] == [["body", "password"]], r.body


def test_inviting_another_companys_user_looks_like_inviting_a_new_one(api, tenant):
    other = a_tenant(api, "Other Co")
    new = api.post("/admin/users", tenant.token, {"email": unique_email("new"), "roles": ["viewer"]})
    theirs = api.post("/admin/users", tenant.token, {"email": other.owner_email, "roles": ["viewer"]})
    assert new.status == theirs.status == 201, theirs.body
    assert (
        set(theirs.json) == set(new.json)
        and theirs.json["enabled"] is True
        and theirs.json["roles"] == ["viewer"]
    )
    assert other.id not in theirs.body.decode() and theirs.json["id"] != other.owner_id
    listed = {u["email"] for u in api.get("/admin/users", tenant.token).json["items"]}
    assert other.owner_email in listed
    # Whatever this company does with its invitation, the other company's user is untouched.
    pending = theirs.json["id"]
    assert api.patch(f"/admin/users/{pending}", tenant.token, {"enabled": False}).status == 200
    assert api.delete(f"/admin/users/{pending}", tenant.token).status == 204
    token = login(api, other.owner_email)
    assert api.get("/me", token).json["tenant"]["id"] == other.id
    # Inviting someone already in this company is a conflict: the admin sees them in the list anyway.
    mine = api.post("/admin/users", tenant.token, {"email": tenant.owner_email, "roles": ["viewer"]})
    assert mine.status == 409 and mine.json["existing_id"] == tenant.owner_id


def test_invitations_are_rate_limited_per_company(api, monkeypatch):
    from chalicelib.core import config

    first, second = a_tenant(api, "Inviting Co"), a_tenant(api, "Other Inviting Co")
    limited = dataclasses.replace(config.settings(), invite_limit_per_hour=2)
    monkeypatch.setattr("chalicelib.tenants.users.settings", lambda: limited)
    for _ in range(2):
        assert (
            api.post("/admin/users", first.token, {"email": unique_email(), "roles": ["viewer"]}).status
            == 201
        )
    refused = api.post("/admin/users", first.token, {"email": unique_email(), "roles": ["viewer"]})
    assert refused.status == 429 and int(refused.headers["retry-after"]) >= 1
    assert "company" in refused.json["detail"]
    assert (
        api.post("/admin/users", second.token, {"email": unique_email(), "roles": ["viewer"]}).status == 201
    )


def test_the_pool_takes_users_from_the_api_only_and_hides_who_exists(aws):
    # The local Cognito enforces none of this: the pool's configuration is what AWS enforces.
    idp = boto3.client("cognito-idp", region_name=aws.region)
    pool = idp.describe_user_pool(UserPoolId=aws.user_pool_id)["UserPool"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True  # no self sign-up, no squatting
    client = idp.describe_user_pool_client(UserPoolId=aws.user_pool_id, ClientId=aws.user_pool_client_id)[
        "UserPoolClient"
    ]
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    # Passwords are checked by the API only (server-side auth), so its rate limit cannot be bypassed.
    assert set(client["ExplicitAuthFlows"]) == {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}


def test_the_password_rule_is_the_pools(api):
    from infra.provision import load_template

    policy = load_template("identity.yaml")["Resources"]["UserPool"]["Properties"]["Policies"][
        "PasswordPolicy"
    ]
    assert (policy["MinimumLength"], policy["RequireLowercase"], policy["RequireNumbers"]) == (10, True, True)
    assert not policy["RequireUppercase"] and not policy["RequireSymbols"]
    for weak in ("short-1", "onlyletters", "ALLCAPS-12345", "1234567890"):
        r = signup(api, unique_email(), weak)
        assert r.status == 422 and r.json["errors"][0]["loc"] == ["body", "owner_password"], weak
    assert signup(api, unique_email(), "lower-case-1").status == 202

"""Token verification: every way a token can be wrong answers 401 problem+json."""

from __future__ import annotations

import base64
import gzip
import json
import time
from pathlib import Path

import jwt
import moto
import pytest

from tests.conftest import a_user, login

PRIVATE_JWK = json.loads(
    gzip.decompress((Path(moto.__file__).parent / "cognitoidp/resources/jwks-private.json.gz").read_bytes())
)


def forge(claims: dict, headers: dict | None = None) -> str:
    """A token signed with the key moto's user pool signs with (so only the claims are wrong)."""
    key = jwt.PyJWK(PRIVATE_JWK).key
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy", **(headers or {})})


@pytest.fixture
def good_claims(aws, tenant):
    now = int(time.time())
    return {
        "iss": f"https://cognito-idp.us-east-1.amazonaws.com/{aws.user_pool_id}",
        "aud": aws.user_pool_client_id,
        "sub": tenant.owner_id,
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
        "email": tenant.owner_email,
        "custom:tenant_id": tenant.id,
    }


def assert_refused(reply, reason: str):
    assert reply.status == 401, reply.body
    assert reply.content_type == "application/problem+json"
    assert reply.json["type"] == "/problems/unauthenticated"
    assert reason in reply.json["detail"]


def test_a_forged_token_with_good_claims_is_accepted(api, good_claims):
    # The control: the forging helper is right, so each refusal below is about the one wrong claim.
    assert api.get("/me", forge(good_claims)).status == 200


def test_expired_token(api, good_claims):
    good_claims.update(exp=int(time.time()) - 60, iat=int(time.time()) - 3600)
    assert_refused(api.get("/me", forge(good_claims)), "expired")


def test_wrong_issuer(api, good_claims):
    good_claims["iss"] = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"
    assert_refused(api.get("/me", forge(good_claims)), "issuer")


def test_wrong_audience(api, good_claims):
    good_claims["aud"] = "another-client"
    assert_refused(api.get("/me", forge(good_claims)), "another client")


def test_tampered_signature(api, tenant):
    header, payload, signature = tenant.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["custom:tenant_id"] = "ten_someone_else"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert_refused(api.get("/me", f"{header}.{forged_payload}.{signature}"), "signature")


def test_alg_none(api, good_claims):
    token = jwt.encode(good_claims, key=None, algorithm="none", headers={"kid": "dummy"})
    assert_refused(api.get("/me", token), "RS256")


def test_missing_tenant_claim(api, good_claims):
    del good_claims["custom:tenant_id"]
    assert_refused(api.get("/me", forge(good_claims)), "no tenant")


def test_access_token_instead_of_id_token(api, good_claims):
    good_claims["token_use"] = "access"
    assert_refused(api.get("/me", forge(good_claims)), "ID token")


def test_unknown_key_id(api, good_claims):
    assert_refused(api.get("/me", forge(good_claims, {"kid": "rotated-away"})), "unknown key")


def test_no_token_at_all(api):
    assert api.get("/crm/customers").status == 401


def test_garbage_token(api):
    assert_refused(api.get("/me", "not-a-jwt"), "malformed")


def test_disabled_user_is_refused_and_cannot_log_in(api, tenant):
    user_id, token = a_user(api, tenant, ["sales"])
    email = api.get(f"/admin/users/{user_id}", tenant.token).json["email"]
    assert api.get("/crm/customers", token).status == 200
    r = api.patch(f"/admin/users/{user_id}", tenant.token, {"enabled": False})
    assert r.status == 200 and r.json["enabled"] is False
    assert_refused(api.get("/crm/customers", token), "disabled")
    assert api.post("/auth/login", body={"email": email, "password": "correct-horse-42"}).status == 401
    api.patch(f"/admin/users/{user_id}", tenant.token, {"enabled": True})
    assert api.get("/crm/customers", login(api, email)).status == 200


def test_refresh_gives_a_working_id_token(api, tenant):
    tokens = api.post("/auth/login", body={"email": tenant.owner_email, "password": "correct-horse-42"}).json
    r = api.post("/auth/refresh", body={"refresh_token": tokens["refresh_token"]})
    assert r.status == 200
    assert api.get("/me", r.json["id_token"]).json["tenant"]["id"] == tenant.id
    assert api.post("/auth/refresh", body={"refresh_token": "nonsense"}).status == 401


@pytest.mark.parametrize("claim, value", [("custom:tenant_id", "ten#x"), ("sub", "0f1e2d3c#4b5a")])
def test_a_signed_token_whose_ids_hold_the_key_delimiter_is_refused(api, good_claims, claim, value):
    good_claims[claim] = value
    assert_refused(api.get("/me", forge(good_claims)), "invalid")


def test_tokens_issued_before_a_disable_stay_refused_after_the_user_is_enabled_again(api, tenant):
    user_id, old_token = a_user(api, tenant, ["sales"])
    email = api.get(f"/admin/users/{user_id}", tenant.token).json["email"]
    assert api.get("/crm/customers", old_token).status == 200
    assert api.patch(f"/admin/users/{user_id}", tenant.token, {"enabled": False}).status == 200
    assert api.patch(f"/admin/users/{user_id}", tenant.token, {"enabled": True}).status == 200
    assert_refused(api.get("/crm/customers", old_token), "log in again")
    assert api.get("/crm/customers", login(api, email)).status == 200

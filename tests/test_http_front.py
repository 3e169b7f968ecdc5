"""The HTTP API front (``ApiFront=http``): the gateway's JWT authorizer verifies the token and
passes its claims (as strings) in the event; the routes read them as the REST API's Lambda
authorizer's verdict (chalicelib/api/auth.py ``verdict``). Here the app is invoked with the event
such a gateway sends (payload format 1.0), built from a real Cognito token's claims."""

from __future__ import annotations

import json
from typing import Any

import jwt

from infra.pump import LambdaContext
from tests.conftest import a_customer, a_tenant


def _claims(token: str) -> dict[str, str]:
    """What the JWT authorizer passes on: the verified token's claims, each as a string."""
    return {k: str(v) for k, v in jwt.decode(token, options={"verify_signature": False}).items()}


def _event(
    method: str, resource: str, path: str, claims: dict[str, str] | None, **params: str
) -> dict[str, Any]:
    return {
        "version": "1.0",
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"accept": "application/json", "content-type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": path,
            "stage": "$default",
            "requestId": "http-front-test",
            "identity": {"sourceIp": "203.0.113.9"},
            "authorizer": {"claims": claims, "scopes": None} if claims is not None else None,
        },
        "body": None,
        "isBase64Encoded": False,
    }


def _call(event: dict[str, Any]) -> tuple[int, Any]:
    from app import app

    answer = app(event, LambdaContext("api"))
    return answer["statusCode"], json.loads(answer["body"]) if answer.get("body") else None


def test_behind_the_http_api_routes_read_the_jwt_authorizer_s_claims(api):
    acme, other = a_tenant(api, "Acme"), a_tenant(api, "Other")
    customer = a_customer(api, acme, name="West Lake Tea")["id"]
    resource = "/crm/customers/{customer_id}"
    status, body = _call(
        _event("GET", resource, f"/crm/customers/{customer}", _claims(acme.token), customer_id=customer)
    )
    assert status == 200 and body["name"] == "West Lake Tea"
    # Another company's verified token reaches nothing of Acme's.
    status, body = _call(
        _event("GET", resource, f"/crm/customers/{customer}", _claims(other.token), customer_id=customer)
    )
    assert status == 404 and "West Lake" not in json.dumps(body)
    status, body = _call(_event("GET", "/crm/customers", "/crm/customers", _claims(other.token)))
    assert status == 200 and body["items"] == []


def test_behind_the_http_api_claims_the_api_would_not_take_are_refused():
    acme_claims = {
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/elsewhere",
        "sub": "u1",
        "aud": "x",
        "token_use": "id",
        "custom:tenant_id": "acme",
        "exp": "9999999999",
        "iat": "1",
    }
    # Issued by another pool (a gateway misconfigured, or another stage's token): 401.
    status, body = _call(_event("GET", "/me", "/me", acme_claims))
    assert status == 401 and body["type"] == "/problems/unauthenticated"
    from chalicelib.core.config import settings

    # The pool's, but an access token, or a tenant claim no company id can be: 401.
    for changed in ({"token_use": "access"}, {"custom:tenant_id": "acme#x"}):
        claims = {**acme_claims, "iss": settings().issuer, **changed}
        status, body = _call(_event("GET", "/me", "/me", claims))
        assert status == 401, changed
    # No claims at all (a route the gateway let through without its authorizer): 401.
    status, _ = _call(_event("GET", "/me", "/me", None))
    assert status == 401


def test_behind_the_http_api_an_operator_s_claims_reach_operator_routes_only(api):
    from chalicelib.core.config import settings

    operator = {
        "iss": settings().operator_issuer,
        "sub": "op-1",
        "aud": settings().operator_client_id,
        "token_use": "id",
        "email": "ops@example.com",
        "exp": "9999999999",
        "iat": "1",
    }
    status, body = _call(_event("GET", "/operator/usage", "/operator/usage", operator))
    assert status == 200, body
    status, _ = _call(_event("GET", "/me", "/me", operator))  # an operator holds no company
    assert status == 401
    acme = a_tenant(api, "Acme")
    status, _ = _call(_event("GET", "/operator/usage", "/operator/usage", _claims(acme.token)))
    assert status == 401

"""Who is calling: the authorizer verifies the bearer token, and each route reads the principal
(member, roles, grants) it names."""

from __future__ import annotations

import time
from typing import Any

from chalice.app import AuthResponse, Blueprint

from chalicelib.api.problems import request_id
from chalicelib.core import observability
from chalicelib.core.config import settings
from chalicelib.core.errors import AuthenticationError
from chalicelib.core.store import Store
from chalicelib.core.tokens import (
    OperatorToken,
    TokenError,
    VerifiedToken,
    from_claims,
    operator_from_claims,
    verify,
    verify_operator,
)
from chalicelib.tenants.access import Principal, load_principal

core = Blueprint(__name__)
# API Gateway keeps an authorizer's verdict per token this long: a request with a token seen within
# it costs no second Lambda invocation. The verdict names the company, user and token expiry only;
# a user disabled or removed since is refused by the route's principal check (its own cache is
# PRINCIPAL_CACHE_SECONDS), and an expired token by the expiry the verdict carries.
AUTHORIZER_CACHE_SECONDS = 300


# ---- authorizer -------------------------------------------------------------------------------
@core.authorizer(ttl_seconds=AUTHORIZER_CACHE_SECONDS)
def jwt_auth(auth_request: Any) -> AuthResponse:
    """Verify the JWT; the route layer answers 401 problem+json when it does not verify.

    The authorizer passes its verdict on instead of denying, because a gateway denial is a bare 403
    in chalice local and the test client, while a bad token must be a 401 with a problem body.
    """
    try:
        token = verify(auth_request.token or "")
    except TokenError as exc:
        return AuthResponse(routes=["*"], principal_id="anonymous", context={"auth_error": str(exc)})
    return AuthResponse(
        routes=["*"],
        principal_id=token.user_id,
        context={
            "tenant_id": token.tenant_id,
            "user_id": token.user_id,
            "email": token.email,
            "expires_at": str(token.expires_at),
            "issued_at": str(token.issued_at),
        },
    )


# ---- the HTTP API front: its JWT authorizer's claims, read as the Lambda authorizer's verdict -------
def _jwt_claims(authorizer: dict[str, Any]) -> dict[str, Any] | None:
    """The claims an HTTP API's JWT authorizer passed on (payload 1.0: ``claims``; 2.0:
    ``jwt.claims``), or None behind the REST API (its Lambda authorizer's verdict instead)."""
    claims = authorizer.get("claims") or (authorizer.get("jwt") or {}).get("claims")
    return claims if isinstance(claims, dict) else None


def verdict(request: Any) -> dict[str, Any]:
    """The authorizer's verdict on the caller, the same whichever front the request came through:
    the REST API's Lambda authorizer (above) writes it; behind the HTTP API the gateway's JWT
    authorizer has checked signature, issuer, audience and expiry, and its claims are read here
    with the checks ``verify`` makes after those (token use, company and subject claims). The
    issuer tells a company's token from an operator's, whichever authorizer the route had."""
    authorizer = (request.context or {}).get("authorizer") or {}
    claims = _jwt_claims(authorizer)
    if claims is None:
        return dict(authorizer)
    try:
        if claims.get("iss") == settings().operator_issuer and settings().operator_pool_id:
            operator = operator_from_claims(claims)
            return {
                "operator": operator.user_id,
                "email": operator.email,
                "expires_at": str(operator.expires_at),
            }
        if claims.get("iss") != settings().issuer:
            raise TokenError("token issued by another issuer")
        token = from_claims(claims)
    except (TokenError, KeyError, ValueError) as exc:
        return {"auth_error": str(exc), "operator_error": str(exc)}
    return {
        "tenant_id": token.tenant_id,
        "user_id": token.user_id,
        "email": token.email,
        "expires_at": str(token.expires_at),
        "issued_at": str(token.issued_at),
    }


def claimed_tenant(request: Any) -> str | None:
    """The company the authorizer's verified token names (None when it verified none)."""
    context = verdict(request)
    return None if "auth_error" in context else context.get("tenant_id")


def authenticate(store: Store, request: Any) -> Principal:
    """The principal the authorizer's verdict names (401 when it names none, or the token expired)."""
    context = verdict(request)
    if "auth_error" in context or "tenant_id" not in context:
        raise AuthenticationError(f"The bearer token was refused: {context.get('auth_error', 'no token')}.")
    if int(context.get("expires_at", "0")) < time.time() - 5:
        raise AuthenticationError("The bearer token was refused: token expired.")
    token = VerifiedToken(
        tenant_id=context["tenant_id"],
        user_id=context["user_id"],
        email=context.get("email", ""),
        expires_at=int(context["expires_at"]),
        issued_at=int(context.get("issued_at", "0")),
    )
    principal = load_principal(store, token, settings().principal_cache_seconds, request_id(request))
    observability.bind(tenant_id=principal.tenant_id, user_id=principal.user_id)
    return principal


# ---- the platform's operators (routes under /operator/) --------------------------------------------
OPERATOR_PREFIX = "/operator/"


@core.authorizer(ttl_seconds=AUTHORIZER_CACHE_SECONDS)
def operator_auth(auth_request: Any) -> AuthResponse:
    """Verify an operator's JWT (the operators' pool, never a company's); the route answers 401."""
    try:
        token = verify_operator(auth_request.token or "")
    except TokenError as exc:
        return AuthResponse(routes=["*"], principal_id="anonymous", context={"operator_error": str(exc)})
    return AuthResponse(
        routes=["*"],
        principal_id=token.user_id,
        context={"operator": token.user_id, "email": token.email, "expires_at": str(token.expires_at)},
    )


def authenticate_operator(request: Any) -> OperatorToken:
    context = verdict(request)
    if "operator" not in context:
        raise AuthenticationError(
            f"An operator's token is needed: {context.get('operator_error', 'no token')}."
        )
    if int(context.get("expires_at", "0")) < time.time() - 5:
        raise AuthenticationError("The bearer token was refused: token expired.")
    return OperatorToken(context["operator"], context.get("email", ""), int(context["expires_at"]))

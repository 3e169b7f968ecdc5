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
from chalicelib.core.tokens import OperatorToken, TokenError, VerifiedToken, verify, verify_operator
from chalicelib.tenants.access import Principal, load_principal

core = Blueprint(__name__)


# ---- authorizer -------------------------------------------------------------------------------
@core.authorizer(ttl_seconds=0)
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


def authenticate(store: Store, request: Any) -> Principal:
    """The principal the authorizer's verdict names (401 when it names none, or the token expired)."""
    context = (request.context or {}).get("authorizer") or {}
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


@core.authorizer(ttl_seconds=0)
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
    context = (request.context or {}).get("authorizer") or {}
    if "operator" not in context:
        raise AuthenticationError(
            f"An operator's token is needed: {context.get('operator_error', 'no token')}."
        )
    if int(context.get("expires_at", "0")) < time.time() - 5:
        raise AuthenticationError("The bearer token was refused: token expired.")
    return OperatorToken(context["operator"], context.get("email", ""), int(context["expires_at"]))

"""Verification of Cognito ID tokens (RS256) against the user pool's JWKS.

The key set is fetched once per container and cached; an unknown ``kid`` triggers one refetch
(PyJWKClient, with a cooldown so a flood of bad tokens cannot hammer the JWKS endpoint).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import threading
import time
from typing import Any

import jwt

from chalicelib.core import keys
from chalicelib.core.config import settings

TENANT_CLAIM = "custom:tenant_id"


class TokenError(Exception):
    """The token is not acceptable; the message says why (safe to show the client)."""


@dataclasses.dataclass(frozen=True)
class VerifiedToken:
    tenant_id: str
    user_id: str
    email: str
    expires_at: int
    issued_at: int = 0  # when the user authenticated (the earlier of auth_time and iat)


@functools.cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=24 * 3600, timeout=5, cooldown_duration=30)


class _VerifiedCache:
    """Tokens already verified in this container, until they expire: the same saving as API
    Gateway's authorizer cache, and what makes a repeated token cost no RSA and base64 work."""

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._entries: collections.OrderedDict[str, VerifiedToken] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> VerifiedToken | None:
        with self._lock:
            found = self._entries.get(token)
            if found is None:
                return None
            if found.expires_at <= time.time():
                del self._entries[token]
                return None
            self._entries.move_to_end(token)
            return found

    def put(self, token: str, verified: VerifiedToken) -> None:
        with self._lock:
            self._entries[token] = verified
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


VERIFIED = _VerifiedCache()


def verify(token: str) -> VerifiedToken:
    """Check signature, algorithm, issuer, audience, expiry, token use and the tenant claim."""
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    cached = VERIFIED.get(token)
    if cached is not None:
        return cached
    verified = _verify(token)
    VERIFIED.put(token, verified)
    return verified


def _decode(token: str, jwks_url: str, audience: str, issuer: str) -> dict[str, Any]:
    """A Cognito ID or access token's claims, once its RS256 signature by the pool's key, issuer,
    audience and expiry hold; TokenError saying which did not."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenError("malformed token") from exc
    if header.get("alg") != "RS256":
        raise TokenError("token algorithm must be RS256")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise TokenError("token has no key id")
    try:
        key = _jwks_client(jwks_url).get_signing_key(kid)
    except jwt.PyJWKClientError as exc:
        raise TokenError("token signed by an unknown key") from exc
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenError("token issued for another client") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenError("token issued by another issuer") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenError("token signature does not verify") from exc
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    return claims


def _verify(token: str) -> VerifiedToken:
    conf = settings()
    return from_claims(_decode(token, conf.jwks_url, conf.user_pool_client_id, conf.issuer))


def from_claims(claims: dict[str, Any]) -> VerifiedToken:
    """What a company's ID token says, once its signature, issuer, audience and expiry hold (checked
    here by ``verify``, or by the HTTP API's JWT authorizer, whose claims arrive as strings)."""
    if claims.get("token_use") != "id":
        raise TokenError("an ID token is required")
    tenant_id = claims.get(TENANT_CLAIM)
    if not isinstance(tenant_id, str) or not tenant_id:
        raise TokenError("token carries no tenant")
    subject = claims["sub"]
    # Signed by the pool, yet not an id this API could hold: refused, never looked up.
    if not keys.is_tenant_id(tenant_id):
        raise TokenError("invalid tenant claim")
    if not isinstance(subject, str) or not keys.is_segment(subject):
        raise TokenError("invalid subject claim")
    # A token minted by a refresh keeps the original auth_time: it counts from the sign-in.
    auth_time = claims.get("auth_time")
    issued_at = int(claims["iat"])
    if isinstance(auth_time, str) and auth_time.isdigit():
        auth_time = int(auth_time)
    if isinstance(auth_time, int) and not isinstance(auth_time, bool):
        issued_at = min(issued_at, auth_time)
    return VerifiedToken(
        tenant_id=tenant_id,
        user_id=subject,
        email=str(claims.get("email") or claims.get("cognito:username") or ""),
        expires_at=int(claims["exp"]),
        issued_at=issued_at,
    )


@dataclasses.dataclass(frozen=True)
class OperatorToken:
    """A verified ID token of the platform's operators' pool."""

    user_id: str
    email: str
    expires_at: int


def verify_operator(token: str) -> OperatorToken:
    """Check an operator's ID token: signature, RS256, the operators' pool as issuer, its client as
    audience, expiry, token use, and no company claim. A company's token is refused (another issuer
    and audience), and so is every token when no operators' pool is configured."""
    conf = settings()
    if not conf.operator_pool_id or not conf.operator_client_id:
        raise TokenError("no operator can sign in here")
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    try:
        claims = _decode(token, conf.operator_jwks_url, conf.operator_client_id, conf.operator_issuer)
    except TokenError as exc:
        raise TokenError(f"not an operator's token: {exc}") from exc
    return operator_from_claims(claims)


def operator_from_claims(claims: dict[str, Any]) -> OperatorToken:
    """What an operator's ID token says, once verified (here, or by the HTTP API's JWT authorizer)."""
    if claims.get("token_use") != "id" or TENANT_CLAIM in claims:
        raise TokenError("not an operator's ID token")
    return OperatorToken(
        user_id=str(claims["sub"]),
        email=str(claims.get("email") or ""),
        expires_at=int(claims["exp"]),
    )

"""How fast changes to users reach a container that cached the user before the change."""

from __future__ import annotations

import pytest

from chalicelib.core.errors import AuthenticationError
from chalicelib.core.store import Store
from chalicelib.core.tokens import VerifiedToken
from chalicelib.tenants import access
from tests.conftest import a_user


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_another_container_refuses_a_disabled_user_once_its_cache_expires(api, tenant, monkeypatch):
    user_id, _ = a_user(api, tenant, ["sales"])
    clock = Clock()
    monkeypatch.setattr(access.time, "monotonic", clock)
    other_container = access.PrincipalCache()
    monkeypatch.setattr(access, "CACHE", other_container)
    verified = VerifiedToken(tenant_id=tenant.id, user_id=user_id, email="", expires_at=2**40)
    assert "crm.customers:read" in access.load_principal(Store(), verified, ttl=30).permissions

    monkeypatch.setattr(access, "CACHE", access.PrincipalCache())  # the change happens elsewhere
    assert api.patch(f"/admin/users/{user_id}", tenant.token, {"enabled": False}).status == 200
    monkeypatch.setattr(access, "CACHE", other_container)

    clock.now += 29  # still inside the cache window: the old answer
    access.load_principal(Store(), verified, ttl=30)
    clock.now += 2  # 31 s after it was cached: read again, and refused
    with pytest.raises(AuthenticationError):
        access.load_principal(Store(), verified, ttl=30)


def test_the_default_cache_window_is_under_sixty_seconds():
    from chalicelib.core.config import settings

    assert 0 < settings().principal_cache_seconds < 60


def test_a_verified_token_is_not_trusted_past_its_expiry(monkeypatch):
    from chalicelib.core import tokens

    cache = tokens._VerifiedCache()
    verified = VerifiedToken(tenant_id="t", user_id="u", email="", expires_at=1_000)
    cache.put("tok", verified)
    monkeypatch.setattr(tokens.time, "time", lambda: 999)
    assert cache.get("tok") == verified
    monkeypatch.setattr(tokens.time, "time", lambda: 1_000)
    assert cache.get("tok") is None

"""What the tenants context promises the others (the one module of it they may import): the company's
settings they read, its default currency chosen at signup."""

from __future__ import annotations

from typing import Any, TypeVar

from chalicelib.core import keys
from chalicelib.core.store import Store

DEFAULT_CURRENCY = "CNY"

M = TypeVar("M")


def default_currency(store: Store, tenant_id: str) -> str:
    profile = store.get(keys.tenant_profile(tenant_id)) or {}
    return str(profile.get("default_currency") or DEFAULT_CURRENCY)


def currency(store: Store, tenant_id: str, given: str | None) -> str:
    """The currency a record is in: the one it names, else the company's (one GetItem, only then)."""
    return given if given is not None else default_currency(store, tenant_id)


def with_currency(store: Store, tenant_id: str, data: M) -> M:
    """``data`` (a request model with ``currency``) in the company's currency when it names none:
    one GetItem, only then."""
    if getattr(data, "currency", None) is not None:
        return data
    copy: Any = data
    return copy.model_copy(update={"currency": default_currency(store, tenant_id)})  # type: ignore[no-any-return]

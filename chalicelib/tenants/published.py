"""What the tenants context promises the others (the one module of it they may import): the company's
settings they read, its default currency chosen at signup; whether a restore of it runs, and its epoch.

A restore replaces a company's business data with a backup's. While it runs the company is
``restoring`` (its writes answer 503, ``api/web.py``), and it begins a new *epoch*: the events of the
world before the restore carry a lower one and their consumers drop them (``api/handlers.py``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from chalicelib.core import keys
from chalicelib.core.errors import ConflictError, NotFoundError
from chalicelib.core.store import ConditionFailed, Store, utcnow
from chalicelib.tenants import access, repository

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


RestoreState = access.RestoreState  # whether a restore runs, and the epoch: read with the principal too


def restore_state(store: Store, tenant_id: str) -> RestoreState:
    """Whether a restore of the company runs, and its epoch: both from one consistent read, so that
    work started on them (a reconciliation run) is either skipped or stamped with the old epoch."""
    return access.restore_state_of(store.get(keys.tenant_profile(tenant_id), consistent=True))


def restoring(store: Store, tenant_id: str) -> bool:
    """Whether a restore of the company is running (one consistent GetItem)."""
    return restore_state(store, tenant_id).restoring


def epoch(store: Store, tenant_id: str) -> int:
    """The company's current epoch (one consistent GetItem): events of an earlier one are dropped."""
    return restore_state(store, tenant_id).epoch


def begin_restore(store: Store, tenant_id: str) -> int:
    """Mark the company restoring and begin its next epoch (one conditional UpdateItem); the new epoch.
    409 if a restore of it is already running. Requests and consumers notice within the principal
    cache's 30 s and their own timeouts: the restore waits that long before it touches data."""
    try:
        answer = store.update(**repository.restore_begun(tenant_id, utcnow()))
    except ConditionFailed as exc:
        if store.get(keys.tenant_profile(tenant_id), consistent=True) is None:
            raise NotFoundError("The company does not exist.") from exc
        raise ConflictError("A restore of this company is already running.") from exc
    access.CACHE.forget_tenant(tenant_id)  # this container's principals see it at once
    return int(answer["Attributes"]["epoch"])


def end_restore(store: Store, tenant_id: str) -> None:
    """Make the company active again (idempotent); its epoch stays the restore's."""
    try:
        store.update(**repository.restore_ended(tenant_id))
    except ConditionFailed as exc:
        raise NotFoundError("The company does not exist.") from exc
    access.CACHE.forget_tenant(tenant_id)

"""What the tenants context promises the others (the one module of it they may import): the company's
settings they read, its default currency chosen at signup; whether a restore of it runs or it is
being closed, and its epoch; what closing it needs of the tenants (its name, its users' sign-in,
its registry entry).

A restore replaces a company's business data with a backup's. While it runs the company is
``restoring`` (its writes answer 503, ``api/web.py``), and it begins a new *epoch*: the events of the
world before the restore carry a lower one and their consumers drop them (``api/handlers.py``).
Closing a company (``backups/offboard.py``) makes it ``closing`` for good, in a new epoch too; once
its data is removed it has no profile (``gone``) and only its registry entry, marked closed, remains.
"""

from __future__ import annotations

from typing import Any, TypeVar

from chalicelib.core import keys
from chalicelib.core.errors import ConflictError, NotFoundError
from chalicelib.core.store import ConditionFailed, Store, utcnow
from chalicelib.tenants import access, identity, repository

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


CompanyState = access.CompanyState  # restoring, closing or gone, and the epoch: read with the principal too


def profile_key(tenant_id: str) -> dict[str, str]:
    """The key of the item that holds the company's state and epoch, for a consumer to read with its
    own facts (in its BatchGetItem) and judge with ``stale``."""
    return keys.tenant_profile(tenant_id)


def stale(epoch: int, profile: dict[str, Any] | None) -> str | None:
    """Why an event of ``epoch`` must be dropped, given the company's profile item as read
    consistently (None: it may be handled): the company is being closed or is gone, or the event is
    of an epoch before the company's (a restore replaced the world it is about)."""
    state = access.company_state_of(profile)
    if state.closing or state.gone:
        return "the company is being closed, or was closed: nothing is written for it any more"
    if epoch < state.epoch:
        return (
            f"epoch {epoch} is before the company's {state.epoch}: a restore replaced the world it is about"
        )
    return None


def company_state(store: Store, tenant_id: str) -> CompanyState:
    """Whether a restore of the company runs or it is being closed (or gone), and its epoch: all from
    one consistent read, so that work started on them (a reconciliation run) is either skipped or
    stamped with the old epoch."""
    return access.company_state_of(store.get(keys.tenant_profile(tenant_id), consistent=True))


def restoring(store: Store, tenant_id: str) -> bool:
    """Whether a restore of the company is running (one consistent GetItem)."""
    return company_state(store, tenant_id).restoring


def epoch(store: Store, tenant_id: str) -> int:
    """The company's current epoch (one consistent GetItem): events of an earlier one are dropped."""
    return company_state(store, tenant_id).epoch


def begin_restore(store: Store, tenant_id: str) -> int:
    """Mark the company restoring and begin its next epoch (one conditional UpdateItem); the new epoch.
    409 if a restore of it is already running. Requests and consumers notice within the principal
    cache's 30 s and their own timeouts: the restore waits that long before it touches data."""
    try:
        answer = store.update(**repository.restore_begun(tenant_id, utcnow()))
    except ConditionFailed as exc:
        state = company_state(store, tenant_id)
        if state.gone:
            raise NotFoundError("The company does not exist.") from exc
        if state.closing:
            raise ConflictError("The company is being closed: it cannot be restored.") from exc
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


# ---- closing a company (backups/offboard.py) --------------------------------------------------------
def company_name(store: Store, tenant_id: str) -> str:
    """The company's name as registered (what an owner types to confirm closing it)."""
    profile = store.get(keys.tenant_profile(tenant_id), consistent=True)
    if profile is None:
        raise NotFoundError("The company does not exist.")
    return str(profile.get("company_name", ""))


def begin_close(store: Store, tenant_id: str, job_id: str) -> None:
    """Mark the company closing for good in its next epoch, and its registry entry (one transaction):
    its writes answer 503, events raised before are dropped, the schedules skip it. Done again by
    the job ``job_id`` that did it, nothing; 409 if a restore runs or another closing began."""
    state = company_state(store, tenant_id)
    if state.gone:
        raise NotFoundError("The company does not exist.")
    if state.closing:
        profile = store.get(keys.tenant_profile(tenant_id), consistent=True) or {}
        if profile.get("closing_job_id") == job_id:
            return
        raise ConflictError("The company is already being closed by another job.")
    try:
        store.transact(repository.close_begun(tenant_id, job_id, utcnow()))
    except ConditionFailed as exc:
        raise ConflictError(
            "A restore of the company is running (or its closing began meanwhile): close it once it is done."
        ) from exc
    access.CACHE.forget_tenant(tenant_id)  # this container's principals see it at once


def end_close(store: Store, tenant_id: str, job_id: str) -> None:
    """Open a company again that the job ``job_id`` began closing, before anything of it was removed
    (its final backup could not be taken); not closing by that job, nothing."""
    try:
        store.transact(repository.close_ended(tenant_id, job_id))
    except ConditionFailed:
        return
    access.CACHE.forget_tenant(tenant_id)


def mark_closed(store: Store, tenant_id: str, fields: dict[str, Any]) -> None:
    """The company's registry entry marked closed with ``fields`` (when, the final backup), kept for
    the platform; done twice, the same."""
    store.update(**repository.registry_closed(tenant_id, fields))


def delete_sign_in(email: str, user_id: str) -> None:
    """Delete a member's Cognito user (their sign-in), if it is theirs; gone already, nothing."""
    identity.delete_user(email, user_id)


def open_companies(store: Store) -> list[dict[str, Any]]:
    """The registry's entries of open companies (one being closed, or closed, is left out)."""
    return [
        t
        for t in store.query_all(partition=keys.tenant_registry_pk(), index="gsi1")
        if t.get("state") not in (repository.CLOSING, repository.CLOSED)
    ]


DEFAULT_TIME_ZONE = "Asia/Shanghai"


def time_zone(store: Store, tenant_id: str) -> str:
    """The company's time zone (IANA): its local day."""
    return str(profile(store, tenant_id).get("time_zone") or DEFAULT_TIME_ZONE)


def profile(store: Store, tenant_id: str) -> dict[str, Any]:
    """The company's profile (name, plan, created_at, counts); 404 when it has none."""
    item = store.get(keys.tenant_profile(tenant_id), consistent=True)
    if item is None:
        raise NotFoundError("The company does not exist.")
    return item

"""Who is calling: the verified token joined with the member's roles in DynamoDB.

One BatchGetItem loads the member item and the tenant's custom roles; the result is cached in the
container for ``PRINCIPAL_CACHE_SECONDS`` (30 s by default), which bounds how long a role change or
a disabled user takes to reach every container (under the 60 s the design promises).

A user enabled again gets a ``sessions_valid_from`` on their member item: tokens of sign-ins before
it (``auth_time``/``iat``) stay refused, so a disable revokes every token issued until then.

The same read takes the company profile: whether a restore of the company runs or the company is
being closed (its writes then answer 503), and its epoch, which the principal's actor stamps on the
events it raises. Cached like the rest, so a restore or a closing waits out the cache before it
touches data. A company whose profile is gone was closed: its users are refused (401).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from chalicelib.core import keys, scope
from chalicelib.core.errors import AuthenticationError, PermissionDeniedError
from chalicelib.core.store import Actor, Store
from chalicelib.core.tokens import VerifiedToken
from chalicelib.tenants import permissions, repository


@dataclasses.dataclass(frozen=True)
class CompanyState:
    """What the company profile says of the company as a whole."""

    restoring: bool  # a restore of the company is running
    epoch: int  # restores and closings begun: the company's events of an earlier epoch are dropped
    closing: bool = False  # the company is being closed (offboarded): no change is taken any more
    gone: bool = False  # no profile: the company was closed and its data removed (or never was)
    plan: str = "free"  # the plan it subscribes to (its limits)

    @property
    def writes_stopped(self) -> bool:
        return self.restoring or self.closing or self.gone


def company_state_of(profile: dict[str, Any] | None) -> CompanyState:
    """The state a company profile item holds (no ``state``: active; no ``epoch``: 0; no item: gone)."""
    if profile is None:
        return CompanyState(restoring=False, epoch=0, gone=True)
    state = profile.get("state")
    return CompanyState(
        restoring=state == repository.RESTORING,
        epoch=int(profile.get("epoch", 0)),
        closing=state == repository.CLOSING,
        plan=str(profile.get("plan") or "free"),
    )


@dataclasses.dataclass(frozen=True)
class Principal:
    tenant_id: str
    user_id: str
    email: str
    roles: tuple[str, ...]
    permissions: frozenset[str]  # grants: "p" over all records, "p@own" over own records only
    request_id: str = ""
    acting_own_only: bool = False  # this request's action is granted over own records only
    sessions_valid_from: int = 0  # tokens of sign-ins before this (epoch seconds) are refused
    restoring: bool = False  # a restore of the company is running: its writes wait (503)
    closing: bool = False  # the company is being closed: its writes are refused (503)
    epoch: int = 0  # the company's epoch (restores begun), stamped on the events this user raises
    plan: str = "free"  # the company's plan: its request rate and caps (billing/limits.py)

    def actor(self) -> Actor:
        return Actor(
            tenant_id=self.tenant_id,
            user_id=self.user_id,
            email=self.email,
            request_id=self.request_id,
            own_only=self.acting_own_only,
            grants=self.permissions,
            epoch=self.epoch,
        )

    def holds(self, permission: str) -> bool:
        """Granted at all, over every record or over own records only."""
        return permission in self.permissions or permission + scope.OWN in self.permissions

    def own_only(self, permission: str) -> bool:
        """Granted over the user's own records only."""
        return permission not in self.permissions and permission + scope.OWN in self.permissions

    def may_read(self, permission: str, item: dict[str, Any]) -> bool:
        """Whether this record is readable under ``permission`` (the rule of ``scope.may_read``)."""
        return scope.may_read(self.permissions, self.user_id, permission, item)

    def require(self, permission: str) -> None:
        if not self.holds(permission):
            raise PermissionDeniedError(
                f"This action needs the permission {permission}.", permission=permission
            )

    def require_all(self, permission: str) -> None:
        """Granted over every record of the tenant (bulk operations such as import and export)."""
        if permission not in self.permissions:
            scope = " (you hold it over your own records only)" if self.holds(permission) else ""
            raise PermissionDeniedError(
                f"This action needs the permission {permission} over all records{scope}.",
                permission=permission,
            )


class PrincipalCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: str, user_id: str) -> Principal | None:
        with self._lock:
            entry = self._entries.get((tenant_id, user_id))
        if entry and entry[0] > time.monotonic():
            return entry[1]
        return None

    def put(self, principal: Principal, ttl: float) -> None:
        with self._lock:
            self._entries[(principal.tenant_id, principal.user_id)] = (time.monotonic() + ttl, principal)

    def forget_tenant(self, tenant_id: str) -> None:
        """Drop a tenant's entries after a change to its users or roles made in this container."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == tenant_id]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


CACHE = PrincipalCache()


def load_principal(store: Store, token: VerifiedToken, ttl: float, request_id: str = "") -> Principal:
    cached = CACHE.get(token.tenant_id, token.user_id)
    if cached is None:
        member_key = keys.member(token.tenant_id, token.user_id)
        role_key, profile_key = keys.role_set(token.tenant_id), keys.tenant_profile(token.tenant_id)
        found = {(i["pk"], i["sk"]): i for i in store.batch_get([member_key, role_key, profile_key])}
        member = found.get((member_key["pk"], member_key["sk"]))
        if member is None or not member.get("enabled", False):
            raise AuthenticationError("This user has no access to the company, or was disabled.")
        role_set = found.get((role_key["pk"], role_key["sk"])) or {}
        company = company_state_of(found.get((profile_key["pk"], profile_key["sk"])))
        if company.gone:
            raise AuthenticationError("This company was closed.")
        custom = {name: list(r.get("permissions", [])) for name, r in (role_set.get("roles") or {}).items()}
        roles = tuple(member.get("roles", []))
        cached = Principal(
            tenant_id=token.tenant_id,
            user_id=token.user_id,
            email=member.get("email", token.email),
            roles=roles,
            permissions=permissions.effective(list(roles), custom),
            sessions_valid_from=int(member.get("sessions_valid_from", 0)),
            restoring=company.restoring,
            closing=company.closing,
            epoch=company.epoch,
            plan=company.plan,
        )
        CACHE.put(cached, ttl)
    if token.issued_at < cached.sessions_valid_from:
        # Checked on the cached principal too: the cache may skip the read, never this check.
        raise AuthenticationError("This sign-in predates the user's last re-enabling; log in again.")
    return dataclasses.replace(cached, request_id=request_id)

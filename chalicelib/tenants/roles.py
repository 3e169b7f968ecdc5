"""Custom roles of a company (the built-in ones are data: ``permissions``): a role grants only
permissions its author holds, and is deleted only when nobody holds it."""

from __future__ import annotations

from typing import Any

from chalicelib.core import keys
from chalicelib.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    ValidationError,
)
from chalicelib.core.store import ConditionFailed, Store, audit_entry, utcnow
from chalicelib.tenants import permissions, repository
from chalicelib.tenants.access import CACHE, Principal
from chalicelib.tenants.models import RoleIn, RolePut


def custom_roles(store: Store, tenant_id: str) -> dict[str, dict[str, Any]]:
    item = store.get(keys.role_set(tenant_id), consistent=True)
    return dict((item or {}).get("roles") or {})


def _role_out(name: str, role: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "description": role.get("description", ""),
        "permissions": sorted(role.get("permissions", [])),
        "builtin": False,
        "version": role.get("version"),
    }


def list_all(store: Store, tenant_id: str) -> dict[str, Any]:
    builtin = [
        {
            "name": name,
            "description": permissions.BUILTIN_ROLE_DESCRIPTIONS[name],
            "permissions": sorted(perms),
            "builtin": True,
            "version": None,
        }
        for name, perms in permissions.builtin_roles().items()
    ]
    custom = [_role_out(n, r) for n, r in sorted(custom_roles(store, tenant_id).items())]
    return {"items": builtin + custom, "permissions": dict(permissions.CATALOGUE)}


def _check_grantable(principal: Principal, perms: list[str]) -> None:
    unknown = sorted(p for p in set(perms) if not permissions.valid_grant(p))
    if unknown:
        raise ValidationError(
            f"Unknown permissions: {', '.join(unknown)}.",
            errors=[
                {
                    "loc": ["body", "permissions"],
                    "msg": f"unknown permission {p}",
                    "type": "unknown_permission",
                }
                for p in unknown
            ],
        )
    missing = permissions.uncovered(set(perms), principal.permissions)
    if missing:
        raise PermissionDeniedError(f"You cannot grant permissions you do not hold: {', '.join(missing)}.")


def create(store: Store, principal: Principal, data: RoleIn) -> dict[str, Any]:
    if data.name in permissions.builtin_roles():
        raise ConflictError(f"{data.name} is a built-in role.", field="name")
    _check_grantable(principal, data.permissions)
    now = utcnow()
    role = {
        "description": data.description,
        "permissions": sorted(set(data.permissions)),
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    try:
        store.transact(
            [
                repository.role_added(principal.tenant_id, data.name, role),
                audit_entry(principal.actor(), "role.create", "role", data.name, None, role, now),
            ]
        )
    except ConditionFailed as exc:
        raise ConflictError(f"The role {data.name} already exists.", field="name") from exc
    CACHE.forget_tenant(principal.tenant_id)
    return _role_out(data.name, role)


def get_custom(store: Store, tenant_id: str, name: str) -> dict[str, Any]:
    role = custom_roles(store, tenant_id).get(name)
    if role is None:
        if name in permissions.builtin_roles():
            raise ConflictError(f"{name} is a built-in role and cannot be changed.")
        raise NotFoundError(f"There is no role {name}.")
    return role


def replace(
    store: Store, principal: Principal, name: str, data: RolePut, if_match: int | None
) -> dict[str, Any]:
    before = get_custom(store, principal.tenant_id, name)
    if if_match is not None and if_match != before["version"]:
        raise PreconditionFailedError(f"The role is at version {before['version']}, not {if_match}.")
    # Changing a role changes what its holders may do: both the old and new sets must be yours.
    _check_grantable(principal, list(set(data.permissions) | set(before.get("permissions", []))))
    now = utcnow()
    after = {
        **before,
        "description": data.description,
        "permissions": sorted(set(data.permissions)),
        "version": before["version"] + 1,
        "updated_at": now,
    }
    try:
        store.transact(
            [
                repository.role_replaced(principal.tenant_id, name, after, before["version"]),
                audit_entry(principal.actor(), "role.update", "role", name, before, after, now),
            ]
        )
    except ConditionFailed as exc:
        raise PreconditionFailedError("The role was changed meanwhile; read it again.") from exc
    CACHE.forget_tenant(principal.tenant_id)
    return _role_out(name, after)


def remove(store: Store, principal: Principal, name: str, if_match: int | None) -> None:
    before = get_custom(store, principal.tenant_id, name)
    if if_match is not None and if_match != before["version"]:
        raise PreconditionFailedError(f"The role is at version {before['version']}, not {if_match}.")
    _check_grantable(principal, list(before.get("permissions", [])))
    holders = store.query_all(partition=keys.members_pk(principal.tenant_id))
    in_use = [m["email"] for m in holders if name in m.get("roles", [])]
    if in_use:
        raise ConflictError(
            f"The role {name} is held by {len(in_use)} user(s); take it from them first.", users=in_use[:20]
        )
    try:
        store.transact(
            [
                repository.role_removed(principal.tenant_id, name, before["version"]),
                audit_entry(principal.actor(), "role.delete", "role", name, before, None),
            ]
        )
    except ConditionFailed as exc:
        raise PreconditionFailedError("The role was changed meanwhile; read it again.") from exc
    CACHE.forget_tenant(principal.tenant_id)

"""Tenants, their users and roles, and the audit log: the rules, with no HTTP in sight."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from chalicelib.core import ids, keys, ratelimit
from chalicelib.core.config import settings
from chalicelib.core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    ValidationError,
)
from chalicelib.core.schemas import iso
from chalicelib.core.store import (
    Actor,
    ConditionFailed,
    Page,
    Store,
    audit_entry,
    delete,
    put,
    put_new,
    strip_keys,
    utcnow,
)
from chalicelib.tenants import identity, permissions
from chalicelib.tenants.access import CACHE, Principal
from chalicelib.tenants.models import AuditQuery, RoleIn, RolePut, SignupIn, UserIn, UserPatch

OWNER = "owner"
SESSION_CLOCK_MARGIN = 0.1  # seconds between our clock and Cognito's that a re-enable allows for


# ---- signup ----------------------------------------------------------------------------------
def signup(store: Store, data: SignupIn, request_id: str = "") -> dict[str, Any] | None:
    """Create the tenant, its owner in Cognito and the owner's membership; None when the address
    already has an account (nothing is made, and the caller answers as if it were new).

    Cognito and DynamoDB cannot share a transaction: the user is created first and deleted again if
    the DynamoDB transaction fails, so a half-made tenant never remains.
    """
    tenant_id = ids.new_id("ten")
    now = utcnow()
    try:
        user_id = identity.create_user(data.owner_email, tenant_id, data.owner_password, "owner_password")
    except identity.EmailTakenError:
        return None
    actor = Actor(tenant_id=tenant_id, user_id=user_id, email=data.owner_email, request_id=request_id)
    profile = {
        **keys.tenant_profile(tenant_id),
        "id": tenant_id,
        "company_name": data.company_name,
        "plan": data.plan,
        "default_currency": data.default_currency,
        "status": "active",
        "owner_count": 1,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    member = _member_item(tenant_id, user_id, data.owner_email, [OWNER], now)
    registry = {
        **keys.tenant_registry(tenant_id),
        "tenant_id": tenant_id,
        "plan": data.plan,
        "created_at": now,
    }
    role_set = {**keys.role_set(tenant_id), "roles": {}, "created_at": now}
    try:
        store.transact(
            [
                put_new(registry),
                put_new(profile),
                put_new(member),
                put_new(_email_guard(tenant_id, data.owner_email, user_id)),
                put_new(role_set),
                audit_entry(actor, "tenant.create", "tenant", tenant_id, None, strip_keys(profile), now),
                audit_entry(actor, "user.create", "user", user_id, None, strip_keys(member), now),
            ]
        )
    except Exception:
        identity.delete_user(data.owner_email, user_id)
        raise
    return {
        "tenant_id": tenant_id,
        "company_name": data.company_name,
        "plan": data.plan,
        "owner_user_id": user_id,
        "created_at": now,
    }


def tenant_profile(store: Store, tenant_id: str) -> dict[str, Any]:
    profile = store.get(keys.tenant_profile(tenant_id))
    if profile is None:
        raise NotFoundError("The company does not exist.")
    return profile


def me(store: Store, principal: Principal) -> dict[str, Any]:
    profile = tenant_profile(store, principal.tenant_id)
    return {
        "user": {"id": principal.user_id, "email": principal.email},
        "tenant": {
            "id": profile["id"],
            "company_name": profile["company_name"],
            "plan": profile["plan"],
            "default_currency": profile.get("default_currency", "CNY"),
            "created_at": profile["created_at"],
        },
        "roles": list(principal.roles),
        "permissions": sorted(principal.permissions),
    }


# ---- roles -----------------------------------------------------------------------------------
def _custom_roles(store: Store, tenant_id: str) -> dict[str, dict[str, Any]]:
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


def list_roles(store: Store, tenant_id: str) -> dict[str, Any]:
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
    custom = [_role_out(n, r) for n, r in sorted(_custom_roles(store, tenant_id).items())]
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


def create_role(store: Store, principal: Principal, data: RoleIn) -> dict[str, Any]:
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
                {
                    "Update": {
                        "Key": keys.role_set(principal.tenant_id),
                        "UpdateExpression": "SET #roles.#name = :role",
                        "ConditionExpression": "attribute_not_exists(#roles.#name)",
                        "ExpressionAttributeNames": {"#roles": "roles", "#name": data.name},
                        "ExpressionAttributeValues": {":role": role},
                    }
                },
                audit_entry(principal.actor(), "role.create", "role", data.name, None, role, now),
            ]
        )
    except ConditionFailed as exc:
        raise ConflictError(f"The role {data.name} already exists.", field="name") from exc
    CACHE.forget_tenant(principal.tenant_id)
    return _role_out(data.name, role)


def get_custom_role(store: Store, tenant_id: str, name: str) -> dict[str, Any]:
    role = _custom_roles(store, tenant_id).get(name)
    if role is None:
        if name in permissions.builtin_roles():
            raise ConflictError(f"{name} is a built-in role and cannot be changed.")
        raise NotFoundError(f"There is no role {name}.")
    return role


def replace_role(
    store: Store, principal: Principal, name: str, data: RolePut, if_match: int | None
) -> dict[str, Any]:
    before = get_custom_role(store, principal.tenant_id, name)
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
                {
                    "Update": {
                        "Key": keys.role_set(principal.tenant_id),
                        "UpdateExpression": "SET #roles.#name = :role",
                        "ConditionExpression": "#roles.#name.version = :v",
                        "ExpressionAttributeNames": {"#roles": "roles", "#name": name},
                        "ExpressionAttributeValues": {":role": after, ":v": before["version"]},
                    }
                },
                audit_entry(principal.actor(), "role.update", "role", name, before, after, now),
            ]
        )
    except ConditionFailed as exc:
        raise PreconditionFailedError("The role was changed meanwhile; read it again.") from exc
    CACHE.forget_tenant(principal.tenant_id)
    return _role_out(name, after)


def delete_role(store: Store, principal: Principal, name: str, if_match: int | None) -> None:
    before = get_custom_role(store, principal.tenant_id, name)
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
                {
                    "Update": {
                        "Key": keys.role_set(principal.tenant_id),
                        "UpdateExpression": "REMOVE #roles.#name",
                        "ConditionExpression": "#roles.#name.version = :v",
                        "ExpressionAttributeNames": {"#roles": "roles", "#name": name},
                        "ExpressionAttributeValues": {":v": before["version"]},
                    }
                },
                audit_entry(principal.actor(), "role.delete", "role", name, before, None),
            ]
        )
    except ConditionFailed as exc:
        raise PreconditionFailedError("The role was changed meanwhile; read it again.") from exc
    CACHE.forget_tenant(principal.tenant_id)


# ---- users -----------------------------------------------------------------------------------
def _member_item(tenant_id: str, user_id: str, email: str, roles: list[str], now: str) -> dict[str, Any]:
    return {
        **keys.member(tenant_id, user_id),
        "id": user_id,
        "email": email,
        "roles": roles,
        "enabled": True,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }


def _user_out(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in ("id", "email", "roles", "enabled", "created_at", "updated_at", "version")}


def _role_permissions(store: Store, tenant_id: str, roles: list[str]) -> frozenset[str]:
    custom = {n: list(r.get("permissions", [])) for n, r in _custom_roles(store, tenant_id).items()}
    unknown = sorted(r for r in roles if r not in permissions.builtin_roles() and r not in custom)
    if unknown:
        raise ValidationError(
            f"Unknown roles: {', '.join(unknown)}.",
            errors=[
                {"loc": ["body", "roles"], "msg": f"unknown role {r}", "type": "unknown_role"}
                for r in unknown
            ],
        )
    return permissions.effective(roles, custom)


def list_users(store: Store, tenant_id: str, limit: int, cursor: str | None) -> Page:
    page = store.query_page(
        tenant_id=tenant_id,
        partition=keys.members_pk(tenant_id),
        limit=limit,
        cursor=cursor,
        query_id="users",
    )
    return Page([_user_out(i) for i in page.items], page.next_cursor)


def get_user(store: Store, tenant_id: str, user_id: str) -> dict[str, Any]:
    item = store.get(keys.member(tenant_id, user_id), consistent=True)
    if item is None:
        raise NotFoundError("There is no such user in this company.")
    return item


def create_user(store: Store, principal: Principal, data: UserIn) -> dict[str, Any]:
    """Add a user (an invitation). Everything is checked before anyone asks whether the address
    has an account, and the answer never tells: an address of another company gets a member of its
    own here, with an id of its own and no sign-in (one address, one company), which looks like any
    invitation not accepted yet. Invitations are rate limited per company."""
    roles = sorted(set(data.roles))
    perms = _role_permissions(store, principal.tenant_id, roles)
    missing = permissions.uncovered(perms, principal.permissions)
    if missing:
        raise PermissionDeniedError(f"You cannot grant permissions you do not hold: {', '.join(missing)}.")
    ratelimit.hit_company(
        store, principal.tenant_id, "invite", settings().invite_limit_per_hour, 3600, "invitations"
    )
    guard = store.get(keys.member_email(principal.tenant_id, data.email), consistent=True)
    if guard is not None:
        raise _already_member(data.email, guard["user_id"])
    linked = True
    try:
        user_id = identity.create_user(data.email, principal.tenant_id, data.password)
    except identity.EmailTakenError as taken:
        if taken.tenant_id == principal.tenant_id:
            raise _already_member(data.email, taken.user_id) from taken
        user_id, linked = str(uuid.uuid4()), False
    now = utcnow()
    item = _member_item(principal.tenant_id, user_id, data.email, roles, now)
    operations = [
        put_new(item),
        put_new(_email_guard(principal.tenant_id, data.email, user_id)),
        audit_entry(principal.actor(), "user.create", "user", user_id, None, strip_keys(item), now),
    ]
    if OWNER in roles:
        operations.append(_owner_count_change(principal.tenant_id, +1))
    try:
        store.transact(operations)
    except ConditionFailed as exc:
        if linked:
            identity.delete_user(data.email, user_id)
        if exc.index == 1 and exc.item:  # invited twice at once: the other invitation won
            raise _already_member(data.email, str(exc.item.get("user_id", ""))) from exc
        raise
    except Exception:
        if linked:
            identity.delete_user(data.email, user_id)
        raise
    return _user_out(item)


def _email_guard(tenant_id: str, email: str, user_id: str) -> dict[str, Any]:
    return {**keys.member_email(tenant_id, email), "user_id": user_id}


def _already_member(email: str, user_id: str) -> ConflictError:
    return ConflictError(f"{email} is already a user of this company.", field="email", existing_id=user_id)


def _owner_count_change(tenant_id: str, delta: int) -> dict[str, Any]:
    update: dict[str, Any] = {
        "Key": keys.tenant_profile(tenant_id),
        "UpdateExpression": "ADD owner_count :delta",
        "ExpressionAttributeValues": {":delta": delta},
    }
    if delta < 0:
        # The last enabled owner can be neither removed, disabled nor demoted, whatever the races.
        update["ConditionExpression"] = "owner_count > :one"
        update["ExpressionAttributeValues"][":one"] = 1
    return {"Update": update}


def _is_active_owner(item: dict[str, Any]) -> bool:
    return bool(item.get("enabled")) and OWNER in item.get("roles", [])


def _guard_target(store: Store, principal: Principal, target: dict[str, Any]) -> None:
    """To change a user you must hold every permission that user holds."""
    held = _role_permissions(store, principal.tenant_id, list(target.get("roles", [])))
    if permissions.uncovered(held, principal.permissions):
        raise PermissionDeniedError("This user holds permissions you do not have; ask an owner.")


def update_user(
    store: Store, principal: Principal, user_id: str, data: UserPatch, if_match: int | None
) -> dict[str, Any]:
    before = get_user(store, principal.tenant_id, user_id)
    if if_match is not None and if_match != before["version"]:
        raise PreconditionFailedError(f"The user is at version {before['version']}, not {if_match}.")
    _guard_target(store, principal, before)
    after = dict(before)
    if data.roles is not None:
        roles = sorted(set(data.roles))
        granted = _role_permissions(store, principal.tenant_id, roles)
        missing = permissions.uncovered(granted, principal.permissions)
        if missing:
            raise PermissionDeniedError(
                f"You cannot grant permissions you do not hold: {', '.join(missing)}."
            )
        after["roles"] = roles
    if data.enabled is not None:
        after["enabled"] = data.enabled
    if after == before:
        return _user_out(before)
    enabling = bool(after["enabled"]) and not before["enabled"]
    if enabling:
        # Tokens carry whole seconds: every sign-in before the next second began before this
        # enable (the user was disabled in Cognito), every one from then on came after it.
        after["sessions_valid_from"] = int(time.time()) + 1
    now = utcnow()
    after.update(version=before["version"] + 1, updated_at=now)
    operations = [
        put(after, "version = :v", ExpressionAttributeValues={":v": before["version"]}),
        audit_entry(
            principal.actor(), "user.update", "user", user_id, strip_keys(before), strip_keys(after), now
        ),
    ]
    owner_delta = int(_is_active_owner(after)) - int(_is_active_owner(before))
    if owner_delta:
        operations.append(_owner_count_change(principal.tenant_id, owner_delta))
    _write_user_change(store, operations, owner_delta)
    if enabling:
        # Cognito lets the user sign in only once that second has begun (and a little after, for
        # the clocks), so no token of a sign-in after the enable carries an earlier second.
        time.sleep(max(0.0, after["sessions_valid_from"] + SESSION_CLOCK_MARGIN - time.time()))
    if data.enabled is not None and data.enabled != before["enabled"]:
        identity.set_enabled(before["email"], user_id, data.enabled)
    CACHE.forget_tenant(principal.tenant_id)
    return _user_out(after)


def _write_user_change(store: Store, operations: list[dict[str, Any]], owner_delta: int) -> None:
    try:
        store.transact(operations)
    except ConditionFailed as exc:
        if exc.index == 2 and owner_delta < 0:
            raise ConflictError("The company must keep at least one enabled owner.") from exc
        raise PreconditionFailedError("The user was changed meanwhile; read it again.") from exc


def delete_user(store: Store, principal: Principal, user_id: str, if_match: int | None) -> None:
    before = get_user(store, principal.tenant_id, user_id)
    if if_match is not None and if_match != before["version"]:
        raise PreconditionFailedError(f"The user is at version {before['version']}, not {if_match}.")
    _guard_target(store, principal, before)
    operations = [
        {
            "Delete": {
                "Key": keys.member(principal.tenant_id, user_id),
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": before["version"]},
            }
        },
        audit_entry(principal.actor(), "user.delete", "user", user_id, strip_keys(before), None),
    ]
    owner_delta = -1 if _is_active_owner(before) else 0
    if owner_delta:
        operations.append(_owner_count_change(principal.tenant_id, owner_delta))
    # Last, after the owner check (index 2); unconditional: the address may be invited again.
    operations.append(delete(keys.member_email(principal.tenant_id, before["email"])))
    _write_user_change(store, operations, owner_delta)
    identity.delete_user(before["email"], user_id)
    CACHE.forget_tenant(principal.tenant_id)


# ---- audit -----------------------------------------------------------------------------------
def list_audit(store: Store, tenant_id: str, q: AuditQuery) -> Page:
    """Newest first. The most selective filter picks the index; the others filter the query."""
    if q.entity_id and not q.entity_type:
        raise BadRequestError(
            "entity_id needs entity_type.",
            errors=[{"loc": ["query", "entity_type"], "msg": "required with entity_id", "type": "missing"}],
        )
    lower = iso(q.from_) if q.from_ else ""
    upper = iso(q.to) + "~" if q.to else ""
    filters = []
    if q.entity_type and q.entity_id:
        index, partition, sort_attr = (
            "gsi1",
            keys.audit_entity_pk(tenant_id, q.entity_type, q.entity_id),
            "gsi1sk",
        )
        if q.user_id:
            filters.append(Attr("user_id").eq(q.user_id))
    elif q.user_id:
        index, partition, sort_attr = "gsi2", keys.audit_user_pk(tenant_id, q.user_id), "gsi2sk"
        if q.entity_type:
            filters.append(Attr("entity_type").eq(q.entity_type))
    else:
        index, partition, sort_attr = None, keys.audit_pk(tenant_id), "sk"
        if q.entity_type:
            filters.append(Attr("entity_type").eq(q.entity_type))
    sort = None
    if q.from_ and q.to:
        sort = Key(sort_attr).between(lower, upper)
    elif q.from_:
        sort = Key(sort_attr).gte(lower)
    elif q.to:
        sort = Key(sort_attr).lte(upper)
    filter_condition = None
    for f in filters:
        filter_condition = f if filter_condition is None else filter_condition & f
    page = store.query_page(
        tenant_id=tenant_id,
        partition=partition,
        index=index,
        sort_condition=sort,
        filter_condition=filter_condition,
        limit=q.limit,
        cursor=q.cursor,
        newest_first=True,
        query_id=f"audit|{lower}|{upper}|{q.entity_type}|{q.user_id}",
    )
    return Page([_audit_out(i) for i in page.items], page.next_cursor)


def _audit_out(item: dict[str, Any]) -> dict[str, Any]:
    out = strip_keys(item)
    for side in ("before", "after"):
        out[side] = json.loads(out[side]) if out.get(side) else None
    return out

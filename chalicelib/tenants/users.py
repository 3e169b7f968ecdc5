"""The users of a company (its members): invitations, roles, enabling and disabling, removal. The
company keeps at least one enabled owner, and an address is a member once."""

from __future__ import annotations

import time
import uuid
from typing import Any

from chalicelib.core import keys, plans, ratelimit
from chalicelib.core.config import settings
from chalicelib.core.errors import (
    ConflictError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    PreconditionFailedError,
    ValidationError,
)
from chalicelib.core.store import (
    ConditionFailed,
    Op,
    Operations,
    Page,
    Store,
    audit_entry,
    delete,
    next_version,
    put_new,
    strip_keys,
    utcnow,
    write_version,
)
from chalicelib.tenants import identity, permissions, repository
from chalicelib.tenants.access import CACHE, Principal
from chalicelib.tenants.models import UserIn, UserPatch
from chalicelib.tenants.roles import custom_roles

OWNER = "owner"
SESSION_CLOCK_MARGIN = 0.1  # seconds between our clock and Cognito's that a re-enable allows for


def member_item(tenant_id: str, user_id: str, email: str, roles: list[str], now: str) -> dict[str, Any]:
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
    custom = {n: list(r.get("permissions", [])) for n, r in custom_roles(store, tenant_id).items()}
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


def list_page(store: Store, tenant_id: str, limit: int, cursor: str | None) -> Page:
    page = store.query_page(
        tenant_id=tenant_id,
        partition=keys.members_pk(tenant_id),
        limit=limit,
        cursor=cursor,
        query_id="users",
    )
    return Page([_user_out(i) for i in page.items], page.next_cursor)


def get(store: Store, tenant_id: str, user_id: str) -> dict[str, Any]:
    item = store.get(keys.member(tenant_id, user_id), consistent=True)
    if item is None:
        raise NotFoundError("There is no such user in this company.")
    return item


def create(store: Store, principal: Principal, data: UserIn) -> dict[str, Any]:
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
    item = member_item(principal.tenant_id, user_id, data.email, roles, now)
    operations: Operations = [
        put_new(item),
        Op("email", put_new(email_guard(principal.tenant_id, data.email, user_id))),
        audit_entry(principal.actor(), "user.create", "user", user_id, None, strip_keys(item), now),
        _headcount(principal, int(OWNER in roles), 1),
    ]
    try:
        store.transact(operations)
    except ConditionFailed as exc:
        if linked:
            identity.delete_user(data.email, user_id)
        if exc.name == "email" and exc.item:  # invited twice at once: the other invitation won
            raise _already_member(data.email, str(exc.item.get("user_id", ""))) from exc
        if exc.name == "headcount":
            raise _no_seat(principal) from exc
        raise
    except Exception:
        if linked:
            identity.delete_user(data.email, user_id)
        raise
    return _user_out(item)


def _headcount(principal: Principal, owners: int, seats: int) -> Op:
    return repository.headcount_change(principal.tenant_id, owners, seats, seat_limit(principal.plan))


def _number(value: Any) -> int:
    """A number of a failed condition's item, in the wire's form ({"N": "1"}) or as read."""
    if isinstance(value, dict):
        value = value.get("N")
    return int(value) if value is not None else 0


def seat_limit(plan_id: str) -> int:
    """The seats (enabled users) the plan has room for."""
    try:
        return plans.get(plan_id).included["seats"]
    except KeyError:  # a plan no longer offered: the free plan's
        return plans.get("free").included["seats"]


def _no_seat(principal: Principal) -> PaymentRequiredError:
    seats = seat_limit(principal.plan)
    return PaymentRequiredError(
        f"The company's plan has {seats} seats, all taken by enabled users: disable or remove one, or "
        "move to a larger plan (PUT /billing/plan).",
        limit="seats",
        included=seats,
    )


def email_guard(tenant_id: str, email: str, user_id: str) -> dict[str, Any]:
    return {**keys.member_email(tenant_id, email), "user_id": user_id}


def _already_member(email: str, user_id: str) -> ConflictError:
    return ConflictError(f"{email} is already a user of this company.", field="email", existing_id=user_id)


def _is_active_owner(item: dict[str, Any]) -> bool:
    return bool(item.get("enabled")) and OWNER in item.get("roles", [])


def _guard_target(store: Store, principal: Principal, target: dict[str, Any]) -> None:
    """To change a user you must hold every permission that user holds."""
    held = _role_permissions(store, principal.tenant_id, list(target.get("roles", [])))
    if permissions.uncovered(held, principal.permissions):
        raise PermissionDeniedError("This user holds permissions you do not have; ask an owner.")


def update(
    store: Store, principal: Principal, user_id: str, data: UserPatch, if_match: int | None
) -> dict[str, Any]:
    before = get(store, principal.tenant_id, user_id)
    if if_match is not None and if_match != before["version"]:
        raise PreconditionFailedError(f"The user is at version {before['version']}, not {if_match}.")
    _guard_target(store, principal, before)
    changed = dict(before)
    if data.roles is not None:
        roles = sorted(set(data.roles))
        granted = _role_permissions(store, principal.tenant_id, roles)
        missing = permissions.uncovered(granted, principal.permissions)
        if missing:
            raise PermissionDeniedError(
                f"You cannot grant permissions you do not hold: {', '.join(missing)}."
            )
        changed["roles"] = roles
    if data.enabled is not None:
        changed["enabled"] = data.enabled
    if changed == before:
        return _user_out(before)
    enabling = bool(changed["enabled"]) and not before["enabled"]
    if enabling:
        # Tokens carry whole seconds: every sign-in before the next second began before this
        # enable (the user was disabled in Cognito), every one from then on came after it.
        changed["sessions_valid_from"] = int(time.time()) + 1
    after = next_version(principal.actor(), changed, utcnow())
    operations = write_version(
        principal.actor(), before, after, name="user", entity_type="user", entity_id=user_id, action="update"
    )
    owner_delta = int(_is_active_owner(after)) - int(_is_active_owner(before))
    seat_delta = int(bool(after["enabled"])) - int(bool(before["enabled"]))
    if owner_delta or seat_delta:
        operations.append(_headcount(principal, owner_delta, seat_delta))
    _write_user_change(store, principal, operations, owner_delta)
    if enabling:
        # Cognito lets the user sign in only once that second has begun (and a little after, for
        # the clocks), so no token of a sign-in after the enable carries an earlier second.
        time.sleep(max(0.0, after["sessions_valid_from"] + SESSION_CLOCK_MARGIN - time.time()))
    if data.enabled is not None and data.enabled != before["enabled"]:
        identity.set_enabled(before["email"], user_id, data.enabled)
    CACHE.forget_tenant(principal.tenant_id)
    return _user_out(after)


def _write_user_change(store: Store, principal: Principal, operations: Operations, owner_delta: int) -> None:
    try:
        store.transact(operations)
    except ConditionFailed as exc:
        if exc.name == "headcount":
            if owner_delta < 0 and _number((exc.item or {}).get("owner_count")) <= 1:
                raise ConflictError("The company must keep at least one enabled owner.") from exc
            raise _no_seat(principal) from exc
        raise PreconditionFailedError("The user was changed meanwhile; read it again.") from exc


def remove(store: Store, principal: Principal, user_id: str, if_match: int | None) -> None:
    before = get(store, principal.tenant_id, user_id)
    if if_match is not None and if_match != before["version"]:
        raise PreconditionFailedError(f"The user is at version {before['version']}, not {if_match}.")
    _guard_target(store, principal, before)
    operations: Operations = [
        repository.member_removed(principal.tenant_id, user_id, before["version"]),
        audit_entry(principal.actor(), "user.delete", "user", user_id, strip_keys(before), None),
    ]
    owner_delta = -1 if _is_active_owner(before) else 0
    seat_delta = -1 if before.get("enabled") else 0
    if owner_delta or seat_delta:
        operations.append(_headcount(principal, owner_delta, seat_delta))
    # Unconditional: the address may be invited again.
    operations.append(delete(keys.member_email(principal.tenant_id, before["email"])))
    _write_user_change(store, principal, operations, owner_delta)
    identity.delete_user(before["email"], user_id)
    CACHE.forget_tenant(principal.tenant_id)

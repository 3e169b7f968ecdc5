"""A company's account: signup (the company, its owner and the owner's membership), its profile, /me."""

from __future__ import annotations

from typing import Any

from chalicelib.core import aws, ids, keys, plans
from chalicelib.core.errors import ConflictError, NotFoundError, PreconditionFailedError, ValidationError
from chalicelib.core.store import (
    Actor,
    ConditionFailed,
    Op,
    Operations,
    Store,
    audit_entry,
    put_new,
    strip_keys,
    utcnow,
)
from chalicelib.tenants import identity, repository
from chalicelib.tenants.access import CACHE, Principal
from chalicelib.tenants.models import SignupIn
from chalicelib.tenants.published import DEFAULT_TIME_ZONE
from chalicelib.tenants.users import OWNER, email_guard, member_item


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
        "seat_count": 1,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    member = member_item(tenant_id, user_id, data.owner_email, [OWNER], now)
    registry = {
        **keys.tenant_registry(tenant_id),
        **keys.tenant_registry_index(tenant_id),
        "tenant_id": tenant_id,
        "plan": data.plan,
        "created_at": now,
    }
    role_set = {**keys.role_set(tenant_id), "roles": {}, "created_at": now}
    first_plan = {**keys.plan_change(tenant_id, now), "plan": data.plan, "effective_at": now, "by": user_id}
    try:
        with aws.tenant_scope(tenant_id):  # the new company's own credentials (its registry entry too)
            store.transact(
                [
                    put_new(registry),
                    put_new(profile),
                    put_new(member),
                    put_new(email_guard(tenant_id, data.owner_email, user_id)),
                    put_new(role_set),
                    put_new(first_plan),
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


def company_profile(store: Store, tenant_id: str) -> dict[str, Any]:
    profile = store.get(keys.tenant_profile(tenant_id))
    if profile is None:
        raise NotFoundError("The company does not exist.")
    return profile


def me(store: Store, principal: Principal) -> dict[str, Any]:
    profile = company_profile(store, principal.tenant_id)
    return {
        "user": {"id": principal.user_id, "email": principal.email},
        "tenant": {
            "id": profile["id"],
            "company_name": profile["company_name"],
            "plan": profile["plan"],
            "default_currency": profile.get("default_currency", "CNY"),
            "time_zone": profile.get("time_zone") or DEFAULT_TIME_ZONE,
            "created_at": profile["created_at"],
        },
        "roles": list(principal.roles),
        "permissions": sorted(principal.permissions),
    }


def set_time_zone(store: Store, principal: Principal, time_zone: str) -> dict[str, Any]:
    """The company's time zone (its local day: when birthdays and lapses are looked at), audited."""
    now = utcnow()
    before = company_profile(store, principal.tenant_id).get("time_zone") or DEFAULT_TIME_ZONE
    entry = audit_entry(
        principal.actor(),
        "tenant.settings",
        "tenant",
        principal.tenant_id,
        {"time_zone": before},
        {"time_zone": time_zone},
    )
    store.transact([repository.time_zone_set(principal.tenant_id, time_zone, now), entry])
    return me(store, principal)


def change_plan(store: Store, principal: Principal, plan_id: str) -> dict[str, Any]:
    """Move the company to ``plan_id`` (owners): its profile and registry entry, the plan history's
    new entry and the audit entry in one transaction. Limits follow within the principal cache's
    time (at once in this container); the bill prorates by day (billing/invoices.py). A plan with
    fewer seats than the company's enabled users is refused, naming the seats."""
    try:
        plan = plans.get(plan_id)
    except KeyError:
        raise ValidationError(
            f"There is no plan {plan_id!r}; the plans are {', '.join(plans.ids())}.",
            errors=[{"loc": ["body", "plan"], "msg": "unknown plan", "type": "value_error"}],
        ) from None
    profile = company_profile(store, principal.tenant_id)
    if profile.get("plan") == plan.id:
        return profile
    seats = int(profile.get("seat_count", 0))
    if seats > plan.included["seats"]:
        raise ConflictError(
            f"The {plan.name} plan has {plan.included['seats']} seats and the company has {seats} enabled "
            "users: disable or remove some first.",
            field="plan",
            limit="seats",
        )
    now = utcnow()
    actor = principal.actor()
    after = {**profile, "plan": plan.id, "updated_at": now, "version": int(profile["version"]) + 1}
    operations: Operations = [
        Op("profile", repository.plan_set(principal.tenant_id, plan.id, int(profile["version"]), now)),
        {"Update": repository.registry_plan(principal.tenant_id, plan.id)},
        put_new(
            {
                **keys.plan_change(principal.tenant_id, now),
                "plan": plan.id,
                "effective_at": now,
                "by": actor.user_id,
            }
        ),
        audit_entry(
            actor,
            "tenant.plan",
            "tenant",
            principal.tenant_id,
            {"plan": profile.get("plan")},
            {"plan": plan.id},
            now,
        ),
    ]
    try:
        store.transact(operations)
    except ConditionFailed as exc:
        raise PreconditionFailedError("The company was changed meanwhile; try again.") from exc
    CACHE.forget_tenant(principal.tenant_id)
    return after

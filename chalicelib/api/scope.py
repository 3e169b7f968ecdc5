"""Permissions granted over the user's own records only (``p@own``), enforced once for every route:
the record named in the path, the records named in the body, the owner a body sets."""

from __future__ import annotations

import dataclasses
from typing import Any

from chalicelib.api.shapes import RouteSpec
from chalicelib.core import entities, keys
from chalicelib.core.errors import NotFoundError, PermissionDeniedError, ValidationError
from chalicelib.core.store import Store
from chalicelib.tenants.access import Principal


def owner_scope(
    store: Store, spec: RouteSpec, principal: Principal, params: dict[str, str], body: Any
) -> Principal:
    """Enforce a permission granted over own records only (``p@own``).

    A record named in the path must be the user's (a pool record is readable); one the user may
    not even read answers 404, one they may read but not act on answers 403. A body may name only
    customers the user may read, and only the user as owner. The writes themselves check the owner
    again on the version they replace (``entities.update``), so a concurrent reassignment cannot
    slip through between this check and the write.
    """

    assert spec.permission is not None
    resource = spec.permission.split(":")[0]
    _check_named_records(store, principal, body)
    owner = (
        getattr(body, "owner_id", None)
        if "owner_id" in getattr(body, "model_fields_set", ())
        else principal.user_id
    )
    if owner != principal.user_id and not (
        f"{resource}:update" in principal.permissions or principal.holds(f"{resource}:assign")
    ):
        raise PermissionDeniedError(
            f"Giving a record to someone else needs {resource}:update over all records, or {resource}:assign.",
            permission=f"{resource}:assign",
            errors=[{"loc": ["body", "owner_id"], "msg": "only yourself", "type": "permission"}],
        )
    if not principal.own_only(spec.permission):
        return principal
    for name, pattern in spec.path_params.items():
        et = owned_types().get(pattern)
        if et is None:
            continue
        item = store.get(keys.entity(principal.tenant_id, et.name, params[name]), consistent=True)
        if item is None:
            break  # the handler answers 404
        if not principal.may_read(et.read_permission, item):
            raise NotFoundError(f"There is no {et.label()} {params[name]}.")
        if item.get("owner_id") != principal.user_id and spec.method != "GET":
            raise PermissionDeniedError(
                f"This {et.label()} is not yours: {spec.permission} is granted to you over your own records only.",
                permission=spec.permission,
            )
        break
    return dataclasses.replace(principal, acting_own_only=True)


def owned_types() -> dict[str, entities.EntityType]:
    """Every record type with an owner, by the pattern of its ids. They register as their context's
    types are imported, and routes are imported on first use: a container whose first request is an
    ERP route naming a customer must know the CRM's types too (imported here, for @own users only)."""
    from chalicelib.crm import types  # noqa: F401  # registers the CRM's owned types

    return entities.OWNED


# Fields of a body that name a record with an owner: the record's type.
_NAMED_RECORDS = {"customer_id": "customer", "contact_id": "contact", "opportunity_id": "opportunity"}


def _check_named_records(store: Store, principal: Principal, body: Any) -> None:
    """A customer, contact or opportunity named in the body must be one the user may read: to a user
    who may read only their own (and the pool's), another user's is as absent as it is by id, and
    cannot be linked to (one GetItem per such field, only for such users)."""

    given = getattr(body, "model_fields_set", ())
    types = {t.name: t for t in owned_types().values()}
    for field, type_name in _NAMED_RECORDS.items():
        record_id = getattr(body, field, None) if field in given else None
        et = types.get(type_name)
        if not record_id or et is None or not principal.own_only(et.read_permission):
            continue
        item = store.get(keys.entity(principal.tenant_id, et.name, record_id))
        if item is not None and not principal.may_read(et.read_permission, item):
            raise ValidationError(
                f"There is no {et.label()} {record_id}.",
                errors=[{"loc": ["body", field], "msg": f"no such {et.label()}", "type": "reference"}],
            )

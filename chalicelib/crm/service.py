"""Customers: create, read, list and search, change, delete; the code is unique per tenant."""

from __future__ import annotations

import unicodedata
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.core import ids, keys
from chalicelib.core.errors import BadRequestError, ConflictError, NotFoundError, PreconditionFailedError, ValidationError
from chalicelib.core.schemas import iso
from chalicelib.core.store import Actor, ConditionFailed, Page, Store, audit_entry, delete, put, put_new, strip_keys, utcnow
from chalicelib.crm.models import CustomerIn, CustomerPatch, CustomerQuery

ENTITY = "customer"
TOMBSTONE_DAYS = 90


def normalise_name(name: str) -> str:
    """Search form of a name: NFKC (full-width to half-width), case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def normalise_prefix(prefix: str) -> str:
    """Search form of a typed prefix: as a name, but a trailing space is kept (it ends a word)."""
    normalised = normalise_name(prefix)
    return normalised + " " if normalised and prefix[-1].isspace() else normalised


def _indexes(tenant_id: str, item: dict[str, Any]) -> dict[str, str]:
    return {
        **keys.updated_index(tenant_id, ENTITY, item["updated_at"], item["id"]),
        **keys.name_index(tenant_id, ENTITY, normalise_name(item["name"]), item["id"]),
    }


def _guard(tenant_id: str, code: str, customer_id: str) -> dict[str, Any]:
    return {**keys.unique_guard(tenant_id, ENTITY, "code", code.upper()), "customer_id": customer_id, "code": code}


def _code_taken(exc: ConditionFailed, code: str) -> ConflictError:
    existing = (exc.item or {}).get("customer_id")
    if isinstance(existing, dict):  # the low-level shape, {"S": "..."}
        existing = existing.get("S")
    return ConflictError(
        f"The code {code} is already used by another customer.",
        errors=[{"loc": ["body", "code"], "msg": "already used", "type": "unique"}],
        existing_id=existing,
    )


def public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in strip_keys(item).items() if k not in {"tenant_id", "name_norm"}}


def create(store: Store, actor: Actor, data: CustomerIn) -> dict[str, Any]:
    now = utcnow()
    customer_id = ids.new_id("cus")
    item: dict[str, Any] = {
        **keys.entity(actor.tenant_id, ENTITY, customer_id),
        "id": customer_id,
        "tenant_id": actor.tenant_id,
        **data.model_dump(mode="json"),
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "created_by": actor.user_id,
        "updated_by": actor.user_id,
    }
    item.update(_indexes(actor.tenant_id, item))
    operations = [put_new(item), audit_entry(actor, "customer.create", ENTITY, customer_id, None, public(item), now)]
    if data.code:
        operations.append(put_new(_guard(actor.tenant_id, data.code, customer_id)))
    try:
        store.transact(operations)
    except ConditionFailed as exc:
        if data.code and exc.index == 2:
            raise _code_taken(exc, data.code) from exc
        raise
    return public(item)


def get(store: Store, tenant_id: str, customer_id: str) -> dict[str, Any]:
    item = store.get(keys.entity(tenant_id, ENTITY, customer_id))
    if item is None:
        raise NotFoundError(f"There is no customer {customer_id}.")
    return item


def list_customers(store: Store, tenant_id: str, q: CustomerQuery) -> Page:
    if q.name_prefix and q.updated_since:
        raise BadRequestError(
            "Use either name_prefix or updated_since, not both.",
            errors=[{"loc": ["query", "updated_since"], "msg": "not with name_prefix", "type": "conflict"}],
        )
    if q.name_prefix:
        prefix = normalise_prefix(q.name_prefix)
        page = store.query_page(
            tenant_id=tenant_id,
            partition=keys.name_index_pk(tenant_id, ENTITY),
            index="gsi2",
            sort_condition=Key("gsi2sk").begins_with(prefix),
            limit=q.limit,
            cursor=q.cursor,
            query_id=f"name|{prefix}",
        )
    elif q.updated_since:
        since = iso(q.updated_since)
        page = store.query_page(
            tenant_id=tenant_id,
            partition=keys.updated_index_pk(tenant_id, ENTITY),
            index="gsi1",
            sort_condition=Key("gsi1sk").gt(since + "#~"),
            limit=q.limit,
            cursor=q.cursor,
            query_id=f"since|{since}",
        )
    else:
        page = store.query_page(
            tenant_id=tenant_id, partition=keys.entity_pk(tenant_id, ENTITY), limit=q.limit, cursor=q.cursor, query_id="all"
        )
    return Page([public(i) for i in page.items], page.next_cursor)


def _check_version(item: dict[str, Any], if_match: int | None) -> None:
    if if_match is not None and if_match != item["version"]:
        raise PreconditionFailedError(f"The customer is at version {item['version']}, not {if_match}.")


def update(store: Store, actor: Actor, customer_id: str, patch: CustomerPatch, if_match: int | None) -> dict[str, Any]:
    before = get(store, actor.tenant_id, customer_id)
    _check_version(before, if_match)
    changes = patch.model_dump(mode="json", include=patch.model_fields_set)
    for required in ("name", "kind"):
        if required in changes and changes[required] is None:
            raise ValidationError(
                f"{required} cannot be null.", errors=[{"loc": ["body", required], "msg": "cannot be null", "type": "null"}]
            )
    for listish, empty in (("phones", []), ("emails", []), ("tags", []), ("custom_fields", {})):
        if listish in changes and changes[listish] is None:
            changes[listish] = empty
    after = {**before, **changes}
    if public(after) == public(before):
        return public(before)
    now = utcnow()
    after.update(version=before["version"] + 1, updated_at=now, updated_by=actor.user_id)
    after.update(_indexes(actor.tenant_id, after))
    operations = [
        put(after, "version = :v", ExpressionAttributeValues={":v": before["version"]}),
        audit_entry(actor, "customer.update", ENTITY, customer_id, public(before), public(after), now),
    ]
    old_code, new_code = before.get("code"), after.get("code")
    code_changed = (old_code or "").upper() != (new_code or "").upper()
    if code_changed and new_code:
        operations.append(put_new(_guard(actor.tenant_id, new_code, customer_id)))
    if code_changed and old_code:
        operations.append(delete(keys.unique_guard(actor.tenant_id, ENTITY, "code", old_code.upper())))
    elif old_code and new_code and old_code != new_code:  # same code, other letter case: keep the guard current
        operations.append(put(_guard(actor.tenant_id, new_code, customer_id)))
    try:
        store.transact(operations)
    except ConditionFailed as exc:
        if exc.index == 2 and code_changed and new_code:
            raise _code_taken(exc, new_code) from exc
        raise PreconditionFailedError("The customer was changed meanwhile; read it again.") from exc
    return public(after)


def remove(store: Store, actor: Actor, customer_id: str, if_match: int | None) -> None:
    before = get(store, actor.tenant_id, customer_id)
    _check_version(before, if_match)
    now = utcnow()
    tomb = {
        **keys.tombstone(actor.tenant_id, ENTITY, customer_id),
        **keys.updated_index(actor.tenant_id, ENTITY, now, customer_id),
        "id": customer_id,
        "deleted": True,
        "updated_at": now,
        "expires_at": _epoch_in_days(TOMBSTONE_DAYS),
    }
    operations = [
        delete(keys.entity(actor.tenant_id, ENTITY, customer_id), "version = :v", {":v": before["version"]}),
        put(tomb),
        audit_entry(actor, "customer.delete", ENTITY, customer_id, public(before), None, now),
    ]
    if before.get("code"):
        operations.append(delete(keys.unique_guard(actor.tenant_id, ENTITY, "code", before["code"].upper())))
    try:
        store.transact(operations)
    except ConditionFailed as exc:
        raise PreconditionFailedError("The customer was changed meanwhile; read it again.") from exc


def _epoch_in_days(days: int) -> int:
    import time

    return int(time.time()) + days * 86400

"""Generic life cycle of a tenant's records: create, read, list, search, change, delete.

Every record type is described once by an ``EntityType`` (id prefix, searchable name, unique fields,
exact-match lookups); the functions here write the record, its audit entry, its unique guards and
its lookup items in one transaction, and take extra operations from the caller (a timeline entry,
a stage-history entry) into the same transaction. Services hold the rules; this holds the mechanics.

A change is decided by the record type's rules as a value (``Change``: the fields, the transaction's
other items, the references that must exist, the audit action, a result for the caller) from the
record as read; ``versioned`` makes the record's new version of it (every update goes through it).
The items of a transaction are named (``Op``): a failed condition is answered by what the item was
(the record itself, one of its unique guards, a referenced record), never by its position.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.core import ids, keys
from chalicelib.core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    ValidationError,
)
from chalicelib.core.normalise import normalise_name, normalise_prefix
from chalicelib.core.schemas import iso
from chalicelib.core.store import (
    Actor,
    ConditionFailed,
    Count,
    Op,
    Operation,
    Operations,
    Page,
    Store,
    Tally,
    audit_entry,
    delete,
    next_version,
    put,
    put_new,
    strip_keys,
    utcnow,
    write_version,
)

TOMBSTONE_DAYS = 90
INTERNAL = {"tenant_id", "removing_until"}  # never in an answer (the removal lease: see remove)
POOL = "none"  # the owner lookup's value for records nobody owns (the shared pool)


@dataclasses.dataclass(frozen=True)
class Unique:
    """A field whose value is unique in the tenant (case-insensitive), guarded by an item."""

    field: str


@dataclasses.dataclass(frozen=True)
class Kind:
    """A record type known by its name and id prefix alone: what another context needs to name (refer
    to, check the existence of) a record of a type it does not own."""

    name: str
    prefix: str

    @property
    def id_pattern(self) -> str:
        return ids.id_pattern(self.prefix)

    def label(self) -> str:
        return self.name.replace("_", " ")


@dataclasses.dataclass(frozen=True)
class EntityType(Kind):
    """A record type of the context that owns it: its searchable name, unique fields, lookups, owner."""

    name_field: str | None = "name"
    uniques: tuple[Unique, ...] = ()
    # Exact-match lookups: (kind, value) pairs of an item, e.g. ("email", "a@b.c"), ("phone", "+861")
    lookups: Callable[[dict[str, Any]], Iterable[tuple[str, str]]] | None = None
    lookup_kinds: tuple[str, ...] = ()  # every kind ``lookups`` yields: its partitions are listed by it
    # Records with an owner (``owner_id``, absent when in the shared pool), listed by owner.
    owned: bool = False
    resource: str = ""  # the permissions' resource (``crm.contacts``): reading one needs ``<resource>:read``
    # The company's aggregates this type's records feed (``store.Tally``): what a write from ``before``
    # to ``after`` (None: not there) adds to them, written in the write's own transaction.
    tallies: Callable[[str, dict[str, Any] | None, dict[str, Any] | None], list[Tally]] | None = None

    def tallied(
        self, tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> list[Tally]:
        return self.tallies(tenant_id, before, after) if self.tallies else []

    def __post_init__(self) -> None:
        if self.owned and not self.resource:
            raise ValueError(f"{self.name}: a record type with an owner names its permissions' resource")
        if self.owned:
            OWNED[self.id_pattern] = self
        TYPES[self.name] = self

    def shape(self) -> keys.TypeShape:
        """What the catalogue of a company's partitions needs of this type (core/keys.py)."""
        kinds = self.lookup_kinds + (("owner",) if self.owned else ())
        return keys.TypeShape(self.name, tuple(u.field for u in self.uniques), kinds)

    @property
    def read_permission(self) -> str:
        return f"{self.resource}:read"


def readable(actor: Actor, et: EntityType, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of ``items`` that ``actor`` may read, by the record-level read rule."""
    return [i for i in items if actor.may_read(et.read_permission, i)]


OWNED: dict[str, EntityType] = {}  # owned record types by the pattern of their ids
TYPES: dict[str, EntityType] = {}  # every record type whose module is loaded, by name


def public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in strip_keys(item).items() if k not in INTERNAL}


def indexes(et: EntityType, tenant_id: str, item: dict[str, Any]) -> dict[str, str]:
    indexes = keys.updated_index(tenant_id, et.name, item["updated_at"], item["id"])
    if et.name_field and item.get(et.name_field):
        indexes.update(keys.name_index(tenant_id, et.name, normalise_name(item[et.name_field]), item["id"]))
    return indexes


def _unique_value(item: dict[str, Any], unique: Unique) -> str | None:
    value = item.get(unique.field)
    return str(value).upper() if value not in (None, "") else None


def _guard_item(et: EntityType, tenant_id: str, unique: Unique, item: dict[str, Any]) -> dict[str, Any]:
    value = _unique_value(item, unique)
    assert value is not None
    return {
        **keys.unique_guard(tenant_id, et.name, unique.field, value),
        "entity_id": item["id"],
        "value": item[unique.field],
    }


def _lookup_items(
    et: EntityType, tenant_id: str, item: dict[str, Any]
) -> dict[tuple[str, str], dict[str, Any]]:
    pairs = list(et.lookups(item)) if et.lookups else []
    if et.owned:
        pairs.append(("owner", item.get("owner_id") or POOL))
    found = {}
    for kind, value in pairs:
        if kind != "owner" and kind not in et.lookup_kinds:  # its partition would escape backups
            raise ValueError(f"{et.name}: lookup kind {kind!r} is not declared in lookup_kinds")
        if value:
            key = keys.lookup(tenant_id, et.name, kind, value, item["id"])
            found[(key["pk"], key["sk"])] = {**key, "entity_id": item["id"]}
    return found


def lookup_changes(
    et: EntityType, tenant_id: str, before: dict[str, Any], after: dict[str, Any]
) -> Operations:
    """The lookup items to delete and to add when a record changes from ``before`` to ``after``."""
    old, new = _lookup_items(et, tenant_id, before), _lookup_items(et, tenant_id, after)
    return [
        *(delete({"pk": k[0], "sk": k[1]}) for k in old.keys() - new.keys()),
        *(put(new[k]) for k in new.keys() - old.keys()),
    ]


def _taken(
    store: Store, actor: Actor, et: EntityType, unique: Unique, exc: ConditionFailed, value: Any
) -> ConflictError:
    existing = (exc.item or {}).get("entity_id")
    if isinstance(existing, dict):  # the low-level shape, {"S": "..."}
        existing = existing.get("S")
    if existing and et.owned and not visible_ids(store, actor, et, [existing]):
        existing = None  # taken by a record the user may not read: say so without naming it
    return ConflictError(
        f"The {unique.field} {value} is already used by another {et.label()}.",
        errors=[{"loc": ["body", unique.field], "msg": "already used", "type": "unique"}],
        **({"existing_id": existing} if existing else {}),
    )


def new_item(
    et: EntityType, actor: Actor, fields: dict[str, Any], entity_id: str | None = None, now: str | None = None
) -> dict[str, Any]:
    """A new record of ``et`` (not yet written): keys, indexes, version, timestamps, owner."""
    now = now or utcnow()
    entity_id = entity_id or ids.new_id(et.prefix)
    item: dict[str, Any] = {
        **keys.entity(actor.tenant_id, et.name, entity_id),
        "id": entity_id,
        "tenant_id": actor.tenant_id,
        **fields,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "created_by": actor.user_id,
        "updated_by": actor.user_id,
    }
    if et.owned:
        owner = fields.get("owner_id", actor.user_id)  # absent: the creator; None: the shared pool
        if owner is None:
            item.pop("owner_id", None)
        else:
            item["owner_id"] = owner
    item.update(indexes(et, actor.tenant_id, item))
    return item


def guard_name(name: str, unique: Unique) -> str:
    """The name of a record's unique guard in a transaction: ``customer.code``."""
    return f"{name}.{unique.field}"


def create_operations(et: EntityType, actor: Actor, item: dict[str, Any]) -> Operations:
    """The writes of a new record: the item (named by its type), its audit entry, then its guards
    (``<type>.<field>``) and lookup items."""
    operations: Operations = [
        Op(et.name, put_new(item)),
        audit_entry(actor, f"{et.name}.create", et.name, item["id"], None, public(item), item["created_at"]),
        Count(actor.tenant_id, 1),
        *et.tallied(actor.tenant_id, None, item),
    ]
    for unique in et.uniques:
        if _unique_value(item, unique):
            operations.append(
                Op(guard_name(et.name, unique), put_new(_guard_item(et, actor.tenant_id, unique, item)))
            )
    operations.extend(put(i) for i in _lookup_items(et, actor.tenant_id, item).values())
    return operations


@dataclasses.dataclass(frozen=True)
class Reference:
    """A field naming another record of the tenant, which must exist when the write happens."""

    field: str
    et: Kind
    entity_id: str

    def key(self, tenant_id: str) -> dict[str, str]:
        return keys.entity(tenant_id, self.et.name, self.entity_id)

    def label(self) -> str:
        return self.et.label()


@dataclasses.dataclass(frozen=True)
class UserReference:
    """A field naming a user of the tenant (an owner), who must be a member when the write happens."""

    field: str
    entity_id: str

    def key(self, tenant_id: str) -> dict[str, str]:
        return keys.member(tenant_id, self.entity_id)

    def label(self) -> str:
        return "user"


# While a record's removal checks what still depends on it, it holds this lease (epoch seconds):
# a new record naming it is refused meanwhile, so nothing slips in between the check and the delete.
REMOVAL_LEASE = "removing_until"
LEASE_SECONDS = 30


def reference_checks(tenant_id: str, references: Iterable[Reference | UserReference]) -> Operations:
    """The referenced records exist, and none is being removed (its removal lease has run out); each
    check is named by the field that names the record (``customer_id``)."""
    condition = f"attribute_exists(pk) AND (attribute_not_exists({REMOVAL_LEASE}) OR {REMOVAL_LEASE} < :now)"
    check = {"ConditionExpression": condition, "ExpressionAttributeValues": {":now": int(time.time())}}
    return [Op(ref.field, {"ConditionCheck": {"Key": ref.key(tenant_id), **check}}) for ref in references]


def _missing(reference: Reference | UserReference) -> ValidationError:
    return ValidationError(
        f"There is no {reference.label()} {reference.entity_id}.",
        errors=[
            {"loc": ["body", reference.field], "msg": f"no such {reference.label()}", "type": "reference"}
        ],
    )


def _owner_reference(
    et: EntityType, actor: Actor, before: dict[str, Any] | None, after: dict[str, Any]
) -> list[UserReference]:
    """A new owner other than the acting user must be a member of the tenant."""
    owner = after.get("owner_id")
    if (
        not et.owned
        or owner is None
        or owner == actor.user_id
        or (before and before.get("owner_id") == owner)
    ):
        return []
    return [UserReference("owner_id", owner)]


def _check_own(et: EntityType, actor: Actor, before: dict[str, Any], after: dict[str, Any] | None) -> None:
    """An action granted over own records only: the record must be the user's, and stay so."""
    if not (actor.own_only and et.owned):
        return
    if before.get("owner_id") != actor.user_id:
        raise PermissionDeniedError(f"This {et.label()} is not yours; you may change only your own.")
    if after is not None and after.get("owner_id") != actor.user_id:
        raise PermissionDeniedError(
            f"Giving this {et.label()} to someone else needs the permission over all {et.label()}s.",
            errors=[{"loc": ["body", "owner_id"], "msg": "only your own", "type": "permission"}],
        )


def write_new(
    store: Store,
    actor: Actor,
    et: EntityType,
    item: dict[str, Any],
    *,
    extra: Sequence[Operation] = (),
    references: Iterable[Reference | UserReference] = (),
) -> None:
    """Write a new record (from ``new_item``) in one transaction with ``extra``; a unique clash names
    the field and the holder, a missing referenced record names the field."""
    refs = {ref.field: ref for ref in [*references, *_owner_reference(et, actor, None, item)]}
    guards = {guard_name(et.name, u): u for u in et.uniques if _unique_value(item, u)}
    try:
        store.transact(
            [*reference_checks(actor.tenant_id, refs.values()), *create_operations(et, actor, item), *extra]
        )
    except ConditionFailed as exc:
        if exc.name in refs:
            raise _missing(refs[exc.name]) from exc
        if exc.name in guards:
            unique = guards[exc.name]
            raise _taken(store, actor, et, unique, exc, item[unique.field]) from exc
        raise


def create(
    store: Store,
    actor: Actor,
    et: EntityType,
    fields: dict[str, Any],
    *,
    extra: Sequence[Operation] = (),
    references: Iterable[Reference | UserReference] = (),
) -> dict[str, Any]:
    item = new_item(et, actor, fields)
    write_new(store, actor, et, item, extra=extra, references=references)
    return item


def get(
    store: Store, tenant_id: str, et: Kind, entity_id: str, *, consistent: bool = False
) -> dict[str, Any]:
    item = store.get(keys.entity(tenant_id, et.name, entity_id), consistent=consistent)
    if item is None:
        raise NotFoundError(f"There is no {et.label()} {entity_id}.")
    return item


def get_many(
    store: Store, tenant_id: str, et: EntityType, entity_ids: Iterable[str], *, consistent: bool = False
) -> list[dict[str, Any]]:
    wanted = list(dict.fromkeys(entity_ids))[:100]
    if not wanted:
        return []
    entity_keys = [keys.entity(tenant_id, et.name, i) for i in wanted]
    found = {i["id"]: i for i in store.batch_get(entity_keys, consistent=consistent)}
    return [found[i] for i in wanted if i in found]


def list_page(
    store: Store,
    tenant_id: str,
    et: EntityType,
    *,
    limit: int,
    cursor: str | None,
    updated_since: Any = None,
    name_prefix: str | None = None,
    filter_condition: Any = None,
    filter_id: str = "",
) -> Page:
    """All records, or by name prefix (gsi2), or changed since an instant (gsi1, tombstones too)."""
    if name_prefix and updated_since:
        raise BadRequestError(
            "Use either name_prefix or updated_since, not both.",
            errors=[{"loc": ["query", "updated_since"], "msg": "not with name_prefix", "type": "conflict"}],
        )
    common = {"tenant_id": tenant_id, "limit": limit, "cursor": cursor, "filter_condition": filter_condition}
    if name_prefix:
        prefix = normalise_prefix(name_prefix)
        page = store.query_page(
            partition=keys.name_index_pk(tenant_id, et.name),
            index="gsi2",
            sort_condition=Key("gsi2sk").begins_with(prefix),
            query_id=f"name|{prefix}|{filter_id}",
            **common,
        )
    elif updated_since:
        since = iso(updated_since)
        page = store.query_page(
            partition=keys.updated_index_pk(tenant_id, et.name),
            index="gsi1",
            sort_condition=Key("gsi1sk").gt(keys.updated_after(since)),
            query_id=f"since|{since}|{filter_id}",
            **common,
        )
    else:
        page = store.query_page(
            partition=keys.entity_pk(tenant_id, et.name), query_id=f"all|{filter_id}", **common
        )
    return Page([public(i) for i in page.items], page.next_cursor)


def lookup(
    store: Store,
    tenant_id: str,
    et: EntityType,
    kind: str,
    value: str,
    *,
    limit: int = 100,
    cursor: str | None = None,
    newest_first: bool = False,
) -> Page:
    """Records whose ``kind`` (email, phone, customer...) is exactly ``value``, a page at a time:
    one Query and one BatchGetItem."""
    partition, prefix = keys.lookup_prefix(tenant_id, et.name, kind, value)
    page = store.query_page(
        tenant_id=tenant_id,
        partition=partition,
        sort_condition=Key("sk").begins_with(prefix),
        limit=limit,
        cursor=cursor,
        newest_first=newest_first,
        query_id=f"lookup|{kind}|{prefix}",
    )
    items = get_many(store, tenant_id, et, [i["entity_id"] for i in page.items])
    return Page([public(i) for i in items], page.next_cursor)


def lookup_all(store: Store, tenant_id: str, et: EntityType, kind: str, value: str) -> list[dict[str, Any]]:
    """Every record whose ``kind`` is exactly ``value``, page after page (for a customer's
    invoices, an invoice's credit notes: sets bounded by one record's business)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = lookup(store, tenant_id, et, kind, value, cursor=cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if not cursor:
            return items


def lookup_ids(
    store: Store,
    tenant_id: str,
    et: EntityType,
    kind: str,
    value: str,
    *,
    keep: Callable[[dict[str, Any]], bool],
    at_most: int,
) -> list[str]:
    """The ids of the first ``at_most`` records whose ``kind`` is ``value`` and which ``keep``
    accepts, read a page at a time until they are found (what blocks a customer's removal)."""
    found: list[str] = []
    cursor = None
    while len(found) < at_most:
        page = lookup(store, tenant_id, et, kind, value, cursor=cursor)
        found += [i["id"] for i in page.items if keep(i)]
        cursor = page.next_cursor
        if not cursor:
            break
    return found[:at_most]


class PlainRecords:
    """The service of a record type with no rules of its own (a supplier, a work centre): create
    from the body, list (by name prefix when the type is named), PATCH with required fields that
    ``null`` may not clear, delete."""

    def __init__(
        self, et: EntityType, required: tuple[str, ...], emptiable: dict[str, Any] | None = None
    ) -> None:
        self.et, self.required, self.emptiable = et, required, dict(emptiable or {})

    def create(self, store: Store, actor: Actor, data: Any) -> dict[str, Any]:
        return public(create(store, actor, self.et, data.model_dump(mode="json")))

    def list_page(self, store: Store, tenant_id: str, q: Any) -> Page:
        return list_page(
            store,
            tenant_id,
            self.et,
            limit=q.limit,
            cursor=q.cursor,
            updated_since=q.updated_since,
            name_prefix=getattr(q, "name_prefix", None),
        )

    def update(
        self, store: Store, actor: Actor, entity_id: str, patch: Any, if_match: int | None
    ) -> dict[str, Any]:
        change = Change(patch_fields(given(patch), self.required, self.emptiable))
        return public(update(store, actor, self.et, entity_id, decide=change, if_match=if_match).item)

    def remove(self, store: Store, actor: Actor, entity_id: str, if_match: int | None) -> None:
        remove(store, actor, self.et, entity_id, if_match=if_match)


def given(patch: Any) -> dict[str, Any]:
    """The fields a PATCH body actually carries (absent is "unchanged", null is "clear")."""
    return dict(patch.model_dump(mode="json", include=patch.model_fields_set))


def patch_fields(
    changes: dict[str, Any], required: tuple[str, ...], emptiable: dict[str, Any]
) -> dict[str, Any]:
    """Check a PATCH's fields: ``null`` may not clear a required field; it empties a collection."""
    for field in required:
        if field in changes and changes[field] is None:
            raise ValidationError(
                f"{field} cannot be null.",
                errors=[{"loc": ["body", field], "msg": "cannot be null", "type": "null"}],
            )
    return {
        field: emptiable[field] if value is None and field in emptiable else value
        for field, value in changes.items()
    }


def check_version(et: EntityType, item: dict[str, Any], if_match: int | None) -> None:
    if if_match is not None and if_match != item["version"]:
        raise PreconditionFailedError(f"The {et.label()} is at version {item['version']}, not {if_match}.")


@dataclasses.dataclass(frozen=True)
class Change:
    """What a record type's rules decide a change of a record is, from the record as read: the
    fields it sets (``owner_id: None`` gives the record to the pool), the other items of its
    transaction, the records that must exist when it is written, its audit action
    (``<type>.<action>``), its instant (``updated_at``; now when not given), and anything the caller
    wants back. No fields that change anything: nothing is written, not even ``extra``."""

    fields: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra: Sequence[Operation] = ()
    references: Sequence[Reference | UserReference] = ()
    action: str = "update"
    at: str | None = None
    result: Any = None


@dataclasses.dataclass(frozen=True)
class Written:
    """A change as written: the record after it, the decision, and whether it changed anything (if
    not, nothing was written and ``item`` is the record as read)."""

    item: dict[str, Any]
    change: Change
    changed: bool


@dataclasses.dataclass(frozen=True)
class Versioned:
    """A record's new version, decided but not yet written: the record after it, the items of its
    one transaction, and what a failed condition of its own items means."""

    actor: Actor
    et: EntityType
    name: str  # the record's own item in the transaction (its type's name)
    after: dict[str, Any]
    operations: Operations
    guards: dict[str, tuple[Unique, Any]]  # a new unique guard's name → the unique and its value
    references: dict[str, Reference | UserReference]  # a reference check's name (its field) → what it checks

    def refusal(self, store: Store, exc: ConditionFailed) -> Exception | None:
        """The domain error a failed condition means (None: not one of this version's items)."""
        if exc.name == self.name:
            return PreconditionFailedError(f"The {self.et.label()} was changed meanwhile; read it again.")
        if exc.name in self.guards:
            unique, value = self.guards[exc.name]
            return _taken(store, self.actor, self.et, unique, exc, value)
        if exc.name in self.references:
            return _missing(self.references[exc.name])
        return None

    def write(self, store: Store) -> dict[str, Any]:
        """Write it alone (one transaction); a failed condition is answered by ``refusal``."""
        try:
            store.transact(self.operations)
        except ConditionFailed as exc:
            refusal = self.refusal(store, exc)
            if refusal is None:
                raise
            raise refusal from exc
        return self.after


def scope_exit(tenant_id: str, et: EntityType, before: dict[str, Any], at: str) -> dict[str, Any]:
    """The note that a record left its owner's scope (or the pool's) at ``at``, for the devices of a
    user who reads own records only (``core/sync.py``); kept as long as tombstones."""
    return {
        **keys.scope_left(tenant_id, et.name, before.get("owner_id"), at, before["id"]),
        "id": before["id"],
        "at": at,
        "expires_at": int(time.time()) + TOMBSTONE_DAYS * 86400,
    }


def versioned(actor: Actor, et: EntityType, before: dict[str, Any], change: Change) -> Versioned | None:
    """The new version of ``before`` that ``change`` makes, conditional on the version read: version
    + 1, who and when, indexes, guard and lookup changes, its audit entry, then the change's own items
    and its reference checks (a new owner other than the actor must be a member). None when it changes
    nothing. A change of owner is audited as ``<type>.reassign`` unless the change names its action.
    In the transaction the record's item is named by its type, its new guards ``<type>.<field>``."""
    name = et.name
    changed = {**before, **change.fields}
    if et.owned and changed.get("owner_id") is None:
        changed.pop("owner_id", None)
    _check_own(et, actor, before, changed)
    if public(changed) == public(before):
        return None
    action = change.action
    if et.owned and before.get("owner_id") != changed.get("owner_id") and action == "update":
        action = "reassign"
    after = next_version(actor, changed, change.at or utcnow())
    after.update(indexes(et, actor.tenant_id, after))
    if et.name_field and not after.get(et.name_field):
        for attr in ("gsi2pk", "gsi2sk"):
            after.pop(attr, None)
    operations = write_version(
        actor,
        before,
        after,
        name=name,
        entity_type=et.name,
        entity_id=before["id"],
        action=action,
        shown=public,
    )
    guards: dict[str, tuple[Unique, Any]] = {}
    for unique in et.uniques:
        old, new = _unique_value(before, unique), _unique_value(after, unique)
        if old != new:
            if new:
                guards[guard_name(name, unique)] = (unique, after[unique.field])
                guard = put_new(_guard_item(et, actor.tenant_id, unique, after))
                operations.append(Op(guard_name(name, unique), guard))
            if old:
                operations.append(delete(keys.unique_guard(actor.tenant_id, et.name, unique.field, old)))
        elif new and before.get(unique.field) != after.get(unique.field):  # same value, other letter case
            operations.append(put(_guard_item(et, actor.tenant_id, unique, after)))
    operations.extend(lookup_changes(et, actor.tenant_id, before, after))
    operations.extend(et.tallied(actor.tenant_id, before, after))
    if et.owned and before.get("owner_id") != after.get("owner_id"):
        operations.append(put(scope_exit(actor.tenant_id, et, before, after["updated_at"])))
    operations.extend(change.extra)
    references = {ref.field: ref for ref in [*change.references, *_owner_reference(et, actor, before, after)]}
    operations.extend(reference_checks(actor.tenant_id, references.values()))
    return Versioned(actor, et, name, after, operations, guards, references)


def update(
    store: Store,
    actor: Actor,
    et: EntityType,
    entity_id: str,
    *,
    decide: Change | Callable[[dict[str, Any]], Change],
    if_match: int | None = None,
    read: dict[str, Any] | None = None,
) -> Written:
    """Read the record, decide the change (a ``Change``, or a function of the record as read giving
    one) and write its new version in one transaction. ``read``: the record as the caller read it
    (consistently, with other items), instead of reading it here."""
    before = read if read is not None else get(store, actor.tenant_id, et, entity_id, consistent=True)
    check_version(et, before, if_match)
    change = decide(before) if callable(decide) else decide
    planned = versioned(actor, et, before, change)
    if planned is None:
        return Written(before, change, changed=False)
    return Written(planned.write(store), change, changed=True)


def remove(
    store: Store,
    actor: Actor,
    et: EntityType,
    entity_id: str,
    *,
    if_match: int | None = None,
    check: Callable[[dict[str, Any]], None] | None = None,
    extra: Sequence[Operation] | Callable[[dict[str, Any]], Sequence[Operation]] = (),
    lease: bool = False,
) -> dict[str, Any]:
    """Delete a record, its guards and lookups, leaving a tombstone for clients that sync.

    ``check`` may refuse on the state read (the write is conditional on that very version); ``extra``
    (or a function of the record as read giving them) joins the transaction. With ``lease``, the
    record first takes its removal lease, so a record created meanwhile that names it is refused and
    ``check`` sees everything that depends on it; a refusal gives the lease back."""
    before = get(store, actor.tenant_id, et, entity_id, consistent=True)
    check_version(et, before, if_match)
    _check_own(et, actor, before, None)
    key = keys.entity(actor.tenant_id, et.name, entity_id)
    if lease:
        try:
            until = int(time.time()) + LEASE_SECONDS
            values = {":until": until, ":v": before["version"]}
            store.update(
                Key=key,
                UpdateExpression=f"SET {REMOVAL_LEASE} = :until",
                ConditionExpression="version = :v",
                ExpressionAttributeValues=values,
            )
        except ConditionFailed as exc:
            raise PreconditionFailedError(f"The {et.label()} was changed meanwhile; read it again.") from exc
    if check:
        try:
            check(before)
        except Exception:
            if lease:
                store.update(Key=key, UpdateExpression=f"REMOVE {REMOVAL_LEASE}")
            raise
    now = utcnow()
    tomb = {
        **keys.tombstone(actor.tenant_id, et.name, entity_id),
        **keys.updated_index(actor.tenant_id, et.name, now, entity_id),
        "id": entity_id,
        "deleted": True,
        "updated_at": now,
        **({"owner_id": before["owner_id"]} if before.get("owner_id") else {}),
        "expires_at": int(time.time()) + TOMBSTONE_DAYS * 86400,
    }
    operations: Operations = [
        delete(keys.entity(actor.tenant_id, et.name, entity_id), "version = :v", {":v": before["version"]}),
        put(tomb),
        audit_entry(actor, f"{et.name}.delete", et.name, entity_id, public(before), None, now),
        Count(actor.tenant_id, -1),
        *et.tallied(actor.tenant_id, before, None),
    ]
    for unique in et.uniques:
        value = _unique_value(before, unique)
        if value:
            operations.append(delete(keys.unique_guard(actor.tenant_id, et.name, unique.field, value)))
    operations.extend(delete({"pk": k[0], "sk": k[1]}) for k in _lookup_items(et, actor.tenant_id, before))
    operations.extend(extra(before) if callable(extra) else extra)
    try:
        store.transact(operations)
    except ConditionFailed as exc:
        if lease:  # changed meanwhile: the record stays, and takes new references again at once
            store.update(Key=key, UpdateExpression=f"REMOVE {REMOVAL_LEASE}")
        raise PreconditionFailedError(f"The {et.label()} was changed meanwhile; read it again.") from exc
    return before


def lookup_matches(
    store: Store,
    tenant_id: str,
    et: EntityType,
    points: Iterable[tuple[str, str]],
    found: dict[str, str] | None = None,
) -> dict[str, str]:
    """Records holding any of these exact (kind, value) lookups, id → the kind that matched first:
    one Query per point. For probable duplicates (same email, same phone)."""
    found = {} if found is None else found
    for kind, value in points:
        partition, prefix = keys.lookup_prefix(tenant_id, et.name, kind, value)
        page = store.query_page(
            tenant_id=tenant_id,
            partition=partition,
            sort_condition=Key("sk").begins_with(prefix),
            limit=5,
            query_id="duplicates",
        )
        for item in page.items:
            found.setdefault(item["entity_id"], kind)
    return found


def visible_ids(store: Store, actor: Actor, et: EntityType, entity_ids: list[str]) -> list[str]:
    """Those of ``entity_ids`` whose records ``actor`` may read (in the given order)."""
    if actor.reads_all(et.read_permission):
        return entity_ids
    readable_ids = {i["id"] for i in readable(actor, et, get_many(store, actor.tenant_id, et, entity_ids))}
    return [i for i in entity_ids if i in readable_ids]


def refuse_duplicates(
    store: Store,
    actor: Actor,
    et: EntityType,
    duplicates: list[dict[str, str]],
    *,
    field: str | None = None,
    advice: str = "send allow_duplicate=true to create it anyway",
) -> None:
    """409 naming the first probable duplicate (``id``, ``matched_on``) unless there is none.
    Only records the user may read are named: a duplicate they may not see is reported as such."""
    if not duplicates:
        return
    shown = set(visible_ids(store, actor, et, [d["id"] for d in duplicates]))
    named = [d for d in duplicates if d["id"] in shown]
    first = (named or duplicates)[0]
    field = field or ("name" if first["matched_on"] == "name" else f"{first['matched_on']}s")
    who = f"{et.label()} {first['id']}" if named else f"a {et.label()} you cannot see"
    extra: dict[str, Any] = {"existing_id": first["id"]} if named else {}
    raise ConflictError(
        f"This is probably {who} (same {first['matched_on']}); {advice}.",
        errors=[{"loc": ["body", field], "msg": "probable duplicate", "type": "duplicate"}],
        duplicates=named,
        **extra,
    )

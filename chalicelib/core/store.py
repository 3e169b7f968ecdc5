"""The repository base: the only code that talks to DynamoDB.

Every mutation is one TransactWriteItems carrying the entity change and its audit entry (and its
outbox record, its guards, its lookups...); its items may be named (``Op``), so that a failed condition
says which item failed. Reads are GetItem/BatchGetItem/Query; never Scan.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from boto3.dynamodb.conditions import ConditionBase, Key
from botocore.exceptions import ClientError

from chalicelib.core import aws, ids, keys, pagination, scope
from chalicelib.core.config import settings
from chalicelib.core.errors import WriteTooSlowError


def utcnow() -> str:
    """Timestamps are ISO 8601 UTC with microseconds, so that they sort as strings."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# A change's stamp (its ``updated_at``, its place on the change index) is at most this old when its
# transaction is sent (each try): ``Store.transact`` refuses an older one (``StaleStamp``), so that a
# syncing client's settle window (core/sync.py) covers the commit and the index's lag.
STAMP_SECONDS = 20


class StaleStamp(WriteTooSlowError):
    """A change stamped more than ``STAMP_SECONDS`` before its transaction: the work is done again
    (a request answers 503 and nothing is written; a job's step is retried) rather than let a sync
    pass it by."""


def _oldest_stamp(operations: Sequence[dict[str, Any] | Op]) -> str | None:
    """The earliest change stamp among the records the operations put on a change index."""
    stamps = [
        item["updated_at"]
        for op in operations
        for item in [request_of(op).get("Put", {}).get("Item", {})]
        if keys.is_change_index(str(item.get("gsi1pk", ""))) and item.get("updated_at")
    ]
    return min(stamps) if stamps else None


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who is acting: a user of the tenant, or the platform itself (signup, jobs)."""

    tenant_id: str
    user_id: str
    email: str = ""
    request_id: str = ""
    own_only: bool = False  # the action is granted over the user's own records only
    grants: frozenset[str] | None = None  # the user's permissions; None: the platform itself
    epoch: int = 0  # the company's epoch the actor's world is of: stamped on the events it raises

    def holds(self, permission: str) -> bool:
        return scope.holds(self.grants, permission)

    def reads_all(self, permission: str) -> bool:
        """Granted over every record, not only the user's own."""
        return self.grants is None or permission in self.grants

    def may_read(self, permission: str, item: dict[str, Any]) -> bool:
        """The record-level read rule (``scope.may_read``) for this actor."""
        return scope.may_read(self.grants, self.user_id, permission, item)


@dataclasses.dataclass(frozen=True)
class Op:
    """A transaction item with a name, so that a failed condition says which item it was."""

    name: str
    request: dict[str, Any]  # {"Put": ...}, {"Update": ...}, {"Delete": ...} or {"ConditionCheck": ...}


@dataclasses.dataclass(frozen=True)
class Count:
    """Not an item: the records a change adds to (``delta`` > 0) or removes from the company's count
    of stored records (billing's meter). ``Store.transact`` writes a transaction's counts as one
    Update of one of the company's counter shards, in the same transaction: the count is exact,
    whatever fails or is retried."""

    tenant_id: str
    delta: int


@dataclasses.dataclass(frozen=True)
class Tally:
    """Not an item: what a change adds to (or, negative, takes from) one of the company's aggregates
    (``keys.aggregate``: a family such as ``sales`` and a key such as ``day#2026-12-03``), by field.
    ``Store.transact`` writes a transaction's tallies of one aggregate as one ``ADD`` on one of its
    ``shards`` items, in the same transaction as the change: the aggregate moves exactly when the
    record does, whatever fails or is retried. Readers sum the shards."""

    tenant_id: str
    family: str
    key: str
    adds: Mapping[str, int | Decimal]
    shards: int = 8
    sets: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # written as they are (the last wins)


Operation = dict[str, Any] | Op | Count | Tally  # an item of a transaction: a request, named or not
Operations = list[Operation]
COUNTER_SHARDS = 8  # a company's record count is kept in this many items (fewer transactions collide)
CONFLICT_TRIES = 4  # a transaction cancelled only by another one's conflict is tried this often


def request_of(operation: Operation) -> dict[str, Any]:
    if isinstance(operation, Count | Tally):
        raise TypeError("a Count or a Tally is no request: Store.transact writes it")
    return operation.request if isinstance(operation, Op) else operation


def sort_key_between(low: str, high: str) -> ConditionBase:
    """A Query's sort key condition: from ``low`` to ``high`` inclusive (``query_all``)."""
    return Key("sk").between(low, high)


def sort_key_prefix(prefix: str) -> ConditionBase:
    """A Query's sort key condition: the sort keys beginning with ``prefix``."""
    return Key("sk").begins_with(prefix)


def is_request(operation: Operation) -> bool:
    """An item of its own in the transaction as given (Counts and Tallies are folded by ``transact``)."""
    return not isinstance(operation, Count | Tally)


def folded_into(operation: Operation) -> tuple[str, ...] | None:
    """The item ``transact`` folds a Count or a Tally into (one per company's count, one per
    aggregate); None for a request, which is an item of its own. A transaction's size in items is
    its requests plus its distinct folded items."""
    if isinstance(operation, Count):
        return ("count", operation.tenant_id)
    if isinstance(operation, Tally):
        return ("tally", operation.tenant_id, operation.family, operation.key)
    return None


def summed(items: Sequence[dict[str, Any]]) -> dict[str, Decimal]:
    """The fields of an aggregate's items (its shards, or several keys) added up, keys left out."""
    sums: dict[str, Decimal] = {}
    for item in items:
        for name, value in item.items():
            if name not in keys.KEY_ATTRIBUTES:
                sums[name] = sums.get(name, Decimal(0)) + Decimal(value)
    return sums


def transaction_size(operations: Sequence[Operation]) -> int:
    """How many items ``Store.transact`` writes for ``operations``: its requests and its distinct
    folded items (DynamoDB takes 100)."""
    folded = {f for op in operations if (f := folded_into(op)) is not None}
    return sum(1 for op in operations if is_request(op)) + len(folded)


def _tally_updates(tallies: list[Tally]) -> list[dict[str, Any]]:
    """The tallies merged per aggregate (DynamoDB takes an item once a transaction), an ``ADD`` each
    on one shard; an aggregate whose adds cancel out is not written."""
    merged: dict[tuple[str, str, str], tuple[int, dict[str, int | Decimal], dict[str, Any]]] = {}
    for tally in tallies:
        shards, adds, sets = merged.setdefault(
            (tally.tenant_id, tally.family, tally.key), (tally.shards, {}, {})
        )
        for name, value in tally.adds.items():
            adds[name] = adds.get(name, 0) + value
        sets.update(tally.sets)
    out = []
    for (tenant_id, family, key), (shards, adds, sets) in merged.items():
        moved = {name: value for name, value in adds.items() if value}
        if not moved:
            continue
        names = {f"#a{n}": name for n, name in enumerate(moved)} | {
            f"#s{n}": name for n, name in enumerate(sets)
        }
        values = {f":a{n}": value for n, value in enumerate(moved.values())}
        values |= {f":s{n}": value for n, value in enumerate(sets.values())}
        expression = "ADD " + ", ".join(f"#a{n} :a{n}" for n in range(len(moved)))
        if sets:
            expression += " SET " + ", ".join(f"#s{n} = :s{n}" for n in range(len(sets)))
        out.append(
            {
                "Update": {
                    "Key": keys.aggregate(tenant_id, family, key, secrets.randbelow(shards)),
                    "UpdateExpression": expression,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
        )
    return out


def _with_counts(operations: Sequence[Operation]) -> list[dict[str, Any] | Op]:
    """The operations, their Counts (per company) written as one counter Update each, their Tallies
    as one Update per aggregate."""
    counts: dict[str, int] = {}
    tallies: list[Tally] = []
    out: list[dict[str, Any] | Op] = []
    for operation in operations:
        if isinstance(operation, Count):
            counts[operation.tenant_id] = counts.get(operation.tenant_id, 0) + operation.delta
        elif isinstance(operation, Tally):
            tallies.append(operation)
        else:
            out.append(operation)
    out.extend(_tally_updates(tallies))
    for tenant_id, delta in counts.items():
        if delta:
            shard = secrets.randbelow(COUNTER_SHARDS)
            out.append(
                {
                    "Update": {
                        "Key": keys.record_count(tenant_id, shard),
                        "UpdateExpression": "ADD records :delta",
                        "ExpressionAttributeValues": {":delta": delta},
                    }
                }
            )
    return out


def _ago(seconds: float) -> str:
    return (
        (datetime.now(UTC) - timedelta(seconds=seconds))
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


class ConditionFailed(Exception):
    """A write's condition did not hold; ``name`` names the failed item of the transaction (None:
    an item written without a name), ``item`` is what it held when the request asked for it."""

    def __init__(self, name: str | None, item: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"condition failed on {name or 'an unnamed item'}")
        self.name = name
        self.item = dict(item) if item is not None else None


@dataclasses.dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def strip_keys(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in keys.KEY_ATTRIBUTES}


def to_plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: integers become int, others stay Decimal."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(to_plain(v) for v in value)
    return value


class Store:
    def __init__(self, client: Any = None, table_name: str | None = None) -> None:
        self._client = client
        self._table = table_name

    @property
    def client(self) -> Any:
        return self._client or aws.dynamodb()

    @property
    def table(self) -> str:
        return self._table or settings().table_name

    # ---- reads -------------------------------------------------------------------------------
    def get(self, key: dict[str, str], *, consistent: bool = False) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=consistent).get("Item")
        return to_plain(item) if item else None

    def batch_get(
        self, key_list: Sequence[dict[str, str]], *, consistent: bool = False
    ) -> list[dict[str, Any]]:
        """Items for up to 100 keys, in no particular order (unprocessed keys are retried); no keys,
        no call (DynamoDB refuses an empty request)."""
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = (
            {self.table: {"Keys": list(key_list), "ConsistentRead": consistent}} if key_list else {}
        )
        while request:
            answer = self.client.batch_get_item(RequestItems=request)
            found.extend(to_plain(i) for i in answer["Responses"].get(self.table, []))
            request = answer.get("UnprocessedKeys") or {}
        return found

    def query_page(
        self,
        *,
        tenant_id: str,
        partition: str,
        index: str | None = None,
        sort_condition: ConditionBase | None = None,
        filter_condition: ConditionBase | None = None,
        limit: int = 50,
        cursor: str | None = None,
        newest_first: bool = False,
        query_id: str = "",
    ) -> Page:
        """One page of a query inside the tenant's key space, with a signed cursor to the next."""
        if not keys.belongs_to(tenant_id, partition):
            raise ValueError("query outside the tenant's key space")
        hash_attr = {"gsi1": "gsi1pk", "gsi2": "gsi2pk", None: "pk"}[index]
        condition: ConditionBase = Key(hash_attr).eq(partition)
        if sort_condition is not None:
            condition = condition & sort_condition
        fingerprint = f"{index}|{partition}|{query_id}|{newest_first}"
        secret = settings().cursor_secret
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "Limit": limit,
            "ScanIndexForward": not newest_first,
        }
        if index:
            params["IndexName"] = index
        if filter_condition is not None:
            params["FilterExpression"] = filter_condition
        start = pagination.decode(secret, tenant_id, fingerprint, cursor)
        if start:
            params["ExclusiveStartKey"] = start
        answer = self.client.query(**params)
        return Page(
            items=[to_plain(i) for i in answer.get("Items", [])],
            next_cursor=pagination.encode(secret, tenant_id, fingerprint, answer.get("LastEvaluatedKey")),
        )

    def query_all(
        self, *, partition: str, sort_condition: ConditionBase | None = None, index: str | None = None
    ) -> list[dict[str, Any]]:
        """Every item of a small partition (roles, members of a tenant); for bounded sets only."""
        condition: ConditionBase = Key({"gsi1": "gsi1pk", "gsi2": "gsi2pk", None: "pk"}[index]).eq(partition)
        if sort_condition is not None:
            condition = condition & sort_condition
        params: dict[str, Any] = {"TableName": self.table, "KeyConditionExpression": condition}
        if index:
            params["IndexName"] = index
        items: list[dict[str, Any]] = []
        while True:
            answer = self.client.query(**params)
            items.extend(to_plain(i) for i in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return items
            params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def query_bounded(
        self, *, tenant_id: str, partition: str, index: str | None = None, at_most: int
    ) -> list[dict[str, Any]] | None:
        """Every item of a partition if it holds at most ``at_most``, else None (the caller then
        asks item by item): for bulk checks where reading the partition is cheaper."""
        if not keys.belongs_to(tenant_id, partition):
            raise ValueError("query outside the tenant's key space")
        hash_attr = {"gsi1": "gsi1pk", "gsi2": "gsi2pk", None: "pk"}[index]
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": Key(hash_attr).eq(partition),
            "Limit": at_most + 1,
        }
        if index:
            params["IndexName"] = index
        items: list[dict[str, Any]] = []
        while len(items) <= at_most:
            answer = self.client.query(**params)
            items.extend(to_plain(i) for i in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                break
            params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return items if len(items) <= at_most else None

    def query_first(self, *, partition: str, index: str | None = None, limit: int) -> list[dict[str, Any]]:
        """The first items (at most ``limit``, in sort key order) of any partition, a platform one
        included (the relay's outbox index): for platform jobs, never for an answer to a tenant."""
        hash_attr = {"gsi1": "gsi1pk", "gsi2": "gsi2pk", None: "pk"}[index]
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": Key(hash_attr).eq(partition),
            "Limit": limit,
        }
        if index:
            params["IndexName"] = index
        return [to_plain(i) for i in self.client.query(**params).get("Items", [])]

    # ---- writes ------------------------------------------------------------------------------
    def batch_put(self, items: Sequence[dict[str, Any]]) -> None:
        """Put items without conditions, 25 a call (what DynamoDB left unprocessed is sent again):
        for items a retry may write again, such as a job's row errors."""
        for at in range(0, len(items), 25):
            pending: dict[str, Any] = {self.table: [{"PutRequest": {"Item": i}} for i in items[at : at + 25]]}
            delay = 0.05
            while pending:
                pending = self.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if pending:
                    time.sleep(delay)
                    delay = min(2 * delay, 2.0)

    def transact(self, operations: Sequence[Operation]) -> None:
        """Write all operations or none; raises ConditionFailed with the name of the first item
        whose condition failed (DynamoDB answers a reason per item, in the order given)."""
        written = _with_counts(operations)
        oldest = _oldest_stamp(written)
        items = []
        for operation in written:
            ((kind, body),) = request_of(operation).items()
            items.append({kind: {"TableName": self.table, **body}})
        for attempt in range(CONFLICT_TRIES):
            if oldest is not None and oldest < _ago(STAMP_SECONDS):  # checked before every try
                raise StaleStamp(
                    f"The request took over {STAMP_SECONDS} s to reach its write (a change stamped "
                    f"{oldest}); nothing was written: send it again."
                )
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons") or []
                for operation, reason in zip(written, reasons, strict=False):
                    if reason.get("Code") == "ConditionalCheckFailed":
                        name = operation.name if isinstance(operation, Op) else None
                        raise ConditionFailed(name, reason.get("Item")) from exc
                conflict = reasons and all(
                    r.get("Code") in (None, "None", "TransactionConflict") for r in reasons
                )
                if not conflict or attempt == CONFLICT_TRIES - 1:
                    raise
                # Another transaction held an item: nothing of this one was written; try again.
                time.sleep(0.02 * 2**attempt * (1 + secrets.randbelow(100) / 100))

    def put_all(self, items: Sequence[dict[str, Any]]) -> None:
        """Unconditional puts in batches of 25 (unprocessed items are retried): for items that
        belong to no entity and need no audit, such as the parts of a kept answer."""
        for start in range(0, len(items), 25):
            request: dict[str, Any] = {
                self.table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
            }
            while request:
                request = self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    def put_one(self, item: dict[str, Any], **params: Any) -> None:
        """A single PutItem, conditional if ``params`` say so (for a marker that carries no audit)."""
        try:
            self.client.put_item(TableName=self.table, Item=item, **params)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConditionFailed(None, cast(Mapping[str, Any] | None, exc.response.get("Item"))) from exc
            raise

    def update(self, **params: Any) -> dict[str, Any]:
        """A single conditional UpdateItem (for counters that carry no audit entry); a failed
        condition's ConditionFailed holds the item if ``ReturnValuesOnConditionCheckFailure`` asked."""
        try:
            return dict(self.client.update_item(TableName=self.table, **params))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConditionFailed(None, cast(Mapping[str, Any] | None, exc.response.get("Item"))) from exc
            raise


def _both(first: dict[str, Any], second: dict[str, Any], n: int) -> dict[str, Any]:
    """One ConditionCheck body that holds when both hold (the second's placeholders renamed)."""
    if first == second:
        return first

    def renamed(match: re.Match[str]) -> str:
        return f"{match.group(0)}_{n}"

    expression = re.sub(r"[#:][A-Za-z0-9_]+", renamed, second["ConditionExpression"])
    merged = {
        "Key": first["Key"],
        "ConditionExpression": f"({first['ConditionExpression']}) AND ({expression})",
    }
    for part in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
        both = {**first.get(part, {}), **{f"{k}_{n}": v for k, v in second.get(part, {}).items()}}
        if both:
            merged[part] = both
    return merged


class NotDeferrable(Exception):
    """A write ``Deferred`` cannot keep for one transaction (a single put or update)."""


class Deferred(Store):
    """A store that keeps the transactions written through it instead of writing them: work done in
    several steps, each of which writes its own transaction elsewhere, becomes one transaction
    (``operations``), which its caller writes (``Store.transact``) when ``fits``. Reads go to the
    table as they would. A write it cannot keep raises ``NotDeferrable``."""

    def __init__(self, store: Store) -> None:
        super().__init__(store._client, store._table)
        self.operations: Operations = []

    def transact(self, operations: Sequence[Operation]) -> None:
        self.operations.extend(operations)

    def _refuse(self, *_: Any, **__: Any) -> None:
        raise NotDeferrable("a single write cannot join the transaction")

    put_one = batch_put = put_all = _refuse
    update = _refuse  # type: ignore[assignment]

    def collected(self) -> Operations:
        """The kept operations, the ConditionChecks of one item merged into one (two steps check
        one warehouse, each in its own words: both conditions must hold), in the first one's place
        and under its name."""
        out: Operations = []
        where: dict[tuple[str, str], int] = {}
        for operation in self.operations:
            body = request_of(operation) if is_request(operation) else {}
            if "ConditionCheck" not in body:
                out.append(operation)
                continue
            check = body["ConditionCheck"]
            key = (check["Key"]["pk"], check["Key"]["sk"])
            if key not in where:
                where[key] = len(out)
                out.append(operation)
                continue
            first = out[where[key]]
            merged = {"ConditionCheck": _both(request_of(first)["ConditionCheck"], check, len(out))}
            out[where[key]] = Op(first.name, merged) if isinstance(first, Op) else merged
        return out

    def fits(self) -> bool:
        """Whether the kept operations make one transaction DynamoDB takes: at most 100 items, no
        item twice (two lines of one product both move its stock level: written step by step)."""
        operations = self.collected()
        named = [
            (item["pk"], item["sk"])
            for op in operations
            if is_request(op)
            for body in request_of(op).values()
            for item in [body.get("Key") or body["Item"]]
        ]
        return transaction_size(operations) <= 100 and len(named) == len(set(named))


class GuardRefused(Exception):
    """A ``Guarded`` store's check failed: the work it guards must stop."""


class Guarded(Store):
    """A store whose every transaction also carries ``check`` (a named ConditionCheck), so that the
    steps of a piece of work written one by one all stop once it fails (``GuardRefused``)."""

    def __init__(self, store: Store, check: Op) -> None:
        super().__init__(store._client, store._table)
        self.check = check

    def transact(self, operations: Sequence[Operation]) -> None:
        try:
            super().transact([*operations, self.check])
        except ConditionFailed as exc:
            if exc.name == self.check.name:
                raise GuardRefused(exc.name) from exc
            raise


# ---- transaction operations -------------------------------------------------------------------
def put(item: dict[str, Any], condition: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"Item": item}
    if condition:
        body["ConditionExpression"] = condition
    body.update(extra)
    return {"Put": body}


def put_new(item: dict[str, Any]) -> dict[str, Any]:
    return put(item, "attribute_not_exists(pk)", ReturnValuesOnConditionCheckFailure="ALL_OLD")


def delete(
    key: dict[str, str], condition: str | None = None, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"Key": key}
    if condition:
        body["ConditionExpression"] = condition
    if values:
        body["ExpressionAttributeValues"] = values
    return {"Delete": body}


def audit_entry(
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: str | None = None,
) -> dict[str, Any]:
    """The audit record of a change (who, when, what, before and after), as a transaction Put."""
    at = at or utcnow()
    audit_id = ids.new_id("aud")
    item = {
        **keys.audit(actor.tenant_id, at, audit_id, entity_type, entity_id, actor.user_id),
        "id": audit_id,
        "at": at,
        "tenant_id": actor.tenant_id,
        "user_id": actor.user_id,
        "user_email": actor.email,
        "request_id": actor.request_id,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        # Snapshots are kept as JSON text: exact, schema-free and cheap to index around.
        "before": json.dumps(before, ensure_ascii=False, default=str) if before is not None else None,
        "after": json.dumps(after, ensure_ascii=False, default=str) if after is not None else None,
    }
    return put(item)


def next_version(actor: Actor, changed: dict[str, Any], at: str) -> dict[str, Any]:
    """An item as changed (still at the version read) made its next version: version + 1, who and when."""
    return {
        **changed,
        "version": changed.get("version", 0) + 1,
        "updated_at": at,
        "updated_by": actor.user_id,
    }


def write_version(
    actor: Actor,
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    name: str,
    entity_type: str,
    entity_id: str,
    action: str,
    shown: Callable[[dict[str, Any]], dict[str, Any]] = strip_keys,
) -> Operations:
    """The put of ``after`` (made by ``next_version``) conditional on the version of ``before`` that
    was read, or on nothing being there for version 0 (never written), as the transaction item
    ``name``; and its audit entry ``<entity_type>.<action>`` with both as ``shown``."""
    if before.get("version", 0) == 0:
        write = put(after, "attribute_not_exists(pk)")
    else:
        write = put(after, "version = :v", ExpressionAttributeValues={":v": before["version"]})
    audit = audit_entry(
        actor,
        f"{entity_type}.{action}",
        entity_type,
        entity_id,
        shown(before),
        shown(after),
        after["updated_at"],
    )
    return [Op(name, write), audit]

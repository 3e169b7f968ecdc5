"""moto in server mode, as the local AWS of `make run` and of the tests.

Two changes to moto's own server about DynamoDB transactions, and five about speed that answer
exactly as moto does (tests/test_moto_server.py compares each with moto's own code):

- DynamoDB requests are served one at a time. moto checks a condition and then writes without a
  lock, so two concurrent conditional writes could both pass, which real DynamoDB never allows.
  Serialising DynamoDB calls restores the atomicity that the product's concurrency guarantees (and
  their tests) rely on. Other services stay concurrent, so an SQS long poll never blocks the table.
- moto keeps a deep copy of the whole table to roll a failed transaction back, and makes it once
  per item of the transaction: with a few thousand items each write took seconds (and botocore's
  retry of a slow write then failed its own condition). Now only the items the transaction touches
  are saved, and restored if it fails: the same all-or-nothing, at the cost of the transaction.
- A Query reads one partition. moto sorts every item of the table (Python comparisons of its
  DynamoType) on each Query and then keeps those of the asked partition, so a one-page Query of a
  small partition cost 50 ms or more beside a company of 5,000 records. Now moto's own Query runs
  unchanged on the items of the partition only (see `_query_one_partition`), about 8 ms there.
- A DynamoDB answer's attribute values are serialised by the one member each holds. moto's response
  serializer tries all ten members of an ``AttributeValue`` through a chain of key aliases: about
  5 ms an answer on average over the tests, under 1 ms now.
- A stored item is built in time linear in its attributes. moto's ``Item`` adds its attributes one
  by one to a dict that re-measures everything already in it on each addition (to refuse an item
  over 400 KB, which it still does, at the same attribute).
- The server lists moto's package directory once, not on every request (its dispatcher asks
  whether the request's host names one of moto's modules; about 0.6 ms of ``stat`` calls a request).
- An SQS receive no longer builds the queue's attribute map (which counts its messages three times)
  once per message received only to read the queue's retention period: about 90 ms a message in a queue
  of a thousand.

docs/performance.md ("The local server: Query reads one partition") has the figures.

And one change that is off unless asked for: global indexes as eventually consistent as DynamoDB's
(``IndexLag``; ``LOCAL_INDEX_LAG_SECONDS``, or the tests set it).
"""

from __future__ import annotations

import bisect
import copy
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.threaded_moto_server import MotoRequestHandler, ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


class _SerialDynamoDB:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self._lock:
                return list(self._app(environ, start_response))
        return self._app(environ, start_response)


class _NoTableCopy:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend: while a transaction runs,
    the "copy" of a table is the table itself; the wrapper below saves and restores only the items
    the transaction touches."""

    in_transaction = False

    def deepcopy(self, value: Any) -> Any:
        return value if self.in_transaction else copy.deepcopy(value)


def _rollback_touched_items_only() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType

    if isinstance(models.copy, _NoTableCopy):
        return
    shim = _NoTableCopy()
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: Any) -> Any:
        saved = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            source = op["Item"] if op_type == "Put" else op.get("Key", {})
            if table.hash_key_attr not in source or (
                table.range_key_attr and table.range_key_attr not in source
            ):
                continue  # a malformed operation: moto refuses it before writing anything
            hash_value = DynamoType(source[table.hash_key_attr])
            range_value = DynamoType(source[table.range_key_attr]) if table.range_key_attr else None
            current = (
                table.items.get(hash_value, {}).get(range_value)
                if range_value
                else table.items.get(hash_value)
            )
            saved.append((table, hash_value, range_value, copy.deepcopy(current)))
        shim.in_transaction = True  # calls are serialised (see above), so the flag is this call's
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, old in reversed(saved):
                if range_value is None:
                    if old is None:
                        table.items.pop(hash_value, None)
                    else:
                        table.items[hash_value] = old
                elif old is None:
                    table.items.get(hash_value, {}).pop(range_value, None)
                else:
                    table.items[hash_value][range_value] = old
            raise
        finally:
            shim.in_transaction = False

    models.copy = shim  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


class IndexLag:
    """Global secondary indexes as eventually consistent as DynamoDB's: while ``seconds`` is above
    zero, a Query of a global index shows each item as it was ``seconds`` ago (a write newer than
    that is not shown yet: an item put is missing, an item updated shows its former attributes, an
    item deleted is still there). The table itself, and its reads, stay current. Off by default;
    ``make run`` takes ``LOCAL_INDEX_LAG_SECONDS``; the tests set it, and ``catch_up`` is the index
    catching up at once.

    Each write (put, update, delete, alone or in a transaction or batch: moto's backend does them
    all through its three methods) keeps the item's former version for ``seconds``; the index's
    view is the current items with, for each item written within ``seconds``, the version before
    its first such write. DynamoDB calls are served one at a time, so nothing here races."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.clock: Callable[[], float] = time.monotonic
        # per table (by id; the table is kept with it): per key, (when written, version before)
        self._writes: dict[int, tuple[Any, dict[tuple[Any, Any], list[tuple[float, Any]]]]] = {}

    def set(self, seconds: float) -> None:
        self.seconds = max(0.0, float(seconds))
        self.catch_up()

    def catch_up(self) -> None:
        self._writes.clear()

    def remember(self, table: Any, hash_value: Any, range_value: Any, before: Any) -> None:
        if self.seconds <= 0:
            return
        now = self.clock()
        _, writes = self._writes.setdefault(id(table), (table, {}))
        writes.setdefault((hash_value, range_value), []).append((now, before))
        for key in [k for k, kept in writes.items() if kept[-1][0] <= now - self.seconds]:
            del writes[key]  # every write of that item is shown by now

    def shown(self, table: Any) -> Iterable[Any]:
        """The table's items as its global indexes show them now."""
        current = {
            (item.hash_key, item.range_key): item
            for stored in table.items.values()
            for item in (stored.values() if table.range_key_attr else (stored,))
        }
        if self.seconds > 0 and id(table) in self._writes:
            shown_at = self.clock() - self.seconds
            for key, kept in self._writes[id(table)][1].items():
                unseen = [before for at, before in kept if at > shown_at]
                if unseen:  # the version before the first write the index does not show yet
                    if unseen[0] is None:
                        current.pop(key, None)
                    else:
                        current[key] = unseen[0]
        return list(current.values())


INDEX_LAG = IndexLag()


def _writes_remembered() -> None:
    """moto's backend writes an item through ``put_item``, ``update_item`` or ``delete_item``
    (also inside a transaction or a batch): each keeps the item's version before it for
    ``INDEX_LAG`` (a copy: an update changes moto's item in place)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    if getattr(DynamoDBBackend.put_item, "original", None):
        return

    def remembering(original: Callable[..., Any], key_of: Callable[[Any, Any], dict[str, Any]]) -> Any:
        def write(self: Any, table_name: str, keyed: Any, *args: Any, **kwargs: Any) -> Any:
            if INDEX_LAG.seconds <= 0:
                return original(self, table_name, keyed, *args, **kwargs)
            try:
                table = self.get_table(table_name)
                key = key_of(table, keyed)
                hash_value = DynamoType(key[table.hash_key_attr])
                range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
                before = copy.deepcopy(table.get_item(hash_value, range_value))
            except Exception:  # no such table, a key missing: moto refuses the write itself
                return original(self, table_name, keyed, *args, **kwargs)
            answer = original(self, table_name, keyed, *args, **kwargs)
            INDEX_LAG.remember(table, hash_value, range_value, before)
            return answer

        write.original = original  # type: ignore[attr-defined]
        return write

    def item_key(table: Any, attrs: dict[str, Any]) -> dict[str, Any]:
        return {k: attrs[k] for k in (table.hash_key_attr, table.range_key_attr) if k and k in attrs}

    def given_key(table: Any, key: dict[str, Any]) -> dict[str, Any]:
        return key

    DynamoDBBackend.put_item = remembering(DynamoDBBackend.put_item, item_key)  # type: ignore[method-assign]
    DynamoDBBackend.update_item = remembering(DynamoDBBackend.update_item, given_key)  # type: ignore[method-assign]
    DynamoDBBackend.delete_item = remembering(DynamoDBBackend.delete_item, given_key)  # type: ignore[method-assign]


_narrowed = threading.local()


def _query_one_partition() -> None:
    """moto's ``Table.query`` starts from ``self.all_items()``: every item of the table, sorted by
    primary key, which it then filters down to the queried partition (a base-table Query keeps the
    items whose hash key is the one asked; an index Query those whose index hash key attributes
    equal the ones asked). While a Query runs, ``all_items`` answers for that table (in that
    thread) only the items the filter can keep, in the same order, and moto's code does the rest
    exactly as before: range condition, direction, Limit, ExclusiveStartKey and LastEvaluatedKey,
    the 1 MB page, FilterExpression after Limit, projection, Select and ConsistentRead checks.

    The base table's partition is one dict lookup, sorted by the range keys' cast values (what
    ``DynamoType.__lt__`` compares; the keys of a partition are unique and of the table's one
    type, so the order is moto's). Of a page after the first it also leaves out the items up to
    and including the ExclusiveStartKey in the direction read: exactly the prefix moto's loop would
    skip (it skips while ``_item_comes_before_dct``, which within one partition of one key type
    holds up to and including the start key); the first item left is strictly past the start key,
    so moto's own skip stops at once and skips nothing more. A start key of another partition or of
    another type is left to moto. An index has no such map in moto, so its candidates come from
    one pass over the items comparing an attribute (no sort of the table), kept in ``all_items``'
    order (moto then sorts them by the index's keys itself). Anything unexpected while narrowing
    (a key moto refuses, or compares in its own way) runs moto's query unchanged.
    ``original_query`` and ``all_items.original`` stay available (tests/test_moto_server.py)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "original_query", None):
        return
    original_query = Table.query
    original_all_items = Table.all_items

    def all_items(self: Any) -> list[Item]:
        if getattr(_narrowed, "table", None) is self:
            return list(_narrowed.items)
        return original_all_items(self)

    def index_candidates(
        self: Any, index_name: str, hash_key_conditions: list[tuple[str, DynamoType]]
    ) -> list[Item]:
        """The items whose first index hash key attribute equals the one asked (moto checks them
        all, and the rest of the index's key, itself), in ``all_items``' order; of a global index,
        as it shows them (``INDEX_LAG``)."""
        name, value = hash_key_conditions[0]
        kept = []
        if any(index.name == index_name for index in self.global_indexes):
            shown: Iterable[Item] = INDEX_LAG.shown(self)
        else:
            shown = (
                item
                for stored in self.items.values()
                for item in (stored.values() if self.range_key_attr else (stored,))
            )
        for item in shown:
            found = item.attrs.get(name)
            if found is not None and found == value:
                kept.append(item)
        # DynamoType orders by its cast value: sorting on the cast values gives the same order
        # without two property calls per comparison.
        if self.range_key_attr:
            kept.sort(key=lambda x: (x.hash_key.cast_value, x.range_key.cast_value))
        else:
            kept.sort(key=lambda x: x.hash_key.cast_value)
        return kept

    def partition_candidates(
        self: Any, hash_key: DynamoType, start: dict[str, Any] | None, forward: bool
    ) -> list[Item]:
        """The partition's items in range key order, less those moto would skip as the previous
        page's: up to and including the ExclusiveStartKey in the direction read."""
        stored = self.items.get(hash_key)
        if stored is None:
            return []
        if not self.range_key_attr:
            return [stored]
        pairs = sorted(((item.range_key.cast_value, item) for item in stored.values()), key=lambda p: p[0])
        candidates = [item for _, item in pairs]
        if start is None or self.hash_key_attr not in start or self.range_key_attr not in start:
            return candidates
        start_hash = DynamoType(start[self.hash_key_attr])
        start_range = DynamoType(start[self.range_key_attr])
        if start_hash != hash_key or any(item.range_key.type != start_range.type for item in candidates):
            return candidates  # moto's own comparisons decide
        keys = [key for key, _ in pairs]
        if forward:
            return candidates[bisect.bisect_right(keys, start_range.cast_value) :]
        return candidates[: bisect.bisect_left(keys, start_range.cast_value)]

    def query(
        self: Any,
        hash_key: DynamoType | None,
        range_comparison: str | None,
        range_objs: list[DynamoType],
        limit: int,
        exclusive_start_key: dict[str, Any],
        scan_index_forward: bool,
        projection_expressions: list[list[str]] | None,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: list[tuple[str, DynamoType]] | None = None,
        range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None = None,
        **filter_kwargs: Any,
    ) -> tuple[list[Item], int, dict[str, Any] | None]:
        def run() -> tuple[list[Item], int, dict[str, Any] | None]:
            return original_query(
                self,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                exclusive_start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                consistent_read,
                filter_expression,
                hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions,
                **filter_kwargs,
            )

        try:
            if index_name:
                if not hash_key_conditions:
                    return run()  # moto then keeps every item: nothing to narrow
                candidates = index_candidates(self, index_name, hash_key_conditions)
            else:
                if hash_key is None:
                    return run()
                candidates = partition_candidates(self, hash_key, exclusive_start_key, scan_index_forward)
        except Exception:
            return run()  # a key moto refuses, or compares in its own way: moto's own path answers
        _narrowed.table, _narrowed.items = self, candidates
        try:
            return run()
        finally:
            _narrowed.table = _narrowed.items = None

    query.original_query = original_query  # type: ignore[attr-defined]
    all_items.original = original_all_items  # type: ignore[attr-defined]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]


_ITEM_SIZE_LIMIT = 405000  # moto's LimitedSizeDict: "between 409 and 410KB" measured, 405000 to be safe


def _items_sized_once() -> None:
    """``Item.__init__`` as moto's, with the same 400 KB check at the same attribute and the same
    ``ItemSizeTooLarge``, but summing the sizes as it goes: while an item is being built nothing
    else changes its attributes, so the sum moto recomputes on each addition is the running one."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    if getattr(Item.__init__, "original", None):
        return
    original = Item.__init__

    def __init__(
        self: Any, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]
    ) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        self.attrs = LimitedSizeDict()
        size = 0
        for key, value in attrs.items():
            typed = DynamoType(value)
            added = typed.size()
            if size + bytesize(key) + added > _ITEM_SIZE_LIMIT:
                raise ItemSizeTooLarge
            dict.__setitem__(self.attrs, key, typed)
            size += bytesize(str(key)) + added

    __init__.original = original  # type: ignore[attr-defined]
    Item.__init__ = __init__  # type: ignore[method-assign]


def _attribute_values_by_their_member() -> None:
    """moto's JSON serializer writes a structure member by member, looking each one up in the
    value through a chain of key aliases (the name, its snake case, the shape's name...). A
    DynamoDB ``AttributeValue`` has ten members and a stored value holds exactly one of them, so
    nine of the ten lookups, about a dozen failed tries each, find nothing; with thousands of
    values per answer that was most of a large Query's time. For a value of one member, this
    writes that member directly, through moto's own serializer for its type (lists and maps come
    back here for their elements): what moto writes, without the failed lookups. None of the
    aliases tried for the other members can name a member's key (they are the member's own name,
    its snake case, or its shape's name), so nothing else would have been found."""
    from moto.core.serialize import JSONSerializer

    if getattr(JSONSerializer._serialize_type_structure, "original", None):
        return
    original = JSONSerializer._serialize_type_structure

    def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if (
            key
            and type(value) is dict
            and len(value) == 1
            and shape.name == "AttributeValue"
            and self.service_model.service_name in ("dynamodb", "dynamodbstreams")
            and not getattr(self._value_picker, "response_transformers", None)
        ):
            ((member, member_value),) = value.items()
            member_shape = shape.members.get(member)
            if member_shape is not None:
                member_shape.parent = shape  # as moto's structure serializer sets it
                wrapper: dict[str, Any] = {}
                if member_value is not None:
                    self._serialize(wrapper, member_value, member_shape, member)
                self._default_serialize(serialized, wrapper, shape, key)
                return
        original(self, serialized, value, shape, key)

    _serialize_type_structure.original = original  # type: ignore[attr-defined]
    JSONSerializer._serialize_type_structure = _serialize_type_structure  # type: ignore[method-assign]


def _receive_without_queue_attributes() -> None:
    """moto's retention check asks ``get_queue_attributes(queue, ["MessageRetentionPeriod"])``,
    which builds the whole attribute map three times (the message counts walk every message) to
    return the queue's ``message_retention_period`` (an int, always set); this reads it directly
    and keeps moto's comparison (valid while retention + sent time is still in the future)."""
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    original = SQSBackend.is_message_valid_based_on_retention_period
    if getattr(original, "original", None):
        return

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = self.get_queue(queue_name).message_retention_period
        return retention_period + message.sent_timestamp / 1000 > unix_time()

    is_message_valid_based_on_retention_period.original = original  # type: ignore[attr-defined]
    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]


def _moto_modules_listed_once() -> None:
    """moto's ``list_of_moto_modules`` lists its package directory and ``stat``s every entry each
    time the dispatcher checks a request's host against it; the package does not change while
    the server runs, so the same names are listed once."""
    from moto import backends

    if getattr(backends.list_of_moto_modules, "original", None):
        return
    original = backends.list_of_moto_modules
    modules = tuple(original())

    def list_of_moto_modules() -> Iterable[str]:
        return iter(modules)

    list_of_moto_modules.original = original  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules


def apply_patches() -> None:
    """Every change above, to moto's classes in this process (again is harmless)."""
    _rollback_touched_items_only()
    _writes_remembered()
    _query_one_partition()
    _items_sized_once()
    _attribute_values_by_their_member()
    _receive_without_queue_attributes()
    _moto_modules_listed_once()


class MotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        apply_patches()
        app = _SerialDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


def start_local_aws(port: int = 0, region: str = "us-east-1") -> tuple[MotoServer, str]:
    """Start moto on loopback and point boto3 at it through its standard variables; its global
    indexes lag ``LOCAL_INDEX_LAG_SECONDS`` behind the table (``IndexLag``; 0, none, by default)."""
    INDEX_LAG.set(float(os.environ.get("LOCAL_INDEX_LAG_SECONDS") or 0))
    server = MotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    endpoint = f"http://{host}:{bound}"
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(key, None)
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION=region,
    )
    return server, endpoint

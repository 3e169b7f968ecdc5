"""infra/moto_server.py's speed patches answer exactly as moto's own code.

Requests go to moto's server application (the one the tests' server runs, here in process) with
the patches applied, and each patch keeps moto's own function (``original_query``, ``original``)
to compare with. Whole answers are compared byte for byte between the patched server and moto's
own (serializer included): Queries with every option, Scan, GetItem, BatchGetItem, PutItem of an
item at and just over the 400 KB limit. For the many Query shapes, each ``Table.query`` the
request makes is run again by moto's own code on the same table and arguments, and the items (every
attribute, in order), scanned count and last key, or the error, must be equal: every key condition
(=, <, <=, >, >=, between, begins_with) on a stored key, one between two and one past them all,
both directions, Limit with the pages followed to the end, start keys on, between and past the
stored keys (and of another partition or type), global and local indexes of every projection with
items that lack the index's keys. The tables have several partitions, string, number and binary
range keys (and none), and items holding every attribute type.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

REGION = "eu-west-3"  # a backend of its own: the other tests' stacks live in us-east-1
AUTH = f"AWS4-HMAC-SHA256 Credential=local/20260101/{REGION}/dynamodb/aws4_request, SignedHeaders=host, Signature=0"


@contextmanager
def moto_unpatched(serializer: bool = True) -> Iterator[None]:
    """moto's own Query, item construction and (unless told) serializer, for the requests made
    inside. moto's serializer is the slow part of the comparison: the tests of Query shapes keep
    the patched one on both sides (the same function of the answer, so equal bytes still mean
    equal answers), those of whole answers put moto's back too."""
    from moto.core.serialize import JSONSerializer
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    swaps = [
        (Table, "query", Table.query.original_query),
        (Table, "all_items", Table.all_items.original),
        (Item, "__init__", Item.__init__.original),
    ]
    if serializer:
        swaps.append(
            (JSONSerializer, "_serialize_type_structure", JSONSerializer._serialize_type_structure.original)
        )
    patched = [(owner, name, owner.__dict__[name]) for owner, name, _ in swaps]
    for owner, name, original in swaps:
        setattr(owner, name, original)
    try:
        yield
    finally:
        for owner, name, function in patched:
            setattr(owner, name, function)


def _outcome(answer: Any) -> Any:
    from moto.dynamodb.models.utilities import dynamo_to_dict

    if isinstance(answer, Exception):
        return type(answer).__name__, str(answer)
    items, scanned, last = answer
    return dynamo_to_dict([item.to_json() for item in items]), scanned, dynamo_to_dict(last)


@contextmanager
def queries_checked() -> Iterator[list[tuple[Any, Any]]]:
    """Each ``Table.query`` made inside answers as patched, and is run again on the same table and
    arguments by moto's own code; both outcomes (the items with every attribute, in order, the
    scanned count and the last key; or the exception) are recorded side by side. Cheaper than
    the whole request twice, and the same Query shapes through moto's own request parsing."""
    from moto.dynamodb.models.table import Table

    patched = Table.__dict__["query"]
    pairs: list[tuple[Any, Any]] = []
    ours = threading.get_ident()  # the tests' own server may serve other threads meanwhile

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() != ours:
            return patched(self, *args, **kwargs)
        try:
            answer = patched(self, *args, **kwargs)
        except Exception as refused:
            answer = refused
        with moto_unpatched(serializer=False):
            try:
                expected = Table.query(self, *args, **kwargs)
            except Exception as refused:
                expected = refused
        pairs.append((_outcome(answer), _outcome(expected)))
        if isinstance(answer, Exception):
            raise answer
        return answer

    query.original_query = patched.original_query  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
    try:
        yield pairs
    finally:
        Table.query = patched  # type: ignore[method-assign]


class Dynamo:
    """Raw DynamoDB JSON requests to moto's server application, in process: (status, body bytes)."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.test import Client

        self._client = Client(DomainDispatcherApplication(create_backend_app))

    def __call__(self, operation: str, body: dict[str, Any]) -> tuple[int, bytes]:
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "Authorization": AUTH,
        }
        try:
            reply = self._client.post("/", data=json.dumps(body), headers=headers)
        except Exception as crash:  # moto's own failure: over HTTP, a 500
            return 500, f"{type(crash).__name__}: {crash}".encode()
        return reply.status_code, reply.get_data()

    def both(self, operation: str, body: dict[str, Any]) -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        patched = self(operation, body)
        with moto_unpatched():
            original = self(operation, body)
        return patched, original

    def pages(self, body: dict[str, Any]) -> list[tuple[int, bytes]]:
        """A Query's pages, following LastEvaluatedKey to the end."""
        out = []
        while True:
            status, answer = self("Query", body)
            out.append((status, answer))
            following = json.loads(answer).get("LastEvaluatedKey") if status == 200 else None
            if not following or len(out) > 200:
                return out
            body = {**body, "ExclusiveStartKey": following}

    def same_pages(self, body: dict[str, Any]) -> None:
        """The Query and the pages after it, each answered twice by the whole server: patched and
        moto's own (serializer included); the raw answers equal."""
        patched = self.pages(body)
        with moto_unpatched():
            original = self.pages(body)
        assert patched == original, body

    def same_queries(self, body: dict[str, Any], follow: bool = True) -> None:
        """The Query (and the pages after it) through the server once, each ``Table.query`` checked
        against moto's own (see ``queries_checked``)."""
        with queries_checked() as pairs:
            answers = self.pages(body) if follow else [self("Query", body)]
        assert pairs or answers[0][0] == 400, (body, answers[0])
        for mine, moto in pairs:
            assert mine == moto, body


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _attributes(rng: random.Random, i: int) -> dict[str, Any]:
    """Every attribute type, nested ones too, on one item in four (answers stay cheap to write),
    some left out at random."""
    every = {
        "s": {"S": rng.choice(["", "plain", "é中 ünïcode", f"text {i}", "a" * 40])},
        "n": {"N": rng.choice(["0", "-1", "1.50", "1e3", "-0.001", "12345678901234567890123456789", str(i)])},
        "b": {"B": b64(bytes([i % 256, 0, 255]))},
        "ss": {"SS": sorted({f"v{i}", "x", "é"})},
        "ns": {"NS": ["1", "2.5", str(i + 3)]},
        "bs": {"BS": [b64(b"\x00"), b64(bytes([i % 256 or 1, 7]))]},
        "m": {
            "M": {
                "a": {"S": f"inner {i}"},
                "deep": {
                    "M": {"l": {"L": [{"N": "1"}, {"NULL": True}, {"BOOL": False}, {"B": b64(b"\xfe")}]}}
                },
                "empty": {"M": {}},
                "set": {"SS": ["p", "q"]},
            }
        },
        "l": {"L": [{"S": "first"}, {"N": str(i)}, {"L": []}, {"M": {"k": {"BOOL": True}}}, {"NS": ["7"]}]},
        "nul": {"NULL": True},
        "flag": {"BOOL": i % 2 == 0},
    }
    kept = every if i % 4 == 0 else {name: every[name] for name in ("s", "n", "flag")}
    return {name: value for name, value in kept.items() if rng.random() < 0.85}


def _index_keys(rng: random.Random) -> dict[str, Any]:
    """Index key attributes, each missing from some items (those stay out of the index)."""
    out: dict[str, Any] = {}
    if rng.random() < 0.8:
        out["g"] = {"S": rng.choice(["ga", "gb", "gc"])}
    if rng.random() < 0.75:
        out["gn"] = {"N": rng.choice(["-2", "0", "0.5", "3", "3.0", "10", "250"])}
    if rng.random() < 0.7:
        out["g2"] = {"S": rng.choice(["x", "y"])}
    if rng.random() < 0.7:
        out["gs"] = {"S": rng.choice(["alpha", "beta", "b", "gamma#1", "gamma#10"])}
    return out


RANGE_VALUES = {
    "S": ["a", "a#1", "a#10", "a#2", "aa", "b", "b#x", "B", "z", "é", "中", "~", "0", "00", "1", "k#000"]
    + [f"k#{j:03d}" for j in range(3, 40, 3)],
    "N": ["-1e3", "-10", "-1.5", "-0.001", "0", "0.001", "1", "1.5", "2", "10", "1e3", "99999"]
    + ["123456789012345678901234567890", "-123456789012345678901234567890"]
    + [str(j * 7) for j in range(3, 14)],
    "B": [b64(bytes(v)) for v in ([0], [0, 0], [0, 1], [1], [127], [128], [255], [255, 0], [9, 9, 9])]
    + [b64(bytes([j, j + 1])) for j in range(20, 240, 10)],
}
PARTITIONS = {"p-big": 18, "p-mid": 7, "p-one": 1}

TABLES = {
    # name: (range key type or None, global indexes, local indexes)
    "strings": (
        "S",
        [
            ("g_n", [("g", "S", "HASH"), ("gn", "N", "RANGE")], {"ProjectionType": "ALL"}),
            ("g_keys", [("g2", "S", "HASH")], {"ProjectionType": "KEYS_ONLY"}),
            (
                "g_include",
                [("g2", "S", "HASH"), ("gs", "S", "RANGE")],
                {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["s", "m"]},
            ),
        ],
        [("l_n", [("pk", "S", "HASH"), ("gn", "N", "RANGE")], {"ProjectionType": "ALL"})],
    ),
    "numbers": ("N", [("g_only", [("g", "S", "HASH")], {"ProjectionType": "ALL"})], []),
    "binary": ("B", [("g_n", [("g", "S", "HASH"), ("gn", "N", "RANGE")], {"ProjectionType": "ALL"})], []),
    "hash_only": (None, [("g_n", [("g", "S", "HASH"), ("gn", "N", "RANGE")], {"ProjectionType": "ALL"})], []),
}


def _create(dynamo: Dynamo, name: str) -> None:
    range_type, global_indexes, local_indexes = TABLES[name]
    types = {"pk": "S"}
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if range_type:
        types["sk"] = range_type
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})

    def index(
        index_name: str, keys: list[tuple[str, str, str]], projection: dict[str, Any]
    ) -> dict[str, Any]:
        types.update({attr: kind for attr, kind, _ in keys})
        return {
            "IndexName": index_name,
            "KeySchema": [{"AttributeName": attr, "KeyType": role} for attr, _, role in keys],
            "Projection": projection,
        }

    body: dict[str, Any] = {"TableName": name, "KeySchema": schema, "BillingMode": "PAY_PER_REQUEST"}
    if global_indexes:
        body["GlobalSecondaryIndexes"] = [index(*spec) for spec in global_indexes]
    if local_indexes:
        body["LocalSecondaryIndexes"] = [index(*spec) for spec in local_indexes]
    body["AttributeDefinitions"] = [{"AttributeName": a, "AttributeType": t} for a, t in types.items()]
    status, answer = dynamo("CreateTable", body)
    assert status == 200, answer


@pytest.fixture(scope="module")
def dynamo() -> Iterator[Dynamo]:
    from moto.core.serialize import JSONSerializer

    from infra.moto_server import apply_patches

    apply_patches()  # as the server applies them (already done if this process started one)
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    assert hasattr(Table.query, "original_query") and hasattr(Table.all_items, "original")
    assert hasattr(Item.__init__, "original")
    assert hasattr(JSONSerializer._serialize_type_structure, "original")

    dynamo = Dynamo()
    rng = random.Random(11)
    for name, (range_type, _, _) in TABLES.items():
        _create(dynamo, name)
        for partition, count in PARTITIONS.items():
            keys = rng.sample(RANGE_VALUES[range_type], count) if range_type else [None]
            for i, key in enumerate(keys):
                item = {"pk": {"S": partition}, **_attributes(rng, i), **_index_keys(rng)}
                if range_type:
                    item["sk"] = {range_type: key}
                status, answer = dynamo("PutItem", {"TableName": name, "Item": item})
                assert status == 200, answer
        if range_type is None:  # a partition per item: several for the index to gather
            for i in range(30):
                item = {"pk": {"S": f"h{i:02d}"}, **_attributes(rng, i), **_index_keys(rng)}
                assert dynamo("PutItem", {"TableName": name, "Item": item})[0] == 200
    yield dynamo
    for name in TABLES:
        dynamo("DeleteTable", {"TableName": name})


def _stored_range_keys(dynamo: Dynamo, table: str, partition: str) -> list[dict[str, str]]:
    body = {
        "TableName": table,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": partition}},
    }
    status, answer = dynamo("Query", body)
    assert status == 200
    return [item["sk"] for item in json.loads(answer)["Items"]]


def _between(kind: str, low: str, high: str) -> str | None:
    """A value strictly between two stored range keys, if one is easy to make."""
    if kind == "N":
        middle = (Decimal(low) + Decimal(high)) / 2
        return str(middle) if Decimal(low) < middle < Decimal(high) else None
    if kind == "S":
        return low + "\x00" if low + "\x00" < high else None
    return None  # binary keys are ordered by moto as their base64 text: no simple value between


OUTSIDE = {"S": ["", "\U0010ffff"], "N": ["-1e40", "1e40"], "B": ["AA==", "/w=="]}  # before and past all


def _conditions(kind: str, stored: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Each key condition, on a stored value, on one between two stored values and on one past
    them all."""
    middle = len(stored) // 2
    between = _between(kind, stored[middle - 1], stored[middle]) if len(stored) > 1 else None
    values = [stored[middle], between or stored[0], OUTSIDE[kind][1]]
    out: list[tuple[str, dict[str, Any]]] = [("pk = :p", {})]
    for v in values:
        for op in ("=", "<", "<=", ">", ">="):
            out.append((f"pk = :p AND sk {op} :a", {":a": {kind: v}}))
    out.append(
        (
            "pk = :p AND sk BETWEEN :a AND :b",
            {":a": {kind: stored[1 % len(stored)]}, ":b": {kind: stored[-2]}},
        )
    )
    out.append(
        ("pk = :p AND sk BETWEEN :a AND :b", {":a": {kind: OUTSIDE[kind][0]}, ":b": {kind: values[1]}})
    )
    if kind == "S":
        for prefix in ("a", "a#", "k#0", "zz"):
            out.append(("pk = :p AND begins_with(sk, :a)", {":a": {"S": prefix}}))
    if kind == "B":
        for prefix in (b"\x00", b"\xff", b"\x14"):
            out.append(("pk = :p AND begins_with(sk, :a)", {":a": {"B": b64(prefix)}}))
    return out


@pytest.mark.parametrize("table", ["strings", "numbers", "binary"])
def test_a_base_table_query_answers_as_moto_for_every_key_condition(dynamo: Dynamo, table: str) -> None:
    kind = TABLES[table][0]
    assert kind
    for partition in [*PARTITIONS, "nobody"]:
        stored = [key[kind] for key in _stored_range_keys(dynamo, table, partition)] or OUTSIDE[kind]
        stored = stored * 2 if len(stored) < 3 else stored
        conditions = _conditions(kind, stored)
        if partition != "p-big":
            conditions = conditions[:1] + conditions[4:6]  # pk alone, then sk > and >= a stored key
        for n, (expression, values) in enumerate(conditions):
            for forward in (True, False):
                for limit in (None, 4) if n % 3 == 0 else (None,):  # Limit 4: pages followed to the end
                    body: dict[str, Any] = {
                        "TableName": table,
                        "KeyConditionExpression": expression,
                        "ExpressionAttributeValues": {":p": {"S": partition}, **values},
                        "ScanIndexForward": forward,
                    }
                    if limit:
                        body["Limit"] = limit
                    dynamo.same_queries(body)


@pytest.mark.parametrize("table", ["strings", "numbers", "binary", "hash_only"])
def test_whole_answers_with_every_option_are_moto_s(dynamo: Dynamo, table: str) -> None:
    kind = TABLES[table][0]
    partition = "p-big" if kind else "h03"
    condition = {
        "S": ("pk = :p AND sk > :a", {":a": {"S": "a#10"}}),
        "N": ("pk = :p AND sk <= :a", {":a": {"N": "30"}}),
        "B": ("pk = :p AND sk >= :a", {":a": {"B": b64(b"\x01")}}),
        None: ("pk = :p", {}),
    }[kind]
    options: list[dict[str, Any]] = [
        {},
        {"Limit": 3},
        {"FilterExpression": "attribute_exists(n) AND flag = :t", "Limit": 3},
        {"FilterExpression": "size(s) > :zero OR contains(ss, :x)"},
        {"ProjectionExpression": "pk, s, m.deep.l[1], l[3].k, #n", "ExpressionAttributeNames": {"#n": "ns"}},
        {"ProjectionExpression": "bs, b, nul", "Limit": 5},
        {"Select": "COUNT"},
        {"Select": "COUNT", "Limit": 2, "FilterExpression": "flag = :t"},
        {"ConsistentRead": True, "Limit": 6},
    ]
    shared = {":t": {"BOOL": True}, ":zero": {"N": "0"}, ":x": {"S": "x"}}
    for n, option in enumerate(options):
        names_used = {
            name: value for name, value in shared.items() if name in option.get("FilterExpression", "")
        }
        for expression, values in (("pk = :p", {}), condition):
            body = {
                "TableName": table,
                "KeyConditionExpression": expression,
                "ExpressionAttributeValues": {":p": {"S": partition}, **values, **names_used},
                "ScanIndexForward": n % 2 == 0,
                **option,
            }
            dynamo.same_pages(body)


@pytest.mark.parametrize("table", ["strings", "numbers", "binary"])
def test_start_keys_on_between_and_past_the_stored_keys_answer_as_moto(dynamo: Dynamo, table: str) -> None:
    """The patch leaves out of a page the items moto's loop would skip for its start key: it must
    skip exactly those (the start key's own item included, none twice) in both directions."""
    kind = TABLES[table][0]
    assert kind
    stored = [key[kind] for key in _stored_range_keys(dynamo, table, "p-big")]
    between = [v for low, high in itertools.pairwise(stored) if (v := _between(kind, low, high))]
    for i, start in enumerate(stored + between[::2] + OUTSIDE[kind]):
        conditions: list[tuple[str, dict[str, Any]]] = [("pk = :p", {})]
        if i % 4 == 0:
            conditions.append(("pk = :p AND sk >= :a", {":a": {kind: stored[2]}}))
        for forward in (True, False):
            for expression, values in conditions:
                body = {
                    "TableName": table,
                    "KeyConditionExpression": expression,
                    "ExpressionAttributeValues": {":p": {"S": "p-big"}, **values},
                    "ScanIndexForward": forward,
                    "Limit": 3,
                    "ExclusiveStartKey": {"pk": {"S": "p-big"}, "sk": {kind: start}},
                }
                dynamo.same_queries(body, follow=False)
    other = {"S": "N", "N": "S", "B": "S"}[kind]
    odd_starts = [
        {"pk": {"S": "p-mid"}, "sk": {kind: stored[3]}},  # another partition's key
        {"pk": {"S": "p-big"}, "sk": {other: "1"}},  # a range key of another type
        {"pk": {"S": "p-big"}},  # no range key
        {"pk": {"S": "p-big"}, "sk": {kind: stored[3]}, "extra": {"S": "x"}},
    ]
    if kind == "N":
        odd_starts.append({"pk": {"S": "p-big"}, "sk": {"N": "NaN"}})
    for start in odd_starts:
        for forward in (True, False):
            body = {
                "TableName": table,
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "p-big"}},
                "ScanIndexForward": forward,
                "Limit": 3,
                "ExclusiveStartKey": start,
            }
            patched, original = dynamo.both("Query", body)
            assert patched == original, body


INDEX_QUERIES = {
    # table: [(index, key condition, values)]
    "strings": [
        ("g_n", "g = :h", {}),
        ("g_n", "g = :h AND gn BETWEEN :a AND :b", {":a": {"N": "0"}, ":b": {"N": "10"}}),
        ("g_n", "g = :h AND gn > :a", {":a": {"N": "0.5"}}),
        ("g_keys", "g2 = :h", {}),
        ("g_include", "g2 = :h", {}),
        ("g_include", "g2 = :h AND begins_with(gs, :a)", {":a": {"S": "gamma"}}),
        ("g_include", "g2 = :h AND gs <= :a", {":a": {"S": "b"}}),
        ("l_n", "pk = :h", {}),
        ("l_n", "pk = :h AND gn >= :a", {":a": {"N": "3"}}),
    ],
    "numbers": [("g_only", "g = :h", {})],
    "binary": [("g_n", "g = :h AND gn < :a", {":a": {"N": "10"}}), ("g_n", "g = :h", {})],
    "hash_only": [("g_n", "g = :h", {}), ("g_n", "g = :h AND gn = :a", {":a": {"N": "3"}})],
}


@pytest.mark.parametrize("table", list(INDEX_QUERIES))
def test_an_index_query_answers_as_moto(dynamo: Dynamo, table: str) -> None:
    for index, expression, values in INDEX_QUERIES[table]:
        hash_values = {"l": ["p-big", "p-one"], "g": ["ga", "gc", "none"]}[index[0]]
        if "g2 = " in expression:
            hash_values = ["x", "none"]
        for hash_value in hash_values:
            for forward, option in (
                (True, {}),
                (False, {}),
                (True, {"Limit": 3}),
                (False, {"Limit": 3}),
                (False, {"Select": "COUNT", "Limit": 5}),
                (True, {"ProjectionExpression": "pk, s"}),
            ):
                body = {
                    "TableName": table,
                    "IndexName": index,
                    "KeyConditionExpression": expression,
                    "ExpressionAttributeValues": {":h": {"S": hash_value}, **values},
                    "ScanIndexForward": forward,
                    **option,
                }
                dynamo.same_queries(body)
    body = {
        "TableName": table,
        "IndexName": "absent",
        "KeyConditionExpression": "g = :h",
        "ExpressionAttributeValues": {":h": {"S": "ga"}},
    }
    patched, original = dynamo.both("Query", body)
    assert patched == original and patched[0] == 400


def test_other_reads_answer_as_moto(dynamo: Dynamo) -> None:
    """Scan, GetItem and BatchGetItem go through the same item and serializer patches."""
    for table in TABLES:
        patched, original = dynamo.both("Scan", {"TableName": table})
        assert patched == original and patched[0] == 200
        items = json.loads(patched[1])["Items"]
        keys = [{k: v for k, v in item.items() if k in ("pk", "sk")} for item in items[:20]]
        for key in keys[:5]:
            patched, original = dynamo.both("GetItem", {"TableName": table, "Key": key})
            assert patched == original and json.loads(patched[1])["Item"]
        patched, original = dynamo.both("BatchGetItem", {"RequestItems": {table: {"Keys": keys}}})
        assert patched == original and patched[0] == 200


def test_an_item_just_over_the_size_limit_is_refused_as_by_moto(dynamo: Dynamo) -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from infra.moto_server import _ITEM_SIZE_LIMIT

    def build(construct: Any, attrs: dict[str, Any]) -> Any:
        item = Item.__new__(Item)
        try:
            construct(item, DynamoType({"S": "k"}), None, attrs)
        except ItemSizeTooLarge as refused:
            return type(refused), str(refused)
        return {name: value.to_json() for name, value in item.attrs.items()}

    base = len("pk") + len("k") + len("big")
    for extra in (-1, 0, 1, 1000):
        one = {"pk": {"S": "k"}, "big": {"S": "x" * (_ITEM_SIZE_LIMIT - base + extra)}}
        # three attributes: over the limit at the second (extra > 0), else at the third
        half = (_ITEM_SIZE_LIMIT - base) // 2
        mid = _ITEM_SIZE_LIMIT + extra - base - half - len("mid")
        three = {"pk": {"S": "k"}, "big": {"S": "x" * half}, "mid": {"S": "y" * mid}}
        three["last"] = {"L": [{"N": "1"}, {"M": {"k": {"S": "z" * 10}}}]}
        for attrs in (one, three):
            patched = build(Item.__init__, attrs)
            assert patched == build(Item.__init__.original, attrs)
        assert isinstance(build(Item.__init__, one), tuple) == (extra > 0)
        assert isinstance(build(Item.__init__, three), tuple)

    fixed = len("pk") + len("big-item") + len("sk") + len("one") + len("big")
    for extra, status in ((0, 200), (1, 400), (40_000, 400)):
        item = {
            "pk": {"S": "big-item"},
            "sk": {"S": "one"},
            "big": {"S": "x" * (_ITEM_SIZE_LIMIT - fixed + extra)},
        }
        patched, original = dynamo.both("PutItem", {"TableName": "strings", "Item": item})
        assert patched == original and patched[0] == status, patched[1][:300]
        if status == 400:
            assert b"Item size has exceeded the maximum allowed size" in patched[1]


def _serialize(operation: str, result: dict[str, Any], transformers: dict[str, Any] | None = None) -> str:
    from moto.core.serialize import JSONSerializer, XFormedAttributePicker
    from moto.core.utils import get_service_model

    serializer = JSONSerializer(
        operation_model=get_service_model("dynamodb").operation_model(operation),
        value_picker=XFormedAttributePicker(response_transformers=transformers or {}),
    )
    return serializer.serialize(result)["body"]


def test_the_serializer_writes_every_attribute_value_as_moto() -> None:
    from moto.core.serialize import JSONSerializer

    assert hasattr(JSONSerializer._serialize_type_structure, "original")
    value = {
        "S": {"S": 'é中 "quoted" \\ \n'},
        "empty_s": {"S": ""},
        "N": {"N": "-1.5e3"},
        "B": {"B": b"\x00\xff\xfe"},
        "SS": {"SS": ["a", "b"]},
        "NS": {"NS": ["1", "2.5"]},
        "BS": {"BS": [b"\x01", b""]},
        "NULL": {"NULL": True},
        "BOOL_f": {"BOOL": False},
        "BOOL_t": {"BOOL": True},
        "M": {
            "M": {"": {"S": "an empty name"}, "in": {"M": {"l": {"L": [{"M": {}}, {"L": [{"B": b"z"}]}]}}}}
        },
        "empty_m": {"M": {}},
        "L": {"L": [{"S": "x"}, {"NULL": True}, {"BS": [b"q"]}, {"L": []}, {"N": "0"}]},
        "two_members": {"S": "x", "N": "1"},  # not moto's, but the patch must leave it to moto
        "none": {"S": None},
        "not_a_member": {"Q": "x"},
    }
    results = {
        "Query": {
            "Items": [value, {"k": {"S": "v"}}],
            "Count": 2,
            "ScannedCount": 2,
            "LastEvaluatedKey": value,
        },
        "GetItem": {"Item": value},
        "BatchGetItem": {"Responses": {"t": [value]}, "UnprocessedKeys": {}},
    }
    for operation, result in results.items():
        for transformers in (None, {"Query.Items": lambda x: x}):
            patched = _serialize(operation, result, transformers)
            with moto_unpatched():
                original = _serialize(operation, result, transformers)
            assert patched == original, operation


def test_sqs_retention_and_the_module_list_answer_as_moto(moto_server: str) -> None:
    import boto3
    from moto import backends
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import SQSBackend, sqs_backends

    assert list(backends.list_of_moto_modules()) == list(backends.list_of_moto_modules.original())

    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_server)
    url = sqs.create_queue(QueueName="retention", Attributes={"MessageRetentionPeriod": "120"})["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    backend = sqs_backends[DEFAULT_ACCOUNT_ID][REGION]
    check = SQSBackend.is_message_valid_based_on_retention_period
    now = time.time() * 1000
    for message, age in zip(backend.get_queue("retention")._messages, (0, 100, 200), strict=True):
        message.sent_timestamp = int(now - age * 1000)
        patched = check(backend, "retention", message)
        assert patched == check.original(backend, "retention", message) == (age < 120)
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in received) == ["m0", "m1"]
    sqs.delete_queue(QueueUrl=url)


def test_a_lagging_global_index_shows_each_item_as_it_was_before_its_recent_writes(dynamo: Dynamo) -> None:
    """``IndexLag`` (the local server's eventual consistency, off unless set): for 5 s a global
    index shows each item as it was before its writes of those 5 s, whatever made them (PutItem,
    UpdateItem, DeleteItem, a transaction, a batch); the table and its local index are current;
    a refused transaction changes nothing; once the 5 s pass, the index answers as moto's own."""
    from infra.moto_server import INDEX_LAG

    name = "lagging"
    status, answer = dynamo(
        "CreateTable",
        {
            "TableName": name,
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g", "gs")
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "by_g",
                    "KeySchema": [
                        {"AttributeName": "g", "KeyType": "HASH"},
                        {"AttributeName": "gs", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            "LocalSecondaryIndexes": [
                {
                    "IndexName": "by_gs",
                    "KeySchema": [
                        {"AttributeName": "pk", "KeyType": "HASH"},
                        {"AttributeName": "gs", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        },
    )
    assert status == 200, answer

    def item(sk: str, g: str, gs: str) -> dict[str, Any]:
        return {"pk": {"S": "p"}, "sk": {"S": sk}, "g": {"S": g}, "gs": {"S": gs}}

    def key(sk: str) -> dict[str, Any]:
        return {"pk": {"S": "p"}, "sk": {"S": sk}}

    def listed(index: str, condition: str, value: str) -> list[tuple[str, str]]:
        status, answer = dynamo(
            "Query",
            {
                "TableName": name,
                "IndexName": index,
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": {":v": {"S": value}},
            },
        )
        assert status == 200, answer
        return [(i["sk"]["S"], i["gs"]["S"]) for i in json.loads(answer)["Items"]]

    for sk, gs in (("a", "1"), ("b", "2"), ("c", "3")):
        assert dynamo("PutItem", {"TableName": name, "Item": item(sk, "x", gs)})[0] == 200
    before = [("a", "1"), ("b", "2"), ("c", "3")]
    now = [0.0]
    INDEX_LAG.clock = lambda: now[0]
    INDEX_LAG.set(5)
    try:
        assert dynamo("PutItem", {"TableName": name, "Item": item("d", "x", "4")})[0] == 200
        update = {
            "TableName": name,
            "Key": key("a"),
            "UpdateExpression": "SET gs = :gs",
            "ExpressionAttributeValues": {":gs": {"S": "9"}},
        }
        assert dynamo("UpdateItem", update)[0] == 200
        assert dynamo("DeleteItem", {"TableName": name, "Key": key("b")})[0] == 200
        moved = {
            "TableName": name,
            "Key": key("c"),
            "UpdateExpression": "SET g = :g",
            "ExpressionAttributeValues": {":g": {"S": "y"}},
        }
        together = [{"Put": {"TableName": name, "Item": item("e", "x", "5")}}, {"Update": moved}]
        assert dynamo("TransactWriteItems", {"TransactItems": together})[0] == 200
        batch = {"RequestItems": {name: [{"PutRequest": {"Item": item("f", "x", "6")}}]}}
        assert dynamo("BatchWriteItem", batch)[0] == 200
        refused = [
            {"Put": {"TableName": name, "Item": item("g", "x", "7")}},
            {
                "ConditionCheck": {
                    "TableName": name,
                    "Key": key("a"),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        assert dynamo("TransactWriteItems", {"TransactItems": refused})[0] == 400
        now[0] += 4.9
        assert listed("by_g", "g = :v", "x") == before and listed("by_g", "g = :v", "y") == []
        status, answer = dynamo("GetItem", {"TableName": name, "Key": key("a")})
        assert json.loads(answer)["Item"]["gs"] == {"S": "9"}  # the table is current
        current = [("c", "3"), ("d", "4"), ("e", "5"), ("f", "6"), ("a", "9")]
        assert listed("by_gs", "pk = :v", "p") == current  # and so is a local index
        now[0] += 0.2
        caught_up = (listed("by_g", "g = :v", "x"), listed("by_g", "g = :v", "y"))
        assert caught_up == ([("d", "4"), ("e", "5"), ("f", "6"), ("a", "9")], [("c", "3")])
    finally:
        INDEX_LAG.set(0)
        INDEX_LAG.clock = time.monotonic
    assert (listed("by_g", "g = :v", "x"), listed("by_g", "g = :v", "y")) == caught_up

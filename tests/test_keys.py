import ast
from pathlib import Path

import pytest

from chalicelib.core import keys

ROOT = Path(__file__).resolve().parent.parent
KEYS = ROOT / "chalicelib" / "core" / "keys.py"
STORE = ROOT / "chalicelib" / "core" / "store.py"


def test_tenant_acme_never_reaches_acme_corp():
    acme = keys.entity("acme", "customer", "cus_1")["pk"]
    acme_corp = keys.entity("acme-corp", "customer", "cus_1")["pk"]
    assert acme == "T#acme#CUSTOMER"
    assert not acme_corp.startswith(keys.tenant_prefix("acme"))
    assert not keys.belongs_to("acme", acme_corp)
    assert keys.belongs_to("acme-corp", acme_corp)
    assert keys.belongs_to("acme", acme)


@pytest.mark.parametrize("tenant_id", ["", "a#b", "a b", "x" * 65, "acme#"])
def test_a_tenant_id_that_could_break_the_prefix_is_refused(tenant_id):
    with pytest.raises(keys.InvalidKeyError):
        keys.tenant_prefix(tenant_id)


def test_a_segment_holding_the_delimiter_is_refused():
    with pytest.raises(keys.InvalidKeyError):
        keys.entity("acme", "customer", "cus#1")


def test_every_tenant_key_starts_with_the_tenant_segment():
    tenant = "ten_X"
    built = [
        keys.tenant_profile(tenant)["pk"],
        keys.role_set(tenant)["pk"],
        keys.member(tenant, "u")["pk"],
        keys.entity(tenant, "customer", "c")["pk"],
        keys.tombstone(tenant, "customer", "c")["pk"],
        keys.updated_index(tenant, "customer", "2026", "c")["gsi1pk"],
        keys.name_index(tenant, "customer", "n", "c")["gsi2pk"],
        keys.unique_guard(tenant, "customer", "code", "A")["pk"],
        *[v for k, v in keys.audit(tenant, "t", "a", "customer", "c", "u").items() if k.endswith("pk")],
        keys.idempotency_pk(tenant),
        keys.idempotent_answer_part(tenant, "01ANSWER", 0)["pk"],
        keys.dead_letter(tenant, "2026-01-01T00:00:00Z", "m-1")["pk"],
    ]
    assert all(pk.startswith("T#ten_X#") for pk in built)


def test_idempotency_records_of_acme_are_not_acme_corps():
    assert keys.idempotency_pk("acme") == "T#acme#IDEMPOTENCY"
    assert not keys.belongs_to("acme", keys.idempotency_pk("acme-corp"))
    part = keys.idempotent_answer_part("acme", "01ANSWER", 3)
    assert part == {"pk": "T#acme#IDEMPOTENCY#ANSWER#01ANSWER", "sk": "0003"}
    assert not keys.belongs_to("acme", keys.idempotent_answer_part("acme-corp", "01ANSWER", 3)["pk"])
    with pytest.raises(keys.InvalidKeyError):
        keys.idempotent_answer_part("acme", "a#b", 0)


@pytest.mark.parametrize("value", ["", "a#b", "x" * 65, "acme#"])
def test_what_cannot_be_a_tenant_id_is_said_so_without_raising(value):
    assert not keys.is_tenant_id(value)


def test_a_token_subject_must_be_one_key_segment():
    assert keys.is_segment("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0") and keys.is_tenant_id("ten_01ABC")
    assert not keys.is_segment("a#b") and not keys.is_segment("")


def test_dead_letters_of_acme_are_not_acme_corps():
    parked = keys.dead_letter("acme", "2026-01-01T00:00:00.000Z", "3f2a")
    assert parked == {"pk": "T#acme#DEADLETTER", "sk": "2026-01-01T00:00:00.000Z#3f2a"}
    assert keys.dead_letters_pk("acme") == parked["pk"]
    assert not keys.belongs_to("acme", keys.dead_letter("acme-corp", "2026", "3f2a")["pk"])
    with pytest.raises(keys.InvalidKeyError):
        keys.dead_letter("acme", "2026", "a#b")


def test_the_handoff_and_platform_keys_are_the_ones_stored():
    """The families built in keys.py since: the strings are the data format, byte for byte."""
    assert keys.outbox("acme", "2026-01-01T00:00:00Z", "evt_1", "ord_1") == {
        "pk": "T#acme#OUTBOX",
        "sk": "2026-01-01T00:00:00Z#evt_1",
        "gsi1pk": "P#OUTBOX#15",  # CRC-32 of "acme#ord_1", of 16
        "gsi1sk": "2026-01-01T00:00:00Z#acme#evt_1",
    }
    assert keys.outbox_index_pks() == [f"P#OUTBOX#{n:02d}" for n in range(16)]
    shards = {keys.outbox_index_pk("acme", f"ord_{n}") for n in range(200)}
    assert shards == set(keys.outbox_index_pks())  # orders spread over every partition
    assert keys.handoff_trail("acme", "ord_1", "2026", "evt_1") == {
        "pk": "T#acme#HANDOFF#ord_1",
        "sk": "2026#evt_1",
    }
    assert keys.handoff_trail_pk("acme", "ord_1") == "T#acme#HANDOFF#ord_1"
    assert keys.erp_cancelled("acme", "ord_1") == {"pk": "T#acme#ERP#CANCELLED", "sk": "ord_1"}
    assert keys.reconciliation_report("acme", "rec_1") == {"pk": "T#acme#RECONCILIATION", "sk": "rec_1"}
    assert keys.capacity_day("acme", "wct_1", "2026-03-01") == {
        "pk": "T#acme#CAPACITY#wct_1",
        "sk": "2026-03-01",
    }
    assert keys.capacity_pk("acme", "wct_1") == "T#acme#CAPACITY#wct_1"
    assert keys.tenant_registry("acme") == {"pk": "P#COMPANY#acme#REGISTRY", "sk": "ENTRY"}
    assert keys.tenant_registry_index("acme") == {"gsi1pk": "P#TENANTS", "gsi1sk": "acme"}
    assert keys.health() == {"pk": "P#HEALTH", "sk": "HEALTH"}
    assert keys.stock_level("acme", "prd_1", "wh_1")["sk"].startswith(keys.stock_prefix("prd_1"))
    assert keys.name_index("acme", "customer", "tea", "c")["gsi2sk"].startswith(keys.name_index_prefix("tea"))
    assert keys.updated_index("acme", "customer", "2026", "c")["gsi1sk"] < keys.updated_after("2026")
    assert keys.updated_after("2026") < keys.updated_index("acme", "customer", "2026-01", "c")["gsi1sk"]
    for tenant_key in (
        keys.outbox("acme-corp", "t", "e", "o")["pk"],
        keys.handoff_trail_pk("acme-corp", "o"),
        keys.erp_cancelled("acme-corp", "o")["pk"],
        keys.reconciliation_report("acme-corp", "r")["pk"],
        keys.capacity_pk("acme-corp", "w"),
    ):
        assert keys.belongs_to("acme-corp", tenant_key) and not keys.belongs_to("acme", tenant_key)


def _sources() -> list[Path]:
    return [
        ROOT / "app.py",
        *sorted((ROOT / "chalicelib").rglob("*.py")),
        *sorted((ROOT / "infra").rglob("*.py")),
    ]


def _key_literal(node: ast.AST) -> str | None:
    """The text of a string literal (or an f-string's leading literal part) that opens a key."""
    if isinstance(node, ast.JoinedStr) and node.values:
        node = node.values[0]
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(("T#", "P#")):
        return node.value
    return None


def _key_builder(node: ast.AST) -> str | None:
    """A call of keys.py's generic builders (``keys.tenant_pk(t, "OUTBOX")``): a family of its own."""
    if isinstance(node, ast.Call):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in ("tenant_pk", "tenant_prefix"):
            return f"{name}(...)"
    return None


def test_every_key_is_built_in_keys_py():
    """No "T#..." or "P#..." string (literal or f-string) outside chalicelib/core/keys.py, nor a key
    made there with its generic ``tenant_pk``: a key family spelled elsewhere is one keys.py does
    not know about (the isolation tests, IAM's LeadingKeys and the key layout all read keys.py)."""
    found = sorted(
        {
            f"{path.relative_to(ROOT)}:{node.lineno}: {text!r}"
            for path in _sources()
            if path != KEYS
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if (text := _key_literal(node) or _key_builder(node)) is not None
        }
    )
    assert found == []


def _boto3_factory(node: ast.Attribute) -> bool:
    """``boto3.client(...)`` and ``resource.meta.client`` (core/aws.py, which makes the Store's own
    client): boto3 making a client, not code reaching past a Store into its client."""
    value = node.value
    return (isinstance(value, ast.Name) and value.id in ("boto3", "session")) or (
        isinstance(value, ast.Attribute) and value.attr == "meta"
    )


def test_nothing_but_the_store_touches_its_dynamodb_client():
    """``.client`` (or ``._client``) is the Store's alone: every read and write goes through its
    methods, which map DynamoDB's errors to its own. (Powertools' idempotency persistence makes
    its own client, through core/aws.py or boto3: no ``.client`` of ours.)"""
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}"
        for path in _sources()
        if path != STORE
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr in ("client", "_client") and not _boto3_factory(node)
    ]
    assert found == []

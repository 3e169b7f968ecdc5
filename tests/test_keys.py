import pytest

from chalicelib.core import keys


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

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
    ]
    assert all(pk.startswith("T#ten_X#") for pk in built)

"""Merging a duplicate customer into the survivor."""

from __future__ import annotations

from tests.conftest import a_customer, a_user


def test_merge_folds_everything_into_the_survivor(api, tenant):
    survivor = a_customer(api, tenant, name="Zhang Trading Co")
    duplicate = a_customer(api, tenant, name="Zhang Trading (old)", code="OLD-1")
    dup = duplicate["id"]
    contact = api.post("/crm/contacts", tenant.token, {"customer_id": dup, "name": "Li"}).json
    call = api.post(
        "/crm/activities", tenant.token, {"kind": "call", "customer_id": dup, "subject": "old call"}
    ).json
    lines = [{"product_code": "TEA", "quantity": 1, "unit_price": "10"}]
    order = api.post(
        "/crm/orders", tenant.token, {"customer_id": dup, "currency": "CNY", "lines": lines}
    ).json
    ticket = api.post("/crm/tickets", tenant.token, {"customer_id": dup, "subject": "old issue"}).json
    _, sales = a_user(api, tenant, ["sales"])
    assert api.post(f"/crm/customers/{survivor['id']}/merge", sales, {"duplicate_id": dup}).status == 403
    r = api.post(f"/crm/customers/{survivor['id']}/merge", tenant.token, {"duplicate_id": dup})
    assert r.status == 200, r.body
    crm = {"contact": 1, "activity": 1, "opportunity": 0, "quote": 0, "order": 1, "ticket": 1}
    assert r.json["moved"] == {**crm, "invoice": 0, "credit_note": 0, "payment": 0}
    assert api.get(f"/crm/customers/{dup}", tenant.token).status == 404
    for path, record in (("contacts", contact), ("activities", call), ("orders", order), ("tickets", ticket)):
        assert api.get(f"/crm/{path}/{record['id']}", tenant.token).json["customer_id"] == survivor["id"]
    refs = {
        e["ref_id"] for e in api.get(f"/crm/customers/{survivor['id']}/timeline", tenant.token).json["items"]
    }
    assert {call["id"], order["id"], ticket["id"]} <= refs
    assert [
        c["id"] for c in api.get(f"/crm/contacts?customer_id={survivor['id']}", tenant.token).json["items"]
    ] == [contact["id"]]
    # The duplicate's code is free again, and the merge is in the audit log.
    assert (
        api.post("/crm/customers", tenant.token, {"name": "Reuse", "kind": "company", "code": "OLD-1"}).status
        == 201
    )
    audit = api.get(f"/admin/audit?entity_type=customer&entity_id={survivor['id']}", tenant.token).json[
        "items"
    ]
    assert audit[0]["action"] == "customer.merge" and audit[0]["after"]["duplicate_id"] == dup
    # Merging again: the duplicate is gone.
    assert (
        api.post(f"/crm/customers/{survivor['id']}/merge", tenant.token, {"duplicate_id": dup}).status == 404
    )
    assert (
        api.post(
            f"/crm/customers/{survivor['id']}/merge", tenant.token, {"duplicate_id": survivor["id"]}
        ).status
        == 422
    )

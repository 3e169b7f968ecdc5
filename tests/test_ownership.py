"""Ownership: permissions granted over own records only, the shared pool, audited reassignment."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.api.web import STORE
from chalicelib.core import entities
from chalicelib.core.errors import PermissionDeniedError
from chalicelib.core.store import Actor
from chalicelib.crm.types import CUSTOMER
from chalicelib.tenants import permissions
from tests.conftest import a_customer, a_tenant, a_user


@pytest.fixture(scope="module")
def company(api):
    return a_tenant(api, "Owners Ltd")


@pytest.fixture(scope="module")
def reps(api, company):
    return a_user(api, company, ["sales_rep"]), a_user(api, company, ["sales_rep"])


def ids(reply):
    assert reply.status == 200, reply.body
    return {i["id"] for i in reply.json["items"]}


def test_a_rep_works_own_customers_sees_the_pool_and_nothing_of_the_others(api, company, reps):
    (a_id, a), (b_id, b) = reps
    tag = uuid.uuid4().hex[:6]
    mine = a_customer(api, company.__class__(company.id, "", a, a_id), name=f"Own {tag} A")
    theirs = a_customer(api, company.__class__(company.id, "", b, b_id), name=f"Own {tag} B")
    pool = a_customer(api, company, name=f"Own {tag} Pool", owner_id=None)
    assert (mine["owner_id"], theirs["owner_id"], pool.get("owner_id")) == (a_id, b_id, None)

    assert api.get(f"/crm/customers/{mine['id']}", a).status == 200
    assert api.get(f"/crm/customers/{pool['id']}", a).status == 200  # the pool is visible
    for path in ("", "/timeline", "/360"):
        hidden = api.get(f"/crm/customers/{theirs['id']}{path}", a)
        assert hidden.status == 404 and "Own" not in hidden.body.decode()
    assert api.patch(f"/crm/customers/{theirs['id']}", a, {"tags": ["x"]}).status == 404
    refused = api.patch(f"/crm/customers/{pool['id']}", a, {"tags": ["x"]})
    assert refused.status == 403 and refused.json["permission"] == "crm.customers:update"
    assert api.patch(f"/crm/customers/{mine['id']}", a, {"tags": ["vip"]}).json["tags"] == ["vip"]

    assert mine["id"] in ids(api.get("/crm/customers", a))
    assert not ids(api.get("/crm/customers", a)) & {theirs["id"], pool["id"]}
    assert pool["id"] in ids(api.get("/crm/customers?owner=none", a))
    assert ids(api.get(f"/crm/customers?name_prefix=own {tag}", a)) == {mine["id"], pool["id"]}
    assert ids(api.get(f"/crm/customers?name_prefix=own {tag}", company.token)) == {
        mine["id"],
        theirs["id"],
        pool["id"],
    }
    assert api.get(f"/crm/customers?owner={b_id}", a).status == 403
    assert theirs["id"] in ids(api.get(f"/crm/customers?owner={b_id}", company.token))
    combined = api.get("/crm/customers?owner=me&name_prefix=x", a)
    assert combined.status == 400 and combined.json["errors"][0]["loc"] == ["query", "name_prefix"]

    # Records of someone else's customer cannot be hung on it by naming it.
    note = {"kind": "note", "customer_id": theirs["id"], "subject": "sneaky"}
    sneaky = api.post("/crm/activities", a, note)
    assert sneaky.status == 422 and sneaky.json["errors"][0]["loc"] == ["body", "customer_id"]
    assert api.post("/crm/activities", a, {**note, "customer_id": mine["id"]}).status == 201
    given_away = api.post("/crm/customers", a, {"name": f"Gift {tag}", "kind": "company", "owner_id": b_id})
    assert given_away.status == 403
    assert ids(api.get(f"/crm/customers?name_prefix=gift {tag}", company.token)) == set()


def test_claim_and_release_through_the_pool(api, company, reps):
    (a_id, a), (b_id, b) = reps
    _, sales = a_user(api, company, ["sales"])
    pool = a_customer(api, company, owner_id=None)
    path = f"/crm/customers/{pool['id']}"

    claimed = api.post(f"{path}/claim", a)
    assert claimed.status == 200 and claimed.json["owner_id"] == a_id
    again = api.post(f"{path}/claim", a)
    assert again.status == 200 and again.json["version"] == claimed.json["version"]  # no change
    assert api.post(f"{path}/claim", b).status == 404  # B cannot see it any more
    taken = api.post(f"{path}/claim", sales)
    assert taken.status == 409 and taken.json["owner_id"] == a_id
    assert api.post(f"{path}/release", b).status == 404
    assert api.patch(path, a, {"tags": ["mine"]}).status == 200

    released = api.post(f"{path}/release", a)
    assert released.status == 200 and released.json.get("owner_id") is None
    assert pool["id"] in ids(api.get("/crm/customers?owner=none", b))
    assert api.post(f"{path}/claim", b).json["owner_id"] == b_id
    assert api.post(f"{path}/release", sales).json.get("owner_id") is None  # a manager may release anyone's

    actions = [
        e["action"]
        for e in api.get(f"/admin/audit?entity_type=customer&entity_id={pool['id']}", company.token).json[
            "items"
        ]
    ]
    assert actions.count("customer.claim") == 2 and actions.count("customer.release") == 2


def test_reassignment_is_audited_and_moves_visibility(api, company, reps):
    (a_id, a), (b_id, b) = reps
    customer = a_customer(api, company.__class__(company.id, "", a, a_id))
    path = f"/crm/customers/{customer['id']}"

    nobody = str(uuid.uuid4())
    unknown = api.post(f"{path}/assign", company.token, {"owner_id": nobody})
    assert unknown.status == 422 and unknown.json["errors"][0]["loc"] == ["body", "owner_id"]
    assert api.get(path, a).json["owner_id"] == a_id
    assert api.post(f"{path}/assign", a, {"owner_id": b_id}).json["permission"] == "crm.customers:assign"

    moved = api.post(f"{path}/assign", company.token, {"owner_id": b_id})
    assert moved.status == 200 and moved.json["owner_id"] == b_id
    assert api.get(path, a).status == 404 and api.get(path, b).status == 200
    audit = api.get(f"/admin/audit?entity_type=customer&entity_id={customer['id']}", company.token).json[
        "items"
    ]
    entry = next(e for e in audit if e["action"] == "customer.reassign")
    assert (entry["before"]["owner_id"], entry["after"]["owner_id"], entry["user_id"]) == (
        a_id,
        b_id,
        company.owner_id,
    )

    # A rep cannot give a record away by PATCH either, and nothing changes.
    lead = api.post("/crm/leads", b, {"name": "Lead", "source": "fair"}).json
    refused = api.patch(f"/crm/leads/{lead['id']}", b, {"owner_id": a_id, "notes": "x"})
    assert refused.status == 403
    assert api.get(f"/crm/leads/{lead['id']}", b).json["owner_id"] == b_id
    assert api.get(f"/crm/leads/{lead['id']}", b).json["notes"] == ""
    changed = api.patch(f"/crm/leads/{lead['id']}", company.token, {"owner_id": a_id})
    assert changed.json["owner_id"] == a_id
    lead_audit = api.get(f"/admin/audit?entity_type=lead&entity_id={lead['id']}", company.token).json["items"]
    assert "lead.reassign" in [e["action"] for e in lead_audit]


def test_the_write_checks_the_owner_of_the_version_it_replaces(api, company, reps):
    """The route checks ownership first; the write checks it again on the version it replaces, so a
    reassignment landing between the two cannot let the old owner's change through."""
    (a_id, _), (b_id, _) = reps
    customer = a_customer(api, company, owner_id=b_id)
    actor = Actor(tenant_id=company.id, user_id=a_id, own_only=True)
    with pytest.raises(PermissionDeniedError):
        entities.update(STORE, actor, CUSTOMER, customer["id"], decide=entities.Change({"tags": ["late"]}))
    with pytest.raises(PermissionDeniedError):
        entities.remove(STORE, actor, CUSTOMER, customer["id"])
    assert api.get(f"/crm/customers/{customer['id']}", company.token).json["tags"] == []


def test_custom_roles_grant_permissions_over_own_records(api, company, reps):
    bad = api.post(
        "/admin/roles", company.token, {"name": "badscope", "permissions": ["crm.pipeline:read@own"]}
    )
    assert bad.status == 422 and "crm.pipeline:read@own" in bad.body.decode()
    role = {
        "name": "dealmaker",
        "permissions": [
            "crm.customers:read",
            "crm.opportunities:create",
            "crm.opportunities:read@own",
            "crm.opportunities:update@own",
        ],
    }
    assert api.post("/admin/roles", company.token, role).status == 201
    dealer_id, dealer = a_user(api, company, ["dealmaker"])
    assert "crm.opportunities:read@own" in api.get("/me", dealer).json["permissions"]
    customer = a_customer(api, company)
    deal = {"customer_id": customer["id"], "name": "Deal", "amount": "10", "currency": "CNY"}
    own = api.post("/crm/opportunities", dealer, deal).json
    other = api.post("/crm/opportunities", company.token, deal).json
    assert own["owner_id"] == dealer_id
    assert api.get(f"/crm/opportunities/{other['id']}", dealer).status == 404
    assert ids(api.get("/crm/opportunities", dealer)) == {own["id"]}
    assert ids(api.get(f"/crm/opportunities?customer_id={customer['id']}", dealer)) == {own["id"]}
    assert api.patch(f"/crm/opportunities/{own['id']}", dealer, {"stage": "proposal"}).status == 200
    # Export needs read over all records: own-only readers are refused.
    exporter = {"name": "exporter", "permissions": ["crm.export:run", "crm.customers:read@own"]}
    assert api.post("/admin/roles", company.token, exporter).status == 201
    _, export_token = a_user(api, company, ["exporter"])
    refused = api.get("/export/customers", export_token, headers={"Accept": "text/csv"})
    assert refused.status == 403 and "own records only" in refused.json["detail"]


def test_granting_respects_scope():
    held = frozenset({"crm.customers:read@own", "crm.leads:read"})
    assert permissions.uncovered({"crm.customers:read"}, held) == ["crm.customers:read"]
    assert (
        permissions.uncovered({"crm.customers:read@own", "crm.leads:read@own", "crm.leads:read"}, held) == []
    )
    assert permissions.expand(("crm.customers:*", "crm.*@own")) >= {
        "crm.customers:create",
        "crm.customers:read@own",
    }
    assert not permissions.valid_grant("crm.customers:create@own")


def test_records_made_from_a_reps_records_stay_the_reps(api, company, reps):
    (a_id, a), _ = reps
    customer = a_customer(api, company.__class__(company.id, "", a, a_id))
    lines = [{"product_code": "TEA", "quantity": 1, "unit_price": "10"}]
    quote = api.post(
        "/crm/quotes", a, {"customer_id": customer["id"], "currency": "CNY", "lines": lines}
    ).json
    order = api.post(f"/crm/quotes/{quote['id']}/accept", company.token).json  # the manager accepts it
    assert order["owner_id"] == a_id
    assert api.get(f"/crm/orders/{order['id']}", a).status == 200
    pooled = api.post(
        "/crm/leads",
        company.token,
        {"name": "Pool Lead", "company_name": f"Pool {uuid.uuid4().hex[:6]}", "owner_id": None},
    ).json
    assert api.post(f"/crm/leads/{pooled['id']}/convert", a).status == 403  # claim it first
    assert api.post(f"/crm/leads/{pooled['id']}/claim", a).json["owner_id"] == a_id
    converted = api.post(f"/crm/leads/{pooled['id']}/convert", a).json
    assert api.get(f"/crm/customers/{converted['lead']['customer_id']}", a).json["owner_id"] == a_id

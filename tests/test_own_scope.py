"""A user who may read only their own records sees only their own (and the pool's) everywhere:
the 360 view, the timeline, searches and a probable duplicate's answer (issue 10, item 1)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import TenantCtx, a_customer, a_tenant, a_user

LINE = {"product_code": "OWN-1", "quantity": "1", "unit_price": "10.00"}


@pytest.fixture(scope="module")
def company(api):
    return a_tenant(api, "Scopes Ltd")


@pytest.fixture(scope="module")
def reps(api, company):
    return a_user(api, company, ["sales_rep"]), a_user(api, company, ["sales_rep"])


def created(reply: Any) -> dict[str, Any]:
    assert reply.status == 201, reply.body
    return reply.json


def records_on(api: Any, token: str, customer_id: str, tag: str) -> dict[str, str]:
    """One record of every kind on a customer, made by the holder of ``token``: kind -> id."""
    bodies = {
        "contacts": {"name": f"Person {tag}", "emails": [{"address": f"{tag}@own.example"}]},
        "activities": {"kind": "note", "subject": f"Note {tag}"},
        "opportunities": {"name": f"Deal {tag}", "amount": "100.00", "currency": "CNY"},
        "quotes": {"currency": "CNY", "lines": [LINE]},
        "orders": {"currency": "CNY", "lines": [LINE]},
        "tickets": {"subject": f"Ticket {tag}"},
    }
    return {
        kind: created(api.post(f"/crm/{kind}", token, {"customer_id": customer_id, **body}))["id"]
        for kind, body in bodies.items()
    }


def seen_in_360(view: dict[str, Any]) -> set[str]:
    ids = {c["id"] for c in view["contacts"]} | {p["contact_id"] for p in view["preferences"]}
    ids |= {o["id"] for o in view["open_opportunities"]} | {a["id"] for a in view["last_activities"]}
    ids |= {t["id"] for t in view["open_tickets"]}
    return ids


def seen_in_timeline(api: Any, token: str, customer_id: str) -> set[str]:
    reply = api.get(f"/crm/customers/{customer_id}/timeline?limit=100", token)
    assert reply.status == 200, reply.body
    return {e["record_id"] for e in reply.json["items"]}


def test_a_rep_sees_only_own_records_on_a_shared_or_own_customer(api, company, reps):
    (a_id, a), (_, b) = reps
    tag = uuid.uuid4().hex[:6]
    pool = a_customer(api, company, name=f"Pool {tag}", owner_id=None)
    mine = a_customer(api, TenantCtx(company.id, "", a, a_id), name=f"Mine {tag}")
    theirs = records_on(api, b, pool["id"], f"b-{tag}")  # another rep's records on the shared customer
    others_on_mine = records_on(
        api, company.token, mine["id"], f"o-{tag}"
    )  # the owner's, on the rep's customer
    own = records_on(api, a, pool["id"], f"a-{tag}")
    own_on_mine = records_on(api, a, mine["id"], f"m-{tag}")
    foreign = set(theirs.values()) | set(others_on_mine.values())

    for customer in (pool, mine):
        view = api.get(f"/crm/customers/{customer['id']}/360", a)
        assert view.status == 200, view.body
        assert not seen_in_360(view.json) & foreign
        assert (
            view.json["purchases"]["order_count"] == 0
        )  # drafts are no purchases; the foreign ones are not read
        assert not foreign & seen_in_timeline(api, a, customer["id"])
        assert not any(i in view.body.decode() for i in foreign)
    # The rep's own records are all there (quotes and draft orders are in the timeline only).
    in_360 = seen_in_360(api.get(f"/crm/customers/{pool['id']}/360", a).json)
    in_360 |= seen_in_360(api.get(f"/crm/customers/{mine['id']}/360", a).json)
    for records, customer in ((own, pool), (own_on_mine, mine)):
        assert {records[k] for k in ("contacts", "activities", "opportunities", "tickets")} <= in_360
        in_timeline = {records[k] for k in ("activities", "opportunities", "quotes", "orders", "tickets")}
        assert in_timeline <= seen_in_timeline(api, a, customer["id"])

    # Whoever reads all records still sees every one of them.
    everything = seen_in_360(api.get(f"/crm/customers/{pool['id']}/360", company.token).json)
    assert {theirs[k] for k in ("contacts", "activities", "opportunities", "tickets")} <= everything
    assert set(theirs.values()) - {theirs["contacts"]} <= seen_in_timeline(api, company.token, pool["id"])

    # Searches and lists by customer hold only the rep's own and the pool's.
    searches = [
        f"/crm/{kind}?customer_id={pool['id']}"
        for kind in ("contacts", "orders", "quotes", "tickets", "activities")
    ]
    searches += [f"/crm/contacts?name_prefix=person b-{tag}", f"/crm/opportunities?name_prefix=deal b-{tag}"]
    lead = created(api.post("/crm/leads", b, {"name": f"Lead b-{tag}", "email": f"lead-b-{tag}@own.example"}))
    foreign.add(lead["id"])
    searches += [f"/crm/leads?name_prefix=lead b-{tag}", f"/crm/leads?email=lead-b-{tag}@own.example"]
    for path in [
        *searches,
        f"/crm/contacts?email=b-{tag}@own.example",
        f"/crm/customers?name_prefix=pool {tag}",
    ]:
        reply = api.get(path, a)
        assert reply.status == 200, (path, reply.body)
        assert not {i["id"] for i in reply.json["items"]} & foreign, path


def test_a_duplicate_is_named_only_to_who_may_read_it(api, company, reps):
    (_, a), (_, b) = reps
    tag = uuid.uuid4().hex[:6]
    theirs = created(
        api.post("/crm/customers", b, {"name": f"Hidden {tag}", "kind": "company", "code": f"H-{tag}"})
    )
    pool = a_customer(api, company, name=f"Shared {tag}", owner_id=None)
    email = [{"address": f"bo-{tag}@own.example"}]
    contact = created(
        api.post("/crm/contacts", b, {"customer_id": pool["id"], "name": f"Bo {tag}", "emails": email})
    )

    attempts = [
        api.post("/crm/customers", a, {"name": f"Hidden {tag}", "kind": "company"}),
        api.post("/crm/customers", a, {"name": f"Other {tag}", "kind": "company", "code": f"h-{tag}"}),
        api.post("/crm/contacts", a, {"customer_id": pool["id"], "name": f"Bo {tag}"}),
        api.post("/crm/contacts", a, {"customer_id": pool["id"], "name": f"Else {tag}", "emails": email}),
    ]
    lead = created(api.post("/crm/leads", a, {"name": "Li", "company_name": f"Hidden {tag}"}))
    attempts.append(api.post(f"/crm/leads/{lead['id']}/convert", a, {}))
    for reply in attempts:
        assert reply.status == 409, reply.body
        assert "existing_id" not in reply.json and not reply.json.get("duplicates")
        assert theirs["id"] not in reply.body.decode() and contact["id"] not in reply.body.decode()

    # A record the user may read is named, as before; and to whoever reads all, the hidden one too.
    visible = api.post("/crm/customers", a, {"name": f"Shared {tag}", "kind": "company"})
    assert visible.status == 409 and visible.json["existing_id"] == pool["id"]
    named = api.post("/crm/customers", company.token, {"name": f"Hidden {tag}", "kind": "company"})
    assert named.status == 409 and named.json["existing_id"] == theirs["id"]


def test_a_conversion_retried_while_the_first_runs_answers_the_same_ids(api, company, monkeypatch):
    """Item 5: a retry (no Idempotency-Key) that read the lead before the first conversion
    committed, and looks for duplicates after, answers 200 with the first one's ids, not 409
    "probably customer X" (X being the customer that very conversion made)."""
    from chalicelib.api.web import STORE
    from chalicelib.core.store import Actor
    from chalicelib.crm import customers, leads
    from chalicelib.crm.models import ConvertIn

    lead = created(
        api.post("/crm/leads", company.token, {"name": "Wu", "company_name": f"Race {uuid.uuid4().hex[:8]}"})
    )
    looked_up = customers.probable_duplicates
    first: list[Any] = []

    def the_first_commits_meanwhile(*args: Any, **kwargs: Any) -> Any:
        if not first:  # the first conversion runs to its end between the retry's read and its lookup
            first.append("running")
            first.append(
                leads.convert(STORE, Actor(company.id, company.owner_id), lead["id"], ConvertIn(), None)
            )
        return looked_up(*args, **kwargs)

    monkeypatch.setattr(customers, "probable_duplicates", the_first_commits_meanwhile)
    retry = api.post(f"/crm/leads/{lead['id']}/convert", company.token, {})
    converted, made = first[1]
    assert made and retry.status == 200, retry.body
    made_ids = ("customer_id", "contact_id", "opportunity_id")
    assert [retry.json[k] for k in made_ids] == [converted[k] for k in made_ids]


def test_a_rep_cannot_link_records_it_may_not_read(api, company, reps):
    """Found in review: an activity naming another user's contact was made (201) where an invented
    id was 422, confirming the hidden contact existed. Both are "no such contact" now."""
    (_, a), (_, b) = reps
    pool = a_customer(api, company, name=f"Linked {uuid.uuid4().hex[:6]}", owner_id=None)
    hidden = records_on(api, b, pool["id"], f"l-{uuid.uuid4().hex[:6]}")
    for field, kind in (("contact_id", "contacts"), ("opportunity_id", "opportunities")):
        body = {"kind": "note", "customer_id": pool["id"], "subject": "link", field: hidden[kind]}
        refused = api.post("/crm/activities", a, body)
        assert refused.status == 422 and refused.json["errors"][0]["loc"] == ["body", field], refused.body
    ticket = {"customer_id": pool["id"], "subject": "link", "contact_id": hidden["contacts"]}
    assert api.post("/crm/tickets", a, ticket).status == 422

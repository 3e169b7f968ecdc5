"""Leads, their conversion, opportunities and the pipeline."""

from __future__ import annotations

from tests.conftest import a_customer, a_user


def a_lead(api, tenant, **fields):
    body = {
        "name": "陈静",
        "company_name": "杭州西湖茶业",
        "email": "chen.jing@xihu-tea.cn",
        "phone": "+86 571 8888 0000",
        "source": "trade fair",
        **fields,
    }
    r = api.post("/crm/leads", tenant.token, body)
    assert r.status == 201, r.body
    return r.json


def test_lead_status_moves_forward_or_is_disqualified_with_a_reason(api, tenant):
    lead = a_lead(api, tenant)
    path = f"/crm/leads/{lead['id']}"
    assert lead["status"] == "new" and lead["owner_id"] == tenant.owner_id
    assert api.patch(path, tenant.token, {"status": "contacted"}).json["status"] == "contacted"
    no_reason = api.patch(path, tenant.token, {"status": "disqualified"})
    assert no_reason.status == 422 and no_reason.json["errors"][0]["loc"] == ["body", "disqualify_reason"]
    out = api.patch(path, tenant.token, {"status": "disqualified", "disqualify_reason": "no budget"}).json
    assert out["status"] == "disqualified" and out["disqualify_reason"] == "no budget"
    assert api.patch(path, tenant.token, {"status": "qualified"}).status == 409
    assert api.post(path + "/convert", tenant.token).status == 409
    back = api.patch(path, tenant.token, {"status": "new"}).json
    assert back["status"] == "new" and back["disqualify_reason"] is None


def test_converting_three_times_makes_one_customer_contact_and_opportunity(api, tenant):
    lead = a_lead(api, tenant)
    body = {
        "opportunity_name": "西湖龙井 2027 supply",
        "amount": "120000",
        "currency": "CNY",
        "expected_close_date": "2027-03-31",
    }
    replies = [api.post(f"/crm/leads/{lead['id']}/convert", tenant.token, body) for _ in range(3)]
    assert [r.status for r in replies] == [201, 200, 200]
    ids = {(r.json["customer_id"], r.json["contact_id"], r.json["opportunity_id"]) for r in replies}
    assert len(ids) == 1
    customer_id, contact_id, opportunity_id = ids.pop()
    customer = api.get(f"/crm/customers/{customer_id}", tenant.token).json
    assert (customer["name"], customer["kind"]) == ("杭州西湖茶业", "company")
    contact = api.get(f"/crm/contacts/{contact_id}", tenant.token).json
    assert (
        contact["customer_id"] == customer_id and contact["emails"][0]["address"] == "chen.jing@xihu-tea.cn"
    )
    opportunity = api.get(f"/crm/opportunities/{opportunity_id}", tenant.token).json
    assert (opportunity["name"], opportunity["amount"], opportunity["stage"]) == (
        "西湖龙井 2027 supply",
        "120000.00",
        "prospecting",
    )
    assert len(api.get("/crm/customers", tenant.token).json["items"]) == 1
    assert len(api.get(f"/crm/contacts?customer_id={customer_id}", tenant.token).json["items"]) == 1
    assert len(api.get(f"/crm/opportunities?customer_id={customer_id}", tenant.token).json["items"]) == 1
    assert api.patch(f"/crm/leads/{lead['id']}", tenant.token, {"notes": "x"}).status == 409
    assert (
        api.get("/crm/customers?email=chen.jing%40xihu-tea.cn", tenant.token).json["items"] == []
    )  # the contact has it
    assert [
        c["id"] for c in api.get("/crm/contacts?email=chen.jing%40xihu-tea.cn", tenant.token).json["items"]
    ] == [contact_id]


def test_a_person_lead_becomes_a_person_customer(api, tenant):
    lead = a_lead(api, tenant, company_name="", email="solo@example.com")
    converted = api.post(f"/crm/leads/{lead['id']}/convert", tenant.token).json
    customer = api.get(f"/crm/customers/{converted['customer_id']}", tenant.token).json
    assert (customer["name"], customer["kind"], customer["emails"][0]["address"]) == (
        "陈静",
        "person",
        "solo@example.com",
    )


def test_opportunity_stage_changes_are_kept_and_on_the_timeline(api, tenant):
    customer = a_customer(api, tenant)
    opp = api.post(
        "/crm/opportunities",
        tenant.token,
        {"customer_id": customer["id"], "name": "Tea sets", "amount": 999.9, "currency": "CNY"},
    ).json
    assert (opp["stage"], opp["probability"], opp["amount"]) == ("prospecting", 10, "999.90")
    path = f"/crm/opportunities/{opp['id']}"
    moved = api.patch(path, tenant.token, {"stage": "proposal"}).json
    assert (moved["stage"], moved["probability"]) == ("proposal", 50)
    bad = api.patch(path, tenant.token, {"stage": "dreaming"})
    assert bad.status == 422 and bad.json["errors"][0]["loc"] == ["body", "stage"]
    won = api.post(path + "/close", tenant.token, {"outcome": "won", "reason": "best price"}).json
    assert (won["status"], won["probability"], won["close_reason"]) == ("won", 100, "best price")
    assert [(h["from_stage"], h["to_stage"]) for h in won["stage_history"]] == [
        (None, "prospecting"),
        ("prospecting", "proposal"),
        ("proposal", "won"),
    ]
    assert api.post(path + "/close", tenant.token, {"outcome": "lost"}).status == 409
    assert api.post(path + "/close", tenant.token, {"outcome": "won"}).status == 200
    assert api.patch(path, tenant.token, {"stage": "negotiation"}).status == 409
    changes = [
        e["summary"]["to"]
        for e in api.get(f"/crm/customers/{customer['id']}/timeline", tenant.token).json["items"]
        if e["kind"] == "stage_change"
    ]
    assert changes == ["won", "proposal", "prospecting"]


def test_admins_edit_the_pipeline_and_sales_use_it(api, tenant):
    _, sales = a_user(api, tenant, ["sales"])
    default = api.get("/crm/pipeline", sales).json
    assert [s["key"] for s in default["stages"]] == [
        "prospecting",
        "qualification",
        "proposal",
        "negotiation",
    ]
    stages = {
        "stages": [
            {"key": "lead_in", "name": "线索", "probability": 5},
            {"key": "demo", "name": "演示", "probability": 40},
            {"key": "contract", "name": "合同", "probability": 90},
        ]
    }
    assert api.put("/crm/pipeline", sales, stages).status == 403
    r = api.put("/crm/pipeline", tenant.token, stages, headers={"if-match": '"0"'})
    assert r.status == 200 and r.json["version"] == 1
    assert api.put("/crm/pipeline", tenant.token, stages, headers={"if-match": '"0"'}).status == 412
    dupes = api.put("/crm/pipeline", tenant.token, {"stages": [stages["stages"][0]] * 2})
    assert dupes.status == 422
    customer = a_customer(api, tenant)
    opp = api.post(
        "/crm/opportunities", sales, {"customer_id": customer["id"], "name": "x", "currency": "CNY"}
    ).json
    assert (opp["stage"], opp["probability"]) == ("lead_in", 5)


def test_converting_a_lead_of_a_known_company_asks_to_attach_it(api, tenant):
    existing = a_customer(api, tenant, name="Initech GmbH")
    lead = api.post(
        "/crm/leads", tenant.token, {"name": "Peter Gibbons", "company_name": "INITECH  gmbh"}
    ).json
    path = f"/crm/leads/{lead['id']}/convert"
    refused = api.post(path, tenant.token, {})
    assert refused.status == 409 and refused.json["existing_id"] == existing["id"]
    assert api.get(f"/crm/leads/{lead['id']}", tenant.token).json["status"] == "new"

    converted = api.post(path, tenant.token, {"customer_id": existing["id"]})
    assert converted.status == 201, converted.body
    assert converted.json["lead"]["customer_id"] == existing["id"]
    contact = api.get(f"/crm/contacts/{converted.json['lead']['contact_id']}", tenant.token).json
    assert contact["customer_id"] == existing["id"]
    named = api.get("/crm/customers?name_prefix=initech", tenant.token).json["items"]
    assert [c["id"] for c in named] == [existing["id"]]  # no second Initech

    other = api.post("/crm/leads", tenant.token, {"name": "Bill L.", "company_name": "Initech GmbH"}).json
    missing = api.post(
        f"/crm/leads/{other['id']}/convert", tenant.token, {"customer_id": "cus_01M8JZ8N0XHMFZFK7SWV6DBJG9"}
    )
    assert missing.status == 422 and missing.json["errors"][0]["loc"] == ["body", "customer_id"]
    anyway = api.post(f"/crm/leads/{other['id']}/convert", tenant.token, {"allow_duplicate": True})
    assert anyway.status == 201
    assert len(api.get("/crm/customers?name_prefix=initech", tenant.token).json["items"]) == 2

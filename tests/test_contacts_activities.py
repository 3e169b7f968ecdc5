"""Contacts, activities and the customer's timeline."""

from __future__ import annotations

from urllib.parse import quote

from tests.conftest import a_customer, a_user


def a_contact(api, tenant, customer_id, **fields):
    r = api.post("/crm/contacts", tenant.token, {"customer_id": customer_id, "name": "王小明", **fields})
    assert r.status == 201, r.body
    return r.json


def test_a_contact_belongs_to_an_existing_customer(api, tenant):
    customer = a_customer(api, tenant)
    contact = a_contact(
        api,
        tenant,
        customer["id"],
        title="采购经理",
        birthday="1985-02-14",
        preferences={"channel": "wechat", "language": "zh"},
        phones=[{"number": "+86 138 0000 0000"}],
    )
    assert contact["customer_id"] == customer["id"] and contact["birthday"] == "1985-02-14"
    assert contact["preferences"] == {"channel": "wechat", "language": "zh"}
    missing = api.post(
        "/crm/contacts", tenant.token, {"customer_id": "cus_01J00000000000000000000000", "name": "x"}
    )
    assert missing.status == 422 and missing.json["errors"][0]["loc"] == ["body", "customer_id"]


def test_marketing_consent_keeps_the_time_it_was_given_or_withdrawn(api, tenant):
    customer = a_customer(api, tenant)
    contact = a_contact(api, tenant, customer["id"], marketing_consent=True)
    given_at = contact["marketing_consent_changed_at"]
    same = api.patch(
        f"/crm/contacts/{contact['id']}", tenant.token, {"marketing_consent": True, "title": "CEO"}
    ).json
    assert same["marketing_consent_changed_at"] == given_at
    withdrawn = api.patch(f"/crm/contacts/{contact['id']}", tenant.token, {"marketing_consent": False}).json
    assert withdrawn["marketing_consent"] is False and withdrawn["marketing_consent_changed_at"] > given_at
    audit = api.get(f"/admin/audit?entity_type=contact&entity_id={contact['id']}", tenant.token).json["items"]
    assert audit[0]["before"]["marketing_consent"] is True and audit[0]["after"]["marketing_consent"] is False


def test_contacts_by_customer_email_phone_and_name(api, tenant):
    first, second = a_customer(api, tenant, name="First"), a_customer(api, tenant, name="Second")
    a = a_contact(api, tenant, first["id"], name="Li Lei", emails=[{"address": "li.lei@first.cn"}])
    b = a_contact(api, tenant, first["id"], name="Han Meimei", phones=[{"number": "+86 139 1111 2222"}])
    c = a_contact(api, tenant, second["id"], name="李雷")

    def ids(query: str) -> set[str]:
        r = api.get(f"/crm/contacts?{query}", tenant.token)
        assert r.status == 200, r.body
        return {i["id"] for i in r.json["items"]}

    assert ids(f"customer_id={first['id']}") == {a["id"], b["id"]}
    assert ids("email=LI.LEI%40first.cn") == {a["id"]}
    assert ids("phone=" + quote("+8613911112222")) == {b["id"]}
    assert ids("name_prefix=" + quote("李")) == {c["id"]}
    moved = api.patch(f"/crm/contacts/{b['id']}", tenant.token, {"customer_id": second["id"]})
    assert moved.status == 200
    assert ids(f"customer_id={second['id']}") == {b["id"], c["id"]}


def test_activities_fill_the_timeline_newest_first(api, tenant):
    customer = a_customer(api, tenant)
    path = f"/crm/customers/{customer['id']}/timeline"
    assert api.get(path, tenant.token).json["items"] == []
    made = []
    for n, (kind, when) in enumerate(
        [
            ("call", "2026-11-01T09:00:00Z"),
            ("email", "2026-11-03T09:00:00Z"),
            ("meeting", "2026-11-02T09:00:00Z"),
        ]
    ):
        r = api.post(
            "/crm/activities",
            tenant.token,
            {"kind": kind, "customer_id": customer["id"], "subject": f"s{n}", "occurred_at": when},
        )
        assert r.status == 201, r.body
        made.append(r.json)
    page = api.get(path + "?limit=2", tenant.token).json
    assert [e["summary"]["kind"] for e in page["items"]] == ["email", "meeting"]
    rest = api.get(path + f"?limit=2&cursor={page['next_cursor']}", tenant.token).json
    assert [e["summary"]["kind"] for e in rest["items"]] == ["call"] and rest["next_cursor"] is None
    # Moving the call to the newest place, and renaming it, moves and renames its entry.
    call = made[0]
    api.patch(
        f"/crm/activities/{call['id']}",
        tenant.token,
        {"occurred_at": "2026-11-04T09:00:00Z", "subject": "callback"},
    )
    entries = api.get(path, tenant.token).json["items"]
    assert (entries[0]["ref_id"], entries[0]["summary"]["subject"]) == (call["id"], "callback")
    assert len(entries) == 3
    api.delete(f"/crm/activities/{made[1]['id']}", tenant.token)
    assert [e["ref_id"] for e in api.get(path, tenant.token).json["items"]] == [call["id"], made[2]["id"]]


def test_tasks_are_assigned_and_done(api, tenant):
    customer = a_customer(api, tenant)
    assignee_id, assignee = a_user(api, tenant, ["sales"])
    task = api.post(
        "/crm/activities",
        tenant.token,
        {
            "kind": "task",
            "customer_id": customer["id"],
            "subject": "Send catalogue",
            "due_at": "2026-12-01T10:00:00+08:00",
            "assignee_id": assignee_id,
        },
    ).json
    assert (
        task["due_at"] == "2026-12-01T02:00:00.000000Z" and task["done"] is False and task["done_at"] is None
    )
    mine = api.get(f"/crm/activities?assignee_id={assignee_id}", assignee).json["items"]
    assert [t["id"] for t in mine] == [task["id"]]
    done = api.patch(f"/crm/activities/{task['id']}", assignee, {"done": True}).json
    assert done["done"] is True and done["done_at"]
    entry = api.get(f"/crm/customers/{customer['id']}/timeline", tenant.token).json["items"][0]
    assert entry["summary"]["done"] is True


def test_an_activity_needs_a_real_customer_and_contact(api, tenant):
    customer = a_customer(api, tenant)
    r = api.post(
        "/crm/activities",
        tenant.token,
        {
            "kind": "call",
            "customer_id": customer["id"],
            "subject": "x",
            "contact_id": "con_01J00000000000000000000000",
        },
    )
    assert r.status == 422 and r.json["errors"][0]["loc"] == ["body", "contact_id"]
    assert api.get(f"/crm/customers/{customer['id']}/timeline", tenant.token).json["items"] == []


def test_the_timeline_of_an_unknown_customer_is_404(api, tenant):
    assert api.get("/crm/customers/cus_01J00000000000000000000000/timeline", tenant.token).status == 404


def test_a_probable_duplicate_contact_is_refused_unless_allowed(api, tenant):
    customer = a_customer(api, tenant)
    first = api.post(
        "/crm/contacts",
        tenant.token,
        {"customer_id": customer["id"], "name": "Wang Fang", "emails": [{"address": "wang@fang.example"}]},
    ).json
    same_name = api.post("/crm/contacts", tenant.token, {"customer_id": customer["id"], "name": "WANG  fang"})
    assert same_name.status == 409 and same_name.json["existing_id"] == first["id"]
    elsewhere = a_customer(api, tenant)
    assert (
        api.post("/crm/contacts", tenant.token, {"customer_id": elsewhere["id"], "name": "Wang Fang"}).status
        == 201
    )
    same_email = {
        "customer_id": elsewhere["id"],
        "name": "F. Wang",
        "emails": [{"address": "WANG@fang.example"}],
    }
    refused = api.post("/crm/contacts", tenant.token, same_email)
    assert refused.status == 409 and refused.json["errors"][0]["loc"] == ["body", "emails"]
    assert api.post("/crm/contacts?allow_duplicate=true", tenant.token, same_email).status == 201
    listed = api.get(f"/crm/contacts?customer_id={customer['id']}", tenant.token).json["items"]
    assert [c["id"] for c in listed] == [first["id"]]

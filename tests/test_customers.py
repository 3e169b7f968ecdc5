"""/crm/customers end to end: create, read, list, search, change, delete."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from tests.conftest import a_customer, a_tenant

FULL = {
    "name": "上海张记贸易有限公司",
    "kind": "company",
    "code": "SH-001",
    "phones": [{"number": "+86 21 5555 0101", "label": "office"}],
    "emails": [{"address": "Orders@Zhangji.CN", "label": "orders"}],
    "address": {"line1": "浦东新区世纪大道 100 号", "city": "上海", "postal_code": "200120", "country": "CN"},
    "tags": ["vip", "wholesale", "vip"],
    "custom_fields": {"credit_days": 30, "segment": "东区 🚚", "key_account": True},
}


def test_create_returns_the_record_with_version_etag_and_location(api, tenant):
    r = api.post("/crm/customers", tenant.token, FULL)
    assert r.status == 201, r.body
    body = r.json
    assert body["id"].startswith("cus_")
    assert r.headers["etag"] == '"1"'
    assert r.headers["location"] == f"/crm/customers/{body['id']}"
    assert body["address"]["line1"] == "浦东新区世纪大道 100 号"
    assert body["emails"][0]["address"] == "orders@zhangji.cn"
    assert body["tags"] == ["vip", "wholesale"]
    assert body["custom_fields"] == {"credit_days": 30, "segment": "东区 🚚", "key_account": True}
    assert body["created_by"] == tenant.owner_id
    again = api.get(f"/crm/customers/{body['id']}", tenant.token)
    assert again.json == body


def test_code_is_unique_per_tenant_case_insensitive(api, tenant):
    first = a_customer(api, tenant, code="ACME-7")
    r = api.post("/crm/customers", tenant.token, {"name": "Other", "kind": "person", "code": "acme-7"})
    assert r.status == 409
    assert r.json["existing_id"] == first["id"]
    assert r.json["errors"][0]["loc"] == ["body", "code"]
    # Another tenant may use the same code.
    other = a_tenant(api)
    assert (
        api.post("/crm/customers", other.token, {"name": "Mine", "kind": "person", "code": "ACME-7"}).status
        == 201
    )


def test_changing_and_deleting_release_the_code(api, tenant):
    c = a_customer(api, tenant, code="REL-1")
    assert api.patch(f"/crm/customers/{c['id']}", tenant.token, {"code": "REL-2"}).status == 200
    assert (
        api.post("/crm/customers", tenant.token, {"name": "N1", "kind": "person", "code": "REL-1"}).status
        == 201
    )
    assert (
        api.post("/crm/customers", tenant.token, {"name": "N2", "kind": "person", "code": "REL-2"}).status
        == 409
    )
    assert api.delete(f"/crm/customers/{c['id']}", tenant.token).status == 204
    assert (
        api.post("/crm/customers", tenant.token, {"name": "N3", "kind": "person", "code": "REL-2"}).status
        == 201
    )


def test_patch_changes_only_given_fields_and_null_clears(api, tenant):
    c = a_customer(api, tenant, code="P-1", address={"city": "Lyon", "country": "FR"}, tags=["a"])
    r = api.patch(f"/crm/customers/{c['id']}", tenant.token, {"name": "Globex SA", "address": None})
    assert r.status == 200
    assert r.json["name"] == "Globex SA" and r.json["address"] is None
    assert r.json["code"] == "P-1" and r.json["tags"] == ["a"]
    assert r.json["version"] == 2 and r.headers["etag"] == '"2"'
    bad = api.patch(f"/crm/customers/{c['id']}", tenant.token, {"name": None})
    assert bad.status == 422 and bad.json["errors"][0]["loc"] == ["body", "name"]


def test_two_updates_with_the_same_if_match_exactly_one_succeeds(api, tenant):
    c = a_customer(api, tenant)
    first = api.patch(f"/crm/customers/{c['id']}", tenant.token, {"name": "A"}, headers={"if-match": '"1"'})
    second = api.patch(f"/crm/customers/{c['id']}", tenant.token, {"name": "B"}, headers={"if-match": '"1"'})
    assert sorted([first.status, second.status]) == [200, 412]
    assert second.json["type"] == "/problems/precondition-failed"
    assert api.get(f"/crm/customers/{c['id']}", tenant.token).json["name"] == "A"


def test_concurrent_updates_from_the_same_version_exactly_one_wins(api, tenant):
    """Threads racing on the service with the same expected version against the moto server."""
    from chalicelib.core.errors import PreconditionFailedError
    from chalicelib.core.store import Actor, Store
    from chalicelib.crm import customers as service
    from chalicelib.crm.models import CustomerPatch

    c = a_customer(api, tenant)
    actor = Actor(tenant_id=tenant.id, user_id=tenant.owner_id)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def change(n: int) -> None:
        barrier.wait()
        try:
            service.update(Store(), actor, c["id"], CustomerPatch(name=f"name {n}"), if_match=1)
            outcomes.append("ok")
        except PreconditionFailedError:
            outcomes.append("412")

    threads = [threading.Thread(target=change, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1 and outcomes.count("412") == 7
    assert api.get(f"/crm/customers/{c['id']}", tenant.token).json["version"] == 2


def test_if_match_on_delete(api, tenant):
    c = a_customer(api, tenant)
    assert api.delete(f"/crm/customers/{c['id']}", tenant.token, headers={"if-match": '"7"'}).status == 412
    assert api.delete(f"/crm/customers/{c['id']}", tenant.token, headers={"if-match": '"1"'}).status == 204
    assert api.get(f"/crm/customers/{c['id']}", tenant.token).status == 404


def test_list_pages_with_an_opaque_cursor(api):
    t = a_tenant(api)
    made = [a_customer(api, t, name=f"Customer {n:02d}")["id"] for n in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        path = "/crm/customers?limit=3" + (f"&cursor={cursor}" if cursor else "")
        r = api.get(path, t.token)
        assert r.status == 200
        seen += [i["id"] for i in r.json["items"]]
        cursor, pages = r.json["next_cursor"], pages + 1
        if not cursor:
            break
    assert seen == made  # ids are time-ordered: creation order
    assert pages == 3


def test_limit_is_bounded(api, tenant):
    for bad in ("0", "101", "x"):
        r = api.get(f"/crm/customers?limit={bad}", tenant.token)
        assert r.status == 400 and r.json["errors"][0]["loc"] == ["query", "limit"]


WIDE = "\uff3a\uff48\uff41\uff4e\uff47 Wide"  # full-width letters, as Chinese input methods type them


def test_search_by_name_prefix_is_case_insensitive_and_handles_chinese(api):
    t = a_tenant(api)
    for name in ("Zhang Trading", "zhangjiang Foods", "ZHANG 贸易", "张记贸易", "张三食品", "李四", WIDE):
        a_customer(api, t, name=name)

    def names(prefix: str) -> list[str]:
        from urllib.parse import quote

        r = api.get(f"/crm/customers?name_prefix={quote(prefix)}", t.token)
        assert r.status == 200, r.body
        return sorted(i["name"] for i in r.json["items"])

    assert names("zhang") == ["ZHANG 贸易", "Zhang Trading", "zhangjiang Foods", WIDE]
    assert names("ZHANG ") == ["ZHANG 贸易", "Zhang Trading", WIDE]
    assert names("张") == ["张三食品", "张记贸易"]
    assert names("张记") == ["张记贸易"]
    assert names("王") == []


def test_search_follows_a_rename(api, tenant):
    c = a_customer(api, tenant, name="Oldname Ltd")
    api.patch(f"/crm/customers/{c['id']}", tenant.token, {"name": "Newname Ltd"})
    assert api.get("/crm/customers?name_prefix=oldname", tenant.token).json["items"] == []
    assert [i["id"] for i in api.get("/crm/customers?name_prefix=newname", tenant.token).json["items"]] == [
        c["id"]
    ]


def test_updated_since_lists_changes_and_deletions_for_sync(api):
    t = a_tenant(api)
    kept = a_customer(api, t, name="Kept")
    gone = a_customer(api, t, name="Gone")
    mark = datetime.now(UTC).isoformat()
    untouched = a_customer(api, t, name="Later")
    api.patch(f"/crm/customers/{kept['id']}", t.token, {"tags": ["touched"]})
    api.delete(f"/crm/customers/{gone['id']}", t.token)
    from urllib.parse import quote

    r = api.get(f"/crm/customers?updated_since={quote(mark)}", t.token)
    assert r.status == 200
    items = r.json["items"]
    assert [i["id"] for i in items] == [untouched["id"], kept["id"], gone["id"]]
    assert items[2] == {"id": gone["id"], "deleted": True, "updated_at": items[2]["updated_at"]}
    future = quote((datetime.now(UTC) + timedelta(minutes=1)).isoformat())
    assert api.get(f"/crm/customers?updated_since={future}", t.token).json["items"] == []
    # The deleted customer is gone from the plain list.
    assert gone["id"] not in [i["id"] for i in api.get("/crm/customers", t.token).json["items"]]


def test_every_change_is_in_the_audit_log_with_before_and_after(api, tenant):
    c = a_customer(api, tenant, name="Before")
    api.patch(f"/crm/customers/{c['id']}", tenant.token, {"name": "After"})
    api.delete(f"/crm/customers/{c['id']}", tenant.token)
    r = api.get(f"/admin/audit?entity_type=customer&entity_id={c['id']}", tenant.token)
    assert r.status == 200
    entries = r.json["items"]
    assert [e["action"] for e in entries] == ["customer.delete", "customer.update", "customer.create"]
    assert entries[1]["before"]["name"] == "Before" and entries[1]["after"]["name"] == "After"
    assert entries[0]["after"] is None and entries[2]["before"] is None
    assert all(e["user_id"] == tenant.owner_id and e["user_email"] == tenant.owner_email for e in entries)


def test_free_text_round_trips_exactly(api, tenant):
    text = "  两个空格 and a tab\t, emoji 🧧, quotes \"x\" 'y' \\ back  "
    c = a_customer(api, tenant, custom_fields={"note": text})
    assert api.get(f"/crm/customers/{c['id']}", tenant.token).json["custom_fields"]["note"] == text


def test_find_by_exact_email_or_phone(api):
    t = a_tenant(api)
    zhang = a_customer(
        api,
        t,
        name="Zhang",
        emails=[{"address": "Li#Zhang@Example.CN"}],
        phones=[{"number": "+86 21 5555-0101"}],
    )
    a_customer(
        api, t, name="Other", emails=[{"address": "other@example.cn"}], phones=[{"number": "021 5555 0101"}]
    )
    from urllib.parse import quote

    def ids(query: str) -> list[str]:
        r = api.get(f"/crm/customers?{query}", t.token)
        assert r.status == 200, r.body
        return [i["id"] for i in r.json["items"]]

    assert ids("email=" + quote("li#zhang@example.cn")) == [zhang["id"]]
    assert ids("phone=" + quote("+86 (21) 55550101")) == [zhang["id"]]
    assert ids("email=nobody%40example.cn") == []
    # Changing the email moves the lookup.
    api.patch(f"/crm/customers/{zhang['id']}", t.token, {"emails": [{"address": "new@example.cn"}]})
    assert ids("email=" + quote("li#zhang@example.cn")) == []
    assert ids("email=new%40example.cn") == [zhang["id"]]
    api.delete(f"/crm/customers/{zhang['id']}", t.token)
    assert ids("email=new%40example.cn") == []


def test_a_probable_duplicate_is_refused_unless_allowed(api, tenant):
    first = a_customer(
        api,
        tenant,
        name="Zhang Trading",
        emails=[{"address": "buy@zhang.cn"}],
        phones=[{"number": "+86 21 1234"}],
    )
    for body in (
        {"name": "ＺＨＡＮＧ  trading", "kind": "company"},  # same name once normalised
        {"name": "Other", "kind": "company", "emails": [{"address": "BUY@zhang.cn"}]},
        {"name": "Third", "kind": "company", "phones": [{"number": "+86 (21) 1234"}]},
    ):
        r = api.post("/crm/customers", tenant.token, body)
        assert r.status == 409 and r.json["existing_id"] == first["id"], r.body
    assert len(api.get("/crm/customers", tenant.token).json["items"]) == 1
    allowed = api.post(
        "/crm/customers?allow_duplicate=true", tenant.token, {"name": "Zhang Trading", "kind": "company"}
    )
    assert allowed.status == 201

"""CSV import (UTF-8 with or without BOM, GBK) and export, as Excel writes and reads them."""

from __future__ import annotations

import csv
import io

from tests.conftest import a_customer, a_tenant, a_user

HEADER = ["客户编码", "客户名称", "类型", "电话", "邮箱", "地址", "城市", "省份", "国家", "标签"]
CITIES = [("上海", "上海市"), ("杭州", "浙江省"), ("深圳", "广东省"), ("成都", "四川省"), ("西安", "陕西省")]


def csv_bytes(rows: list[list[str]], encoding: str, header=HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def good_row(n: int) -> list[str]:
    city, region = CITIES[n % len(CITIES)]
    return [f"C{n:05d}", f"{city}第{n}号贸易有限公司", "公司", f"+86 21 5{n:07d}", f"buyer{n}@example.cn",
            f"{city}市中山路{n}号（近地铁站）", city, region, "CN", "批发;老客户"]  # fmt: skip


def import_csv(api, token, data: bytes, query: str = "", entity: str = "customers"):
    return api.call("POST", f"/import/{entity}{query}", token, raw=data, headers={"content-type": "text/csv"})


def test_five_thousand_gbk_rows_with_fifty_bad_ones(api):
    tenant = a_tenant(api)
    rows, bad = [], set()
    for n in range(5000):
        row = good_row(n)
        if n % 100 == 7:  # 50 bad rows: invalid email, duplicate code, missing name, by turns
            kind = (n // 100) % 3
            if kind == 0:
                row[4] = "not-an-email"
            elif kind == 1:
                row[0] = f"C{n - 1:05d}"
            else:
                row[1] = ""
            bad.add(n + 2)  # the header is row 1
        rows.append(row)
    reply = import_csv(api, tenant.token, csv_bytes(rows, "gbk"))
    assert reply.status == 200, reply.body[:500]
    result = reply.json
    assert (result["encoding"], result["rows"], result["created"], result["updated"], result["failed"]) == (
        "gb18030",
        5000,
        4950,
        0,
        50,
    )
    assert {e["row"] for e in result["errors"]} == bad
    assert {e["field"] for e in result["errors"]} == {"emails.0.address", "code", "name"}
    # Every stored record matches its source row exactly, Chinese text and all.
    exported = api.get("/export/customers", tenant.token, headers={"accept": "text/csv"})
    assert exported.status == 200 and exported.body.startswith(b"\xef\xbb\xbf")
    stored = {r["code"]: r for r in csv.DictReader(io.StringIO(exported.body.decode("utf-8-sig")))}
    assert len(stored) == 4950
    for n, row in enumerate(rows):
        if n + 2 in bad:
            continue
        record = stored[row[0]]
        assert (record["name"], record["phone"], record["email"], record["address_line1"], record["city"], record["region"]) == (
            row[1],
            row[3],
            row[4],
            row[5],
            row[6],
            row[7],
        )
        assert record["tags"] == "批发;老客户"


def test_utf8_with_bom_upserts_on_code_and_dry_run_writes_nothing(api, tenant):
    existing = a_customer(api, tenant, name="Old Name", code="C00001")
    data = b"\xef\xbb\xbf" + csv_bytes([good_row(1), good_row(2)], "utf-8")
    dry = import_csv(api, tenant.token, data, "?dry_run=true").json
    assert (dry["dry_run"], dry["created"], dry["updated"], dry["encoding"]) == (True, 1, 1, "utf-8-sig")
    assert api.get(f"/crm/customers/{existing['id']}", tenant.token).json["name"] == "Old Name"
    done = import_csv(api, tenant.token, data).json
    assert (done["created"], done["updated"], done["failed"]) == (1, 1, 0)
    updated = api.get(f"/crm/customers/{existing['id']}", tenant.token).json
    assert updated["name"] == good_row(1)[1] and updated["version"] == 2
    assert api.get("/crm/customers?name_prefix=" + "杭州第1号", tenant.token).json["items"][0]["id"] == existing["id"]
    api.patch(f"/crm/customers/{existing['id']}", tenant.token, {"status": "closed", "custom_fields": {"vip": True}})
    again = import_csv(api, tenant.token, data).json  # the same file twice: nothing new
    assert (again["created"], again["updated"]) == (0, 2)
    assert len(api.get("/crm/customers", tenant.token).json["items"]) == 2
    kept = api.get(f"/crm/customers/{existing['id']}", tenant.token).json  # no column for them in the file: kept
    assert (kept["status"], kept["custom_fields"]) == ("closed", {"vip": True})
    reopened = import_csv(api, tenant.token, "code,name,kind,状态\nC00001,Old Name,company,正常\n".encode()).json
    assert (reopened["updated"], reopened["failed"]) == (1, 0)
    assert api.get(f"/crm/customers/{existing['id']}", tenant.token).json["status"] == "active"
    wrong = import_csv(api, tenant.token, b"code,name,kind,status\nC00001,Old Name,company,sleeping\n").json
    assert (wrong["failed"], wrong["errors"][0]["field"]) == (1, "status")


def test_contacts_name_their_customer_by_code_and_leads_upsert_on_email(api, tenant):
    customer = a_customer(api, tenant, code="ACME")
    contacts = csv_bytes([["ACME", "李雷", "采购", "li@acme.cn"], ["NOPE", "韩梅梅", "", "han@nope.cn"]], "gb18030",
                         header=["客户编码", "姓名", "职位", "邮箱"])  # fmt: skip
    result = import_csv(api, tenant.token, contacts, entity="contacts").json
    assert (result["created"], result["failed"]) == (1, 1)
    assert result["errors"] == [{"row": 3, "field": "customer_code", "reason": "no customer has this code"}]
    listed = api.get(f"/crm/contacts?customer_id={customer['id']}", tenant.token).json["items"]
    assert [(c["name"], c["title"]) for c in listed] == [("李雷", "采购")]
    leads = csv_bytes([["王五", "王氏茶庄", "wang@tea.cn", "展会"]], "utf-8", header=["姓名", "公司", "邮箱", "来源"])
    assert import_csv(api, tenant.token, leads, entity="leads").json["created"] == 1
    assert import_csv(api, tenant.token, leads, entity="leads").json["updated"] == 1
    exported = api.get("/export/leads", tenant.token, headers={"accept": "text/csv"}).body.decode("utf-8-sig")
    assert "王五,王氏茶庄,wang@tea.cn" in exported


def test_import_refusals(api, tenant):
    too_big = b"a" * (5 * 1024 * 1024 + 1)
    r = import_csv(api, tenant.token, too_big)
    assert r.status == 413 and "5 MiB" in r.json["detail"]
    assert import_csv(api, tenant.token, b"").status == 400
    assert import_csv(api, tenant.token, csv_bytes([good_row(1)], "utf-8"), entity="invoices").status == 404
    assert import_csv(api, tenant.token, "名称\n张三\n".encode("utf-16")).status == 400
    wrong_type = api.call(
        "POST", "/import/customers", tenant.token, raw=b"name\nx\n", headers={"content-type": "application/json"}
    )
    assert wrong_type.status in (400, 415)
    _, viewer = a_user(api, tenant, ["viewer"])
    assert import_csv(api, viewer, csv_bytes([good_row(1)], "utf-8")).status == 403
    assert api.get("/export/customers", viewer, headers={"accept": "text/csv"}).status == 403
    assert api.get("/crm/customers", tenant.token).json["items"] == []


def test_probable_duplicates_become_row_errors_unless_allowed(api, tenant):
    stored = a_customer(api, tenant, name="Xihu Tea 茶业", emails=[{"address": "tea@xihu.example"}])
    rows = [
        ["D1", "ＸＩＨＵ  tea 茶业", "公司", "", "", "", "", "", "", ""],  # the stored name: full width, case, spaces
        ["D2", "New Tea Co", "公司", "", "TEA@xihu.example", "", "", "", "", ""],  # the stored email
        ["D3", "Fresh Leaf Ltd", "公司", "+86 571 1234", "", "", "", "", "", ""],
        ["D4", "FRESH LEAF LTD", "公司", "", "", "", "", "", "", ""],  # an earlier row of the file
        ["D5", "Other Leaf Ltd", "公司", "+86-571-1234", "", "", "", "", "", ""],  # row D3's phone
    ]
    data = csv_bytes(rows, "utf-8")
    result = import_csv(api, tenant.token, data).json
    assert (result["created"], result["failed"]) == (1, 4), result["errors"]
    reasons = {e["row"]: (e["field"], e["reason"]) for e in result["errors"]}
    assert reasons[2] == ("name", f"probably customer {stored['id']} (same name)")
    assert reasons[3] == ("email", f"probably customer {stored['id']} (same email)")
    assert reasons[5] == ("name", "probably the same customer as row 4 (same name)")
    assert reasons[6] == ("phone", "probably the same customer as row 4 (same phone)")

    allowed = import_csv(api, tenant.token, data, "?allow_duplicates=true").json
    assert (allowed["created"], allowed["updated"], allowed["failed"]) == (4, 1, 0)  # D3 exists now: updated


def test_known_points_are_read_at_once_only_while_the_partitions_are_small(api, tenant):
    from chalicelib.core.web import STORE
    from chalicelib.crm import customers

    for n in range(3):
        a_customer(api, tenant, name=f"Small Partition {n}")
    known = customers.known_points(STORE, tenant.id, at_most=10)
    assert known is not None and ("name", "small partition 1") in known
    assert customers.known_points(STORE, tenant.id, at_most=2) is None  # then the import asks row by row


def test_products_import_from_a_chinese_excel_sheet_and_export(api, tenant):
    header = ["货号", "产品名称", "单位", "售价", "成本", "分类", "安全库存", "采购周期", "类型"]
    rows = [["TEA-001", "西湖龙井（特级）", "盒", "368.00", "210.5", "茶叶", "20", "7", "库存品"],
            ["BOX-001", "礼盒装", "套", "88", "", "包装", "5", "0", "自制"],
            ["BAD-1", "", "个", "1", "", "", "", "", ""],
            ["TEA-002", "碧螺春", "盒", "-5", "", "", "", "", ""]]  # fmt: skip
    result = import_csv(api, tenant.token, csv_bytes(rows, "gbk", header), entity="products").json
    assert (result["created"], result["failed"]) == (2, 2), result["errors"]
    assert {(e["row"], e["field"]) for e in result["errors"]} == {(4, "name"), (5, "list_price")}
    tea = api.get("/erp/products?sku=tea-001", tenant.token).json["items"][0]
    assert (tea["name"], tea["unit"], tea["list_price"], tea["standard_cost"], tea["category"]) == (
        "西湖龙井（特级）", "盒", "368.00", "210.5", "茶叶"
    )  # fmt: skip
    assert (tea["reorder_point"], tea["lead_time_days"], tea["kind"]) == ("20", 7, "stocked")
    again = import_csv(api, tenant.token, csv_bytes([["TEA-001", "西湖龙井", "盒", "388", "", "", "", "", ""]], "gbk", header),
                       entity="products").json  # fmt: skip
    assert (again["created"], again["updated"]) == (0, 1)
    updated = api.get(f"/erp/products/{tea['id']}", tenant.token).json
    assert updated["list_price"] == "388"
    # Empty cells change nothing: the cost, category and reorder point stay as they were.
    assert (updated["standard_cost"], updated["category"], updated["reorder_point"], updated["lead_time_days"]) == (
        "210.5", "茶叶", "20", 7)  # fmt: skip
    exported = api.get("/export/products", tenant.token, headers={"accept": "text/csv"})
    text = exported.body.decode("utf-8-sig")
    assert "西湖龙井" in text and "BOX-001" in text and "manufactured" in text
    _, sales = a_user(api, tenant, ["sales"])
    refused = import_csv(api, sales, csv_bytes(rows[:1], "gbk", header), entity="products")
    assert refused.status == 403 and refused.json["permission"] == "erp.products:create"

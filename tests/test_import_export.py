"""CSV import (UTF-8 with or without BOM, GBK) and export, as Excel writes and reads them."""

from __future__ import annotations

import csv
import gc
import io
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.tabular import FORMULA_START, neutralise, restore
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
    return [
        f"C{n:05d}",
        f"{city}第{n}号贸易有限公司",
        "公司",
        f"+86 21 5{n:07d}",
        f"buyer{n}@example.cn",
        f"{city}市中山路{n}号（近地铁站）",
        city,
        region,
        "CN",
        "批发;老客户",
    ]


def import_csv(api, token, data: bytes, query: str = "", entity: str = "customers"):
    return api.call("POST", f"/import/{entity}{query}", token, raw=data, headers={"content-type": "text/csv"})


def test_two_thousand_gbk_rows_with_twenty_bad_ones(api):
    tenant = a_tenant(api)
    rows, bad = [], set()
    for n in range(2000):
        row = good_row(n)
        if n % 100 == 7:  # 20 bad rows: invalid email, duplicate code, missing name, by turns
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
        2000,
        1980,
        0,
        20,
    )
    assert {e["row"] for e in result["errors"]} == bad
    assert {e["field"] for e in result["errors"]} == {"emails.0.address", "code", "name"}
    # Every stored record matches its source row exactly, Chinese text and all.
    exported = api.get("/export/customers", tenant.token, headers={"accept": "text/csv"})
    assert exported.status == 200 and exported.body.startswith(b"\xef\xbb\xbf")
    stored = {r["code"]: r for r in csv.DictReader(io.StringIO(exported.body.decode("utf-8-sig")))}
    assert len(stored) == 1980
    for n, row in enumerate(rows):
        if n + 2 in bad:
            continue
        record = stored[row[0]]
        assert (
            record["name"],
            record["phone"],
            record["email"],
            record["address_line1"],
            record["city"],
            record["region"],
        ) == (
            row[1],
            row[3],
            row[4],
            row[5],
            row[6],
            row[7],
        )
        assert record["tags"] == "批发;老客户"


def test_more_rows_than_a_request_writes_go_through_a_job(api, tenant):
    data = csv_bytes([good_row(n) for n in range(2001)], "utf-8")
    refused = import_csv(api, tenant.token, data)
    assert refused.status == 400 and "POST /import/customers/jobs" in refused.json["detail"]
    assert api.get("/crm/customers", tenant.token).json["items"] == []
    checked = import_csv(api, tenant.token, data, "?dry_run=true")
    assert checked.status == 200 and checked.json["created"] == 2001


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
    assert (
        api.get("/crm/customers?name_prefix=" + "杭州第1号", tenant.token).json["items"][0]["id"]
        == existing["id"]
    )
    api.patch(
        f"/crm/customers/{existing['id']}", tenant.token, {"status": "closed", "custom_fields": {"vip": True}}
    )
    again = import_csv(api, tenant.token, data).json  # the same file twice: nothing new
    assert (again["created"], again["updated"]) == (0, 2)
    assert len(api.get("/crm/customers", tenant.token).json["items"]) == 2
    kept = api.get(
        f"/crm/customers/{existing['id']}", tenant.token
    ).json  # no column for them in the file: kept
    assert (kept["status"], kept["custom_fields"]) == ("closed", {"vip": True})
    reopened = import_csv(
        api, tenant.token, "code,name,kind,状态\nC00001,Old Name,company,正常\n".encode()
    ).json
    assert (reopened["updated"], reopened["failed"]) == (1, 0)
    assert api.get(f"/crm/customers/{existing['id']}", tenant.token).json["status"] == "active"
    wrong = import_csv(api, tenant.token, b"code,name,kind,status\nC00001,Old Name,company,sleeping\n").json
    assert (wrong["failed"], wrong["errors"][0]["field"]) == (1, "status")


def test_contacts_name_their_customer_by_code_and_leads_upsert_on_email(api, tenant):
    customer = a_customer(api, tenant, code="ACME")
    contacts = csv_bytes(
        [["ACME", "李雷", "采购", "li@acme.cn"], ["NOPE", "韩梅梅", "", "han@nope.cn"]],
        "gb18030",
        header=["客户编码", "姓名", "职位", "邮箱"],
    )
    result = import_csv(api, tenant.token, contacts, entity="contacts").json
    assert (result["created"], result["failed"]) == (1, 1)
    assert result["errors"] == [{"row": 3, "field": "customer_code", "reason": "no customer has this code"}]
    listed = api.get(f"/crm/contacts?customer_id={customer['id']}", tenant.token).json["items"]
    assert [(c["name"], c["title"]) for c in listed] == [("李雷", "采购")]
    leads = csv_bytes(
        [["王五", "王氏茶庄", "wang@tea.cn", "展会"]], "utf-8", header=["姓名", "公司", "邮箱", "来源"]
    )
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
        "POST",
        "/import/customers",
        tenant.token,
        raw=b"name\nx\n",
        headers={"content-type": "application/json"},
    )
    assert wrong_type.status in (400, 415)
    _, viewer = a_user(api, tenant, ["viewer"])
    assert import_csv(api, viewer, csv_bytes([good_row(1)], "utf-8")).status == 403
    assert api.get("/export/customers", viewer, headers={"accept": "text/csv"}).status == 403
    assert api.get("/crm/customers", tenant.token).json["items"] == []


def test_probable_duplicates_become_row_errors_unless_allowed(api, tenant):
    stored = a_customer(api, tenant, name="Xihu Tea 茶业", emails=[{"address": "tea@xihu.example"}])
    rows = [
        [
            "D1",
            "ＸＩＨＵ  tea 茶业",
            "公司",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],  # the stored name: full width, case, spaces
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
    from chalicelib.api.web import STORE
    from chalicelib.crm import customers

    for n in range(3):
        a_customer(api, tenant, name=f"Small Partition {n}")
    known = customers.known_points(STORE, tenant.id, at_most=10)
    assert known is not None and ("name", "small partition 1") in known
    assert customers.known_points(STORE, tenant.id, at_most=2) is None  # then the import asks row by row


def test_products_import_from_a_chinese_excel_sheet_and_export(api, tenant):
    header = ["货号", "产品名称", "单位", "售价", "成本", "分类", "安全库存", "采购周期", "类型"]
    rows = [
        ["TEA-001", "西湖龙井（特级）", "盒", "368.00", "210.5", "茶叶", "20", "7", "库存品"],
        ["BOX-001", "礼盒装", "套", "88", "", "包装", "5", "0", "自制"],
        ["BAD-1", "", "个", "1", "", "", "", "", ""],
        ["TEA-002", "碧螺春", "盒", "-5", "", "", "", "", ""],
    ]
    result = import_csv(api, tenant.token, csv_bytes(rows, "gbk", header), entity="products").json
    assert (result["created"], result["failed"]) == (2, 2), result["errors"]
    assert {(e["row"], e["field"]) for e in result["errors"]} == {(4, "name"), (5, "list_price")}
    tea = api.get("/erp/products?sku=tea-001", tenant.token).json["items"][0]
    assert (tea["name"], tea["unit"], tea["list_price"], tea["standard_cost"], tea["category"]) == (
        "西湖龙井（特级）",
        "盒",
        "368.00",
        "210.5",
        "茶叶",
    )
    assert (tea["reorder_point"], tea["lead_time_days"], tea["kind"]) == ("20", 7, "stocked")
    again = import_csv(
        api,
        tenant.token,
        csv_bytes([["TEA-001", "西湖龙井", "盒", "388", "", "", "", "", ""]], "gbk", header),
        entity="products",
    ).json
    assert (again["created"], again["updated"]) == (0, 1)
    updated = api.get(f"/erp/products/{tea['id']}", tenant.token).json
    assert updated["list_price"] == "388"
    # Empty cells change nothing: the cost, category and reorder point stay as they were.
    assert (
        updated["standard_cost"],
        updated["category"],
        updated["reorder_point"],
        updated["lead_time_days"],
    ) == (
        "210.5",
        "茶叶",
        "20",
        7,
    )
    exported = api.get("/export/products", tenant.token, headers={"accept": "text/csv"})
    text = exported.body.decode("utf-8-sig")
    assert "西湖龙井" in text and "BOX-001" in text and "manufactured" in text
    _, sales = a_user(api, tenant, ["sales"])
    refused = import_csv(api, sales, csv_bytes(rows[:1], "gbk", header), entity="products")
    assert refused.status == 403 and refused.json["permission"] == "erp.products:create"


# ---- an export is safe to open in Excel, and re-imports exactly ----------------------------------------
FORMULAS = {
    "F1": '=HYPERLINK("http://evil.example","click")',
    "F2": "@SUM(1+1)",
    "F3": "-2+3 cmd|' /C calc'!A0",
    "F4": "+cmd",
    "F5": "'quoted by hand",
}


def export_csv(api, token, entity: str) -> bytes:
    reply = api.get(f"/export/{entity}", token, headers={"accept": "text/csv"})
    assert reply.status == 200, reply.body[:300]
    return reply.body


def test_export_neutralises_formula_cells_and_reimports_them_exactly(api, tenant):
    made = [a_customer(api, tenant, code=code, name=name) for code, name in FORMULAS.items()]
    phones = [{"number": "+86 21 5555 0101"}, {"number": "+1 (555) 010-0199"}]
    made.append(a_customer(api, tenant, code="P1", phones=phones))
    exported = export_csv(api, tenant.token, "customers")
    rows = {r["code"]: r for r in csv.DictReader(io.StringIO(exported.decode("utf-8-sig")))}
    assert {code: rows[code]["name"] for code in FORMULAS} == {
        code: "'" + name for code, name in FORMULAS.items()
    }
    assert rows["P1"]["phone"] == "+86 21 5555 0101;+1 (555) 010-0199"  # phone numbers are left as they are

    again = import_csv(api, tenant.token, exported).json
    assert (again["updated"], again["failed"]) == (6, 0), again["errors"]
    for customer in made:
        stored = api.get(f"/crm/customers/{customer['id']}", tenant.token).json
        assert (stored["name"], stored["phones"]) == (customer["name"], customer["phones"])


def test_a_lead_note_starting_with_a_tab_is_neutralised_and_reimported_exactly(api, tenant):
    body = {"name": "=1+1", "email": "lead@x.example", "notes": "\t=cmd\r\n-1"}
    lead = api.post("/crm/leads", tenant.token, body).json
    exported = export_csv(api, tenant.token, "leads")
    row = next(csv.DictReader(io.StringIO(exported.decode("utf-8-sig"))))
    assert (row["name"], row["notes"]) == ("'=1+1", "'\t=cmd\r\n-1")
    assert import_csv(api, tenant.token, exported, entity="leads").json["failed"] == 0
    stored = api.get(f"/crm/leads/{lead['id']}", tenant.token).json
    assert (stored["name"], stored["notes"], stored["version"]) == ("=1+1", "\t=cmd\r\n-1", 1)


@given(st.text())
def test_a_neutralised_cell_never_starts_a_formula_and_restores_to_itself(cell):
    written = neutralise(cell)
    assert restore(written) == cell
    assert not written.startswith(FORMULA_START) or all(c in "0123456789 ()./+-;" for c in written)


# ---- an import applies the API's rules, and only the columns it has ---------------------------------------
def test_an_import_update_changes_only_the_columns_the_file_has(api, tenant):
    phones, emails = [{"number": "+86 138 0000 0001"}], [{"address": "p1@x.example"}]
    person = a_customer(api, tenant, code="P1", kind="person", phones=phones, emails=emails)
    result = import_csv(api, tenant.token, b"code,name\nP1,New Name\n").json
    assert (result["updated"], result["failed"]) == (1, 0), result["errors"]
    stored = api.get(f"/crm/customers/{person['id']}", tenant.token).json
    assert (stored["name"], stored["kind"], stored["phones"], stored["emails"]) == (
        "New Name",
        "person",
        person["phones"],
        person["emails"],
    )


def test_a_price_list_import_needs_no_name_column(api, tenant):
    assert import_csv(api, tenant.token, b"sku,name\nNEW-1,New\n", entity="products").json["created"] == 1
    priced = import_csv(api, tenant.token, b"sku,list_price\nNEW-1,9.90\n", entity="products").json
    assert (priced["updated"], priced["failed"]) == (1, 0), priced["errors"]
    product = api.get("/erp/products?sku=NEW-1", tenant.token).json["items"][0]
    assert (product["name"], product["list_price"]) == ("New", "9.90")


def test_an_import_cannot_make_a_product_with_stock_a_service(api, tenant):
    product = api.post("/erp/products", tenant.token, {"sku": "BOX-9", "name": "Box"}).json
    warehouse = api.post("/erp/warehouses", tenant.token, {"code": "SH", "name": "Shanghai"}).json
    body = {"product_id": product["id"], "warehouse_id": warehouse["id"], "quantity": "3", "reason": "count"}
    assert api.post("/erp/stock/adjustments", tenant.token, body).status == 201
    refused = api.patch(f"/erp/products/{product['id']}", tenant.token, {"kind": "service"})
    assert refused.status == 409
    result = import_csv(
        api, tenant.token, "货号,产品名称,类型\nBOX-9,Box,服务\n".encode("gbk"), entity="products"
    ).json
    assert (result["updated"], result["failed"]) == (0, 1)
    assert result["errors"] == [{"row": 2, "field": "kind", "reason": refused.json["detail"]}]
    assert api.get(f"/erp/products/{product['id']}", tenant.token).json["kind"] == "stocked"


def test_an_import_cannot_change_a_converted_lead(api, tenant):
    body = {"name": "Wang Wu", "company_name": "Wang Tea", "email": "wang@tea.example"}
    lead = api.post("/crm/leads", tenant.token, body).json
    assert api.post(f"/crm/leads/{lead['id']}/convert", tenant.token).status == 201
    refused = api.patch(f"/crm/leads/{lead['id']}", tenant.token, {"name": "Wang Liu"})
    assert refused.status == 409
    result = import_csv(api, tenant.token, b"name,email\nWang Liu,wang@tea.example\n", entity="leads").json
    assert (result["updated"], result["failed"]) == (0, 1)
    assert result["errors"] == [{"row": 2, "field": "row", "reason": refused.json["detail"]}]
    assert api.get(f"/crm/leads/{lead['id']}", tenant.token).json["name"] == "Wang Wu"


# ---- import limits hold, and every bad cell is a row error ----------------------------------------------
def test_a_cell_over_128_kib_or_of_only_separators_is_a_row_error(api, tenant):
    huge = "长" * (128 * 1024 + 1)
    rows = [
        ["B1", huge, "公司", *[""] * 8],
        ["B2", "Fine Ltd", "公司", ";；,", "; ;", *[""] * 6],
        ["B3", "Other Ltd", "公司", *[""] * 7, huge],  # in a column the import ignores
    ]
    result = import_csv(api, tenant.token, csv_bytes(rows, "utf-8", [*HEADER, "remark"]))
    assert result.status == 200, result.body[:300]
    assert (result.json["created"], result.json["failed"]) == (0, 3)
    errors = {(e["row"], e["field"]): e["reason"] for e in result.json["errors"]}
    assert errors.keys() == {(2, "name"), (3, "phone"), (3, "email"), (4, "remark")}
    assert "128 KiB" in errors[(2, "name")] and "128 KiB" in errors[(4, "remark")]
    assert api.get("/crm/customers", tenant.token).json["items"] == []


def test_a_customer_code_that_cannot_be_one_and_an_email_of_separators_are_row_errors(api, tenant):
    a_customer(api, tenant, code="ACME")
    rows = [
        ["#ACME", "李雷", "li@acme.example"],
        ["A" * 600, "韩梅梅", "han@acme.example"],
        ["ACME", "Lucy", ";;"],
    ]
    contacts = import_csv(
        api, tenant.token, csv_bytes(rows, "utf-8", ["客户编码", "姓名", "邮箱"]), entity="contacts"
    )
    assert contacts.status == 200, contacts.body[:300]
    assert [(e["row"], e["field"]) for e in contacts.json["errors"]] == [
        (2, "customer_code"),
        (3, "customer_code"),
        (4, "email"),
    ]
    assert api.get("/crm/contacts", tenant.token).json["items"] == []
    leads = import_csv(api, tenant.token, b'name,email\nWang,;;\nLi,""\n', entity="leads")
    assert leads.status == 200, leads.body[:300]
    assert ([(e["row"], e["field"]) for e in leads.json["errors"]], leads.json["created"]) == (
        [(2, "email")],
        1,
    )


def test_a_file_that_is_not_the_text_it_says_is_a_400_naming_the_body(api, tenant):
    for data in (b"\xef\xbb\xbfname,kind\n\xff\xfe,company\n", "名称\n张三\n".encode("utf-16")):
        reply = import_csv(api, tenant.token, data)
        assert reply.status == 400 and reply.content_type == "application/problem+json", reply.body[:300]
        assert reply.json["errors"][0]["loc"] == ["body"]
    forced = import_csv(api, tenant.token, "名称,类型\n张三,公司\n".encode("gbk"), "?encoding=utf-8")
    assert forced.status == 400 and "utf-8" in forced.json["detail"]


def peak_above_idle(call):
    """What ``call`` answers, and the most memory it held at once above what was held before
    (tracemalloc: deterministic, whatever else the machine is doing)."""
    gc.collect()
    tracemalloc.start()
    try:
        reply = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return reply, peak


LIMIT = 5 * 1024 * 1024
WIDE = ";".join(["x"] * 40)


def many_points(n: int) -> list[str]:
    phones, emails = ";".join(f"{n:05d}{i}" for i in range(10)), ";".join(f"{n}{i}@x.cn" for i in range(10))
    return ["", f"M{n}", "公司", phones, emails, *[""] * 5]


SHAPES = {  # each about 5 MB, of 20,000 rows or of as few or as many as can be
    "2.6 million one-character rows": lambda: b"name\n" + b"a\n" * 2_600_000,
    "one cell of 5 MB": lambda: b"code,name,kind\nC1," + b"x" * (LIMIT - 100) + b",company\n",
    "one cell of 5 MB, an emoji in it": lambda: (
        "kind,name\ncompany,😀" + "a" * (LIMIT - 100) + "\n"
    ).encode(),
    "a quoted cell over 2.5 million lines": lambda: (
        b'name,kind\n"' + b"a\n" * 2_500_000 + b'",company\nGood Ltd,company\n'
    ),
    "20000 new customers of ten phones and ten emails": lambda: csv_bytes(
        [many_points(n) for n in range(20_000)], "utf-8"
    ),
    "20000 rows of bad cells": lambda: csv_bytes(
        [["#", "", "x", WIDE, WIDE, "", "", "", "xx", WIDE]] * 20_000, "utf-8"
    ),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_a_5_mb_import_of_any_shape_stays_within_64_mb(api, tenant, shape):
    data = SHAPES[shape]()
    assert len(data) <= LIMIT
    reply, peak = peak_above_idle(lambda: import_csv(api, tenant.token, data, "?dry_run=true"))
    print(f"{shape}: {len(data) / 1e6:.1f} MB, {reply.status}, peak {peak / 2**20:.1f} MiB above idle")
    assert peak <= 64 * 2**20
    if shape.startswith("2.6"):
        assert reply.status == 400 and "at most 20000 rows" in reply.json["detail"], reply.body[:300]
    elif shape.startswith("20000 new"):
        assert (reply.json["created"], reply.json["failed"]) == (20_000, 0), reply.json["errors"][:3]
    elif shape.startswith("20000 rows"):
        assert (reply.json["failed"], len(reply.json["errors"])) == (20_000, 1000)  # the first 1000 listed
    else:  # the long cell is a row error naming its column; a row after it is read as it should be
        assert [(e["row"], e["field"]) for e in reply.json["errors"]] == [(2, "name")], reply.json["errors"]
        assert reply.json["created"] == (1 if "quoted" in shape else 0)


def test_a_value_too_long_for_its_index_key_is_refused_by_the_api_and_the_import(api, tenant):
    name = "ﷺ" * 200  # 200 characters, 3,600 once NFKC-normalised for the name index (1,024 bytes a key)
    email = "😀" * 248 + "@x.cn"  # 253 characters, 997 bytes
    refused = api.post("/crm/customers", tenant.token, {"name": name, "kind": "company"})
    assert refused.status == 422 and refused.json["errors"][0]["loc"] == ["body", "name"], refused.body[:300]
    refused = api.post(
        "/crm/customers", tenant.token, {"name": "Emoji", "kind": "company", "emails": [{"address": email}]}
    )
    assert refused.status == 422 and refused.json["errors"][0]["loc"] == ["body", "emails", "0", "address"], (
        refused.body[:300]
    )
    result = import_csv(api, tenant.token, f"name,email\n{name},\nEmoji,{email}\n".encode()).json
    assert [(e["row"], e["field"]) for e in result["errors"]] == [(2, "name"), (3, "emails.0.address")]
    assert api.get("/crm/customers", tenant.token).json["items"] == []

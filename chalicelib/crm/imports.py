"""What the CRM imports from and exports to CSV: customers, contacts and leads (``core.tabular`` reads
and writes the files). Headers may be English field names or the usual Chinese ones."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from chalicelib.core import keys, tabular
from chalicelib.core.schemas import Code
from chalicelib.core.store import Store
from chalicelib.core.tabular import Spec, given, split
from chalicelib.crm import contacts, customers, leads
from chalicelib.crm.models import ContactIn, ContactPatch, CustomerIn, CustomerPatch, LeadIn, LeadPatch
from chalicelib.crm.types import CONTACT, CUSTOMER, LEAD

# Column headers as people write them, Chinese included, to the field they mean.
ALIASES = {
    "name": ("name", "名称", "客户名称", "姓名", "公司名称", "客户"),
    "kind": ("kind", "类型", "客户类型"),
    "code": ("code", "编码", "客户编码", "编号", "客户编号"),
    "phone": ("phone", "电话", "手机", "联系电话", "手机号"),
    "email": ("email", "邮箱", "电子邮件", "电子邮箱"),
    "address_line1": ("address_line1", "address", "地址", "详细地址"),
    "address_line2": ("address_line2",),
    "city": ("city", "城市"),
    "region": ("region", "省份", "地区", "省"),
    "postal_code": ("postal_code", "邮编", "邮政编码"),
    "country": ("country", "国家"),
    "tags": ("tags", "标签"),
    "customer_code": ("customer_code", "所属客户编码"),
    "title": ("title", "职位", "职务"),
    "birthday": ("birthday", "生日"),
    "company_name": ("company_name", "公司", "公司名称", "单位"),
    "source": ("source", "来源", "线索来源"),
    "notes": ("notes", "备注"),
}
KINDS = {"company": "company", "person": "person", "公司": "company", "企业": "company", "个人": "person"}
STATUSES = {
    "active": "active",
    "closed": "closed",
    "正常": "active",
    "活跃": "active",
    "关闭": "closed",
    "已关闭": "closed",
    "停用": "closed",
}
ALIAS_KEYS = tabular.aliases(ALIASES)


def _contact_points(row: dict[str, str]) -> dict[str, Any]:
    """Phones and emails when the file has their column: the row's replace the stored ones."""
    points: dict[str, Any] = {}
    if "phone" in row:
        points["phones"] = [{"number": p} for p in split(row["phone"])]
    if "email" in row:
        points["emails"] = [{"address": e} for e in split(row["email"])]
    return points


def _customer_body(row: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = given(row, ("name", "code"))
    if row.get("kind", "").strip():
        body["kind"] = KINDS.get(row["kind"].strip().lower(), row["kind"].strip())
    columns = (
        ("line1", "address_line1"),
        ("line2", "address_line2"),
        ("city", "city"),
        ("region", "region"),
        ("postal_code", "postal_code"),
    )
    address = {k: row[c] for k, c in columns if row.get(c, "").strip()}
    if row.get("country", "").strip():
        address["country"] = row["country"].strip().upper()
    if address:
        body["address"] = address  # the parts given; an update keeps the others (``_over``)
    if row.get("tags", "").strip():
        body["tags"] = split(row["tags"])
    if row.get("status", "").strip():  # else an update keeps the customer's status
        body["status"] = STATUSES.get(row["status"].strip().lower(), row["status"].strip())
    return {**body, **_contact_points(row)}


def _contact_body(row: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = given(row, ("name", "title", "birthday"))
    if row.get("tags", "").strip():
        body["tags"] = split(row["tags"])
    return {**body, **_contact_points(row)}


def _lead_body(row: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = given(row, ("name", "company_name", "source", "notes"))
    for field in ("email", "phone"):
        first = split(row.get(field, ""))[:1]
        if first:
            body[field] = first[0]
    return body


def _customer_ids_by_code(store: Store, tenant_id: str, codes: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(codes), 100):
        guards = store.batch_get(
            [keys.unique_guard(tenant_id, CUSTOMER.name, "code", c) for c in codes[start : start + 100]]
        )
        found.update({g["sk"]: g["entity_id"] for g in guards})
    return found


class Duplicates:
    """New customers that are probably ones already stored, or earlier rows of the same file: the
    same normalised name, email or phone. The stored names, emails and phones are read once when
    there are fewer than 500 per new row (a Query returns about a thousand per page), else asked
    row by row (a Query per name, email and phone)."""

    def __init__(self, store: Store, tenant_id: str, fresh: int) -> None:
        self.store, self.tenant_id = store, tenant_id
        self.known = customers.known_points(store, tenant_id, at_most=500 * fresh) if fresh else None
        self.seen = tabular.FirstRows()

    def of(self, number: int, fields: dict[str, Any]) -> tabular.RowError | None:
        points = customers.points(fields)
        for kind, value in points:
            earlier = self.seen.get((kind, value))
            if earlier:
                return tabular.RowError(
                    number, kind, f"probably the same customer as row {earlier} (same {kind})"
                )
        stored = customers.probable_duplicates(self.store, self.tenant_id, fields, self.known, points)
        if stored:
            field = stored[0]["matched_on"]
            return tabular.RowError(number, field, f"probably customer {stored[0]['id']} (same {field})")
        for point in points:
            self.seen.add(point, number)
        return None


SPECS: dict[str, Spec] = {
    "customers": Spec(
        CUSTOMER,
        CustomerIn,
        CustomerPatch,
        customers.changes,
        "code",
        _customer_body,
        lambda body, actor: {**body, "owner_id": None},  # into the pool
        (
            "id",
            "code",
            "name",
            "kind",
            "phone",
            "email",
            "address_line1",
            "address_line2",
            "city",
            "region",
            "postal_code",
            "country",
            "tags",
            "status",
        ),
        lambda i: {
            "id": i["id"],
            "code": i.get("code") or "",
            "name": i["name"],
            "kind": i["kind"],
            "phone": ";".join(p["number"] for p in i.get("phones") or []),
            "email": ";".join(e["address"] for e in i.get("emails") or []),
            **{
                f"address_{k}" if k.startswith("line") else k: (i.get("address") or {}).get(k) or ""
                for k in ("line1", "line2", "city", "region", "postal_code", "country")
            },
            "tags": ";".join(i.get("tags") or []),
            "status": i.get("status", "active"),
        },
        aliases={
            **ALIAS_KEYS,
            **tabular.aliases({"status": ("status", "状态", "客户状态")}),
        },  # a lead's is another
        permission="crm.customers",
        create_defaults={"kind": "company"},
        duplicates=Duplicates,
    ),
    "contacts": Spec(
        CONTACT,
        ContactIn,
        ContactPatch,
        contacts.changes,
        "email",
        _contact_body,
        contacts.new_fields,
        ("id", "customer_id", "name", "title", "phone", "email", "birthday", "marketing_consent", "tags"),
        lambda i: {
            "id": i["id"],
            "customer_id": i["customer_id"],
            "name": i["name"],
            "title": i.get("title") or "",
            "phone": ";".join(p["number"] for p in i.get("phones") or []),
            "email": ";".join(e["address"] for e in i.get("emails") or []),
            "birthday": i.get("birthday") or "",
            "marketing_consent": "yes" if i.get("marketing_consent") else "no",
            "tags": ";".join(i.get("tags") or []),
        },
        aliases={**ALIAS_KEYS, **tabular.aliases({"customer_code": ("客户编码", "code")})},
        permission="crm.contacts",
        reference=tabular.CodeReference(
            "customer_code", "customer_id", "customer", TypeAdapter(Code), _customer_ids_by_code
        ),
    ),
    "leads": Spec(
        LEAD,
        LeadIn,
        LeadPatch,
        leads.changes,
        "email",
        _lead_body,
        leads.new_fields,
        ("id", "name", "company_name", "email", "phone", "source", "status", "notes"),
        lambda i: {
            k: i.get(k) or ""
            for k in ("id", "name", "company_name", "email", "phone", "source", "status", "notes")
        },
        aliases=ALIAS_KEYS,
        permission="crm.leads",
    ),
}

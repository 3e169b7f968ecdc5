"""Import from and export to CSV as Excel writes and reads it.

Import decodes UTF-8 (with or without BOM) or GB18030 (a superset of GBK, what Chinese Excel writes
by default), maps the columns (English field names or the usual Chinese headers), validates every
row with the same models as the API, then upserts on the entity's key (a customer's code, a
contact's or lead's email). Bad rows are reported with row number, field and reason, and change
nothing; good rows are written in transactions of up to 20 rows (one row per transaction again if a
chunk meets a conflict). ``dry_run`` validates and counts without writing.

Export writes UTF-8 with a BOM, so that Excel opens Chinese text right.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from chalicelib.core import entities, keys
from chalicelib.core.entities import EntityType
from chalicelib.core.errors import BadRequestError, NotFoundError
from chalicelib.core.store import Actor, ConditionFailed, Store, audit_entry, put, utcnow
from chalicelib.crm import contacts, customers, leads
from chalicelib.crm.contacts import CONTACT
from chalicelib.crm.customers import CUSTOMER
from chalicelib.crm.leads import LEAD
from chalicelib.crm.models import ContactIn, CustomerIn, LeadIn
from chalicelib.erp.catalogue import PRODUCT
from chalicelib.erp.models import ProductIn

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_TRANSACTION = 100  # DynamoDB's limit of items in one TransactWriteItems

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
STATUSES = {"active": "active", "closed": "closed", "正常": "active", "活跃": "active", "关闭": "closed", "已关闭": "closed",
            "停用": "closed"}  # fmt: skip


@dataclasses.dataclass
class RowError:
    row: int
    field: str
    reason: str


@dataclasses.dataclass
class Spec:
    et: EntityType
    model: type[BaseModel]
    key_field: str  # the upsert key among the model's fields: "code", "sku" or "email"
    to_body: Callable[[dict[str, str]], dict[str, Any]]
    new_fields: Callable[[dict[str, Any], Actor], dict[str, Any]]
    export_columns: tuple[str, ...]
    to_row: Callable[[dict[str, Any]], dict[str, str]]
    # Headers that mean something else for this entity (a contact's "客户编码" is its customer's code).
    own_aliases: dict[str, str] = dataclasses.field(default_factory=dict)
    permission: str = ""  # the resource whose create and update an import needs: "crm.customers"

    def __post_init__(self) -> None:
        self.permission = self.permission or f"crm.{self.et.name}s"

    def with_defaults(self, body: dict[str, Any]) -> dict[str, Any]:
        """A new record's fields: the row's, and the model's defaults for the others (but the owner:
        left out, the entity's own default applies)."""
        full = self.model.model_validate(body).model_dump(mode="json")
        return {k: v for k, v in full.items() if k in body or k != "owner_id"}


GUARDED = ("code", "sku")  # upsert keys held by unique guards (the others are email lookups)


def decode(raw: bytes, encoding: str | None) -> tuple[str, str]:
    """The file's text and the encoding it was read with."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8-sig"
    candidates = [encoding] if encoding else ["utf-8", "gb18030"]
    for name in candidates:
        try:
            return raw.decode(name), name
        except (UnicodeDecodeError, LookupError):
            continue
    raise BadRequestError(
        f"The file is not {' or '.join(candidates)} text.",
        errors=[{"loc": ["query", "encoding"], "msg": "cannot decode the file", "type": "encoding"}],
    )


def _columns(header: list[str], own_aliases: dict[str, str]) -> dict[str, str]:
    """Our field for each header that we know; the others are ignored and reported."""
    lookup = {alias.strip().lower(): field for field, aliases in ALIASES.items() for alias in aliases}
    lookup.update(own_aliases)
    return {h: lookup[h.strip().lower()] for h in header if h.strip().lower() in lookup}


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.replace("；", ";").replace(",", ";").split(";") if part.strip()]


def _contact_points(row: dict[str, str]) -> dict[str, Any]:
    return {
        "phones": [{"number": p} for p in _split(row.get("phone", ""))],
        "emails": [{"address": e} for e in _split(row.get("email", ""))],
    }


def _customer_body(row: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": row.get("name", ""),
        "kind": KINDS.get(row.get("kind", "").strip().lower(), row.get("kind") or "company"),
    }
    if row.get("code"):
        body["code"] = row["code"]
    columns = (("line1", "address_line1"), ("line2", "address_line2"), ("city", "city"), ("region", "region"),
               ("postal_code", "postal_code"))  # fmt: skip
    address = {k: row[c] for k, c in columns if row.get(c)}
    if row.get("country"):
        address["country"] = row["country"].strip().upper()
    if address:
        body["address"] = address
    if row.get("tags"):
        body["tags"] = _split(row["tags"])
    if row.get("status", "").strip():  # else an update keeps the customer's status
        body["status"] = STATUSES.get(row["status"].strip().lower(), row["status"].strip())
    return {**body, **_contact_points(row)}


def _contact_body(row: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {"name": row.get("name", ""), "customer_id": row.get("customer_id", "")}
    if row.get("title"):
        body["title"] = row["title"]
    if row.get("birthday"):
        body["birthday"] = row["birthday"]
    if row.get("tags"):
        body["tags"] = _split(row["tags"])
    return {**body, **_contact_points(row)}


PRODUCT_KINDS = {"库存品": "stocked", "库存": "stocked", "服务": "service", "自制": "manufactured", "生产": "manufactured"}
PRODUCT_FIELDS = ("sku", "name", "unit", "list_price", "currency", "standard_cost", "category", "reorder_point", "lead_time_days",
                  "invoicing_policy")  # fmt: skip
PRODUCT_ALIASES = {
    **{field: field for field in (*PRODUCT_FIELDS, "kind")},
    "产品编码": "sku", "商品编码": "sku", "物料编码": "sku", "货号": "sku", "产品名称": "name", "商品名称": "name",
    "单位": "unit", "售价": "list_price", "单价": "list_price", "币种": "currency", "成本": "standard_cost",
    "类别": "category", "分类": "category", "安全库存": "reorder_point", "补货点": "reorder_point",
    "采购周期": "lead_time_days", "交货期": "lead_time_days", "类型": "kind",
}  # fmt: skip


def _product_body(row: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {k: row[k].strip() for k in PRODUCT_FIELDS if row.get(k, "").strip()}
    body.setdefault("sku", "")
    body.setdefault("name", "")
    if row.get("kind", "").strip():
        body["kind"] = PRODUCT_KINDS.get(row["kind"].strip(), row["kind"].strip().lower())
    return body


def _lead_body(row: dict[str, str]) -> dict[str, Any]:
    body = {k: row[k] for k in ("name", "company_name", "source", "notes") if row.get(k)}
    body.setdefault("name", "")
    if row.get("email"):
        body["email"] = _split(row["email"])[0]
    if row.get("phone"):
        body["phone"] = _split(row["phone"])[0]
    return body


SPECS = {
    "customers": Spec(
        CUSTOMER, CustomerIn, "code", _customer_body, lambda body, actor: {**body, "owner_id": None},  # into the pool
        ("id", "code", "name", "kind", "phone", "email", "address_line1", "address_line2", "city", "region", "postal_code",
         "country", "tags", "status"),
        lambda i: {"id": i["id"], "code": i.get("code") or "", "name": i["name"], "kind": i["kind"],
                   "phone": ";".join(p["number"] for p in i.get("phones") or []),
                   "email": ";".join(e["address"] for e in i.get("emails") or []),
                   **{f"address_{k}" if k.startswith("line") else k: (i.get("address") or {}).get(k) or ""
                      for k in ("line1", "line2", "city", "region", "postal_code", "country")},
                   "tags": ";".join(i.get("tags") or []), "status": i.get("status", "active")},
        {"status": "status", "状态": "status", "客户状态": "status"},  # a lead's status is another thing
    ),
    "contacts": Spec(
        CONTACT, ContactIn, "email", _contact_body, contacts.new_fields,
        ("id", "customer_id", "name", "title", "phone", "email", "birthday", "marketing_consent", "tags"),
        lambda i: {"id": i["id"], "customer_id": i["customer_id"], "name": i["name"], "title": i.get("title") or "",
                   "phone": ";".join(p["number"] for p in i.get("phones") or []),
                   "email": ";".join(e["address"] for e in i.get("emails") or []), "birthday": i.get("birthday") or "",
                   "marketing_consent": "yes" if i.get("marketing_consent") else "no", "tags": ";".join(i.get("tags") or [])},
        {"客户编码": "customer_code", "code": "customer_code"},
    ),
    "leads": Spec(
        LEAD, LeadIn, "email", _lead_body, leads.new_fields,
        ("id", "name", "company_name", "email", "phone", "source", "status", "notes"),
        lambda i: {k: i.get(k) or "" for k in ("id", "name", "company_name", "email", "phone", "source", "status", "notes")},
    ),
    "products": Spec(
        PRODUCT, ProductIn, "sku", _product_body, lambda body, actor: body,
        ("id", "sku", "name", "unit", "kind", "list_price", "currency", "standard_cost", "category", "reorder_point",
         "lead_time_days", "invoicing_policy"),
        lambda i: {k: "" if i.get(k) is None else str(i[k]) for k in ("id", "kind", *PRODUCT_FIELDS)},
        PRODUCT_ALIASES, permission="erp.products",
    ),
}  # fmt: skip


def spec_for(entity: str) -> Spec:
    if entity not in SPECS:
        raise NotFoundError(f"Nothing to import or export as {entity}; try one of {', '.join(SPECS)}.")
    return SPECS[entity]


def _key_value(spec: Spec, body: dict[str, Any]) -> str | None:
    if spec.key_field in GUARDED:
        return str(body[spec.key_field]).upper() if body.get(spec.key_field) else None
    emails = body.get("emails") or ([{"address": body["email"]}] if body.get("email") else [])
    return emails[0]["address"].lower() if emails else None


def _existing(store: Store, tenant_id: str, spec: Spec, values: list[str]) -> dict[str, dict[str, Any]]:
    """Current records by upsert key: code guards (BatchGetItem) or email lookups, then the records."""
    ids: dict[str, str] = {}
    if spec.key_field in GUARDED:
        for start in range(0, len(values), 100):
            chunk = values[start : start + 100]
            guards = store.batch_get([keys.unique_guard(tenant_id, spec.et.name, spec.key_field, v) for v in chunk])
            ids.update({g["sk"]: g["entity_id"] for g in guards})
    else:
        for value in values:
            page = entities.lookup(store, tenant_id, spec.et, "email", value, limit=1)
            if page.items:
                ids[value] = page.items[0]["id"]
    found: dict[str, dict[str, Any]] = {}
    by_id = {v: k for k, v in ids.items()}
    id_list = list(by_id)
    for start in range(0, len(id_list), 100):
        for item in entities.get_many(store, tenant_id, spec.et, id_list[start : start + 100]):
            found[by_id[item["id"]]] = item
    return found


def _customer_ids_by_code(store: Store, tenant_id: str, codes: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(codes), 100):
        guards = store.batch_get([keys.unique_guard(tenant_id, CUSTOMER.name, "code", c) for c in codes[start : start + 100]])
        found.update({g["sk"]: g["entity_id"] for g in guards})
    return found


def _rows(text: str, spec: Spec) -> Iterator[tuple[int, dict[str, str], list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise BadRequestError("The file is empty: the first row must name the columns.")
    columns = _columns(header, spec.own_aliases)
    unknown = [h for h in header if h not in columns and h.strip()]
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        row = {columns[h]: cell for h, cell in zip(header, cells, strict=False) if h in columns}
        yield number, row, unknown


def _duplicate_errors(
    store: Store, tenant_id: str, parsed: list[tuple[int, dict[str, Any]]], existing: dict[str, dict[str, Any]]
) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    """New customers that are probably ones already stored, or earlier rows of the same file: the
    same normalised name, email or phone. The stored names, emails and phones are read once when
    there are fewer than 500 per new row (a Query returns about a thousand per page), else asked
    row by row (a Query per name, email and phone)."""
    fresh = [(n, b) for n, b in parsed if _key_value(SPECS["customers"], b) not in existing]
    known = customers.known_points(store, tenant_id, at_most=500 * len(fresh)) if fresh else None
    kept: list[tuple[int, dict[str, Any]]] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}
    for number, body in parsed:
        if _key_value(SPECS["customers"], body) in existing:
            kept.append((number, body))  # an update of the customer with this code
            continue
        points = customers.points(body)
        earlier = next(((kind, seen[(kind, value)]) for kind, value in points if (kind, value) in seen), None)
        if earlier:
            errors.append(RowError(number, earlier[0], f"probably the same customer as row {earlier[1]} (same {earlier[0]})"))
            continue
        stored = customers.probable_duplicates(store, tenant_id, body, known)
        if stored:
            field = stored[0]["matched_on"]
            errors.append(RowError(number, field, f"probably customer {stored[0]['id']} (same {field})"))
            continue
        seen.update({point: number for point in points})
        kept.append((number, body))
    return kept, errors


def run_import(
    store: Store, actor: Actor, entity: str, raw: bytes, *, dry_run: bool, encoding: str | None, allow_duplicates: bool = False
) -> dict[str, Any]:
    spec = spec_for(entity)
    text, used = decode(raw, encoding)
    errors: list[RowError] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    ignored: list[str] = []
    rows = list(_rows(text, spec))
    if len(rows) > MAX_ROWS:
        raise BadRequestError(f"The file has {len(rows)} rows; import at most {MAX_ROWS} at a time.")
    if rows:
        ignored = rows[0][2]
    if entity == "contacts":  # contacts name their customer by code
        codes = sorted({r.get("customer_code", "").strip().upper() for _, r, _ in rows if r.get("customer_code", "").strip()})
        by_code = _customer_ids_by_code(store, actor.tenant_id, codes)
        for _, row, _ in rows:
            row["customer_id"] = by_code.get(row.get("customer_code", "").strip().upper(), "")
    for number, row, _ in rows:
        body = spec.to_body(row)
        try:
            data = spec.model.model_validate(body)
        except PydanticValidationError as exc:
            for err in exc.errors(include_url=False, include_context=False, include_input=False):
                field = ".".join(str(p) for p in err["loc"]) or "row"
                if field == "customer_id":
                    field, message = "customer_code", "no customer has this code"
                else:
                    message = err["msg"]
                errors.append(RowError(number, field, message))
            continue
        key = _key_value(spec, data.model_dump(mode="json"))
        if key:
            if key in seen:
                errors.append(RowError(number, spec.key_field, f"the same {spec.key_field} as row {seen[key]}"))
                continue
            seen[key] = number
        # What the row says, no more: an update keeps every field the file has no column (or cell) for.
        parsed.append((number, data.model_dump(mode="json", exclude_unset=True)))
    existing = _existing(store, actor.tenant_id, spec, list(seen)) if parsed else {}
    if entity == "customers" and not allow_duplicates:
        parsed, duplicate_errors = _duplicate_errors(store, actor.tenant_id, parsed, existing)
        errors.extend(duplicate_errors)
    created = sum(1 for _, body in parsed if _key_value(spec, body) not in existing)
    updated = len(parsed) - created
    if not dry_run:
        created, updated = _write(store, actor, spec, parsed, existing, errors)
    errors.sort(key=lambda e: e.row)
    return {
        "entity": entity,
        "encoding": used,
        "dry_run": dry_run,
        "rows": len(rows),
        "created": created,
        "updated": updated,
        "failed": len({e.row for e in errors}),
        "ignored_columns": ignored,
        "errors": [dataclasses.asdict(e) for e in errors],
    }


def _operations(
    store: Store, actor: Actor, spec: Spec, body: dict[str, Any], current: dict[str, Any] | None
) -> list[dict[str, Any]]:
    if current is None:
        fields = spec.new_fields(spec.with_defaults(body), actor)
        return entities.create_operations(spec.et, actor, entities.new_item(spec.et, actor, fields))
    after = {**current, **body, "version": current["version"] + 1, "updated_at": utcnow(), "updated_by": actor.user_id}
    after.update(entities.indexes(spec.et, actor.tenant_id, after))
    return [
        put(after, "version = :v", ExpressionAttributeValues={":v": current["version"]}),
        audit_entry(
            actor, f"{spec.et.name}.import", spec.et.name, current["id"], entities.public(current), entities.public(after)
        ),
        *entities.lookup_changes(spec.et, actor.tenant_id, current, after),
    ]


def _chunks(store: Store, actor: Actor, spec: Spec, parsed: list[tuple[int, dict[str, Any]]],
            existing: dict[str, dict[str, Any]]) -> Any:  # fmt: skip
    """Rows grouped into transactions of at most 100 writes (a row is never split)."""
    chunk: list[tuple[int, dict[str, Any], dict[str, Any] | None, list[dict[str, Any]]]] = []
    size = 0
    for number, body in parsed:
        current = existing.get(_key_value(spec, body) or "")
        ops = _operations(store, actor, spec, body, current)
        if chunk and size + len(ops) > MAX_TRANSACTION:
            yield chunk
            chunk, size = [], 0
        chunk.append((number, body, current, ops))
        size += len(ops)
    if chunk:
        yield chunk


def _write(store: Store, actor: Actor, spec: Spec, parsed: list[tuple[int, dict[str, Any]]], existing: dict[str, dict[str, Any]],
           errors: list[RowError]) -> tuple[int, int]:  # fmt: skip
    created = updated = 0
    for planned in _chunks(store, actor, spec, parsed, existing):
        try:
            store.transact([op for _, _, _, ops in planned for op in ops])
            outcomes = [(n, cur) for n, _, cur, _ in planned]
        except ConditionFailed:
            outcomes = []
            for number, _, current, ops in planned:  # one at a time, to find the row that clashed
                try:
                    store.transact(ops)
                    outcomes.append((number, current))
                except ConditionFailed:
                    errors.append(RowError(number, spec.key_field, "changed or taken by someone else during the import"))
        for _, current in outcomes:
            if current is None:
                created += 1
            else:
                updated += 1
    return created, updated


def export(store: Store, tenant_id: str, entity: str) -> bytes:
    """The whole collection as CSV, UTF-8 with a BOM (what Excel needs to show Chinese right)."""
    spec = spec_for(entity)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(spec.export_columns), lineterminator="\r\n")
    writer.writeheader()
    cursor = None
    while True:
        page = entities.list_page(store, tenant_id, spec.et, limit=100, cursor=cursor)
        for item in page.items:
            writer.writerow(spec.to_row(item))
        cursor = page.next_cursor
        if not cursor:
            break
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")

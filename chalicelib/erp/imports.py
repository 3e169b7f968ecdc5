"""What the ERP imports from and exports to CSV: products (``core.tabular`` reads and writes the files),
upserted on their SKU; headers may be the field names or the usual Chinese ones."""

from __future__ import annotations

from typing import Any

from chalicelib.core import tabular
from chalicelib.core.tabular import Spec
from chalicelib.erp import products
from chalicelib.erp.catalogue import PRODUCT
from chalicelib.erp.models import ProductIn, ProductPatch

PRODUCT_KINDS = {
    "库存品": "stocked",
    "库存": "stocked",
    "服务": "service",
    "自制": "manufactured",
    "生产": "manufactured",
}
PRODUCT_FIELDS = (
    "sku",
    "name",
    "unit",
    "list_price",
    "currency",
    "standard_cost",
    "category",
    "reorder_point",
    "lead_time_days",
    "invoicing_policy",
)
PRODUCT_ALIASES = {  # Chinese headers (English ones are the field names)
    "名称": "name",
    "产品编码": "sku",
    "商品编码": "sku",
    "物料编码": "sku",
    "货号": "sku",
    "产品名称": "name",
    "商品名称": "name",
    "单位": "unit",
    "售价": "list_price",
    "单价": "list_price",
    "币种": "currency",
    "成本": "standard_cost",
    "类别": "category",
    "分类": "category",
    "安全库存": "reorder_point",
    "补货点": "reorder_point",
    "采购周期": "lead_time_days",
    "交货期": "lead_time_days",
    "类型": "kind",
}


def _product_body(row: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {k: row[k].strip() for k in PRODUCT_FIELDS if row.get(k, "").strip()}
    if row.get("kind", "").strip():
        body["kind"] = PRODUCT_KINDS.get(row["kind"].strip(), row["kind"].strip().lower())
    return body


SPECS: dict[str, Spec] = {
    "products": Spec(
        PRODUCT,
        ProductIn,
        ProductPatch,
        products.changes,
        "sku",
        _product_body,
        lambda body, actor: body,
        (
            "id",
            "sku",
            "name",
            "unit",
            "kind",
            "list_price",
            "currency",
            "standard_cost",
            "category",
            "reorder_point",
            "lead_time_days",
            "invoicing_policy",
        ),
        lambda i: {k: "" if i.get(k) is None else str(i[k]) for k in ("id", "kind", *PRODUCT_FIELDS)},
        aliases=tabular.aliases({field: (field,) for field in (*PRODUCT_FIELDS, "kind")}) | PRODUCT_ALIASES,
        permission="erp.products",
    ),
}

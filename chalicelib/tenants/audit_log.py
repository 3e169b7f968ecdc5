"""The audit log of a company: every change, who made it, before and after; newest first."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.core import keys
from chalicelib.core.errors import BadRequestError
from chalicelib.core.schemas import iso
from chalicelib.core.store import Page, Store, strip_keys
from chalicelib.tenants import repository
from chalicelib.tenants.models import AuditQuery


def list_page(store: Store, tenant_id: str, q: AuditQuery) -> Page:
    """Newest first. The most selective filter picks the index; the others filter the query."""
    if q.entity_id and not q.entity_type:
        raise BadRequestError(
            "entity_id needs entity_type.",
            errors=[{"loc": ["query", "entity_type"], "msg": "required with entity_id", "type": "missing"}],
        )
    lower = iso(q.from_) if q.from_ else ""
    upper = iso(q.to) + "~" if q.to else ""
    if q.entity_type and q.entity_id:
        index, partition, sort_attr = (
            "gsi1",
            keys.audit_entity_pk(tenant_id, q.entity_type, q.entity_id),
            "gsi1sk",
        )
        filter_condition = repository.audit_by_user(q.user_id)
    elif q.user_id:
        index, partition, sort_attr = "gsi2", keys.audit_user_pk(tenant_id, q.user_id), "gsi2sk"
        filter_condition = repository.audit_of_type(q.entity_type)
    else:
        index, partition, sort_attr = None, keys.audit_pk(tenant_id), "sk"
        filter_condition = repository.audit_of_type(q.entity_type)
    page = store.query_page(
        tenant_id=tenant_id,
        partition=partition,
        index=index,
        sort_condition=repository.audit_window(sort_attr, lower, upper),
        filter_condition=filter_condition,
        limit=q.limit,
        cursor=q.cursor,
        newest_first=True,
        query_id=f"audit|{lower}|{upper}|{q.entity_type}|{q.user_id}",
    )
    return Page([_audit_out(i) for i in page.items], page.next_cursor)


def _audit_out(item: dict[str, Any]) -> dict[str, Any]:
    out = strip_keys(item)
    for side in ("before", "after"):
        out[side] = json.loads(out[side]) if out.get(side) else None
    return out

"""Invoices made by hand: a draft changes or goes until it is issued (``receivables.issue``); the
figures of an issued one move only by payments and credit notes (``receivables``)."""

from __future__ import annotations

from typing import Any

from chalicelib.core import entities
from chalicelib.core.entities import Change, Reference
from chalicelib.core.errors import ConflictError
from chalicelib.core.store import Actor, Page, Store
from chalicelib.erp.receivables import INVOICE, new_fields, not_the_handoffs, present, priced
from chalicelib.handoff.contracts import CUSTOMER
from chalicelib.tenants import published as company


def create(store: Store, actor: Actor, data: Any) -> dict[str, Any]:
    body = company.with_currency(store, actor.tenant_id, data).model_dump(mode="json")
    fields = new_fields(
        body["customer_id"],
        body["currency"],
        body["lines"],
        body["payment_terms_days"],
        body["order_id"],
        body["notes"],
    )
    refs = [Reference("customer_id", CUSTOMER, data.customer_id)]
    return present(entities.create(store, actor, INVOICE, fields, references=refs))


def list_page(store: Store, tenant_id: str, q: Any) -> Page:
    if q.customer_id:
        page = entities.lookup(
            store,
            tenant_id,
            INVOICE,
            "customer",
            q.customer_id,
            limit=q.limit,
            cursor=q.cursor,
            newest_first=True,
        )
    elif q.status == "open":
        page = entities.lookup(
            store, tenant_id, INVOICE, "open", "yes", limit=q.limit, cursor=q.cursor, newest_first=True
        )
    else:
        page = entities.list_page(
            store, tenant_id, INVOICE, limit=q.limit, cursor=q.cursor, updated_since=q.updated_since
        )
    return Page([i if i.get("deleted") else present(i) for i in page.items], page.next_cursor)


def _draft_only(before: dict[str, Any]) -> None:
    not_the_handoffs(before)
    if before["status"] != "draft":
        raise ConflictError(
            f"The invoice is {before['status']}; only a draft changes (issue a credit note instead).",
            state=before["status"],
        )


def update(store: Store, actor: Actor, invoice_id: str, patch: Any, if_match: int | None) -> dict[str, Any]:
    changes = entities.patch_fields(entities.given(patch), ("lines", "payment_terms_days"), {"notes": ""})

    def decide(before: dict[str, Any]) -> Change:
        _draft_only(before)
        if "lines" in changes:
            return Change({**changes, **priced(changes["lines"], before["currency"])})
        return Change(changes)

    return present(entities.update(store, actor, INVOICE, invoice_id, decide=decide, if_match=if_match).item)


def remove(store: Store, actor: Actor, invoice_id: str, if_match: int | None) -> None:
    entities.remove(store, actor, INVOICE, invoice_id, if_match=if_match, check=_draft_only)

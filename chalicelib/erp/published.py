"""What the ERP promises the CRM: the one module of the ERP another context may import.

The CRM asks the ERP here, in the ERP's words, and never reads or writes the ERP's records itself:
whether a SKU may be sold (and a check that it still may, inside the CRM's own transaction), what
a customer still owes or has on account, moving a customer's receivables when two customers merge,
and the repairs reconciliation asks for. Everything else of the ERP reaches the CRM as events
(``handoff.contracts``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from chalicelib.core import entities, keys
from chalicelib.core.entities import Change, EntityType
from chalicelib.core.store import Actor, Store
from chalicelib.erp import intake, receivables, repository, reservations
from chalicelib.erp.catalogue import PRODUCT
from chalicelib.handoff.contracts import InvoiceIssued


def product_keys(tenant_id: str, skus: list[str]) -> list[dict[str, str]]:
    """The keys to read (in the CRM's own BatchGetItem) to learn which product each SKU names."""
    return [keys.unique_guard(tenant_id, PRODUCT.name, "sku", s.upper()) for s in skus]


def product_ids(guards: list[dict[str, Any]]) -> dict[str, str]:
    """SKU (upper case) → its product's id, for the guard items ``product_keys`` found (no read)."""
    return {g["sk"]: g["entity_id"] for g in guards}


def products_named(store: Store, tenant_id: str, guards: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """SKU (upper case) → its product, for the guard items ``product_keys`` found (one BatchGetItem)."""
    by_id = {i: sku for sku, i in product_ids(guards).items()}
    found = store.batch_get([keys.entity(tenant_id, PRODUCT.name, i) for i in by_id])
    return {by_id[p["id"]]: p for p in found}


def sellable(product: dict[str, Any]) -> bool:
    return bool(product.get("sellable", True))


def still_sellable(tenant_id: str, product_id: str) -> dict[str, Any]:
    """A ConditionCheck for a transaction of the CRM's: the product still exists and is sellable."""
    return repository.still_sellable(tenant_id, product_id)


def open_receivables(store: Store, tenant_id: str, customer_id: str, shown: int) -> dict[str, list[str]]:
    """What a customer still owes or has on account (at most ``shown`` of each): invoices neither
    void nor paid, payments with money not yet allocated."""

    def matching(et: EntityType, keep: Callable[[dict[str, Any]], bool]) -> list[str]:
        return entities.lookup_ids(store, tenant_id, et, "customer", customer_id, keep=keep, at_most=shown)

    return {
        "open_invoice_ids": matching(receivables.INVOICE, lambda i: i["status"] not in ("void", "paid")),
        "unapplied_payment_ids": matching(receivables.PAYMENT, lambda p: Decimal(str(p["unallocated"])) > 0),
    }


def move_receivables(store: Store, actor: Actor, survivor_id: str, duplicate_id: str) -> dict[str, int]:
    """The duplicate customer's invoices (each with its credit notes, moved first so that a merge cut
    short finds them again) and payments follow it to the survivor: nothing owed is left on a
    customer that is gone. Returns how many of each moved."""
    invoice, credit_note, payment = receivables.INVOICE, receivables.CREDIT_NOTE, receivables.PAYMENT
    moved = {invoice.name: 0, credit_note.name: 0, payment.name: 0}

    def move(et: EntityType, record_id: str) -> None:
        entities.update(
            store, actor, et, record_id, decide=Change({"customer_id": survivor_id}, action="merge")
        )
        moved[et.name] += 1

    for et in (invoice, payment):
        while page := entities.lookup(store, actor.tenant_id, et, "customer", duplicate_id).items:
            for record in page:
                if et is invoice:
                    for note in entities.lookup_all(
                        store, actor.tenant_id, credit_note, "invoice", record["id"]
                    ):
                        if note["customer_id"] == duplicate_id:
                            move(credit_note, note["id"])
                move(et, record["id"])
    return moved


def invoice_total(store: Store, tenant_id: str, invoice_id: str) -> str | None:
    """The total of an invoice (None when there is none)."""
    found = entities.get_many(store, tenant_id, receivables.INVOICE, [invoice_id])
    return str(found[0]["total"]) if found else None


def invoice_on_delivery(store: Store, actor: Actor, order_id: str) -> InvoiceIssued | None:
    """Issue the draft invoice of a shipped order invoiced on delivery (None: nothing to issue)."""
    return intake.invoice_on_delivery(store, actor, order_id)


def release_order(store: Store, actor: Actor, order_id: str) -> list[str]:
    """Release every reservation still held for an order; the ids released."""
    active = [
        r
        for r in reservations.list_page(store, actor.tenant_id, f"{order_id}:", 100, None).items
        if r["status"] == "active"
    ]
    for reservation in active:
        reservations.release(store, actor, reservation["id"], None)
    return [r["id"] for r in active]

"""Purchase orders: draft → ordered → partially received → received, or cancelled.

Receiving writes the order's received quantities, the stock receipts and their ledger movements in
one transaction conditional on the order's version: a receipt is all of its lines or none, and two
clerks receiving the same delivery at once cannot both book it (the second gets 412 and reads the
order again).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from chalicelib.core import entities
from chalicelib.core.entities import Change, EntityType, Reference
from chalicelib.core.errors import ConflictError, ValidationError
from chalicelib.core.money import round_money, text
from chalicelib.core.store import Actor, Page, Store, utcnow
from chalicelib.erp import inventory, stock
from chalicelib.erp.catalogue import PRODUCT, SUPPLIER, WAREHOUSE
from chalicelib.erp.reservations import warehouse_for

OPEN = ("draft", "ordered", "partially_received")


def _lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    yield "supplier", item["supplier_id"]
    yield "status", item["status"]
    if item.get("reference"):
        yield "reference", item["reference"]


PURCHASE_ORDER = EntityType(
    "purchase_order",
    "pur",
    name_field=None,
    lookups=_lookups,
    lookup_kinds=("supplier", "status", "reference"),
    tallies=inventory.purchase_order_tallies,  # what is coming, for replenishment
)


def _lines(lines: list[dict[str, Any]], received: list[Any] | None = None) -> list[dict[str, Any]]:
    return [
        {
            "line": n,
            "product_id": line["product_id"],
            "quantity": str(line["quantity"]),
            "unit_cost": str(line["unit_cost"]),
            "received": str(received[n - 1]) if received and n <= len(received) else "0",
        }
        for n, line in enumerate(lines, start=1)
    ]


def _total(lines: list[dict[str, Any]], currency: str) -> str:
    return text(
        round_money(
            sum((Decimal(li["quantity"]) * Decimal(li["unit_cost"]) for li in lines), Decimal(0)), currency
        )
    )


def _references(supplier_id: str | None, lines: list[dict[str, Any]]) -> list[Reference]:
    refs = [Reference("supplier_id", SUPPLIER, supplier_id)] if supplier_id else []
    seen: set[str] = set()
    for n, line in enumerate(lines):
        if line["product_id"] not in seen:
            seen.add(line["product_id"])
            refs.append(Reference(f"lines.{n}.product_id", PRODUCT, line["product_id"]))
    return refs


def new_fields(
    supplier_id: str,
    currency: str,
    lines: list[dict[str, Any]],
    expected_date: str | None = None,
    notes: str = "",
    reference: str | None = None,
) -> dict[str, Any]:
    """``reference``: the sales order a draft was made for (the handoff), so cancelling it finds it."""
    stored = _lines(lines)
    return {
        "supplier_id": supplier_id,
        "status": "draft",
        "currency": currency,
        "lines": stored,
        "total": _total(stored, currency),
        "expected_date": expected_date,
        "notes": notes,
        "ordered_at": None,
        "reference": reference,
    }


def create(store: Store, actor: Actor, data: Any) -> dict[str, Any]:
    body = data.model_dump(mode="json")
    fields = new_fields(
        body["supplier_id"], body["currency"], body["lines"], body.get("expected_date"), body["notes"]
    )
    refs = _references(data.supplier_id, body["lines"])
    return entities.public(entities.create(store, actor, PURCHASE_ORDER, fields, references=refs))


def list_page(store: Store, tenant_id: str, q: Any) -> Page:
    for kind, value in (("supplier", q.supplier_id), ("status", q.status)):
        if value:
            return entities.lookup(
                store,
                tenant_id,
                PURCHASE_ORDER,
                kind,
                value,
                limit=q.limit,
                cursor=q.cursor,
                newest_first=True,
            )
    return entities.list_page(
        store, tenant_id, PURCHASE_ORDER, limit=q.limit, cursor=q.cursor, updated_since=q.updated_since
    )


def _draft_only(before: dict[str, Any]) -> None:
    if before["status"] != "draft":
        raise ConflictError(
            f"The purchase order is {before['status']}; only a draft changes.", state=before["status"]
        )


def update(store: Store, actor: Actor, order_id: str, patch: Any, if_match: int | None) -> dict[str, Any]:
    changes = entities.patch_fields(entities.given(patch), ("lines",), {"notes": ""})
    if "lines" in changes:
        changes["lines"] = _lines(changes["lines"])

    refs = _references(None, changes.get("lines", []))

    def decide(before: dict[str, Any]) -> Change:
        _draft_only(before)
        if "lines" in changes:
            return Change({**changes, "total": _total(changes["lines"], before["currency"])}, references=refs)
        return Change(changes, references=refs)

    return entities.public(
        entities.update(store, actor, PURCHASE_ORDER, order_id, decide=decide, if_match=if_match).item
    )


def remove(store: Store, actor: Actor, order_id: str, if_match: int | None) -> None:
    entities.remove(store, actor, PURCHASE_ORDER, order_id, if_match=if_match, check=_draft_only)


def place(store: Store, actor: Actor, order_id: str, if_match: int | None) -> dict[str, Any]:
    """Draft → ordered (sent to the supplier); placing it again changes nothing."""

    def decide(before: dict[str, Any]) -> Change:
        if before["status"] in ("ordered", "partially_received", "received"):
            return Change()
        _draft_only(before)
        now = utcnow()
        return Change({"status": "ordered", "ordered_at": now}, action="order", at=now)

    return entities.public(
        entities.update(store, actor, PURCHASE_ORDER, order_id, decide=decide, if_match=if_match).item
    )


def cancel(store: Store, actor: Actor, order_id: str, if_match: int | None) -> dict[str, Any]:
    def decide(before: dict[str, Any]) -> Change:
        if before["status"] == "cancelled":
            return Change()
        if before["status"] not in ("draft", "ordered"):
            raise ConflictError(
                f"The purchase order is {before['status']}: goods have arrived, it cannot be cancelled.",
                state=before["status"],
            )
        return Change({"status": "cancelled"}, action="cancel")

    return entities.public(
        entities.update(store, actor, PURCHASE_ORDER, order_id, decide=decide, if_match=if_match).item
    )


def receive(store: Store, actor: Actor, order_id: str, data: Any, if_match: int | None) -> dict[str, Any]:
    def decide(before: dict[str, Any]) -> Change:
        # The warehouse is chosen once the order is read: an unknown order answers 404 first.
        warehouse_id = warehouse_for(store, actor.tenant_id, data.warehouse_id)
        if before["status"] not in ("ordered", "partially_received"):
            raise ConflictError(
                f"The purchase order is {before['status']}; only an ordered one is received.",
                state=before["status"],
            )
        lines = [dict(li) for li in before["lines"]]
        changes = []
        for n, wanted in enumerate(data.lines):
            if wanted.line > len(lines):
                error = {"loc": ["body", "lines", n, "line"], "msg": "no such line", "type": "value_error"}
                raise ValidationError(f"The order has no line {wanted.line}.", errors=[error])
            line = lines[wanted.line - 1]
            remaining = Decimal(line["quantity"]) - Decimal(line["received"])
            if wanted.quantity > remaining:
                raise ValidationError(
                    f"Line {wanted.line} has {text(remaining)} left to receive, not {text(wanted.quantity)}.",
                    errors=[
                        {
                            "loc": ["body", "lines", n, "quantity"],
                            "msg": "more than ordered",
                            "type": "value_error",
                        }
                    ],
                )
            line["received"] = text(Decimal(line["received"]) + wanted.quantity)
            changes.append(
                stock.Change(
                    "receipt", line["product_id"], warehouse_id, on_hand=wanted.quantity, reference=order_id
                )
            )
        done = all(Decimal(li["received"]) >= Decimal(li["quantity"]) for li in lines)
        now = utcnow()
        costs = [
            (
                lines[w.line - 1]["product_id"],
                w.quantity,
                Decimal(lines[w.line - 1]["unit_cost"]),
                before["currency"],
            )
            for w in data.lines
        ]
        return Change(
            {"lines": lines, "status": "received" if done else "partially_received"},
            extra=[
                *stock.plan(actor, changes, now).operations,
                *inventory.receipt_tallies(actor.tenant_id, costs, now),
            ],
            action="receive",
            references=[Reference("warehouse_id", WAREHOUSE, warehouse_id)],
            at=now,
        )

    return entities.public(
        entities.update(store, actor, PURCHASE_ORDER, order_id, decide=decide, if_match=if_match).item
    )

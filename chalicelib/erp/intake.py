"""The ERP's side of the handoff: a confirmed order becomes reservations, plans and a receivable.

Every record it makes has an id derived from the order (and line, or supplier), so handling the
same event again, or a retry after a crash half-way, finds what is there and makes only what is
missing: one reservation per line, one invoice per order, one plan per shortfall. Its answer
(``OrderProcessed``, or ``OrderRejected``) goes to its outbox with a derived event id, so it too is
written once, and an order's records, answer and decision are written in one transaction when they
fit in one (``handle_confirmed``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core import entities, keys
from chalicelib.core.errors import ConflictError
from chalicelib.core.money import text
from chalicelib.core.store import (
    Actor,
    ConditionFailed,
    Deferred,
    Guarded,
    GuardRefused,
    NotDeferrable,
    Op,
    Operations,
    Store,
    put_new,
    utcnow,
)
from chalicelib.erp import catalogue, production, purchasing, receivables, repository, reservations, stock
from chalicelib.handoff import outbox
from chalicelib.handoff.contracts import (
    CUSTOMER,
    SOURCE_ERP,
    Event,
    InvoiceIssued,
    OrderCancellationCompleted,
    OrderCancelled,
    OrderConfirmed,
    OrderProcessed,
    OrderRejected,
)
from chalicelib.tenants import published as company

SYSTEM_USER = "system:erp"
ZERO = Decimal(0)


def _answer(cls: type[Event], event: Event, **fields: Any) -> Event:
    """The ERP's answer to ``event``, of the same epoch (the world the event is about)."""
    return cls(
        tenant_id=event.tenant_id,
        order_id=event.order_id,
        epoch=event.epoch,
        occurred_at=utcnow(),
        event_id=outbox.derived_id("evt", event.order_id, event.event_id, cls.__name__),
        **fields,
    )


def _read(store: Store, wanted: dict[Any, dict[str, str]]) -> dict[Any, dict[str, Any] | None]:
    """The items at these keys (None where there is none), in one consistent BatchGetItem."""
    found = (
        {(i["pk"], i["sk"]): i for i in store.batch_get(list(wanted.values()), consistent=True)}
        if wanted
        else {}
    )
    return {name: found.get((key["pk"], key["sk"])) for name, key in wanted.items()}


class Known:
    """What handling a confirmed order needs to know, read in two BatchGetItems instead of one read
    per fact: the company's state and epoch, the event's trail entry, whether the order was
    cancelled or decided, its customer, the default warehouse, each SKU's guard, what
    an earlier attempt made (each line's reservation, the invoice); then the products and the stock
    levels the lines draw on."""

    def __init__(self, store: Store, event: OrderConfirmed) -> None:
        tenant = event.tenant_id
        skus = sorted({li.product_code.upper() for li in event.lines})
        first = _read(
            store,
            {
                "profile": company.profile_key(tenant),
                "trail": keys.handoff_trail(tenant, event.order_id, event.occurred_at, event.event_id),
                "cancelled": keys.erp_cancelled(tenant, event.order_id),
                "decided": keys.erp_decided(tenant, event.order_id),
                "customer": keys.entity(tenant, CUSTOMER.name, event.customer_id),
                "default_warehouse": keys.default_warehouse(tenant),
                "invoice": keys.entity(
                    tenant, receivables.INVOICE.name, outbox.derived_id("inv", event.order_id)
                ),
                **{("sku", s): keys.unique_guard(tenant, catalogue.PRODUCT.name, "sku", s) for s in skus},
                **{
                    ("reservation", li.line): keys.entity(
                        tenant,
                        reservations.RESERVATION.name,
                        outbox.derived_id("res", event.order_id, str(li.line)),
                    )
                    for li in event.lines
                },
            },
        )
        self.profile = first["profile"]
        self.trail = first["trail"]
        self.cancelled = first["cancelled"] is not None
        self.decided = first["decided"] is not None
        self.customer = first["customer"]
        self.invoice = first["invoice"]
        pointer = first["default_warehouse"]
        self.warehouse_id = event.warehouse_id or (pointer["warehouse_id"] if pointer else None)
        self.reservations = {li.line: first[("reservation", li.line)] for li in event.lines}
        guards = {s: g["entity_id"] for s in skus if (g := first[("sku", s)])}
        second = _read(
            store,
            {
                **{
                    ("product", pid): keys.entity(tenant, catalogue.PRODUCT.name, pid)
                    for pid in guards.values()
                },
                **(
                    {
                        ("level", pid): keys.stock_level(tenant, pid, self.warehouse_id)
                        for pid in guards.values()
                    }
                    if self.warehouse_id
                    else {}
                ),
            },
        )
        self.products = {s: p for s, pid in guards.items() if (p := second[("product", pid)])}
        empty = {"warehouse_id": self.warehouse_id}
        self.levels = {
            pid: stock.present_level(second.get(("level", pid)) or {**empty, "product_id": pid})
            for pid in guards.values()
        }


def _decided(event: OrderConfirmed, decision: str) -> Operations:
    """The marker written with the answer to a confirmation, once (a concurrent delivery's
    transaction is refused on it): its decision is final (a rejected order is never confirmed
    again; an accepted one is cancelled, not rejected). With it, the check that the order's
    cancellation was not handled meanwhile."""
    marker = {**keys.erp_decided(event.tenant_id, event.order_id), "decision": decision, "at": utcnow()}
    return [put_new(marker), repository.not_cancelled(event.tenant_id, event.order_id)]


def _reserve(
    store: Store,
    actor: Actor,
    order_id: str,
    line: int,
    product_id: str,
    warehouse_id: str,
    wanted: Decimal,
    known: Known,
) -> dict[str, Any] | None:
    """This line's reservation: the one made before, or as much as is available now (none if 0)."""
    reservation_id = outbox.derived_id("res", order_id, str(line))
    earlier = known.reservations.get(line)
    if earlier:
        return reservations.present(earlier)
    level = known.levels.get(product_id) if warehouse_id == known.warehouse_id else None
    for _attempt in range(5):
        level = level or stock.level(store, actor.tenant_id, product_id, warehouse_id)
        available, level = Decimal(level["available"]), None  # read again on the next attempt
        take = min(wanted, available)
        if take <= 0:
            return None
        try:
            return reservations.reserve(
                store, actor, product_id, warehouse_id, take, f"{order_id}:{line}", reservation_id
            )
        except stock.InsufficientStock:
            continue  # someone else took some meanwhile: look again
        except ConflictError:
            found = entities.get_many(store, actor.tenant_id, reservations.RESERVATION, [reservation_id])
            return reservations.present(found[0]) if found else None
    return None


def _plan_production(
    store: Store,
    actor: Actor,
    order_id: str,
    line: int,
    product_id: str,
    quantity: Decimal,
    warehouse_id: str,
    reserved: set[str],
) -> dict[str, Any] | None:
    plan_id = outbox.derived_id("mfg", order_id, str(line))
    found = entities.get_many(store, actor.tenant_id, production.PRODUCTION_ORDER, [plan_id])
    if found:
        return found[0]
    bom = production.bom_of(store, actor.tenant_id, product_id)
    if bom is None:
        return None
    if isinstance(store, Deferred) and reserved & {c["product_id"] for c in bom["components"]}:
        # The plan's materials are read from the stock levels, which this order's reservations
        # (kept, not yet written) do not show yet: written step by step, the plan sees them.
        raise NotDeferrable("the plan reads stock this order reserves")
    return production.plan_order(
        store, actor, product_id, quantity, warehouse_id, reference=f"{order_id}:{line}", order_id=plan_id
    )


def _plan_purchases(
    store: Store, actor: Actor, order_id: str, shortfalls: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """One draft purchase order per default supplier for this order's shortfalls."""
    made = []
    for supplier_id, lines in sorted(shortfalls.items()):
        po_id = outbox.derived_id("pur", order_id, supplier_id)
        if not entities.get_many(store, actor.tenant_id, purchasing.PURCHASE_ORDER, [po_id]):
            supplier = entities.get(store, actor.tenant_id, catalogue.SUPPLIER, supplier_id)
            fields = purchasing.new_fields(
                supplier_id,
                supplier.get("currency", "CNY"),
                lines,
                notes=f"For order {order_id}.",
                reference=order_id,
            )
            item = entities.new_item(purchasing.PURCHASE_ORDER, actor, fields, entity_id=po_id)
            try:
                entities.write_new(store, actor, purchasing.PURCHASE_ORDER, item)
            except Exception:  # written by an earlier attempt at the same moment: it is there now
                if not entities.get_many(store, actor.tenant_id, purchasing.PURCHASE_ORDER, [po_id]):
                    raise
        made.append(po_id)
    return made


def _invoice(
    store: Store, actor: Actor, event: OrderConfirmed, known: Known, issue: bool = True
) -> dict[str, Any]:
    """The order's invoice (derived id), written issued at once, or a draft to issue when the order
    ships; one made by an earlier attempt is issued if it should be and is not yet."""
    invoice_id = outbox.derived_id("inv", event.order_id)
    if known.invoice is None:
        lines = [
            {
                "product_code": li.product_code,
                "description": li.description,
                "quantity": li.quantity,
                "unit_price": li.unit_price,
                "discount_percent": li.discount_percent,
                "tax_rate": li.tax_rate,
            }
            for li in event.lines
        ]
        fields = receivables.new_fields(event.customer_id, event.currency, lines, order_id=event.order_id)
        if issue:
            fields.update(receivables.issued(fields, None))
        item = entities.new_item(receivables.INVOICE, actor, fields, entity_id=invoice_id)
        try:
            entities.write_new(store, actor, receivables.INVOICE, item)
            return receivables.present(item)
        except ConditionFailed:  # written by an earlier attempt at the same moment: it is there now
            known.invoice = entities.get(
                store, actor.tenant_id, receivables.INVOICE, invoice_id, consistent=True
            )
    if issue and known.invoice["status"] == "draft":
        return receivables.issue(store, actor, invoice_id, None, None)
    return receivables.present(known.invoice)


def invoice_on_delivery(store: Store, actor: Actor, order_id: str) -> InvoiceIssued | None:
    """Issue the draft invoice of an order invoiced on delivery, now that it has shipped; None if
    there is none to issue (invoiced on order, already issued, or voided)."""
    invoice_id = outbox.derived_id("inv", order_id)
    found = entities.get_many(store, actor.tenant_id, receivables.INVOICE, [invoice_id])
    if not found or found[0]["status"] != "draft":
        return None
    invoice = receivables.issue(store, actor, invoice_id, None, None)
    answer = InvoiceIssued(
        tenant_id=actor.tenant_id,
        order_id=order_id,
        epoch=actor.epoch,
        occurred_at=utcnow(),
        event_id=outbox.derived_id("evt", order_id, "InvoiceIssued", "on_delivery"),
        invoice_id=invoice_id,
        total=invoice["total"],
        currency=invoice["currency"],
        due_date=invoice.get("due_date"),
    )
    outbox.write(store, [(answer, SOURCE_ERP, {"total": invoice["total"], "on": "delivery"})])
    return answer


Answers = list[tuple[Event, str, dict[str, Any]]]  # events, their source and their trail summary


def _rejected(event: OrderConfirmed, reason: str, line: int | None = None) -> tuple[Answers, str]:
    return [
        (_answer(OrderRejected, event, reason=reason, line=line), SOURCE_ERP, {"reason": reason})
    ], "rejected"


def _decide(store: Store, event: OrderConfirmed, known: Known) -> tuple[Answers, str]:
    """Reserve, plan and invoice (writing through ``store``, which may keep the writes for one
    transaction: ``Deferred``); the answer and the decision ("accepted" or "rejected"), not yet written."""
    actor = Actor(tenant_id=event.tenant_id, user_id=SYSTEM_USER, epoch=event.epoch)
    products = known.products
    for li in event.lines:
        product = products.get(li.product_code.upper())
        if product is None or not product.get("sellable", True):
            return _rejected(
                event, f"Line {li.line}: SKU {li.product_code} is not a sellable product.", li.line
            )
    if known.customer is None:
        return _rejected(event, f"The customer {event.customer_id} no longer exists.")
    if known.customer.get("status") == "closed":
        return _rejected(event, f"The customer {event.customer_id} is closed.")
    warehouse_id = known.warehouse_id
    needs_stock = any(products[li.product_code.upper()]["kind"] != "service" for li in event.lines)
    if warehouse_id is None and needs_stock:
        return _rejected(event, "The company has no warehouse to take the goods from.")

    reserved: list[dict[str, Any]] = []
    short: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    purchases: dict[str, list[dict[str, Any]]] = {}
    for li in event.lines:
        product = products[li.product_code.upper()]
        if product["kind"] == "service":
            continue
        wanted = Decimal(li.quantity)
        made = _reserve(
            store, actor, event.order_id, li.line, product["id"], warehouse_id or "", wanted, known
        )
        got = Decimal(made["quantity"]) if made else ZERO
        if made:
            reserved.append(
                {
                    "line": li.line,
                    "product_id": product["id"],
                    "reservation_id": made["id"],
                    "quantity": made["quantity"],
                }
            )
        if got >= wanted:
            continue
        missing = wanted - got
        shortfall = {
            "line": li.line,
            "product_id": product["id"],
            "ordered": li.quantity,
            "reserved": text(got),
            "short": text(missing),
            "plan": "none",
            "plan_id": None,
        }
        if product["kind"] == "manufactured":
            plan = _plan_production(
                store,
                actor,
                event.order_id,
                li.line,
                product["id"],
                missing,
                warehouse_id or "",
                {r["product_id"] for r in reserved},
            )
            if plan:
                plans.append(plan)
                shortfall.update(plan="production", plan_id=plan["id"])
        elif product.get("default_supplier_id"):
            purchases.setdefault(product["default_supplier_id"], []).append(
                {
                    "product_id": product["id"],
                    "quantity": text(missing),
                    "unit_cost": product.get("standard_cost", "0"),
                }
            )
            shortfall.update(
                plan="purchase",
                plan_id=outbox.derived_id("pur", event.order_id, product["default_supplier_id"]),
            )
        short.append(shortfall)
    purchase_ids = _plan_purchases(store, actor, event.order_id, purchases)

    issue = any(
        products[li.product_code.upper()].get("invoicing_policy", "on_order") == "on_order"
        for li in event.lines
    )
    invoice = _invoice(store, actor, event, known, issue=issue)  # else a draft, issued when it ships
    processed = _answer(
        OrderProcessed,
        event,
        lines=len(event.lines),
        reserved=reserved,
        backordered=short,
        production_order_ids=[p["id"] for p in plans],
        planned_finish=max(p["planned_finish"] for p in plans) if plans else None,
        purchase_order_ids=purchase_ids,
        invoice=(
            {
                "invoice_id": invoice["id"],
                "total": invoice["total"],
                "currency": invoice["currency"],
                "due_date": invoice.get("due_date"),
            }
            if issue
            else None
        ),
    )
    summary = {
        "reserved": len(reserved),
        "short": len(short),
        **({"total": invoice["total"]} if issue else {}),
    }
    return [(processed, SOURCE_ERP, summary)], "accepted"


ATTEMPTS = 5  # a confirmation whose one transaction is refused (stock taken meanwhile) is decided again


def handle_confirmed(store: Store, event: OrderConfirmed) -> outbox.Handled:
    """Accept (or reject) a confirmed order: its reservations, plans, invoice, answer, its decision
    (``ERP#DECIDED``) and the trail's handled mark in **one transaction**, decided on what two
    consistent BatchGetItems read (the company's state among them). A condition refused meanwhile
    (stock taken by another order, a concurrent delivery of this event that decided first) decides
    again from a fresh read; a decision already made answers nothing. An order too large for one
    transaction (over 100 items, or two lines moving one stock level) is written step by step, each
    step idempotent by its derived id, the decision last."""
    refused: list[str | None] = []
    for _attempt in range(ATTEMPTS):
        found = _undecided(store, event)
        if found is None:
            return outbox.Handled([], first=False)
        known = found
        mark = [{"Update": outbox.handled_update(event, "erp")}] if known.trail else []
        deferred = Deferred(store)
        try:
            answers, decision = _decide(deferred, event, known)
        except NotDeferrable:
            break
        outbox.write(deferred, answers, [*_decided(event, decision), *mark])
        if not deferred.fits():
            break
        try:
            store.transact(deferred.collected())
        except ConditionFailed as exc:
            if exc.name in refused:
                break  # refused twice for one reason a fresh read does not show: step by step, which names it
            refused.append(exc.name)
            continue  # stock taken meanwhile, or another delivery decided: read again
        return outbox.Handled([a for a, _, _ in answers], first=True)
    else:
        raise ConflictError(f"The order {event.order_id} could not be decided: its facts keep changing.")
    # Step by step, on what was read (nothing was written since): each step finds what an earlier
    # attempt made, and is refused once the order's cancellation was handled (which undoes only what
    # it found); the decision, written last, is refused if a concurrent delivery decided first.
    steps = Guarded(
        store, Op("order cancelled meanwhile", repository.not_cancelled(event.tenant_id, event.order_id))
    )
    try:
        answers, decision = _decide(steps, event, known)
    except GuardRefused:
        outbox.handled(store, event, "erp")
        return outbox.Handled([], first=False)
    # The decision checks the cancellation itself (``_decided``).
    if outbox.write(store, answers, [*_decided(event, decision), *mark]):
        return outbox.Handled([a for a, _, _ in answers], first=True)
    outbox.handled(store, event, "erp")  # cancelled meanwhile (else the one that decided marked it)
    return outbox.Handled([], first=False)


def _undecided(store: Store, event: OrderConfirmed) -> Known | None:
    """What deciding the order needs (``Known``), or None when there is nothing to decide: its
    cancellation arrived first, or it was answered before (this event again, or a concurrent
    delivery of it; deciding again could accept an order it rejected, or reject one it accepted, if
    the products changed meanwhile). Raises ``Dropped`` for an event its company no longer takes."""
    known = Known(store, event)
    reason = company.stale(event.epoch, known.profile)
    if reason is not None:
        raise outbox.Dropped(reason)
    if known.cancelled and known.trail and "erp" not in (known.trail.get("handled") or {}):
        outbox.handled(store, event, "erp")  # handled: by its cancellation, which came first
    return None if known.cancelled or known.decided else known


def handle_cancelled(store: Store, event: OrderCancelled) -> outbox.Handled:
    """Undo what the order set in motion: reservations released, draft plans cancelled, the invoice
    voided (nothing paid) or credited for its balance. Each step is idempotent; the delivery that
    writes the answer is the first."""
    facts = _read(
        store,
        {
            "profile": company.profile_key(event.tenant_id),
            "cancelled": keys.erp_cancelled(event.tenant_id, event.order_id),
        },
    )
    reason = company.stale(event.epoch, facts["profile"])
    if reason is not None:
        raise outbox.Dropped(reason)
    if (facts["cancelled"] or {}).get("answered"):
        outbox.handled(store, event, "erp")
        return outbox.Handled([], first=False)  # this cancellation again: it was answered
    actor = Actor(tenant_id=event.tenant_id, user_id=SYSTEM_USER, epoch=event.epoch)
    store.update(**repository.cancellation_noted(event.tenant_id, event.order_id, utcnow()))
    released, shipped = 0, []
    # The lines' reservations read consistently by their derived ids (one the confirmation wrote just
    # before the cancellation was noted is found), and any other naming the order.
    made = [outbox.derived_id("res", event.order_id, str(line)) for line in range(1, event.lines + 1)]
    held: dict[str, dict[str, Any]] = {}
    for start in range(0, len(made), 100):
        for item in entities.get_many(
            store, event.tenant_id, reservations.RESERVATION, made[start : start + 100], consistent=True
        ):
            held[item["id"]] = reservations.present(item)
    for item in reservations.list_page(store, event.tenant_id, f"{event.order_id}:", 100, None).items:
        held.setdefault(item["id"], item)
    for item in held.values():
        if Decimal(str(item.get("shipped", 0))) > 0:
            shipped.append(item)
        if item["status"] == "active":
            reservations.release(store, actor, item["id"], None)
            released += 1
    plans = 0
    plan_ids = [outbox.derived_id("mfg", event.order_id, str(line)) for line in range(1, event.lines + 1)]
    for start in range(0, len(plan_ids), 100):  # the lines' production plans, a hundred a read
        for plan in entities.get_many(
            store,
            event.tenant_id,
            production.PRODUCTION_ORDER,
            plan_ids[start : start + 100],
            consistent=True,
        ):
            if plan["status"] in ("planned", "released"):
                production.cancel(store, actor, plan["id"], None)
                plans += 1
    purchases, attention = 0, []
    for po in entities.lookup(
        store, event.tenant_id, purchasing.PURCHASE_ORDER, "reference", event.order_id
    ).items:
        if po["status"] == "draft":
            purchasing.cancel(store, actor, po["id"], None)
            purchases += 1
        elif po["status"] != "cancelled":
            attention.append(f"Purchase order {po['id']} is {po['status']}: cancel it with the supplier.")
    action = "none"
    found = entities.get_many(
        store,
        event.tenant_id,
        receivables.INVOICE,
        [outbox.derived_id("inv", event.order_id)],
        consistent=True,
    )
    if found and shipped:
        # Goods left before the cancellation arrived (the CRM refuses a cancel once it knows of a
        # shipment): what shipped stays billed, so the invoice is kept and a person settles the rest.
        action = "kept"
        quantities = ", ".join(f"{r['reference']}: {text(Decimal(str(r['shipped'])))}" for r in shipped)
        kept = f"Shipped before the cancellation ({quantities}): invoice {found[0]['id']} is kept; credit what will not ship."
        attention.append(kept)
    elif found:
        invoice = found[0]
        if invoice["status"] == "void":
            action = "voided"
        elif invoice["status"] == "paid" and Decimal(str(invoice["paid"])) == 0:
            action = "credited"  # credited in full by an earlier run of this very cancellation
        elif Decimal(str(invoice["paid"])) == 0 and Decimal(str(invoice["credited"])) == 0:
            receivables.void(store, actor, invoice["id"], None)
            action = "voided"
        elif Decimal(str(invoice["balance"])) > 0:
            receivables.credit(
                store,
                actor,
                invoice["id"],
                Decimal(str(invoice["balance"])),
                f"Order {event.order_id} cancelled",
            )
            action = "credited"
            attention.append(f"Invoice {invoice['id']} was partly paid: refund the customer what they paid.")
        else:
            attention.append(f"Invoice {invoice['id']} is paid: refund the customer.")
    answer = _answer(
        OrderCancellationCompleted,
        event,
        released_reservations=released,
        cancelled_production_orders=plans,
        cancelled_purchase_orders=purchases,
        invoice_action=action,
        needs_attention=attention,
    )
    first = outbox.write(
        store,
        [(answer, SOURCE_ERP, {"released": released, "invoice": action})],
        [repository.cancellation_answered(event.tenant_id, event.order_id, answer.event_id)],
    )
    outbox.handled(store, event, "erp")
    return outbox.Handled([answer] if first else [], first=first)

"""Receivables: invoices, credit notes, payments, aging and balances, all in Decimal.

An invoice's ``paid``, ``credited`` and ``balance`` (= total − paid − credited) are DynamoDB
numbers. A payment writes itself and, per allocated invoice, the invoice's new figures conditional
on the version it read, in one transaction: an allocation is never applied twice, never to a stale
balance, and never beyond what is owed. What a payment does not allocate stays on account
("unapplied") and lowers the customer's balance.

Aging buckets (by days past the due date at ``as_of``): current (not yet due), 1–30, 31–60, 61–90,
over 90. Open invoices are listed by a lookup written only while an invoice is open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from chalicelib.core import entities, money
from chalicelib.core.entities import Change, EntityType, Reference
from chalicelib.core.errors import BadRequestError, ConflictError, PreconditionFailedError, field_error
from chalicelib.core.money import text
from chalicelib.core.store import Actor, ConditionFailed, Operations, Page, Store, utcnow
from chalicelib.erp import balances
from chalicelib.erp.balances import BUCKETS, OPEN
from chalicelib.handoff import outbox
from chalicelib.handoff.contracts import CUSTOMER, SOURCE_ERP, PaymentReceived
from chalicelib.tenants import published as company

ZERO = Decimal(0)


def _invoice_lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    yield "customer", item["customer_id"]
    if item["status"] in OPEN:
        yield "open", "yes"
        yield "customer_open", item["customer_id"]  # a customer's open invoices, oldest first
    if item.get("order_id"):
        yield "order", item["order_id"]


def _payment_lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    yield "customer", item["customer_id"]
    if Decimal(str(item["unallocated"])) > 0:
        yield "unapplied", "yes"


INVOICE = EntityType(
    "invoice",
    "inv",
    name_field=None,
    lookups=_invoice_lookups,
    lookup_kinds=("customer", "open", "customer_open", "order"),
    tallies=balances.invoice_tallies,  # aging and balances (chalicelib/erp/balances.py)
)
CREDIT_NOTE = EntityType(
    "credit_note",
    "crn",
    name_field=None,
    lookups=lambda i: [("invoice", i["invoice_id"])],
    lookup_kinds=("invoice",),
)
PAYMENT = EntityType(
    "payment",
    "pay",
    name_field=None,
    lookups=_payment_lookups,
    lookup_kinds=("customer", "unapplied"),
    tallies=balances.payment_tallies,  # what is on account lowers the balances
)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def amount(value: Any, currency: str) -> str:
    """An amount as the API writes it: to the currency's minor unit ("200.00", "5000" yen)."""
    return text(money.round_money(_d(value), currency))


def present(item: dict[str, Any]) -> dict[str, Any]:
    out = entities.public(item)
    for key in ("paid", "credited", "balance"):
        out[key] = amount(item.get(key, 0), item["currency"])
    return out


def order_invoice(invoice: dict[str, Any]) -> bool:
    """Whether this is a sales order's own invoice, raised by the order handoff (its id derived from
    the order's): only that invoice moves the order. A hand-made invoice may name an order for
    reference; paying it tells the order nothing."""
    order_id = invoice.get("order_id")
    return bool(order_id) and invoice["id"] == outbox.derived_id("inv", str(order_id))


def status_for(total: Decimal, paid: Decimal, credited: Decimal) -> str:
    if total - paid - credited <= 0:
        return "paid"
    return "partially_paid" if paid + credited > 0 else "issued"


# ---- invoices ------------------------------------------------------------------------------------------
def priced(lines: list[dict[str, Any]], currency: str) -> dict[str, Any]:
    figures = money.totals(lines, currency)
    return {**figures, "balance": _d(figures["total"])}


def new_fields(
    customer_id: str,
    currency: str,
    lines: list[dict[str, Any]],
    terms: int = 30,
    order_id: str | None = None,
    notes: str = "",
) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "currency": currency,
        "status": "draft",
        **priced(lines, currency),
        "paid": ZERO,
        "credited": ZERO,
        "payment_terms_days": terms,
        "issue_date": None,
        "due_date": None,
        "order_id": order_id,
        "notes": notes,
    }


def not_the_handoffs(before: dict[str, Any]) -> None:
    """By hand, an order's own invoice is neither changed, deleted, issued nor voided: the order
    handoff does that (issued with the order or its shipment, voided or credited by its
    cancellation), so the order and its invoice never disagree. Credit notes and payments stay open."""
    if order_invoice(before):
        raise ConflictError(
            f"This is order {before['order_id']}'s invoice: the order's confirmation, shipment or cancellation "
            "issues, voids or credits it. Credit it or cancel the order instead.",
            order_id=before["order_id"],
        )


def issued(draft: dict[str, Any], issue_date: str | None) -> dict[str, Any]:
    """The fields a draft gets when issued: status, issue date (today unless given), due date by its terms."""
    day = dt.date.fromisoformat(issue_date) if issue_date else _today()
    due = day + dt.timedelta(days=int(draft["payment_terms_days"]))
    return {"status": "issued", "issue_date": day.isoformat(), "due_date": due.isoformat()}


def issue(
    store: Store,
    actor: Actor,
    invoice_id: str,
    issue_date: str | None,
    if_match: int | None,
    *,
    by_hand: bool = False,
) -> dict[str, Any]:
    """Draft → issued, with its issue and due dates; issuing again changes nothing."""

    def decide(before: dict[str, Any]) -> Change:
        if by_hand:
            not_the_handoffs(before)
        if before["status"] != "draft":
            if before["status"] == "void":
                raise ConflictError("The invoice is void.", state="void")
            return Change()
        return Change(issued(before, issue_date), action="issue")

    return present(entities.update(store, actor, INVOICE, invoice_id, decide=decide, if_match=if_match).item)


def void(
    store: Store, actor: Actor, invoice_id: str, if_match: int | None, *, by_hand: bool = False
) -> dict[str, Any]:
    """A draft, or an issued invoice nothing was paid or credited on; else credit it."""

    def decide(before: dict[str, Any]) -> Change:
        if by_hand:
            not_the_handoffs(before)
        if before["status"] == "void":
            return Change()
        if _d(before["paid"]) > 0 or _d(before["credited"]) > 0:
            raise ConflictError(
                "Payments or credits are recorded on this invoice; issue a credit note for the rest instead.",
                state=before["status"],
            )
        return Change({"status": "void", "balance": ZERO}, action="void")

    return present(entities.update(store, actor, INVOICE, invoice_id, decide=decide, if_match=if_match).item)


def credit(
    store: Store, actor: Actor, invoice_id: str, credit_amount: Decimal, reason: str
) -> dict[str, Any]:
    """A credit note: the invoice owes ``credit_amount`` less (at most its balance), in one transaction."""

    def decide(before: dict[str, Any]) -> Change:
        if before["status"] not in OPEN:
            raise ConflictError(
                f"The invoice is {before['status']}; only an open invoice is credited.",
                state=before["status"],
            )
        money.exact(credit_amount, before["currency"], ["body", "amount"])
        if credit_amount > _d(before["balance"]):
            raise field_error(
                f"The invoice's balance is {text(_d(before['balance']))}; a credit cannot exceed it.",
                ["body", "amount"],
                "more than the balance",
            )
        credited = _d(before["credited"]) + credit_amount
        note = entities.new_item(
            CREDIT_NOTE,
            actor,
            {
                "invoice_id": invoice_id,
                "customer_id": before["customer_id"],
                "currency": before["currency"],
                "amount": amount(credit_amount, before["currency"]),
                "reason": reason,
            },
        )
        fields = {
            "credited": credited,
            "balance": _d(before["balance"]) - credit_amount,
            "status": status_for(_d(before["total"]), _d(before["paid"]), credited),
        }
        extra = entities.create_operations(CREDIT_NOTE, actor, note)
        return Change(fields, extra=extra, action="credit", at=note["created_at"], result=note)

    credited = entities.update(store, actor, INVOICE, invoice_id, decide=decide)
    return {**entities.public(credited.change.result), "invoice": present(credited.item)}


# ---- payments -------------------------------------------------------------------------------------------
def pay(store: Store, actor: Actor, data: Any) -> dict[str, Any]:
    data = company.with_currency(store, actor.tenant_id, data)
    money.exact(data.amount, data.currency, ["body", "amount"])
    for n, allocation in enumerate(data.allocations):
        money.exact(allocation.amount, data.currency, ["body", "allocations", n, "amount"])
    allocated = sum((a.amount for a in data.allocations), ZERO)
    if allocated > data.amount:
        raise field_error(
            "The allocations add up to more than the payment.",
            ["body", "allocations"],
            "more than the amount",
        )
    wanted = [a.invoice_id for a in data.allocations]
    if len(set(wanted)) != len(wanted):
        raise field_error("Each invoice once per payment.", ["body", "allocations"], "repeated invoice")
    for _attempt in range(3):
        current = {i["id"]: i for i in entities.get_many(store, actor.tenant_id, INVOICE, wanted)}
        now = utcnow()
        operations: Operations = []
        received: list[tuple[dict[str, Any], dict[str, Any], Decimal]] = []
        for n, allocation in enumerate(data.allocations):
            before = current.get(allocation.invoice_id)
            loc = ["body", "allocations", n]
            if before is None or before["customer_id"] != data.customer_id:
                raise field_error(
                    f"The customer has no invoice {allocation.invoice_id}.",
                    [*loc, "invoice_id"],
                    "no such invoice",
                    "reference",
                )
            if before["status"] not in OPEN or before["currency"] != data.currency:
                raise field_error(
                    f"Invoice {allocation.invoice_id} is {before['status']} in {before['currency']}; "
                    "only an open invoice in the payment's currency is paid.",
                    [*loc, "invoice_id"],
                    "not payable",
                )
            if allocation.amount > _d(before["balance"]):
                raise field_error(
                    f"Invoice {allocation.invoice_id} owes {text(_d(before['balance']))}.",
                    [*loc, "amount"],
                    "more than owed",
                )
            paid = _d(before["paid"]) + allocation.amount
            fields = {
                "paid": paid,
                "balance": _d(before["balance"]) - allocation.amount,
                "status": status_for(_d(before["total"]), paid, _d(before["credited"])),
            }
            version = entities.versioned(actor, INVOICE, before, Change(fields, action="payment", at=now))
            assert version is not None  # the amount paid grows (an allocation is more than 0)
            if order_invoice(before):
                received.append((before, version.after, allocation.amount))
            operations += version.operations
        payment = entities.new_item(
            PAYMENT,
            actor,
            {
                "customer_id": data.customer_id,
                "currency": data.currency,
                "amount": amount(data.amount, data.currency),
                "unallocated": amount(data.amount - allocated, data.currency),
                "received_on": data.received_on or _today().isoformat(),
                "method": data.method,
                "reference": data.reference,
                "allocations": [
                    {"invoice_id": a.invoice_id, "amount": amount(a.amount, data.currency)}
                    for a in data.allocations
                ],
            },
            now=now,
        )
        operations += _payment_events(payment, received, actor.epoch)
        try:
            entities.write_new(
                store,
                actor,
                PAYMENT,
                payment,
                extra=operations,
                references=[Reference("customer_id", CUSTOMER, data.customer_id)],
            )
            return entities.public(payment)
        except ConditionFailed:
            continue  # an invoice changed since it was read: read again and decide again
    raise PreconditionFailedError("The invoices keep changing; try again.")


def _payment_events(
    payment: dict[str, Any], received: list[tuple[dict[str, Any], dict[str, Any], Decimal]], epoch: int
) -> list[dict[str, Any]]:
    """``PaymentReceived`` for each paid invoice raised for a sales order, in the payment's transaction
    (of the payer's ``epoch``)."""
    operations = []
    for before, after, paid in received:
        event = PaymentReceived(
            tenant_id=before["tenant_id"],
            event_id=outbox.derived_id("evt", payment["id"], before["id"]),
            occurred_at=payment["created_at"],
            order_id=before["order_id"],
            epoch=epoch,
            invoice_id=before["id"],
            payment_id=payment["id"],
            amount=amount(paid, before["currency"]),
            balance=amount(after["balance"], before["currency"]),
            paid_in_full=after["status"] == "paid",
        )
        operations += outbox.records(event, SOURCE_ERP, {"amount": event.amount})
    return operations


def list_payments(
    store: Store, tenant_id: str, customer_id: str | None, limit: int, cursor: str | None
) -> Page:
    if customer_id:
        return entities.lookup(
            store, tenant_id, PAYMENT, "customer", customer_id, limit=limit, cursor=cursor, newest_first=True
        )
    return entities.list_page(store, tenant_id, PAYMENT, limit=limit, cursor=cursor)


# ---- aging and balances -----------------------------------------------------------------------------------
OPEN_INVOICES_SHOWN = 50  # a customer's balance lists this many open invoices, oldest first, and a cursor


def bucket(due_date: str, as_of: dt.date) -> str:
    overdue = (as_of - dt.date.fromisoformat(due_date)).days
    if overdue <= 0:
        return "current"
    if overdue <= 30:
        return "days_1_30"
    if overdue <= 60:
        return "days_31_60"
    if overdue <= 90:
        return "days_61_90"
    return "over_90"


def _rows(customer: str, figures: dict[str, dict[str, Decimal]]) -> list[dict[str, str]]:
    return [_row(customer, currency, f) for currency, f in sorted(figures.items())]


def aging(
    store: Store,
    tenant_id: str,
    as_of: str | None,
    customer_id: str | None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Today's open balances bucketed by days past due at ``as_of``, per customer (a page of them, or
    the one asked for) and currency, less what is on account; the totals of the company (or of that
    customer). Read from the aggregates (chalicelib/erp/balances.py): two Queries per customer
    shown and two for the totals, whatever the number of invoices."""
    day = dt.date.fromisoformat(as_of) if as_of else _today()
    if not dt.date(1970, 1, 1) <= day <= dt.date(9998, 12, 31):
        raise BadRequestError(
            "`as_of` is a day from 1970-01-01 to 9998-12-31.",
            errors=[{"loc": ["query", "as_of"], "msg": "out of range", "type": "value_error"}],
        )
    next_cursor = None
    if customer_id:
        if cursor:
            raise BadRequestError(
                "One customer's aging has no pages: leave out `cursor`.",
                errors=[{"loc": ["query", "cursor"], "msg": "not with customer_id", "type": "value_error"}],
            )
        entities.get(store, tenant_id, CUSTOMER, customer_id)  # 404 for another company's, or none
        totals = balances.aging_of(store, tenant_id, customer_id, day)
        rows = _rows(customer_id, totals)
    else:
        customers, next_cursor = balances.customers_page(store, tenant_id, limit, cursor, day.isoformat())
        rows = [r for c in customers for r in _rows(c, balances.aging_of(store, tenant_id, c, day))]
        totals = balances.aging_of(store, tenant_id, None, day)
    return {"as_of": day.isoformat(), "rows": rows, "totals": _rows("*", totals), "next_cursor": next_cursor}


def _row(customer: str, currency: str, figures: dict[str, Decimal]) -> dict[str, str]:
    open_total = sum((figures[b] for b in BUCKETS), ZERO)
    return {
        "customer_id": customer,
        "currency": currency,
        **{b: amount(figures[b], currency) for b in BUCKETS},
        "open_total": amount(open_total, currency),
        "unapplied": amount(figures["unapplied"], currency),
        "balance": amount(open_total - figures["unapplied"], currency),
    }


def owed(store: Store, tenant_id: str) -> list[dict[str, Any]]:
    """The company's receivables aged today, per currency, with what is overdue (the dashboard's)."""
    out = []
    for currency, figures in sorted(balances.aging_of(store, tenant_id, None, _today()).items()):
        row = _row("*", currency, figures)
        overdue = sum((figures[b] for b in BUCKETS if b != "current"), ZERO)
        del row["customer_id"]
        out.append({**row, "open_invoices": int(figures["invoices"]), "overdue": amount(overdue, currency)})
    return out


def balance(store: Store, tenant_id: str, customer_id: str, cursor: str | None = None) -> dict[str, Any]:
    """The customer's balances per currency (aggregates) and their open invoices, oldest first, a page
    of ``OPEN_INVOICES_SHOWN`` at a time."""
    entities.get(store, tenant_id, CUSTOMER, customer_id)  # 404 for an unknown customer
    page = entities.lookup(
        store, tenant_id, INVOICE, "customer_open", customer_id, limit=OPEN_INVOICES_SHOWN, cursor=cursor
    )
    return {
        "customer_id": customer_id,
        "balances": _rows(customer_id, balances.aging_of(store, tenant_id, customer_id, _today())),
        "open_invoices": [present(i) for i in page.items],
        "next_cursor": page.next_cursor,
    }

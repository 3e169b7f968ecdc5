"""The order handoff's events: versioned pydantic models, one per ``detail-type``.

Every event carries ``tenant_id``, ``event_id``, ``occurred_at``, ``schema_version`` (major.minor),
the ``order_id`` it is about and the company's ``epoch`` its world is of. Consumers ignore fields they
do not know (a newer minor version adds fields) and refuse a major version they do not know: the
message goes to the dead-letter queue. They drop an event of an epoch before the company's (a restore
replaced the world it was about).
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.core.entities import Kind

# The CRM's customer is master data the ERP names (an invoice's, an order's customer) but never
# writes: its kind (name and id prefix) is part of the contract, so the ERP needs nothing of the CRM.
CUSTOMER = Kind("customer", "cus")

SOURCE_CRM = "crmerp.crm"
SOURCE_ERP = "crmerp.erp"
MAJOR = 1
VERSION = "1.2"  # 1.1: ``epoch``; 1.2: ``OrderProcessed``, the ERP's one answer to an accepted order


class Event(BaseModel):
    """Base of every event's ``detail``."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    tenant_id: str
    event_id: str
    occurred_at: str
    schema_version: Annotated[str, Field(pattern=r"^\d+\.\d+$")] = VERSION
    order_id: str
    epoch: int = Field(
        default=0,
        description="The company's epoch when the event's world began; consumers drop events of an "
        "earlier epoch (a restore replaced that world). Absent (1.0): 0.",
    )


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    line: int
    product_code: str
    description: str = ""
    quantity: str
    unit_price: str
    discount_percent: str = "0"
    tax_rate: str = "0"
    net: str


class OrderConfirmed(Event):
    customer_id: str
    currency: str
    lines: list[OrderLine]
    subtotal: str
    tax_total: str
    total: str
    warehouse_id: str | None = None


class OrderCancelled(Event):
    reason: str = ""
    lines: int = Field(default=0, description="How many lines the order has (the ERP's records per line).")


class OrderAccepted(Event):
    lines: int


class ReservedLine(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    line: int
    product_id: str
    reservation_id: str
    quantity: str


class StockReserved(Event):
    lines: list[ReservedLine]


class ShortLine(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    line: int
    product_id: str
    ordered: str
    reserved: str
    short: str
    plan: Literal["production", "purchase", "none"]
    plan_id: str | None = None


class OrderBackordered(Event):
    lines: list[ShortLine]
    reserved: list[ReservedLine] = []


class ProductionPlanned(Event):
    production_order_ids: list[str]
    planned_finish: str | None = None


class PurchasePlanned(Event):
    purchase_order_ids: list[str]


class InvoiceIssued(Event):
    invoice_id: str
    total: str
    currency: str
    due_date: str | None = None


class IssuedInvoice(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    invoice_id: str
    total: str
    currency: str
    due_date: str | None = None


class OrderProcessed(Event):
    """The ERP's one answer to a confirmation it accepted (1.2): what 1.1 told in up to five events
    (``OrderAccepted``, ``StockReserved`` or ``OrderBackordered``, ``ProductionPlanned``,
    ``PurchasePlanned``, ``InvoiceIssued``), so that the relay and the CRM handle one event an order."""

    lines: int = Field(description="How many lines the ERP accepted (all of the order's).")
    reserved: list[ReservedLine] = Field(default=[], description="Every reservation made, by line.")
    backordered: list[ShortLine] = Field(
        default=[],
        description="The lines not reserved in full, and the plan that covers each; none: all reserved.",
    )
    production_order_ids: list[str] = []
    planned_finish: str | None = None
    purchase_order_ids: list[str] = []
    invoice: IssuedInvoice | None = Field(
        default=None,
        description="The invoice issued with the order; none: it is issued on delivery (an InvoiceIssued "
        "follows the shipment).",
    )


class OrderShipped(Event):
    shipment_id: str
    lines: list[int] = Field(description="The order lines this shipment carried.")
    complete: bool = Field(description="Every reserved line of the order has now shipped in full.")


class PaymentReceived(Event):
    invoice_id: str
    payment_id: str
    amount: str
    balance: str
    paid_in_full: bool


class OrderRejected(Event):
    reason: str
    line: int | None = None


class OrderCancellationCompleted(Event):
    released_reservations: int = 0
    cancelled_production_orders: int = 0
    cancelled_purchase_orders: int = 0
    invoice_action: Literal["voided", "credited", "kept", "none"] = "none"
    needs_attention: list[str] = Field(
        default=[], description="What the ERP could not undo on its own (a placed purchase order)."
    )


TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        OrderConfirmed,
        OrderCancelled,
        OrderAccepted,
        StockReserved,
        OrderBackordered,
        ProductionPlanned,
        PurchasePlanned,
        InvoiceIssued,
        OrderProcessed,
        OrderShipped,
        PaymentReceived,
        OrderRejected,
        OrderCancellationCompleted,
    )
}


class UnknownMajorVersion(ValueError):
    """An event of a major version this consumer does not know: poison, for the dead-letter queue."""


def parse(detail_type: str, detail: dict[str, Any]) -> Event:
    model = TYPES.get(detail_type)
    if model is None:
        raise UnknownMajorVersion(f"unknown event type {detail_type}")
    major = int(str(detail.get("schema_version", "1.0")).split(".")[0])
    if major != MAJOR:
        raise UnknownMajorVersion(
            f"{detail_type} version {detail.get('schema_version')}: this consumer reads {MAJOR}.x"
        )
    return model.model_validate(detail)

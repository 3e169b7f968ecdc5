"""API models of the ERP: products, warehouses, stock."""

# No `from __future__ import annotations` in model modules (see chalicelib/crm/models.py).

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from chalicelib.core.ids import id_pattern
from chalicelib.core.models import PublicModel, StrictModel
from chalicelib.core.schemas import (
    Code,
    Currency,
    Cursor,
    DeletedOut,
    Exact,
    IsoDay,
    ListQuery,
    Name,
    NamePrefix,
    PageOut,
    Percent,
    Price,
    Quantity,
    SyncQuery,
    fits_a_key,
)

Sku = Code
Level = Annotated[Decimal, Exact(15, 3, ge=0)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
Category = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), AfterValidator(fits_a_key)
]
ProductId = Annotated[str, StringConstraints(pattern=id_pattern("prd"))]
WarehouseId = Annotated[str, StringConstraints(pattern=id_pattern("whs"))]
SupplierId = Annotated[str, StringConstraints(pattern=id_pattern("sup"))]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]


def _not_an_order_line(value: str) -> str:
    """The ``ord_…:N`` references (any letter case: they are unique case-insensitively) are the
    order handoff's own: a manual reservation there could ship a draft or block the real one."""
    if value.upper().startswith("ORD_"):
        raise ValueError(
            "references beginning with ord_ belong to the order handoff; use your own, such as SO-42:1"
        )
    return value


ManualReference = Annotated[Reference, AfterValidator(_not_an_order_line)]

ProductKind = Literal["stocked", "service", "manufactured"]
InvoicingPolicy = Literal["on_order", "on_delivery"]


# ---- products ------------------------------------------------------------------------------------
class ProductIn(StrictModel):
    sku: Sku = Field(description="Unique per company, case-insensitive: the code the CRM's order lines use.")
    name: Name
    unit: Unit = "pcs"
    kind: ProductKind = "stocked"
    list_price: Price = Decimal(0)
    currency: Currency = "CNY"
    standard_cost: Price = Decimal(0)
    category: Category | None = None
    reorder_point: Level = Decimal(0)
    lead_time_days: Annotated[int, Field(ge=0, le=365)] = 0
    default_supplier_id: SupplierId | None = None
    invoicing_policy: InvoicingPolicy = "on_order"
    sellable: bool = True


class ProductPatch(StrictModel):
    """Fields given replace the stored ones; ``null`` clears ``category`` and ``default_supplier_id``."""

    sku: Sku | None = None
    name: Name | None = None
    unit: Unit | None = None
    kind: ProductKind | None = None
    list_price: Price | None = None
    currency: Currency | None = None
    standard_cost: Price | None = None
    category: Category | None = None
    reorder_point: Level | None = None
    lead_time_days: Annotated[int, Field(ge=0, le=365)] | None = None
    default_supplier_id: SupplierId | None = None
    invoicing_policy: InvoicingPolicy | None = None
    sellable: bool | None = None


class ProductOut(PublicModel):
    id: str
    sku: str
    name: str
    unit: str
    kind: str
    list_price: str
    currency: str
    standard_cost: str
    category: str | None = None
    reorder_point: str
    lead_time_days: int
    default_supplier_id: str | None = None
    invoicing_policy: str
    sellable: bool
    version: int
    created_at: str
    updated_at: str
    created_by: str
    updated_by: str


class ProductPage(PageOut):
    items: list[ProductOut | DeletedOut]


class ProductQuery(SyncQuery):
    sku: Sku | None = Field(default=None, description="Exact SKU, any letter case.")
    category: Category | None = None
    name_prefix: NamePrefix | None = None


# ---- warehouses ----------------------------------------------------------------------------------
class WarehouseIn(StrictModel):
    code: Code
    name: Name
    address: Annotated[str, StringConstraints(max_length=500)] = ""
    is_default: bool = Field(
        default=False, description="Make it the default warehouse (the previous one stops being it)."
    )


class WarehousePatch(StrictModel):
    code: Code | None = None
    name: Name | None = None
    address: Annotated[str, StringConstraints(max_length=500)] | None = None
    is_default: Literal[True] | None = Field(
        default=None, description="true makes it the default; another takes it away."
    )


class WarehouseOut(PublicModel):
    id: str
    code: str
    name: str
    address: str = ""
    is_default: bool = False
    version: int
    created_at: str
    updated_at: str


class WarehousePage(PageOut):
    items: list[WarehouseOut | DeletedOut]


class WarehouseQuery(SyncQuery):
    name_prefix: NamePrefix | None = None


# ---- stock -----------------------------------------------------------------------------------------
class StockLevelOut(PublicModel):
    product_id: str
    warehouse_id: str
    on_hand: str
    reserved: str
    available: str = Field(description="on_hand - reserved")
    updated_at: str


class StockPage(PageOut):
    items: list[StockLevelOut]


class StockQuery(ListQuery):
    product_id: ProductId | None = None
    warehouse_id: WarehouseId | None = None


MovementKind = Literal[
    "receipt",
    "issue",
    "reservation",
    "release",
    "transfer_out",
    "transfer_in",
    "adjustment",
    "shipment",
    "consumption",
    "production",
]


class MovementOut(PublicModel):
    id: str
    kind: str
    product_id: str
    warehouse_id: str
    on_hand_change: str
    reserved_change: str
    reason: str = ""
    reference: str = ""
    at: str
    by: str


class MovementPage(PageOut):
    items: list[MovementOut]


class MovementQuery(ListQuery):
    product_id: ProductId = Field(description="The product whose movements to list, newest first.")
    warehouse_id: WarehouseId | None = None


class AdjustmentIn(StrictModel):
    product_id: ProductId
    warehouse_id: WarehouseId
    quantity: Annotated[Decimal, Exact(15, 3)] = Field(
        description="Change of on hand: positive adds, negative removes (never below what is reserved)."
    )
    reason: Reason


class TransferIn(StrictModel):
    product_id: ProductId
    from_warehouse_id: WarehouseId
    to_warehouse_id: WarehouseId
    quantity: Quantity
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class MovementsOut(PublicModel):
    movements: list[MovementOut]
    levels: list[StockLevelOut]


class ReservationIn(StrictModel):
    product_id: ProductId
    warehouse_id: WarehouseId | None = Field(default=None, description="Default: the default warehouse.")
    quantity: Quantity
    reference: ManualReference = Field(
        description="What it is for, such as a sales document and its line: SO-42:1. References beginning with `ord_` "
        "are the order handoff's (its reservations for order lines) and refused here."
    )


class ReservationOut(PublicModel):
    id: str
    product_id: str
    warehouse_id: str
    quantity: str
    shipped: str
    status: Literal["active", "released", "shipped"]
    reference: str
    version: int
    created_at: str
    updated_at: str


class ReservationPage(PageOut):
    items: list[ReservationOut]


class ReservationQuery(ListQuery):
    reference: Reference | None = Field(
        default=None, description="Exact reference, or a prefix ending in a colon (`ord_...:`: every line)."
    )


# ---- suppliers -------------------------------------------------------------------------------------
class SupplierIn(StrictModel):
    code: Code
    name: Name
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] = ""
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    currency: Currency = "CNY"
    payment_terms_days: Annotated[int, Field(ge=0, le=365)] = 30


class SupplierPatch(StrictModel):
    code: Code | None = None
    name: Name | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    currency: Currency | None = None
    payment_terms_days: Annotated[int, Field(ge=0, le=365)] | None = None


class SupplierOut(PublicModel):
    id: str
    code: str
    name: str
    email: str = ""
    phone: str = ""
    currency: str
    payment_terms_days: int
    version: int
    created_at: str
    updated_at: str


class SupplierPage(PageOut):
    items: list[SupplierOut | DeletedOut]


class SupplierQuery(SyncQuery):
    name_prefix: NamePrefix | None = None


# ---- purchasing ------------------------------------------------------------------------------------
PurchaseOrderId = Annotated[str, StringConstraints(pattern=id_pattern("pur"))]
Day = IsoDay


class PurchaseLineIn(StrictModel):
    product_id: ProductId
    quantity: Quantity
    unit_cost: Price = Decimal(0)


class PurchaseOrderIn(StrictModel):
    supplier_id: SupplierId
    currency: Currency = "CNY"
    lines: Annotated[list[PurchaseLineIn], Field(min_length=1, max_length=40)]
    expected_date: Day | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] = ""


class PurchaseOrderPatch(StrictModel):
    """Only a draft changes."""

    lines: Annotated[list[PurchaseLineIn], Field(min_length=1, max_length=40)] | None = None
    expected_date: Day | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None


class PurchaseLineOut(PublicModel):
    line: int
    product_id: str
    quantity: str
    unit_cost: str
    received: str


class PurchaseOrderOut(PublicModel):
    id: str
    supplier_id: str
    status: Literal["draft", "ordered", "partially_received", "received", "cancelled"]
    currency: str
    lines: list[PurchaseLineOut]
    total: str
    expected_date: str | None = None
    notes: str = ""
    ordered_at: str | None = None
    version: int
    created_at: str
    updated_at: str


class PurchaseOrderPage(PageOut):
    items: list[PurchaseOrderOut | DeletedOut]


class PurchaseOrderQuery(SyncQuery):
    supplier_id: SupplierId | None = None
    status: Literal["draft", "ordered", "partially_received", "received", "cancelled"] | None = None


class ReceiveLineIn(StrictModel):
    line: Annotated[int, Field(ge=1, le=40)]
    quantity: Quantity


class ReceiveIn(StrictModel):
    warehouse_id: WarehouseId | None = Field(default=None, description="Default: the default warehouse.")
    lines: Annotated[list[ReceiveLineIn], Field(min_length=1, max_length=40)]


# ---- production ------------------------------------------------------------------------------------
WorkCentreId = Annotated[str, StringConstraints(pattern=id_pattern("wct"))]


class WorkCentreIn(StrictModel):
    code: Code
    name: Name
    daily_capacity: Quantity = Field(description="Units it can finish per day.")


class WorkCentrePatch(StrictModel):
    code: Code | None = None
    name: Name | None = None
    daily_capacity: Quantity | None = None


class WorkCentreOut(PublicModel):
    id: str
    code: str
    name: str
    daily_capacity: str
    version: int
    created_at: str
    updated_at: str


class WorkCentrePage(PageOut):
    items: list[WorkCentreOut | DeletedOut]


class WorkCentreQuery(SyncQuery):
    pass


class ComponentIn(StrictModel):
    product_id: ProductId
    quantity: Quantity = Field(description="Per unit of the finished product.")


class BomIn(StrictModel):
    product_id: ProductId = Field(description="The manufactured product; one bill of materials each.")
    components: Annotated[list[ComponentIn], Field(min_length=1, max_length=30)]
    work_centre_id: WorkCentreId


class BomPatch(StrictModel):
    components: Annotated[list[ComponentIn], Field(min_length=1, max_length=30)] | None = None
    work_centre_id: WorkCentreId | None = None


class ComponentOut(PublicModel):
    product_id: str
    quantity: str


class BomOut(PublicModel):
    id: str
    product_id: str
    components: list[ComponentOut]
    work_centre_id: str
    version: int
    created_at: str
    updated_at: str


class BomPage(PageOut):
    items: list[BomOut | DeletedOut]


class BomQuery(SyncQuery):
    product_id: ProductId | None = None


ProductionStatus = Literal["planned", "released", "in_progress", "done", "cancelled"]


class ProductionOrderIn(StrictModel):
    product_id: ProductId
    quantity: Quantity
    warehouse_id: WarehouseId | None = Field(
        default=None, description="Where components come from and goods go; default warehouse."
    )
    reference: Annotated[str, StringConstraints(max_length=100)] = ""


class BookingOut(PublicModel):
    day: str
    quantity: str


class ShortageOut(PublicModel):
    product_id: str
    needed: str
    available: str
    ready_on: str


class ProductionOrderOut(PublicModel):
    id: str
    product_id: str
    quantity: str
    warehouse_id: str
    work_centre_id: str
    status: ProductionStatus
    reference: str = ""
    components: list[ComponentOut]
    materials_ready_on: str
    planned_start: str
    planned_finish: str
    bookings: list[BookingOut]
    shortages: list[ShortageOut] = []
    completed_at: str | None = None
    version: int
    created_at: str
    updated_at: str


class ProductionOrderPage(PageOut):
    items: list[ProductionOrderOut | DeletedOut]


class ProductionOrderQuery(SyncQuery):
    product_id: ProductId | None = None


# ---- receivables -----------------------------------------------------------------------------------
CustomerId = Annotated[str, StringConstraints(pattern=id_pattern("cus"))]
InvoiceId = Annotated[str, StringConstraints(pattern=id_pattern("inv"))]
Money = Annotated[Decimal, Exact(17, 4, gt=0)]
InvoiceStatus = Literal["draft", "issued", "partially_paid", "paid", "void"]


class InvoiceLineIn(StrictModel):
    product_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    quantity: Quantity
    unit_price: Price
    discount_percent: Percent = Decimal(0)
    tax_rate: Percent = Decimal(0)


class InvoiceIn(StrictModel):
    customer_id: CustomerId
    currency: Currency | None = Field(
        default=None, description="Default: the company's currency (chosen at signup)."
    )
    lines: Annotated[list[InvoiceLineIn], Field(min_length=1, max_length=200)]
    payment_terms_days: Annotated[int, Field(ge=0, le=365)] = 30
    order_id: Annotated[str, StringConstraints(pattern=id_pattern("ord"))] | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] = ""


class InvoicePatch(StrictModel):
    """Only a draft changes."""

    lines: Annotated[list[InvoiceLineIn], Field(min_length=1, max_length=200)] | None = None
    payment_terms_days: Annotated[int, Field(ge=0, le=365)] | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None


class InvoiceLineOut(PublicModel):
    product_code: str = ""
    description: str = ""
    quantity: str
    unit_price: str
    discount_percent: str
    tax_rate: str
    net: str


class TaxLineOut(PublicModel):
    rate: str
    base: str
    tax: str


class InvoiceOut(PublicModel):
    id: str
    customer_id: str
    status: InvoiceStatus
    currency: str
    lines: list[InvoiceLineOut]
    subtotal: str
    taxes: list[TaxLineOut]
    tax_total: str
    total: str
    paid: str
    credited: str
    balance: str = Field(description="total - paid - credited: what the customer still owes on it")
    payment_terms_days: int
    issue_date: str | None = None
    due_date: str | None = None
    order_id: str | None = None
    notes: str = ""
    version: int
    created_at: str
    updated_at: str


class InvoicePage(PageOut):
    items: list[InvoiceOut | DeletedOut]


class InvoiceQuery(SyncQuery):
    customer_id: CustomerId | None = None
    status: Literal["open"] | None = Field(default=None, description="`open`: issued or partially paid.")


class IssueIn(StrictModel):
    issue_date: Day | None = Field(
        default=None, description="Default: today; the due date follows from the terms."
    )


class CreditNoteIn(StrictModel):
    amount: Money
    reason: Reason


class CreditNoteOut(PublicModel):
    id: str
    invoice_id: str
    customer_id: str
    currency: str
    amount: str
    reason: str
    created_at: str
    invoice: InvoiceOut


class AllocationIn(StrictModel):
    invoice_id: InvoiceId
    amount: Money


class PaymentIn(StrictModel):
    customer_id: CustomerId
    currency: Currency | None = Field(
        default=None, description="Default: the company's currency (chosen at signup)."
    )
    amount: Money
    received_on: Day | None = Field(default=None, description="Default: today.")
    method: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = "bank_transfer"
    reference: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    allocations: Annotated[list[AllocationIn], Field(max_length=50)] = Field(
        default=[],
        description="Invoices this pays; what is not allocated stays on account (unapplied credit).",
    )


class AllocationOut(PublicModel):
    invoice_id: str
    amount: str


class PaymentOut(PublicModel):
    id: str
    customer_id: str
    currency: str
    amount: str
    unallocated: str
    received_on: str
    method: str
    reference: str = ""
    allocations: list[AllocationOut]
    version: int
    created_at: str
    updated_at: str


class PaymentPage(PageOut):
    items: list[PaymentOut]


class PaymentQuery(ListQuery):
    customer_id: CustomerId | None = None


class AgingQuery(ListQuery):
    as_of: Day | None = Field(
        default=None, description="Default: today. Today's open balances, bucketed as they stand on that day."
    )
    customer_id: CustomerId | None = Field(
        default=None, description="One customer's rows (and totals); without it, a page of customers."
    )


class BalanceQuery(StrictModel):
    cursor: Cursor | None = Field(default=None, description="The next page of open invoices.")


class AgingRow(PublicModel):
    customer_id: str
    currency: str
    current: str
    days_1_30: str
    days_31_60: str
    days_61_90: str
    over_90: str
    open_total: str
    unapplied: str
    balance: str = Field(description="open_total - unapplied")


class AgingOut(PublicModel):
    as_of: str
    rows: list[AgingRow] = Field(
        description="A page of customers with receivables (each currency with anything open or on account)."
    )
    totals: list[AgingRow] = Field(
        description="Per currency, customer_id '*': the company's, or the customer's."
    )
    next_cursor: str | None


class BalanceOut(PublicModel):
    customer_id: str
    balances: list[AgingRow] = Field(description="Per currency, aged today.")
    open_invoices: list[InvoiceOut] = Field(description="Oldest first, 50 a page.")
    next_cursor: str | None = Field(description="The next page of open invoices.")


# ---- shipments and replenishment ---------------------------------------------------------------------
ReservationId = Annotated[str, StringConstraints(pattern=id_pattern("res"))]


class ShipmentLineIn(StrictModel):
    reservation_id: ReservationId
    quantity: Quantity | None = Field(default=None, description="Default: all that is still reserved.")


class ShipmentIn(StrictModel):
    # One transaction: four writes a line (the reservation, its audit entry, the stock level, the
    # movement) and four for the shipment and its order's event fit 24 lines in DynamoDB's 100.
    lines: Annotated[list[ShipmentLineIn], Field(min_length=1, max_length=24)]
    carrier: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] = ""
    tracking_number: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] = ""
    reference: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""


class ShipmentLineOut(PublicModel):
    reservation_id: str
    product_id: str
    warehouse_id: str
    quantity: str
    reference: str


class ShipmentOut(PublicModel):
    id: str
    lines: list[ShipmentLineOut]
    carrier: str = ""
    tracking_number: str = ""
    reference: str = ""
    version: int
    created_at: str


class ShipmentPage(PageOut):
    items: list[ShipmentOut]


class ShipmentQuery(ListQuery):
    pass


class SuggestionOut(PublicModel):
    product_id: str
    sku: str
    available: str
    incoming: str
    reorder_point: str
    suggested_quantity: str
    unit_cost: str


class SupplierSuggestions(PublicModel):
    supplier_id: str | None = Field(description="null: products with no default supplier (buy them by hand).")
    lines: list[SuggestionOut]


class ReplenishmentOut(PublicModel):
    purchase: list[SupplierSuggestions]
    produce: list[SuggestionOut] = Field(description="Manufactured products to plan production orders for.")


class ReplenishIn(StrictModel):
    supplier_ids: Annotated[list[SupplierId], Field(max_length=100)] | None = Field(
        default=None, description="Only these suppliers' suggestions; default: every supplier's."
    )


class ReplenishOut(PublicModel):
    created: list[PurchaseOrderOut]

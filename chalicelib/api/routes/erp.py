"""ERP routes under /erp: products, suppliers, warehouses, stock, reservations."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api import crud
from chalicelib.api.web import STORE, Request, Result, endpoint
from chalicelib.core import entities
from chalicelib.core.schemas import DeletedOut
from chalicelib.erp import (
    boms,
    catalogue,
    invoices,
    production,
    products,
    purchasing,
    receivables,
    replenishment,
    reservations,
    shipments,
    stock,
    warehouses,
)
from chalicelib.erp.models import (
    AdjustmentIn,
    AgingOut,
    AgingQuery,
    BalanceOut,
    BalanceQuery,
    BomIn,
    BomOut,
    BomPage,
    BomPatch,
    BomQuery,
    CreditNoteIn,
    CreditNoteOut,
    InvoiceIn,
    InvoiceOut,
    InvoicePage,
    InvoicePatch,
    InvoiceQuery,
    IssueIn,
    MovementPage,
    MovementQuery,
    MovementsOut,
    PaymentIn,
    PaymentOut,
    PaymentPage,
    PaymentQuery,
    ProductIn,
    ProductionOrderIn,
    ProductionOrderOut,
    ProductionOrderPage,
    ProductionOrderQuery,
    ProductOut,
    ProductPage,
    ProductPatch,
    ProductQuery,
    PurchaseOrderIn,
    PurchaseOrderOut,
    PurchaseOrderPage,
    PurchaseOrderPatch,
    PurchaseOrderQuery,
    ReceiveIn,
    ReplenishIn,
    ReplenishmentOut,
    ReplenishOut,
    ReservationIn,
    ReservationOut,
    ReservationPage,
    ReservationQuery,
    ShipmentIn,
    ShipmentOut,
    ShipmentPage,
    ShipmentQuery,
    StockPage,
    StockQuery,
    SupplierIn,
    SupplierOut,
    SupplierPage,
    SupplierPatch,
    SupplierQuery,
    TransferIn,
    WarehouseIn,
    WarehouseOut,
    WarehousePage,
    WarehousePatch,
    WarehouseQuery,
    WorkCentreIn,
    WorkCentreOut,
    WorkCentrePage,
    WorkCentrePatch,
    WorkCentreQuery,
)

bp = Blueprint(__name__)

crud.register(
    bp,
    crud.Resource(
        catalogue.PRODUCT,
        "/erp/products",
        "product_id",
        "erp.products",
        "erp",
        ProductIn,
        ProductPatch,
        ProductOut,
        ProductPage,
        ProductQuery,
        DeletedOut,
        products,
    ),
)
crud.register(
    bp,
    crud.Resource(
        catalogue.SUPPLIER,
        "/erp/suppliers",
        "supplier_id",
        "erp.suppliers",
        "erp",
        SupplierIn,
        SupplierPatch,
        SupplierOut,
        SupplierPage,
        SupplierQuery,
        DeletedOut,
        catalogue.suppliers,
    ),
)
crud.register(
    bp,
    crud.Resource(
        catalogue.WAREHOUSE,
        "/erp/warehouses",
        "warehouse_id",
        "erp.warehouses",
        "erp",
        WarehouseIn,
        WarehousePatch,
        WarehouseOut,
        WarehousePage,
        WarehouseQuery,
        DeletedOut,
        warehouses,
    ),
)


@endpoint(
    bp,
    "/erp/stock",
    "GET",
    permission="erp.stock:read",
    tag="erp",
    query=StockQuery,
    response=StockPage,
    summary="Stock levels: on hand, reserved, available; by product and/or warehouse",
)
def list_stock(req: Request) -> StockPage:
    q = req.query
    page = stock.levels(STORE, req.me.tenant_id, q.product_id, q.warehouse_id, q.limit, q.cursor)
    return StockPage.model_validate({"items": page.items, "next_cursor": page.next_cursor})


@endpoint(
    bp,
    "/erp/stock/movements",
    "GET",
    permission="erp.stock:read",
    tag="erp",
    query=MovementQuery,
    response=MovementPage,
    summary="A product's stock ledger, newest first",
)
def list_movements(req: Request) -> MovementPage:
    q = req.query
    page = stock.movements(STORE, req.me.tenant_id, q.product_id, q.warehouse_id, q.limit, q.cursor)
    return MovementPage.model_validate({"items": page.items, "next_cursor": page.next_cursor})


@endpoint(
    bp,
    "/erp/stock/adjustments",
    "POST",
    permission="erp.stock:adjust",
    tag="erp",
    body=AdjustmentIn,
    response=MovementsOut,
    status=201,
    summary="Correct on hand with a reason (a count, breakage); never below what is reserved",
)
def adjust_stock(req: Request) -> MovementsOut:
    b = req.body
    return MovementsOut(
        **stock.adjust(STORE, req.me.actor(), b.product_id, b.warehouse_id, b.quantity, b.reason)
    )


@endpoint(
    bp,
    "/erp/stock/transfers",
    "POST",
    permission="erp.stock:transfer",
    tag="erp",
    body=TransferIn,
    response=MovementsOut,
    status=201,
    summary="Move stock between warehouses (from what is available)",
)
def transfer_stock(req: Request) -> MovementsOut:
    b = req.body
    moved = stock.transfer(
        STORE, req.me.actor(), b.product_id, b.from_warehouse_id, b.to_warehouse_id, b.quantity, b.reason
    )
    return MovementsOut(**moved)


@endpoint(
    bp,
    "/erp/reservations",
    "POST",
    permission="erp.stock:reserve",
    tag="erp",
    body=ReservationIn,
    response=ReservationOut,
    status=201,
    summary="Reserve available stock for a reference (an order line); 409 when not enough is available",
)
def create_reservation(req: Request) -> Result:
    b = req.body
    item = reservations.reserve(STORE, req.me.actor(), b.product_id, b.warehouse_id, b.quantity, b.reference)
    return Result(
        ReservationOut(**item), etag=item["version"], headers={"Location": f"/erp/reservations/{item['id']}"}
    )


@endpoint(
    bp,
    "/erp/reservations",
    "GET",
    permission="erp.stock:read",
    tag="erp",
    query=ReservationQuery,
    response=ReservationPage,
    summary="Reservations, or those of a reference (`ord_...:`: an order's lines)",
)
def list_reservations(req: Request) -> ReservationPage:
    q = req.query
    page = reservations.list_page(STORE, req.me.tenant_id, q.reference, q.limit, q.cursor)
    return ReservationPage.model_validate({"items": page.items, "next_cursor": page.next_cursor})


RESERVATION_ID = {"reservation_id": reservations.RESERVATION.id_pattern}


@endpoint(
    bp,
    "/erp/reservations/{reservation_id}",
    "GET",
    permission="erp.stock:read",
    tag="erp",
    response=ReservationOut,
    path_params=RESERVATION_ID,
    etag=True,
    summary="Read a reservation",
)
def get_reservation(req: Request) -> Result:
    item = reservations.present(
        entities.get(STORE, req.me.tenant_id, reservations.RESERVATION, req.params["reservation_id"])
    )
    return Result(ReservationOut(**item), etag=item["version"])


@endpoint(
    bp,
    "/erp/reservations/{reservation_id}/release",
    "POST",
    permission="erp.stock:reserve",
    tag="erp",
    response=ReservationOut,
    path_params=RESERVATION_ID,
    etag=True,
    summary="Give back what is still reserved; releasing again changes nothing",
)
def release_reservation(req: Request) -> Result:
    item = reservations.release(
        STORE, req.me.actor(), req.params["reservation_id"], req.if_match, by_hand=True
    )
    return Result(ReservationOut(**item), etag=item["version"])


# ---- purchasing -------------------------------------------------------------------------------------
crud.register(
    bp,
    crud.Resource(
        purchasing.PURCHASE_ORDER,
        "/erp/purchase-orders",
        "purchase_order_id",
        "erp.purchasing",
        "erp",
        PurchaseOrderIn,
        PurchaseOrderPatch,
        PurchaseOrderOut,
        PurchaseOrderPage,
        PurchaseOrderQuery,
        DeletedOut,
        purchasing,
    ),
)
PURCHASE_ORDER_ID = {"purchase_order_id": purchasing.PURCHASE_ORDER.id_pattern}


def _purchase_order(item: dict[str, Any]) -> Result:
    return Result(PurchaseOrderOut(**item), etag=item["version"])


@endpoint(
    bp,
    "/erp/purchase-orders/{purchase_order_id}/order",
    "POST",
    permission="erp.purchasing:order",
    tag="erp",
    response=PurchaseOrderOut,
    path_params=PURCHASE_ORDER_ID,
    etag=True,
    summary="Place a draft",
)
def place_purchase_order(req: Request) -> Result:
    return _purchase_order(
        purchasing.place(STORE, req.me.actor(), req.params["purchase_order_id"], req.if_match)
    )


@endpoint(
    bp,
    "/erp/purchase-orders/{purchase_order_id}/cancel",
    "POST",
    permission="erp.purchasing:order",
    tag="erp",
    response=PurchaseOrderOut,
    path_params=PURCHASE_ORDER_ID,
    etag=True,
    summary="Cancel a draft or ordered purchase order (not once goods arrived)",
)
def cancel_purchase_order(req: Request) -> Result:
    return _purchase_order(
        purchasing.cancel(STORE, req.me.actor(), req.params["purchase_order_id"], req.if_match)
    )


@endpoint(
    bp,
    "/erp/purchase-orders/{purchase_order_id}/receive",
    "POST",
    permission="erp.purchasing:receive",
    tag="erp",
    body=ReceiveIn,
    response=PurchaseOrderOut,
    path_params=PURCHASE_ORDER_ID,
    etag=True,
    summary="Receive quantities per line into a warehouse: the stock receipts, all lines or none",
)
def receive_purchase_order(req: Request) -> Result:
    return _purchase_order(
        purchasing.receive(STORE, req.me.actor(), req.params["purchase_order_id"], req.body, req.if_match)
    )


# ---- production -------------------------------------------------------------------------------------
crud.register(
    bp,
    crud.Resource(
        production.WORK_CENTRE,
        "/erp/work-centres",
        "work_centre_id",
        "erp.production",
        "erp",
        WorkCentreIn,
        WorkCentrePatch,
        WorkCentreOut,
        WorkCentrePage,
        WorkCentreQuery,
        DeletedOut,
        production.work_centres,
    ),
)
crud.register(
    bp,
    crud.Resource(
        production.BOM,
        "/erp/boms",
        "bom_id",
        "erp.production",
        "erp",
        BomIn,
        BomPatch,
        BomOut,
        BomPage,
        BomQuery,
        DeletedOut,
        boms,
    ),
)
crud.register(
    bp,
    crud.Resource(
        production.PRODUCTION_ORDER,
        "/erp/production-orders",
        "production_order_id",
        "erp.production",
        "erp",
        ProductionOrderIn,
        ProductionOrderIn,
        ProductionOrderOut,
        ProductionOrderPage,
        ProductionOrderQuery,
        DeletedOut,
        production,
        routes=("create", "list", "read"),
    ),
)
PRODUCTION_ORDER_ID = {"production_order_id": production.PRODUCTION_ORDER.id_pattern}


def _production_order(item: dict[str, Any]) -> Result:
    return Result(ProductionOrderOut(**item), etag=item["version"])


@endpoint(
    bp,
    "/erp/production-orders/{production_order_id}/release",
    "POST",
    permission="erp.production:update",
    tag="erp",
    response=ProductionOrderOut,
    path_params=PRODUCTION_ORDER_ID,
    etag=True,
    summary="Planned → released",
)
def release_production_order(req: Request) -> Result:
    return _production_order(
        production.move(STORE, req.me.actor(), req.params["production_order_id"], "release", req.if_match)
    )


@endpoint(
    bp,
    "/erp/production-orders/{production_order_id}/start",
    "POST",
    permission="erp.production:update",
    tag="erp",
    response=ProductionOrderOut,
    path_params=PRODUCTION_ORDER_ID,
    etag=True,
    summary="Released → in progress",
)
def start_production_order(req: Request) -> Result:
    return _production_order(
        production.move(STORE, req.me.actor(), req.params["production_order_id"], "start", req.if_match)
    )


@endpoint(
    bp,
    "/erp/production-orders/{production_order_id}/complete",
    "POST",
    permission="erp.production:complete",
    tag="erp",
    response=ProductionOrderOut,
    path_params=PRODUCTION_ORDER_ID,
    etag=True,
    summary="Consume the components and produce the goods, all or nothing (409 naming a short component)",
)
def complete_production_order(req: Request) -> Result:
    return _production_order(
        production.complete(STORE, req.me.actor(), req.params["production_order_id"], req.if_match)
    )


@endpoint(
    bp,
    "/erp/production-orders/{production_order_id}/cancel",
    "POST",
    permission="erp.production:update",
    tag="erp",
    response=ProductionOrderOut,
    path_params=PRODUCTION_ORDER_ID,
    etag=True,
    summary="Cancel an order not done; its capacity is given back",
)
def cancel_production_order(req: Request) -> Result:
    return _production_order(
        production.cancel(STORE, req.me.actor(), req.params["production_order_id"], req.if_match)
    )


# ---- receivables ------------------------------------------------------------------------------------
crud.register(
    bp,
    crud.Resource(
        receivables.INVOICE,
        "/erp/invoices",
        "invoice_id",
        "erp.invoices",
        "erp",
        InvoiceIn,
        InvoicePatch,
        InvoiceOut,
        InvoicePage,
        InvoiceQuery,
        DeletedOut,
        invoices,
    ),
)
INVOICE_ID = {"invoice_id": receivables.INVOICE.id_pattern}


def _invoice(item: dict[str, Any]) -> Result:
    return Result(InvoiceOut(**item), etag=item["version"])


@endpoint(
    bp,
    "/erp/invoices/{invoice_id}/issue",
    "POST",
    permission="erp.invoices:update",
    tag="erp",
    body=IssueIn,
    response=InvoiceOut,
    path_params=INVOICE_ID,
    etag=True,
    summary="Issue a draft: its issue and due dates",
)
def issue_invoice(req: Request) -> Result:
    invoice_id, issue_date = req.params["invoice_id"], req.body.issue_date
    return _invoice(
        receivables.issue(STORE, req.me.actor(), invoice_id, issue_date, req.if_match, by_hand=True)
    )


@endpoint(
    bp,
    "/erp/invoices/{invoice_id}/void",
    "POST",
    permission="erp.invoices:update",
    tag="erp",
    response=InvoiceOut,
    path_params=INVOICE_ID,
    etag=True,
    summary="Void an invoice nothing was paid or credited on",
)
def void_invoice(req: Request) -> Result:
    return _invoice(
        receivables.void(STORE, req.me.actor(), req.params["invoice_id"], req.if_match, by_hand=True)
    )


@endpoint(
    bp,
    "/erp/invoices/{invoice_id}/credit-notes",
    "POST",
    permission="erp.invoices:credit",
    tag="erp",
    body=CreditNoteIn,
    response=CreditNoteOut,
    status=201,
    path_params=INVOICE_ID,
    summary="Credit part or all of an open invoice's balance",
)
def credit_invoice(req: Request) -> CreditNoteOut:
    return CreditNoteOut(
        **receivables.credit(
            STORE, req.me.actor(), req.params["invoice_id"], req.body.amount, req.body.reason
        )
    )


@endpoint(
    bp,
    "/erp/payments",
    "POST",
    permission="erp.payments:create",
    tag="erp",
    body=PaymentIn,
    response=PaymentOut,
    status=201,
    summary="Record a payment and allocate it to invoices; the rest stays on account",
)
def create_payment(req: Request) -> Result:
    item = receivables.pay(STORE, req.me.actor(), req.body)
    return Result(
        PaymentOut(**item), etag=item["version"], headers={"Location": f"/erp/payments/{item['id']}"}
    )


@endpoint(
    bp,
    "/erp/payments",
    "GET",
    permission="erp.payments:read",
    tag="erp",
    query=PaymentQuery,
    response=PaymentPage,
    summary="Payments, or a customer's, newest first",
)
def list_payments(req: Request) -> PaymentPage:
    q = req.query
    page = receivables.list_payments(STORE, req.me.tenant_id, q.customer_id, q.limit, q.cursor)
    return PaymentPage.model_validate({"items": page.items, "next_cursor": page.next_cursor})


@endpoint(
    bp,
    "/erp/payments/{payment_id}",
    "GET",
    permission="erp.payments:read",
    tag="erp",
    response=PaymentOut,
    etag=True,
    path_params={"payment_id": receivables.PAYMENT.id_pattern},
    summary="Read a payment",
)
def get_payment(req: Request) -> Result:
    item = entities.public(
        entities.get(STORE, req.me.tenant_id, receivables.PAYMENT, req.params["payment_id"])
    )
    return Result(PaymentOut(**item), etag=item["version"])


@endpoint(
    bp,
    "/erp/receivables/aging",
    "GET",
    permission="erp.receivables:read",
    tag="erp",
    query=AgingQuery,
    response=AgingOut,
    also=(404,),  # a customer_id the company does not have
    summary="Open balances per customer and currency: current, 1-30, 31-60, 61-90, 90+",
)
def receivables_aging(req: Request) -> AgingOut:
    q: AgingQuery = req.query
    return AgingOut(**receivables.aging(STORE, req.me.tenant_id, q.as_of, q.customer_id, q.limit, q.cursor))


@endpoint(
    bp,
    "/erp/receivables/customers/{customer_id}",
    "GET",
    permission="erp.receivables:read",
    tag="erp",
    query=BalanceQuery,
    response=BalanceOut,
    path_params={"customer_id": r"^cus_[0-9A-HJKMNP-TV-Z]{26}$"},
    summary="A customer's balance and open invoices",
)
def customer_balance(req: Request) -> BalanceOut:
    customer_id = req.params["customer_id"]
    return BalanceOut(**receivables.balance(STORE, req.me.tenant_id, customer_id, req.query.cursor))


# ---- shipments and replenishment --------------------------------------------------------------------
@endpoint(
    bp,
    "/erp/shipments",
    "POST",
    permission="erp.shipments:create",
    tag="erp",
    body=ShipmentIn,
    response=ShipmentOut,
    status=201,
    summary="Ship reserved stock: on hand and reserved both fall, in one transaction",
)
def create_shipment(req: Request) -> Result:
    item = shipments.ship(STORE, req.me.actor(), req.body)
    return Result(
        ShipmentOut(**item), etag=item["version"], headers={"Location": f"/erp/shipments/{item['id']}"}
    )


@endpoint(
    bp,
    "/erp/shipments",
    "GET",
    permission="erp.shipments:read",
    tag="erp",
    query=ShipmentQuery,
    response=ShipmentPage,
    summary="Shipments",
)
def list_shipments(req: Request) -> ShipmentPage:
    page = shipments.list_page(STORE, req.me.tenant_id, req.query.limit, req.query.cursor)
    return ShipmentPage.model_validate({"items": page.items, "next_cursor": page.next_cursor})


@endpoint(
    bp,
    "/erp/shipments/{shipment_id}",
    "GET",
    permission="erp.shipments:read",
    tag="erp",
    response=ShipmentOut,
    etag=True,
    path_params={"shipment_id": shipments.SHIPMENT.id_pattern},
    summary="Read a shipment",
)
def get_shipment(req: Request) -> Result:
    item = entities.public(
        entities.get(STORE, req.me.tenant_id, shipments.SHIPMENT, req.params["shipment_id"])
    )
    return Result(ShipmentOut(**item), etag=item["version"])


@endpoint(
    bp,
    "/erp/replenishment",
    "GET",
    permission="erp.purchasing:read",
    tag="erp",
    response=ReplenishmentOut,
    summary="Products under their reorder point with what to buy (per supplier) or make",
)
def get_replenishment(req: Request) -> ReplenishmentOut:
    return ReplenishmentOut(**replenishment.suggestions(STORE, req.me.tenant_id))


@endpoint(
    bp,
    "/erp/replenishment",
    "POST",
    permission="erp.purchasing:create",
    tag="erp",
    body=ReplenishIn,
    response=ReplenishOut,
    status=201,
    summary="Turn the suggestions into draft purchase orders",
)
def create_replenishment(req: Request) -> ReplenishOut:
    return ReplenishOut.model_validate(
        {"created": replenishment.order(STORE, req.me.actor(), req.body.supplier_ids)}
    )

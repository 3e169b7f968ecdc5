"""Every built-in role against every route: allowed or denied as docs/api.md documents."""

from __future__ import annotations

import pytest

from tests.conftest import a_tenant, a_user
from tests.routes import CALLS, fresh_targets

CUSTOMER_READ = {
    ("GET", "/crm/customers"),
    ("GET", "/crm/customers/{customer_id}"),
    ("GET", "/crm/customers/{customer_id}/timeline"),
    ("GET", "/crm/customers/{customer_id}/360"),
}
AUTOMATIONS_READ = {("GET", "/crm/automations"), ("GET", "/crm/automations/{automation_id}")}
RECOMMENDATIONS = {("GET", "/crm/customers/{customer_id}/recommendations")}  # customers' and orders' read
EVERYONE = {("GET", "/me"), ("GET", "/jobs")}
OWNERS_ONLY = {
    ("POST", "/admin/backups/{backup_id}/restore"),
    ("DELETE", "/tenants/me"),
    ("PUT", "/billing/plan"),
}
ALL = {(c.method, c.route) for c in CALLS}


def crud(path: str, param: str, *methods: str) -> set[tuple[str, str]]:
    one = f"{path}/{{{param}}}"
    table = {
        "read": {("GET", path), ("GET", one)},
        "create": {("POST", path)},
        "update": {("PATCH", one)},
        "delete": {("DELETE", one)},
    }
    return set().union(*(table[m] for m in methods))


CONTACTS = "/crm/contacts", "contact_id"
ACTIVITIES = "/crm/activities", "activity_id"
QUOTES = "/crm/quotes", "quote_id"
ORDERS = "/crm/orders", "order_id"
QUOTE_READ = crud(*QUOTES, "read") | {("GET", "/crm/quotes/{quote_id}/revisions")}
QUOTE_WORK = {("POST", f"/crm/quotes/{{quote_id}}/{a}") for a in ("send", "reject", "revise", "accept")}
ORDER_READ = crud("/crm/orders", "order_id", "read") | {("GET", "/crm/orders/{order_id}/handoff")}
ORDER_WORK = {("POST", f"/crm/orders/{{order_id}}/{a}") for a in ("confirm", "cancel")}
LEADS = "/crm/leads", "lead_id"
OPPORTUNITIES = "/crm/opportunities", "opportunity_id"
PIPELINE_READ = {("GET", "/crm/pipeline")}
TICKETS = "/crm/tickets", "ticket_id"
SLA_READ = {("GET", "/crm/sla")}
PRODUCTS = "/erp/products", "product_id"
SUPPLIERS = "/erp/suppliers", "supplier_id"
WAREHOUSES = "/erp/warehouses", "warehouse_id"
STOCK_READ = {
    ("GET", "/erp/stock"),
    ("GET", "/erp/stock/movements"),
    ("GET", "/erp/reservations"),
    ("GET", "/erp/reservations/{reservation_id}"),
}
PURCHASE_ORDERS = "/erp/purchase-orders", "purchase_order_id"
PURCHASE_ORDER_WORK = {
    ("POST", f"/erp/purchase-orders/{{purchase_order_id}}/{a}") for a in ("order", "cancel", "receive")
}
WORK_CENTRES = "/erp/work-centres", "work_centre_id"
BOMS = "/erp/boms", "bom_id"
PRODUCTION_ORDERS = "/erp/production-orders", "production_order_id"
PRODUCTION_WORK = {
    ("POST", f"/erp/production-orders/{{production_order_id}}/{a}")
    for a in ("release", "start", "complete", "cancel")
}
PRODUCTION_READ = crud(*WORK_CENTRES, "read") | crud(*BOMS, "read") | crud(*PRODUCTION_ORDERS, "read")
INVOICES = "/erp/invoices", "invoice_id"
INVOICE_WORK = {("POST", f"/erp/invoices/{{invoice_id}}/{a}") for a in ("issue", "void", "credit-notes")}
PAYMENTS = {("GET", "/erp/payments"), ("POST", "/erp/payments"), ("GET", "/erp/payments/{payment_id}")}
RECEIVABLES = {("GET", "/erp/receivables/aging"), ("GET", "/erp/receivables/customers/{customer_id}")}
SHIPMENTS = {("GET", "/erp/shipments"), ("POST", "/erp/shipments"), ("GET", "/erp/shipments/{shipment_id}")}
REPLENISHMENT = {("GET", "/erp/replenishment"), ("POST", "/erp/replenishment")}
STOCK_WORK = {
    ("POST", "/erp/stock/adjustments"),
    ("POST", "/erp/stock/transfers"),
    ("POST", "/erp/reservations"),
    ("POST", "/erp/reservations/{reservation_id}/release"),
}

# Written out by hand from the documented role table, not derived from the code under test.
ALLOWED = {
    "owner": ALL,
    "admin": ALL - OWNERS_ONLY,
    "sales": EVERYONE
    | CUSTOMER_READ
    | {("POST", "/crm/customers"), ("PATCH", "/crm/customers/{customer_id}")}
    | {("POST", f"/crm/customers/{{customer_id}}/{a}") for a in ("claim", "release", "assign")}
    | {("POST", f"/crm/leads/{{lead_id}}/{a}") for a in ("claim", "release", "assign")}
    | crud(*CONTACTS, "read", "create", "update")
    | crud(*ACTIVITIES, "read", "create", "update")
    | QUOTE_READ
    | crud(*QUOTES, "create", "update")
    | QUOTE_WORK
    | ORDER_READ
    | RECOMMENDATIONS
    | crud(*ORDERS, "create", "update")
    | ORDER_WORK
    | crud(*LEADS, "read", "create", "update")
    | {("POST", "/crm/leads/{lead_id}/convert")}
    | crud(*OPPORTUNITIES, "read", "create", "update")
    | {("POST", "/crm/opportunities/{opportunity_id}/close")}
    | PIPELINE_READ
    | crud(*TICKETS, "read", "create", "update")
    | SLA_READ
    | {("POST", "/import/{entity}"), ("GET", "/export/{entity}")}
    | {("POST", "/import/{entity}/jobs"), ("POST", "/export/{entity}/jobs")}
    | crud(*PRODUCTS, "read")
    | STOCK_READ,
    "service": EVERYONE
    | CUSTOMER_READ
    | {("PATCH", "/crm/customers/{customer_id}")}
    | crud(*CONTACTS, "read")
    | crud(*ACTIVITIES, "read", "create", "update", "delete")
    | crud(*TICKETS, "read", "create", "update", "delete")
    | SLA_READ,
    "finance": EVERYONE
    | CUSTOMER_READ
    | QUOTE_READ
    | ORDER_READ
    | RECOMMENDATIONS
    | crud(*PRODUCTS, "read")
    | crud(*PURCHASE_ORDERS, "read")
    | {("GET", "/erp/replenishment")}
    | crud(*INVOICES, "read", "create", "update", "delete")
    | INVOICE_WORK
    | PAYMENTS
    | RECEIVABLES,
    "warehouse": EVERYONE
    | CUSTOMER_READ
    | ORDER_READ
    | RECOMMENDATIONS
    | crud(*PRODUCTS, "read", "create", "update", "delete")
    | crud(*SUPPLIERS, "read", "create", "update", "delete")
    | crud(*WAREHOUSES, "read", "create", "update", "delete")
    | STOCK_READ
    | STOCK_WORK
    | crud(*PURCHASE_ORDERS, "read", "create", "update", "delete")
    | PURCHASE_ORDER_WORK
    | crud(*WORK_CENTRES, "read", "create", "update", "delete")
    | crud(*BOMS, "read", "create", "update", "delete")
    | crud(*PRODUCTION_ORDERS, "read", "create")
    | PRODUCTION_WORK
    | SHIPMENTS
    | REPLENISHMENT,
    "viewer": EVERYONE
    | CUSTOMER_READ
    | crud(*CONTACTS, "read")
    | crud(*ACTIVITIES, "read")
    | QUOTE_READ
    | ORDER_READ
    | RECOMMENDATIONS
    | crud(*LEADS, "read")
    | crud(*OPPORTUNITIES, "read")
    | PIPELINE_READ
    | crud(*TICKETS, "read")
    | SLA_READ
    | crud(*PRODUCTS, "read")
    | crud(*SUPPLIERS, "read")
    | crud(*WAREHOUSES, "read")
    | STOCK_READ
    | crud(*PURCHASE_ORDERS, "read")
    | PRODUCTION_READ
    | {("GET", "/erp/shipments"), ("GET", "/erp/shipments/{shipment_id}"), ("GET", "/erp/replenishment")}
    | crud(*INVOICES, "read")
    | {("GET", "/erp/payments"), ("GET", "/erp/payments/{payment_id}")}
    | RECEIVABLES
    | AUTOMATIONS_READ
    | {("GET", "/analytics/dashboard"), ("GET", "/analytics/products/{product_id}")},
}


@pytest.fixture(scope="module")
def company(api):
    return a_tenant(api, "Matrix Ltd")


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_role_against_every_route(api, company, role):
    _, token = a_user(api, company, [role])
    targets = fresh_targets(api, company)
    wrong = []
    # Deletes last, the customer's very last: they consume the targets.
    for call in sorted(
        CALLS, key=lambda c: (c.method == "DELETE", c.route == "/crm/customers/{customer_id}")
    ):
        path, body = call.make(targets)
        reply = api.call(call.method, path, token, body, headers=call.headers)
        allowed = (call.method, call.route) in ALLOWED[role]
        if allowed and not 200 <= reply.status < 300:
            wrong.append(
                f"{call.method} {call.route}: expected success, got {reply.status} {reply.body[:200]!r}"
            )
        if not allowed and (reply.status != 403 or reply.json.get("permission") is None):
            wrong.append(
                f"{call.method} {call.route}: expected 403 naming the permission, got {reply.status}"
            )
    assert not wrong, "\n".join(wrong)

"""Every route of the API, as data: method, path, the view's name, the module that declares it, whether
it is public, the raw body types it takes.

``app.py`` registers these at import (``web.serve``), each importing its module on its first request,
so a cold start builds no route module and no model (docs/performance.md). The modules stay the one
place a route is declared; this table follows them: ``python -m chalicelib.api.route_table`` writes
it again from them, and tests/test_structure.py fails when the two differ.
"""

from __future__ import annotations

import dataclasses
import importlib
import pathlib

MODULES = (
    "chalicelib.api.routes.tenants",
    "chalicelib.api.routes.crm",
    "chalicelib.api.routes.erp",
    "chalicelib.api.routes.handoff",
    "chalicelib.api.routes.jobs",
    "chalicelib.api.routes.billing",
    "chalicelib.api.routes.operator",
    "chalicelib.api.routes.analytics",
)


@dataclasses.dataclass(frozen=True)
class Entry:
    method: str
    path: str
    name: str
    module_index: int  # in MODULES
    public: bool
    raw_types: tuple[str, ...]

    @property
    def module(self) -> str:
        return MODULES[self.module_index]


def load_all() -> None:
    """Import every route module (the OpenAPI document describes them all)."""
    for module in MODULES:
        importlib.import_module(module)


def declared() -> list[Entry]:
    """The table as the route modules declare it now."""
    from chalicelib.api import web

    load_all()
    entries = [
        Entry(s.method, s.path, s.operation_id, MODULES.index(s.module), s.public, s.raw_types)
        for s in web.ROUTES
        if s.module in MODULES
    ]
    # The modules' order (they may have been imported in any), each in its own declaration order.
    return sorted(entries, key=lambda e: e.module_index)


# fmt: off
# The table (written by `python -m chalicelib.api.route_table`: one line a route, as a table reads).
TABLE: tuple[Entry, ...] = (
# -- table --
    Entry('POST', '/tenants', 'signup', 0, True, ()),
    Entry('POST', '/auth/login', 'login', 0, True, ()),
    Entry('POST', '/auth/refresh', 'refresh', 0, True, ()),
    Entry('GET', '/me', 'me', 0, False, ()),
    Entry('PATCH', '/tenants/me', 'update_company', 0, False, ()),
    Entry('GET', '/admin/users', 'list_users', 0, False, ()),
    Entry('POST', '/admin/users', 'create_user', 0, False, ()),
    Entry('GET', '/admin/users/{user_id}', 'get_user', 0, False, ()),
    Entry('PATCH', '/admin/users/{user_id}', 'update_user', 0, False, ()),
    Entry('DELETE', '/admin/users/{user_id}', 'delete_user', 0, False, ()),
    Entry('GET', '/admin/roles', 'list_roles', 0, False, ()),
    Entry('POST', '/admin/roles', 'create_role', 0, False, ()),
    Entry('PUT', '/admin/roles/{name}', 'replace_role', 0, False, ()),
    Entry('DELETE', '/admin/roles/{name}', 'delete_role', 0, False, ()),
    Entry('GET', '/admin/audit', 'audit', 0, False, ()),
    Entry('POST', '/crm/automations', 'create_automation', 1, False, ()),
    Entry('GET', '/crm/automations', 'list_automations', 1, False, ()),
    Entry('GET', '/crm/automations/{automation_id}', 'get_automation', 1, False, ()),
    Entry('PATCH', '/crm/automations/{automation_id}', 'update_automation', 1, False, ()),
    Entry('DELETE', '/crm/automations/{automation_id}', 'delete_automation', 1, False, ()),
    Entry('POST', '/crm/customers', 'create_customer', 1, False, ()),
    Entry('GET', '/crm/customers', 'list_customers', 1, False, ()),
    Entry('GET', '/crm/customers/{customer_id}', 'get_customer', 1, False, ()),
    Entry('PATCH', '/crm/customers/{customer_id}', 'update_customer', 1, False, ()),
    Entry('DELETE', '/crm/customers/{customer_id}', 'delete_customer', 1, False, ()),
    Entry('POST', '/crm/customers/{customer_id}/claim', 'claim_customer', 1, False, ()),
    Entry('POST', '/crm/customers/{customer_id}/release', 'release_customer', 1, False, ()),
    Entry('POST', '/crm/customers/{customer_id}/assign', 'assign_customer', 1, False, ()),
    Entry('POST', '/crm/contacts', 'create_contact', 1, False, ()),
    Entry('GET', '/crm/contacts', 'list_contacts', 1, False, ()),
    Entry('GET', '/crm/contacts/{contact_id}', 'get_contact', 1, False, ()),
    Entry('PATCH', '/crm/contacts/{contact_id}', 'update_contact', 1, False, ()),
    Entry('DELETE', '/crm/contacts/{contact_id}', 'delete_contact', 1, False, ()),
    Entry('POST', '/crm/activities', 'create_activity', 1, False, ()),
    Entry('GET', '/crm/activities', 'list_activitys', 1, False, ()),
    Entry('GET', '/crm/activities/{activity_id}', 'get_activity', 1, False, ()),
    Entry('PATCH', '/crm/activities/{activity_id}', 'update_activity', 1, False, ()),
    Entry('DELETE', '/crm/activities/{activity_id}', 'delete_activity', 1, False, ()),
    Entry('GET', '/crm/customers/{customer_id}/timeline', 'customer_timeline', 1, False, ()),
    Entry('POST', '/crm/quotes', 'create_quote', 1, False, ()),
    Entry('GET', '/crm/quotes', 'list_quotes', 1, False, ()),
    Entry('GET', '/crm/quotes/{quote_id}', 'get_quote', 1, False, ()),
    Entry('PATCH', '/crm/quotes/{quote_id}', 'update_quote', 1, False, ()),
    Entry('DELETE', '/crm/quotes/{quote_id}', 'delete_quote', 1, False, ()),
    Entry('POST', '/crm/orders', 'create_order', 1, False, ()),
    Entry('GET', '/crm/orders', 'list_orders', 1, False, ()),
    Entry('GET', '/crm/orders/{order_id}', 'get_order', 1, False, ()),
    Entry('PATCH', '/crm/orders/{order_id}', 'update_order', 1, False, ()),
    Entry('DELETE', '/crm/orders/{order_id}', 'delete_order', 1, False, ()),
    Entry('POST', '/crm/quotes/{quote_id}/send', 'send_quote', 1, False, ()),
    Entry('POST', '/crm/quotes/{quote_id}/reject', 'reject_quote', 1, False, ()),
    Entry('POST', '/crm/quotes/{quote_id}/revise', 'revise_quote', 1, False, ()),
    Entry('GET', '/crm/quotes/{quote_id}/revisions', 'quote_revisions', 1, False, ()),
    Entry('POST', '/crm/quotes/{quote_id}/accept', 'accept_quote', 1, False, ()),
    Entry('POST', '/crm/orders/{order_id}/confirm', 'confirm_order', 1, False, ()),
    Entry('POST', '/crm/orders/{order_id}/cancel', 'cancel_order', 1, False, ()),
    Entry('GET', '/crm/orders/{order_id}/handoff', 'order_handoff', 1, False, ()),
    Entry('POST', '/crm/leads', 'create_lead', 1, False, ()),
    Entry('GET', '/crm/leads', 'list_leads', 1, False, ()),
    Entry('GET', '/crm/leads/{lead_id}', 'get_lead', 1, False, ()),
    Entry('PATCH', '/crm/leads/{lead_id}', 'update_lead', 1, False, ()),
    Entry('DELETE', '/crm/leads/{lead_id}', 'delete_lead', 1, False, ()),
    Entry('POST', '/crm/leads/{lead_id}/claim', 'claim_lead', 1, False, ()),
    Entry('POST', '/crm/leads/{lead_id}/release', 'release_lead', 1, False, ()),
    Entry('POST', '/crm/leads/{lead_id}/assign', 'assign_lead', 1, False, ()),
    Entry('POST', '/crm/opportunities', 'create_opportunity', 1, False, ()),
    Entry('GET', '/crm/opportunities', 'list_opportunitys', 1, False, ()),
    Entry('GET', '/crm/opportunities/{opportunity_id}', 'get_opportunity', 1, False, ()),
    Entry('PATCH', '/crm/opportunities/{opportunity_id}', 'update_opportunity', 1, False, ()),
    Entry('DELETE', '/crm/opportunities/{opportunity_id}', 'delete_opportunity', 1, False, ()),
    Entry('POST', '/crm/leads/{lead_id}/convert', 'convert_lead', 1, False, ()),
    Entry('POST', '/crm/opportunities/{opportunity_id}/close', 'close_opportunity', 1, False, ()),
    Entry('GET', '/crm/pipeline', 'get_pipeline', 1, False, ()),
    Entry('PUT', '/crm/pipeline', 'put_pipeline', 1, False, ()),
    Entry('POST', '/import/{entity}', 'import_csv', 1, False, ('text/csv',)),
    Entry('GET', '/export/{entity}', 'export_csv', 1, False, ()),
    Entry('POST', '/import/{entity}/jobs', 'import_job', 1, False, ()),
    Entry('POST', '/export/{entity}/jobs', 'export_job', 1, False, ()),
    Entry('POST', '/crm/tickets', 'create_ticket', 1, False, ()),
    Entry('GET', '/crm/tickets', 'list_tickets', 1, False, ()),
    Entry('GET', '/crm/tickets/{ticket_id}', 'get_ticket', 1, False, ()),
    Entry('PATCH', '/crm/tickets/{ticket_id}', 'update_ticket', 1, False, ()),
    Entry('DELETE', '/crm/tickets/{ticket_id}', 'delete_ticket', 1, False, ()),
    Entry('GET', '/crm/sla', 'get_sla', 1, False, ()),
    Entry('PUT', '/crm/sla', 'put_sla', 1, False, ()),
    Entry('GET', '/crm/customers/{customer_id}/360', 'customer_360', 1, False, ()),
    Entry('GET', '/unsubscribe', 'unsubscribe', 1, True, ()),
    Entry('GET', '/crm/customers/{customer_id}/recommendations', 'customer_recommendations', 1, False, ()),
    Entry('POST', '/crm/customers/{customer_id}/merge', 'merge_customer', 1, False, ()),
    Entry('POST', '/erp/products', 'create_product', 2, False, ()),
    Entry('GET', '/erp/products', 'list_products', 2, False, ()),
    Entry('GET', '/erp/products/{product_id}', 'get_product', 2, False, ()),
    Entry('PATCH', '/erp/products/{product_id}', 'update_product', 2, False, ()),
    Entry('DELETE', '/erp/products/{product_id}', 'delete_product', 2, False, ()),
    Entry('POST', '/erp/suppliers', 'create_supplier', 2, False, ()),
    Entry('GET', '/erp/suppliers', 'list_suppliers', 2, False, ()),
    Entry('GET', '/erp/suppliers/{supplier_id}', 'get_supplier', 2, False, ()),
    Entry('PATCH', '/erp/suppliers/{supplier_id}', 'update_supplier', 2, False, ()),
    Entry('DELETE', '/erp/suppliers/{supplier_id}', 'delete_supplier', 2, False, ()),
    Entry('POST', '/erp/warehouses', 'create_warehouse', 2, False, ()),
    Entry('GET', '/erp/warehouses', 'list_warehouses', 2, False, ()),
    Entry('GET', '/erp/warehouses/{warehouse_id}', 'get_warehouse', 2, False, ()),
    Entry('PATCH', '/erp/warehouses/{warehouse_id}', 'update_warehouse', 2, False, ()),
    Entry('DELETE', '/erp/warehouses/{warehouse_id}', 'delete_warehouse', 2, False, ()),
    Entry('GET', '/erp/stock', 'list_stock', 2, False, ()),
    Entry('GET', '/erp/stock/movements', 'list_movements', 2, False, ()),
    Entry('POST', '/erp/stock/adjustments', 'adjust_stock', 2, False, ()),
    Entry('POST', '/erp/stock/transfers', 'transfer_stock', 2, False, ()),
    Entry('POST', '/erp/reservations', 'create_reservation', 2, False, ()),
    Entry('GET', '/erp/reservations', 'list_reservations', 2, False, ()),
    Entry('GET', '/erp/reservations/{reservation_id}', 'get_reservation', 2, False, ()),
    Entry('POST', '/erp/reservations/{reservation_id}/release', 'release_reservation', 2, False, ()),
    Entry('POST', '/erp/purchase-orders', 'create_purchase_order', 2, False, ()),
    Entry('GET', '/erp/purchase-orders', 'list_purchase_orders', 2, False, ()),
    Entry('GET', '/erp/purchase-orders/{purchase_order_id}', 'get_purchase_order', 2, False, ()),
    Entry('PATCH', '/erp/purchase-orders/{purchase_order_id}', 'update_purchase_order', 2, False, ()),
    Entry('DELETE', '/erp/purchase-orders/{purchase_order_id}', 'delete_purchase_order', 2, False, ()),
    Entry('POST', '/erp/purchase-orders/{purchase_order_id}/order', 'place_purchase_order', 2, False, ()),
    Entry('POST', '/erp/purchase-orders/{purchase_order_id}/cancel', 'cancel_purchase_order', 2, False, ()),
    Entry('POST', '/erp/purchase-orders/{purchase_order_id}/receive', 'receive_purchase_order', 2, False, ()),
    Entry('POST', '/erp/work-centres', 'create_work_centre', 2, False, ()),
    Entry('GET', '/erp/work-centres', 'list_work_centres', 2, False, ()),
    Entry('GET', '/erp/work-centres/{work_centre_id}', 'get_work_centre', 2, False, ()),
    Entry('PATCH', '/erp/work-centres/{work_centre_id}', 'update_work_centre', 2, False, ()),
    Entry('DELETE', '/erp/work-centres/{work_centre_id}', 'delete_work_centre', 2, False, ()),
    Entry('POST', '/erp/boms', 'create_bom', 2, False, ()),
    Entry('GET', '/erp/boms', 'list_boms', 2, False, ()),
    Entry('GET', '/erp/boms/{bom_id}', 'get_bom', 2, False, ()),
    Entry('PATCH', '/erp/boms/{bom_id}', 'update_bom', 2, False, ()),
    Entry('DELETE', '/erp/boms/{bom_id}', 'delete_bom', 2, False, ()),
    Entry('POST', '/erp/production-orders', 'create_production_order', 2, False, ()),
    Entry('GET', '/erp/production-orders', 'list_production_orders', 2, False, ()),
    Entry('GET', '/erp/production-orders/{production_order_id}', 'get_production_order', 2, False, ()),
    Entry('POST', '/erp/production-orders/{production_order_id}/release', 'release_production_order', 2, False, ()),
    Entry('POST', '/erp/production-orders/{production_order_id}/start', 'start_production_order', 2, False, ()),
    Entry('POST', '/erp/production-orders/{production_order_id}/complete', 'complete_production_order', 2, False, ()),
    Entry('POST', '/erp/production-orders/{production_order_id}/cancel', 'cancel_production_order', 2, False, ()),
    Entry('POST', '/erp/invoices', 'create_invoice', 2, False, ()),
    Entry('GET', '/erp/invoices', 'list_invoices', 2, False, ()),
    Entry('GET', '/erp/invoices/{invoice_id}', 'get_invoice', 2, False, ()),
    Entry('PATCH', '/erp/invoices/{invoice_id}', 'update_invoice', 2, False, ()),
    Entry('DELETE', '/erp/invoices/{invoice_id}', 'delete_invoice', 2, False, ()),
    Entry('POST', '/erp/invoices/{invoice_id}/issue', 'issue_invoice', 2, False, ()),
    Entry('POST', '/erp/invoices/{invoice_id}/void', 'void_invoice', 2, False, ()),
    Entry('POST', '/erp/invoices/{invoice_id}/credit-notes', 'credit_invoice', 2, False, ()),
    Entry('POST', '/erp/payments', 'create_payment', 2, False, ()),
    Entry('GET', '/erp/payments', 'list_payments', 2, False, ()),
    Entry('GET', '/erp/payments/{payment_id}', 'get_payment', 2, False, ()),
    Entry('GET', '/erp/receivables/aging', 'receivables_aging', 2, False, ()),
    Entry('GET', '/erp/receivables/customers/{customer_id}', 'customer_balance', 2, False, ()),
    Entry('POST', '/erp/shipments', 'create_shipment', 2, False, ()),
    Entry('GET', '/erp/shipments', 'list_shipments', 2, False, ()),
    Entry('GET', '/erp/shipments/{shipment_id}', 'get_shipment', 2, False, ()),
    Entry('GET', '/erp/replenishment', 'get_replenishment', 2, False, ()),
    Entry('POST', '/erp/replenishment', 'create_replenishment', 2, False, ()),
    Entry('GET', '/admin/dead-letters', 'list_dead_letters', 3, False, ()),
    Entry('POST', '/admin/dead-letters/redrive', 'redrive_dead_letters', 3, False, ()),
    Entry('POST', '/admin/reconciliation/run', 'run_reconciliation', 3, False, ()),
    Entry('GET', '/admin/reconciliation/reports/{report_id}', 'get_reconciliation', 3, False, ()),
    Entry('GET', '/jobs', 'list_jobs', 4, False, ()),
    Entry('GET', '/jobs/{job_id}', 'get_job', 4, False, ()),
    Entry('POST', '/jobs/{job_id}/start', 'start_job', 4, False, ()),
    Entry('GET', '/jobs/{job_id}/errors', 'job_errors', 4, False, ()),
    Entry('GET', '/admin/backups', 'list_backups', 4, False, ()),
    Entry('POST', '/admin/backups', 'take_backup', 4, False, ()),
    Entry('GET', '/admin/backups/{backup_id}', 'get_backup', 4, False, ()),
    Entry('GET', '/admin/backups/{backup_id}/download', 'download_backup', 4, False, ()),
    Entry('POST', '/admin/backups/{backup_id}/restore', 'restore_backup', 4, False, ()),
    Entry('DELETE', '/tenants/me', 'close_company', 4, False, ()),
    Entry('GET', '/billing/plan', 'get_plan', 5, False, ()),
    Entry('PUT', '/billing/plan', 'put_plan', 5, False, ()),
    Entry('GET', '/billing/usage', 'get_usage', 5, False, ()),
    Entry('GET', '/billing/invoices', 'list_billing_invoices', 5, False, ()),
    Entry('GET', '/billing/invoices/{month}', 'get_billing_invoice', 5, False, ()),
    Entry('GET', '/billing/invoices/{month}/document', 'billing_invoice_document', 5, False, ()),
    Entry('POST', '/operator/login', 'operator_login', 6, True, ()),
    Entry('GET', '/operator/usage', 'operator_usage', 6, False, ()),
    Entry('GET', '/analytics/dashboard', 'dashboard', 7, False, ()),
    Entry('GET', '/analytics/products/{product_id}', 'product_insight', 7, False, ()),
# -- end --
)
# fmt: on


def _write() -> None:
    path = pathlib.Path(__file__)
    text = path.read_text()
    head, rest = text.split("# -- table --\n", 1)
    _, tail = rest.split("# -- end --\n", 1)
    rows = "".join(
        f"    Entry({e.method!r}, {e.path!r}, {e.name!r}, {e.module_index}, {e.public}, {e.raw_types!r}),\n"
        for e in declared()
    )
    path.write_text(f"{head}# -- table --\n{rows}# -- end --\n{tail}")


if __name__ == "__main__":
    _write()

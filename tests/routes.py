"""The authenticated routes, each with a way to call it on prepared targets (isolation and matrix tests).

``tests/test_isolation.py`` checks that this table covers every route of the app, so a new route
cannot ship without its isolation and role tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.conftest import PASSWORD, Api, TenantCtx, a_customer, unique_email


@dataclass
class Targets:
    customer_id: str
    user_id: str
    role_name: str
    contact_id: str
    activity_id: str
    quote_id: str
    accept_quote_id: str
    order_id: str
    draft_order_id: str
    lead_id: str
    convert_lead_id: str
    opportunity_id: str
    ticket_id: str
    duplicate_id: str
    pool_customer_id: str
    pool_lead_id: str
    erp: dict[str, str]


def fresh_targets(api: Api, owner: TenantCtx) -> Targets:
    """Records of ``owner``'s tenant for one round of calls (some calls delete them)."""
    customer = a_customer(
        api, owner, name=f"Alpha Secret Co {unique_email()[5:13]}", code=f"SECRET-{unique_email()[5:13]}"
    )
    user = api.post(
        "/admin/users",
        owner.token,
        {"email": unique_email("target"), "roles": ["viewer"], "password": PASSWORD},
    )
    role_name = f"r{unique_email()[5:15]}"
    api.post("/admin/roles", owner.token, {"name": role_name, "permissions": ["crm.customers:read"]})
    contact = api.post(
        "/crm/contacts",
        owner.token,
        {
            "customer_id": customer["id"],
            "name": "Alpha Secret Person",
            "emails": [{"address": unique_email("secret")}],
        },
    )
    activity = api.post(
        "/crm/activities",
        owner.token,
        {"kind": "call", "customer_id": customer["id"], "subject": "Alpha secret call"},
    )
    erp = erp_targets(api, owner)
    priced = {
        "customer_id": customer["id"],
        "currency": "CNY",
        "lines": [{"product_code": erp["sku"], "quantity": "2", "unit_price": "99.50", "tax_rate": "13"}],
    }
    quote, accept_quote = (api.post("/crm/quotes", owner.token, priced).json for _ in range(2))
    order, draft_order = (api.post("/crm/orders", owner.token, priced).json for _ in range(2))
    lead_body = {
        "name": "Alpha Secret Lead",
        "company_name": f"Alpha Secret Prospect {unique_email()[5:13]}",
        "email": "lead@alpha.example",
    }
    lead, convert_lead = (api.post("/crm/leads", owner.token, lead_body).json for _ in range(2))
    deal = {"customer_id": customer["id"], "name": "Alpha secret deal", "amount": "5000", "currency": "CNY"}
    opportunity = api.post("/crm/opportunities", owner.token, deal).json
    ticket = api.post(
        "/crm/tickets", owner.token, {"customer_id": customer["id"], "subject": "Alpha secret complaint"}
    ).json
    return Targets(
        customer["id"],
        user.json["id"],
        role_name,
        contact.json["id"],
        activity.json["id"],
        quote["id"],
        accept_quote["id"],
        order["id"],
        draft_order["id"],
        lead["id"],
        convert_lead["id"],
        opportunity["id"],
        ticket["id"],
        a_customer(api, owner, name=f"Alpha Secret Duplicate {unique_email()[5:13]}")["id"],
        a_customer(api, owner, name=f"Alpha Secret Pool {unique_email()[5:13]}", owner_id=None)["id"],
        api.post(
            "/crm/leads", owner.token, {**lead_body, "email": unique_email("pool"), "owner_id": None}
        ).json["id"],
        erp,
    )


def erp_targets(api: Api, owner: TenantCtx) -> dict[str, str]:
    """A stocked product with a reservation, a spare product, a supplier, three warehouses."""
    tag = unique_email()[5:13]

    def made(path: str, body: dict[str, Any]) -> str:
        reply = api.post(path, owner.token, body)
        assert reply.status == 201, reply.body
        return reply.json["id"]

    spare_customer = made(
        "/crm/customers", {"name": f"Alpha Spare Co {tag}", "kind": "company"}
    )  # nothing open: deletable
    supplier = made("/erp/suppliers", {"code": f"SUP-{tag}", "name": "Alpha Secret Supplier"})
    rule = {"name": "Alpha Secret Rule", "trigger": "customer_created", "action": {"kind": "tag", "tag": "x"}}
    automation = made("/crm/automations", rule)
    product = made(
        "/erp/products", {"sku": f"SECRET-{tag}", "name": "Alpha Secret Tea", "default_supplier_id": supplier}
    )
    spare = made("/erp/products", {"sku": f"SPARE-{tag}", "name": "Alpha Secret Spare"})
    main = made("/erp/warehouses", {"code": f"W1-{tag}", "name": "Alpha Secret Store", "is_default": True})
    spare_warehouse = made("/erp/warehouses", {"code": f"W2-{tag}", "name": "Alpha Spare Store"})
    other = made("/erp/warehouses", {"code": f"W3-{tag}", "name": "Alpha Other Store"})
    adjust = {"product_id": product, "warehouse_id": main, "quantity": "10", "reason": "opening"}
    api.post("/erp/stock/adjustments", owner.token, adjust)
    reservation = made(
        "/erp/reservations", {"product_id": product, "warehouse_id": main, "quantity": "1", "reference": tag}
    )
    to_ship = made(
        "/erp/reservations",
        {"product_id": product, "warehouse_id": main, "quantity": "1", "reference": f"{tag}-s"},
    )
    shipment = made("/erp/shipments", {"lines": [{"reservation_id": to_ship, "quantity": "0.5"}]})
    lines = [{"product_id": product, "quantity": "5", "unit_cost": "2"}]
    po, draft_po, open_po = (
        made("/erp/purchase-orders", {"supplier_id": supplier, "lines": lines}) for _ in range(3)
    )
    api.post(f"/erp/purchase-orders/{open_po}/order", owner.token)
    line = {"name": "Alpha Secret Line", "daily_capacity": "50"}
    centre, spare_centre = (made("/erp/work-centres", {"code": f"WC{n}-{tag}", **line}) for n in range(2))
    made_product = made(
        "/erp/products", {"sku": f"MADE-{tag}", "name": "Alpha Secret Gift", "kind": "manufactured"}
    )
    bom = made(
        "/erp/boms",
        {
            "product_id": made_product,
            "work_centre_id": centre,
            "components": [{"product_id": product, "quantity": "1"}],
        },
    )
    planned = [
        made("/erp/production-orders", {"product_id": made_product, "quantity": "1", "warehouse_id": main})
        for _ in range(3)
    ]
    return {
        "automation_id": automation,
        "sku": f"SECRET-{tag}",
        "spare_customer_id": spare_customer,
        "product_id": product,
        "spare_product_id": spare,
        "supplier_id": supplier,
        "warehouse_id": main,
        "spare_warehouse_id": spare_warehouse,
        "other_warehouse_id": other,
        "reservation_id": reservation,
        "purchase_order_id": po,
        "draft_purchase_order_id": draft_po,
        "open_purchase_order_id": open_po,
        "work_centre_id": centre,
        "spare_work_centre_id": spare_centre,
        "made_product_id": made_product,
        "bom_id": bom,
        "production_order_id": planned[0],
        "complete_production_order_id": planned[1],
        "cancel_production_order_id": planned[2],
        "ship_reservation_id": to_ship,
        "shipment_id": shipment,
        **receivable_targets(api, owner, made),
        **job_targets(api, owner),
    }


def job_targets(api: Api, owner: TenantCtx) -> dict[str, str]:
    """A complete backup of the company, and its job (run here, step by step, as the worker would)."""
    from chalicelib.api import workers

    started = api.post("/admin/backups", owner.token).json
    job_id = started["job"]["id"]
    for _ in range(20):
        if workers.run_step(owner.id, job_id) != "advanced":
            break
    backup = api.get(f"/admin/backups/{started['backup']['id']}", owner.token).json
    assert backup["state"] == "complete", backup
    import urllib.request

    data = "名称,类型\n新客户,公司\n".encode("gbk")
    waiting = api.post("/import/customers/jobs", owner.token, {"bytes": len(data), "dry_run": True}).json
    put = urllib.request.Request(
        waiting["upload_url"], data=data, method="PUT", headers={"Content-Type": "text/csv"}
    )
    urllib.request.urlopen(put, timeout=30).close()
    from chalicelib.billing import account, meter

    month = meter.month_of(datetime.now(UTC))
    account.close_company(workers.STORE, owner.id, month)  # an invoice of the month so far
    return {
        "invoice_month": month,
        "backup_id": backup["id"],
        "backup_taken_at": backup["taken_at"],
        "job_id": job_id,
        "import_job_id": waiting["job"]["id"],
    }


def receivable_targets(
    api: Api, owner: TenantCtx, made: Callable[[str, dict[str, Any]], str]
) -> dict[str, str]:
    customer = a_customer(api, owner, name=f"Alpha Secret Debtor {unique_email()[5:13]}")["id"]
    body = {
        "customer_id": customer,
        "lines": [{"description": "Alpha secret goods", "quantity": "1", "unit_price": "100"}],
    }
    draft, issued, open_invoice, voidable, deletable = (made("/erp/invoices", body) for _ in range(5))
    for invoice in (issued, open_invoice):
        api.post(f"/erp/invoices/{invoice}/issue", owner.token, {})
    payment = made("/erp/payments", {"customer_id": customer, "amount": "10"})
    return {
        "debtor_id": customer,
        "invoice_id": draft,
        "draft_invoice_id": draft,
        "issued_invoice_id": issued,
        "open_invoice_id": open_invoice,
        "voidable_invoice_id": voidable,
        "deletable_invoice_id": deletable,
        "payment_id": payment,
        "report_id": api.post("/admin/reconciliation/run", owner.token, {"grace_seconds": 3600}).json["id"],
    }


@dataclass(frozen=True)
class Call:
    method: str
    route: str
    make: Callable[[Targets], tuple[str, Any]]
    headers: dict[str, str] | None = None


CALLS: list[Call] = [
    Call("GET", "/me", lambda t: ("/me", None)),
    Call("GET", "/admin/users", lambda t: ("/admin/users", None)),
    Call(
        "POST",
        "/admin/users",
        lambda t: ("/admin/users", {"email": unique_email("new"), "roles": ["viewer"], "password": PASSWORD}),
    ),
    Call("GET", "/admin/users/{user_id}", lambda t: (f"/admin/users/{t.user_id}", None)),
    Call(
        "PATCH",
        "/admin/users/{user_id}",
        lambda t: (f"/admin/users/{t.user_id}", {"roles": ["viewer", "sales"]}),
    ),
    Call("DELETE", "/admin/users/{user_id}", lambda t: (f"/admin/users/{t.user_id}", None)),
    Call("GET", "/admin/roles", lambda t: ("/admin/roles", None)),
    Call(
        "POST",
        "/admin/roles",
        lambda t: (
            "/admin/roles",
            {"name": f"n{unique_email()[5:15]}", "permissions": ["crm.customers:read"]},
        ),
    ),
    Call(
        "PUT",
        "/admin/roles/{name}",
        lambda t: (f"/admin/roles/{t.role_name}", {"permissions": ["crm.customers:read"]}),
    ),
    Call("DELETE", "/admin/roles/{name}", lambda t: (f"/admin/roles/{t.role_name}", None)),
    Call("GET", "/admin/audit", lambda t: ("/admin/audit", None)),
    Call("GET", "/crm/customers", lambda t: ("/crm/customers", None)),
    Call(
        "POST",
        "/crm/customers",
        lambda t: ("/crm/customers", {"name": f"New Co {unique_email()[5:13]}", "kind": "company"}),
    ),
    Call("GET", "/crm/customers/{customer_id}", lambda t: (f"/crm/customers/{t.customer_id}", None)),
    Call(
        "PATCH",
        "/crm/customers/{customer_id}",
        lambda t: (f"/crm/customers/{t.customer_id}", {"tags": ["x"]}),
    ),
    Call(
        "GET",
        "/crm/customers/{customer_id}/timeline",
        lambda t: (f"/crm/customers/{t.customer_id}/timeline", None),
    ),
    Call("GET", "/crm/customers/{customer_id}/360", lambda t: (f"/crm/customers/{t.customer_id}/360", None)),
    Call(
        "GET",
        "/crm/customers/{customer_id}/recommendations",
        lambda t: (f"/crm/customers/{t.customer_id}/recommendations", None),
    ),
    Call(
        "POST",
        "/crm/customers/{customer_id}/merge",
        lambda t: (f"/crm/customers/{t.customer_id}/merge", {"duplicate_id": t.duplicate_id}),
    ),
    Call(
        "POST",
        "/crm/customers/{customer_id}/claim",
        lambda t: (f"/crm/customers/{t.pool_customer_id}/claim", None),
    ),
    Call(
        "POST",
        "/crm/customers/{customer_id}/release",
        lambda t: (f"/crm/customers/{t.pool_customer_id}/release", None),
    ),
    Call(
        "POST",
        "/crm/customers/{customer_id}/assign",
        lambda t: (f"/crm/customers/{t.pool_customer_id}/assign", {"owner_id": t.user_id}),
    ),
    Call("GET", "/crm/contacts", lambda t: ("/crm/contacts", None)),
    Call(
        "POST",
        "/crm/contacts",
        lambda t: ("/crm/contacts", {"customer_id": t.customer_id, "name": "New Person"}),
    ),
    Call("GET", "/crm/contacts/{contact_id}", lambda t: (f"/crm/contacts/{t.contact_id}", None)),
    Call(
        "PATCH", "/crm/contacts/{contact_id}", lambda t: (f"/crm/contacts/{t.contact_id}", {"title": "CFO"})
    ),
    Call("DELETE", "/crm/contacts/{contact_id}", lambda t: (f"/crm/contacts/{t.contact_id}", None)),
    Call("GET", "/crm/activities", lambda t: ("/crm/activities", None)),
    Call(
        "POST",
        "/crm/activities",
        lambda t: ("/crm/activities", {"kind": "note", "customer_id": t.customer_id, "subject": "n"}),
    ),
    Call("GET", "/crm/activities/{activity_id}", lambda t: (f"/crm/activities/{t.activity_id}", None)),
    Call(
        "PATCH",
        "/crm/activities/{activity_id}",
        lambda t: (f"/crm/activities/{t.activity_id}", {"done": True}),
    ),
    Call("DELETE", "/crm/activities/{activity_id}", lambda t: (f"/crm/activities/{t.activity_id}", None)),
    Call("GET", "/crm/quotes", lambda t: ("/crm/quotes", None)),
    Call(
        "POST",
        "/crm/quotes",
        lambda t: (
            "/crm/quotes",
            {
                "customer_id": t.customer_id,
                "currency": "EUR",
                "lines": [{"product_code": "A", "quantity": 1, "unit_price": 10}],
            },
        ),
    ),
    Call("GET", "/crm/quotes/{quote_id}", lambda t: (f"/crm/quotes/{t.quote_id}", None)),
    Call("PATCH", "/crm/quotes/{quote_id}", lambda t: (f"/crm/quotes/{t.quote_id}", {"notes": "n"})),
    Call("POST", "/crm/quotes/{quote_id}/send", lambda t: (f"/crm/quotes/{t.quote_id}/send", None)),
    Call(
        "POST",
        "/crm/quotes/{quote_id}/reject",
        lambda t: (f"/crm/quotes/{t.quote_id}/reject", {"reason": "price"}),
    ),
    Call("POST", "/crm/quotes/{quote_id}/revise", lambda t: (f"/crm/quotes/{t.quote_id}/revise", None)),
    Call("GET", "/crm/quotes/{quote_id}/revisions", lambda t: (f"/crm/quotes/{t.quote_id}/revisions", None)),
    Call(
        "POST", "/crm/quotes/{quote_id}/accept", lambda t: (f"/crm/quotes/{t.accept_quote_id}/accept", None)
    ),
    Call("DELETE", "/crm/quotes/{quote_id}", lambda t: (f"/crm/quotes/{t.quote_id}", None)),
    Call("GET", "/crm/orders", lambda t: ("/crm/orders", None)),
    Call(
        "POST",
        "/crm/orders",
        lambda t: (
            "/crm/orders",
            {
                "customer_id": t.customer_id,
                "currency": "EUR",
                "lines": [{"product_code": "A", "quantity": 1, "unit_price": 10}],
            },
        ),
    ),
    Call("GET", "/crm/orders/{order_id}", lambda t: (f"/crm/orders/{t.order_id}", None)),
    Call("PATCH", "/crm/orders/{order_id}", lambda t: (f"/crm/orders/{t.order_id}", {"notes": "n"})),
    Call("GET", "/crm/orders/{order_id}/handoff", lambda t: (f"/crm/orders/{t.order_id}/handoff", None)),
    Call("POST", "/crm/orders/{order_id}/confirm", lambda t: (f"/crm/orders/{t.order_id}/confirm", None)),
    Call(
        "POST",
        "/crm/orders/{order_id}/cancel",
        lambda t: (f"/crm/orders/{t.order_id}/cancel", {"reason": "r"}),
    ),
    Call("DELETE", "/crm/orders/{order_id}", lambda t: (f"/crm/orders/{t.draft_order_id}", None)),
    Call("GET", "/crm/leads", lambda t: ("/crm/leads", None)),
    Call("POST", "/crm/leads", lambda t: ("/crm/leads", {"name": "New Lead", "source": "web"})),
    Call("GET", "/crm/leads/{lead_id}", lambda t: (f"/crm/leads/{t.lead_id}", None)),
    Call("PATCH", "/crm/leads/{lead_id}", lambda t: (f"/crm/leads/{t.lead_id}", {"status": "contacted"})),
    Call("POST", "/crm/leads/{lead_id}/convert", lambda t: (f"/crm/leads/{t.convert_lead_id}/convert", None)),
    Call("POST", "/crm/leads/{lead_id}/claim", lambda t: (f"/crm/leads/{t.pool_lead_id}/claim", None)),
    Call("POST", "/crm/leads/{lead_id}/release", lambda t: (f"/crm/leads/{t.pool_lead_id}/release", None)),
    Call(
        "POST",
        "/crm/leads/{lead_id}/assign",
        lambda t: (f"/crm/leads/{t.pool_lead_id}/assign", {"owner_id": t.user_id}),
    ),
    Call("DELETE", "/crm/leads/{lead_id}", lambda t: (f"/crm/leads/{t.lead_id}", None)),
    Call("GET", "/crm/opportunities", lambda t: ("/crm/opportunities", None)),
    Call(
        "POST",
        "/crm/opportunities",
        lambda t: ("/crm/opportunities", {"customer_id": t.customer_id, "name": "Deal", "currency": "EUR"}),
    ),
    Call(
        "GET",
        "/crm/opportunities/{opportunity_id}",
        lambda t: (f"/crm/opportunities/{t.opportunity_id}", None),
    ),
    Call(
        "PATCH",
        "/crm/opportunities/{opportunity_id}",
        lambda t: (f"/crm/opportunities/{t.opportunity_id}", {"stage": "proposal"}),
    ),
    Call(
        "POST",
        "/crm/opportunities/{opportunity_id}/close",
        lambda t: (f"/crm/opportunities/{t.opportunity_id}/close", {"outcome": "won"}),
    ),
    Call(
        "DELETE",
        "/crm/opportunities/{opportunity_id}",
        lambda t: (f"/crm/opportunities/{t.opportunity_id}", None),
    ),
    Call("GET", "/crm/pipeline", lambda t: ("/crm/pipeline", None)),
    Call(
        "PUT",
        "/crm/pipeline",
        lambda t: (
            "/crm/pipeline",
            {
                "stages": [
                    {"key": "first", "name": "First", "probability": 20},
                    {"key": "proposal", "name": "Proposal", "probability": 60},
                ]
            },
        ),
    ),
    Call("GET", "/erp/products", lambda t: ("/erp/products", None)),
    Call(
        "POST",
        "/erp/products",
        lambda t: ("/erp/products", {"sku": f"N-{unique_email()[5:13]}", "name": "New"}),
    ),
    Call("GET", "/erp/products/{product_id}", lambda t: (f"/erp/products/{t.erp['product_id']}", None)),
    Call(
        "PATCH",
        "/erp/products/{product_id}",
        lambda t: (f"/erp/products/{t.erp['product_id']}", {"list_price": "9.90"}),
    ),
    Call(
        "DELETE", "/erp/products/{product_id}", lambda t: (f"/erp/products/{t.erp['spare_product_id']}", None)
    ),
    Call(
        "GET",
        "/analytics/products/{product_id}",
        lambda t: (f"/analytics/products/{t.erp['product_id']}", None),
    ),
    Call("GET", "/crm/automations", lambda t: ("/crm/automations", None)),
    Call(
        "POST",
        "/crm/automations",
        lambda t: (
            "/crm/automations",
            {"name": "New", "trigger": "contact_created", "action": {"kind": "tag", "tag": "new"}},
        ),
    ),
    Call(
        "GET",
        "/crm/automations/{automation_id}",
        lambda t: (f"/crm/automations/{t.erp['automation_id']}", None),
    ),
    Call(
        "PATCH",
        "/crm/automations/{automation_id}",
        lambda t: (f"/crm/automations/{t.erp['automation_id']}", {"enabled": False}),
    ),
    Call(
        "DELETE",
        "/crm/automations/{automation_id}",
        lambda t: (f"/crm/automations/{t.erp['automation_id']}", None),
    ),
    Call("PATCH", "/tenants/me", lambda t: ("/tenants/me", {"time_zone": "Asia/Shanghai"})),
    Call("GET", "/erp/suppliers", lambda t: ("/erp/suppliers", None)),
    Call(
        "POST",
        "/erp/suppliers",
        lambda t: ("/erp/suppliers", {"code": f"S-{unique_email()[5:13]}", "name": "New"}),
    ),
    Call("GET", "/erp/suppliers/{supplier_id}", lambda t: (f"/erp/suppliers/{t.erp['supplier_id']}", None)),
    Call(
        "PATCH",
        "/erp/suppliers/{supplier_id}",
        lambda t: (f"/erp/suppliers/{t.erp['supplier_id']}", {"phone": "1"}),
    ),
    Call(
        "DELETE", "/erp/suppliers/{supplier_id}", lambda t: (f"/erp/suppliers/{t.erp['supplier_id']}", None)
    ),
    Call("GET", "/erp/warehouses", lambda t: ("/erp/warehouses", None)),
    Call(
        "POST",
        "/erp/warehouses",
        lambda t: ("/erp/warehouses", {"code": f"W-{unique_email()[5:13]}", "name": "New"}),
    ),
    Call(
        "GET", "/erp/warehouses/{warehouse_id}", lambda t: (f"/erp/warehouses/{t.erp['warehouse_id']}", None)
    ),
    Call(
        "PATCH",
        "/erp/warehouses/{warehouse_id}",
        lambda t: (f"/erp/warehouses/{t.erp['warehouse_id']}", {"address": "x"}),
    ),
    Call(
        "DELETE",
        "/erp/warehouses/{warehouse_id}",
        lambda t: (f"/erp/warehouses/{t.erp['spare_warehouse_id']}", None),
    ),
    Call("GET", "/erp/stock", lambda t: ("/erp/stock", None)),
    Call(
        "GET",
        "/erp/stock/movements",
        lambda t: (f"/erp/stock/movements?product_id={t.erp['product_id']}", None),
    ),
    Call(
        "POST",
        "/erp/stock/adjustments",
        lambda t: (
            "/erp/stock/adjustments",
            {
                "product_id": t.erp["product_id"],
                "warehouse_id": t.erp["warehouse_id"],
                "quantity": "1",
                "reason": "count",
            },
        ),
    ),
    Call(
        "POST",
        "/erp/stock/transfers",
        lambda t: (
            "/erp/stock/transfers",
            {
                "product_id": t.erp["product_id"],
                "from_warehouse_id": t.erp["warehouse_id"],
                "to_warehouse_id": t.erp["other_warehouse_id"],
                "quantity": "1",
            },
        ),
    ),
    Call(
        "POST",
        "/erp/reservations",
        lambda t: (
            "/erp/reservations",
            {"product_id": t.erp["product_id"], "quantity": "1", "reference": f"SO-{unique_email()[5:13]}:1"},
        ),
    ),
    Call("GET", "/erp/reservations", lambda t: ("/erp/reservations", None)),
    Call(
        "GET",
        "/erp/reservations/{reservation_id}",
        lambda t: (f"/erp/reservations/{t.erp['reservation_id']}", None),
    ),
    Call(
        "POST",
        "/erp/reservations/{reservation_id}/release",
        lambda t: (f"/erp/reservations/{t.erp['reservation_id']}/release", None),
    ),
    Call("GET", "/erp/purchase-orders", lambda t: ("/erp/purchase-orders", None)),
    Call(
        "POST",
        "/erp/purchase-orders",
        lambda t: (
            "/erp/purchase-orders",
            {
                "supplier_id": t.erp["supplier_id"],
                "lines": [{"product_id": t.erp["product_id"], "quantity": "1"}],
            },
        ),
    ),
    Call(
        "GET",
        "/erp/purchase-orders/{purchase_order_id}",
        lambda t: (f"/erp/purchase-orders/{t.erp['purchase_order_id']}", None),
    ),
    Call(
        "PATCH",
        "/erp/purchase-orders/{purchase_order_id}",
        lambda t: (f"/erp/purchase-orders/{t.erp['purchase_order_id']}", {"notes": "n"}),
    ),
    Call(
        "POST",
        "/erp/purchase-orders/{purchase_order_id}/order",
        lambda t: (f"/erp/purchase-orders/{t.erp['purchase_order_id']}/order", None),
    ),
    Call(
        "POST",
        "/erp/purchase-orders/{purchase_order_id}/cancel",
        lambda t: (f"/erp/purchase-orders/{t.erp['purchase_order_id']}/cancel", None),
    ),
    Call(
        "POST",
        "/erp/purchase-orders/{purchase_order_id}/receive",
        lambda t: (
            f"/erp/purchase-orders/{t.erp['open_purchase_order_id']}/receive",
            {"lines": [{"line": 1, "quantity": "1"}]},
        ),
    ),
    Call(
        "DELETE",
        "/erp/purchase-orders/{purchase_order_id}",
        lambda t: (f"/erp/purchase-orders/{t.erp['draft_purchase_order_id']}", None),
    ),
    Call("GET", "/erp/work-centres", lambda t: ("/erp/work-centres", None)),
    Call(
        "POST",
        "/erp/work-centres",
        lambda t: (
            "/erp/work-centres",
            {"code": f"C-{unique_email()[5:13]}", "name": "New", "daily_capacity": "5"},
        ),
    ),
    Call(
        "GET",
        "/erp/work-centres/{work_centre_id}",
        lambda t: (f"/erp/work-centres/{t.erp['work_centre_id']}", None),
    ),
    Call(
        "PATCH",
        "/erp/work-centres/{work_centre_id}",
        lambda t: (f"/erp/work-centres/{t.erp['work_centre_id']}", {"name": "X"}),
    ),
    Call(
        "DELETE",
        "/erp/work-centres/{work_centre_id}",
        lambda t: (f"/erp/work-centres/{t.erp['spare_work_centre_id']}", None),
    ),
    Call("GET", "/erp/boms", lambda t: ("/erp/boms", None)),
    Call(
        "POST",
        "/erp/boms",
        lambda t: (
            "/erp/boms",
            {
                "product_id": t.erp["spare_product_id"],
                "work_centre_id": t.erp["work_centre_id"],
                "components": [{"product_id": t.erp["product_id"], "quantity": "2"}],
            },
        ),
    ),
    Call("GET", "/erp/boms/{bom_id}", lambda t: (f"/erp/boms/{t.erp['bom_id']}", None)),
    Call(
        "PATCH",
        "/erp/boms/{bom_id}",
        lambda t: (
            f"/erp/boms/{t.erp['bom_id']}",
            {"components": [{"product_id": t.erp["product_id"], "quantity": "1"}]},
        ),
    ),
    Call("DELETE", "/erp/boms/{bom_id}", lambda t: (f"/erp/boms/{t.erp['bom_id']}", None)),
    Call("GET", "/erp/production-orders", lambda t: ("/erp/production-orders", None)),
    Call(
        "POST",
        "/erp/production-orders",
        lambda t: ("/erp/production-orders", {"product_id": t.erp["made_product_id"], "quantity": "1"}),
    ),
    Call(
        "GET",
        "/erp/production-orders/{production_order_id}",
        lambda t: (f"/erp/production-orders/{t.erp['production_order_id']}", None),
    ),
    Call(
        "POST",
        "/erp/production-orders/{production_order_id}/release",
        lambda t: (f"/erp/production-orders/{t.erp['production_order_id']}/release", None),
    ),
    Call(
        "POST",
        "/erp/production-orders/{production_order_id}/start",
        lambda t: (f"/erp/production-orders/{t.erp['production_order_id']}/start", None),
    ),
    Call(
        "POST",
        "/erp/production-orders/{production_order_id}/complete",
        lambda t: (f"/erp/production-orders/{t.erp['complete_production_order_id']}/complete", None),
    ),
    Call(
        "POST",
        "/erp/production-orders/{production_order_id}/cancel",
        lambda t: (f"/erp/production-orders/{t.erp['cancel_production_order_id']}/cancel", None),
    ),
    Call("GET", "/erp/invoices", lambda t: ("/erp/invoices", None)),
    Call(
        "POST",
        "/erp/invoices",
        lambda t: (
            "/erp/invoices",
            {"customer_id": t.erp["debtor_id"], "lines": [{"quantity": "1", "unit_price": "5"}]},
        ),
    ),
    Call(
        "GET", "/erp/invoices/{invoice_id}", lambda t: (f"/erp/invoices/{t.erp['issued_invoice_id']}", None)
    ),
    Call(
        "PATCH",
        "/erp/invoices/{invoice_id}",
        lambda t: (f"/erp/invoices/{t.erp['draft_invoice_id']}", {"notes": "n"}),
    ),
    Call(
        "POST",
        "/erp/invoices/{invoice_id}/issue",
        lambda t: (f"/erp/invoices/{t.erp['draft_invoice_id']}/issue", {}),
    ),
    Call(
        "POST",
        "/erp/invoices/{invoice_id}/void",
        lambda t: (f"/erp/invoices/{t.erp['voidable_invoice_id']}/void", None),
    ),
    Call(
        "POST",
        "/erp/invoices/{invoice_id}/credit-notes",
        lambda t: (f"/erp/invoices/{t.erp['open_invoice_id']}/credit-notes", {"amount": "1", "reason": "r"}),
    ),
    Call(
        "DELETE",
        "/erp/invoices/{invoice_id}",
        lambda t: (f"/erp/invoices/{t.erp['deletable_invoice_id']}", None),
    ),
    Call("GET", "/erp/payments", lambda t: ("/erp/payments", None)),
    Call(
        "POST",
        "/erp/payments",
        lambda t: (
            "/erp/payments",
            {
                "customer_id": t.erp["debtor_id"],
                "amount": "1",
                "allocations": [{"invoice_id": t.erp["open_invoice_id"], "amount": "1"}],
            },
        ),
    ),
    Call("GET", "/erp/payments/{payment_id}", lambda t: (f"/erp/payments/{t.erp['payment_id']}", None)),
    Call("GET", "/erp/receivables/aging", lambda t: ("/erp/receivables/aging", None)),
    Call(
        "GET",
        "/erp/receivables/customers/{customer_id}",
        lambda t: (f"/erp/receivables/customers/{t.erp['debtor_id']}", None),
    ),
    Call("GET", "/erp/shipments", lambda t: ("/erp/shipments", None)),
    Call(
        "POST",
        "/erp/shipments",
        lambda t: ("/erp/shipments", {"lines": [{"reservation_id": t.erp["ship_reservation_id"]}]}),
    ),
    Call("GET", "/erp/shipments/{shipment_id}", lambda t: (f"/erp/shipments/{t.erp['shipment_id']}", None)),
    Call("GET", "/erp/replenishment", lambda t: ("/erp/replenishment", None)),
    Call("POST", "/erp/replenishment", lambda t: ("/erp/replenishment", {})),
    Call("GET", "/admin/dead-letters", lambda t: ("/admin/dead-letters", None)),
    Call("POST", "/admin/dead-letters/redrive", lambda t: ("/admin/dead-letters/redrive", {})),
    Call(
        "POST", "/admin/reconciliation/run", lambda t: ("/admin/reconciliation/run", {"grace_seconds": 3600})
    ),
    Call(
        "GET",
        "/admin/reconciliation/reports/{report_id}",
        lambda t: (f"/admin/reconciliation/reports/{t.erp['report_id']}", None),
    ),
    Call(
        "POST",
        "/import/{entity}",
        lambda t: ("/import/customers?dry_run=true", "名称,类型\n新客户,公司\n".encode("gbk")),
        {"content-type": "text/csv"},
    ),
    Call("GET", "/export/{entity}", lambda t: ("/export/customers", None), {"accept": "text/csv"}),
    Call("GET", "/crm/tickets", lambda t: ("/crm/tickets", None)),
    Call(
        "POST",
        "/crm/tickets",
        lambda t: ("/crm/tickets", {"customer_id": t.customer_id, "subject": "Broken cup"}),
    ),
    Call("GET", "/crm/tickets/{ticket_id}", lambda t: (f"/crm/tickets/{t.ticket_id}", None)),
    Call(
        "PATCH",
        "/crm/tickets/{ticket_id}",
        lambda t: (f"/crm/tickets/{t.ticket_id}", {"status": "in_progress"}),
    ),
    Call("DELETE", "/crm/tickets/{ticket_id}", lambda t: (f"/crm/tickets/{t.ticket_id}", None)),
    Call("GET", "/crm/sla", lambda t: ("/crm/sla", None)),
    Call("PUT", "/crm/sla", lambda t: ("/crm/sla", {"hours": {"urgent": 2}})),
    Call("GET", "/jobs", lambda t: ("/jobs", None)),
    Call("GET", "/jobs/{job_id}", lambda t: (f"/jobs/{t.erp['job_id']}", None)),
    Call("POST", "/jobs/{job_id}/start", lambda t: (f"/jobs/{t.erp['import_job_id']}/start", None)),
    Call("GET", "/jobs/{job_id}/errors", lambda t: (f"/jobs/{t.erp['import_job_id']}/errors", None)),
    Call(
        "POST",
        "/import/{entity}/jobs",
        lambda t: ("/import/customers/jobs", {"bytes": 100, "dry_run": True}),
    ),
    Call("POST", "/export/{entity}/jobs", lambda t: ("/export/customers/jobs", None)),
    Call("GET", "/admin/backups", lambda t: ("/admin/backups", None)),
    Call("POST", "/admin/backups", lambda t: ("/admin/backups", None)),
    Call("GET", "/admin/backups/{backup_id}", lambda t: (f"/admin/backups/{t.erp['backup_id']}", None)),
    Call(
        "GET",
        "/admin/backups/{backup_id}/download",
        lambda t: (f"/admin/backups/{t.erp['backup_id']}/download", None),
    ),
    Call(
        "POST",
        "/admin/backups/{backup_id}/restore",
        lambda t: (
            f"/admin/backups/{t.erp['backup_id']}/restore",
            {"confirm_backup_id": t.erp["backup_id"], "confirm_taken_at": t.erp["backup_taken_at"]},
        ),
    ),
    Call("GET", "/billing/plan", lambda t: ("/billing/plan", None)),
    Call("PUT", "/billing/plan", lambda t: ("/billing/plan", {"plan": "enterprise"})),  # its plan already
    Call("GET", "/analytics/dashboard", lambda t: ("/analytics/dashboard?granularity=week", None)),
    Call("GET", "/billing/usage", lambda t: ("/billing/usage", None)),
    Call("GET", "/billing/invoices", lambda t: ("/billing/invoices", None)),
    Call("GET", "/billing/invoices/{month}", lambda t: (f"/billing/invoices/{t.erp['invoice_month']}", None)),
    Call(
        "GET",
        "/billing/invoices/{month}/document",
        lambda t: (f"/billing/invoices/{t.erp['invoice_month']}/document", None),
    ),
    # A dry run: it counts and changes nothing, so the company survives for the calls after it.
    Call("DELETE", "/tenants/me", lambda t: ("/tenants/me?dry_run=true", None)),
    # The customer is deleted last: the calls above need it.
    Call(
        "DELETE",
        "/crm/customers/{customer_id}",
        lambda t: (f"/crm/customers/{t.erp['spare_customer_id']}", None),
    ),
]

PUBLIC = {
    ("GET", "/unsubscribe"),  # its signed token names the company (tests/test_automations.py)
    ("POST", "/tenants"),
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("GET", "/health"),
    ("GET", "/openapi.json"),
}
# The platform's own routes: an operator's token, never a company's (tests/test_billing.py).
OPERATOR = {("POST", "/operator/login"), ("GET", "/operator/usage")}

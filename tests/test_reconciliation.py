"""Reconciliation: a lost confirmation is re-driven, a disagreeing invoice reported, a stray reservation released."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.core import keys
from chalicelib.core.store import Actor, Store
from chalicelib.erp.reservations import reserve
from chalicelib.handoff import outbox
from tests.conftest import a_customer
from tests.test_handoff import an_order, pump, settle, shop  # noqa: F401  (fixtures)
from tests.test_stock import level


def test_reconciliation_repairs_what_is_safe_and_reports_the_rest(api, tenant, shop, pump):
    store = Store()
    customer = a_customer(api, tenant)
    lost = an_order(api, tenant, customer["id"], [("TEA", 2)])
    api.post(f"/crm/orders/{lost['id']}/confirm", tenant.token)
    for item in outbox.pending(store, 500):  # the event is lost before it reaches the bus
        if item["order_id"] == lost["id"]:
            store.client.delete_item(TableName=store.table, Key={"pk": item["pk"], "sk": item["sk"]})
    settle(pump)
    assert (
        api.get(f"/crm/orders/{lost['id']}", tenant.token).json["status"] == "confirmed"
    )  # the ERP never heard of it

    priced = an_order(api, tenant, customer["id"], [("TEA", 1)])
    api.post(f"/crm/orders/{priced['id']}/confirm", tenant.token)
    settle(pump)
    invoice_id = api.get(f"/crm/orders/{priced['id']}", tenant.token).json["erp"]["invoice_id"]
    store.client.update_item(
        TableName=store.table,
        Key=keys.entity(tenant.id, "invoice", invoice_id),
        UpdateExpression="SET #t = :t",
        ExpressionAttributeNames={"#t": "total"},
        ExpressionAttributeValues={":t": "0.01"},
    )

    stray = an_order(api, tenant, customer["id"], [("TEA", 1)])
    api.post(f"/crm/orders/{stray['id']}/cancel", tenant.token, {})  # a draft: cancelled at once
    # The ERP reserved its line although the order was cancelled (no manual route may take that reference).
    reservation_id = outbox.derived_id("res", stray["id"], "1")
    reserve(
        store,
        Actor(tenant.id, "system:erp"),
        shop["tea"]["id"],
        None,
        Decimal(1),
        f"{stray['id']}:1",
        reservation_id,
    )

    report = api.post("/admin/reconciliation/run", tenant.token, {"grace_seconds": 0})
    assert report.status == 201, report.body
    found = {(f["order_id"], f["action"]) for f in report.json["findings"]}
    assert found == {(lost["id"], "redriven"), (priced["id"], "needs_person"), (stray["id"], "released")}
    assert (report.json["repaired"], report.json["needs_person"]) == (2, 1)
    again = api.get(f"/admin/reconciliation/reports/{report.json['id']}", tenant.token).json
    assert again["findings"] == report.json["findings"]

    settle(pump)
    assert api.get(f"/crm/orders/{lost['id']}", tenant.token).json["status"] == "reserved"
    assert (
        level(api, tenant, shop["tea"]["id"], shop["store"]["id"])["reserved"] == "3"
    )  # 2 + 1; the stray one released

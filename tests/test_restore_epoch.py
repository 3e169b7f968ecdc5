"""A company being restored: its writes wait (503), and no event of its world before the restore is
applied after it (the company's epoch)."""

from __future__ import annotations

import json
import uuid

import pytest

from chalicelib.api import handlers
from chalicelib.core.errors import ConflictError
from chalicelib.core.store import Store, utcnow
from chalicelib.tenants import published as company
from chalicelib.tenants.access import CACHE
from infra.pump import LambdaContext
from tests.conftest import a_customer, a_tenant
from tests.routes import CALLS, fresh_targets
from tests.test_handoff import an_order, pump, settle, shop  # noqa: F401  (fixtures)
from tests.test_handoff_faults import sqs_event
from tests.test_isolation import snapshot
from tests.test_stock import level


@pytest.fixture
def restoring(tenant):
    """``tenant`` with a restore running (this container's cached principals forgotten: the cache is
    per container); ended afterwards whatever the test did."""
    company.begin_restore(Store(), tenant.id)
    CACHE.clear()
    yield tenant
    company.end_restore(Store(), tenant.id)
    CACHE.clear()


def everything(api, tenant):
    """What a user could notice of the company: its records, settings and audit log."""
    return {**snapshot(api, tenant), "audit": api.get("/admin/audit?limit=100", tenant.token).json}


def assert_restoring(reply):
    assert reply.status == 503, reply.body
    assert reply.content_type == "application/problem+json"
    assert reply.headers["retry-after"] == "30"
    problem = reply.json
    assert (problem["type"], problem["status"]) == ("/problems/restoring", 503)
    assert "restore" in problem["detail"]


def test_a_company_being_restored_answers_every_change_503_and_changes_nothing(api, tenant):
    targets = fresh_targets(api, tenant)
    customer = f"/crm/customers/{targets.customer_id}"
    before = everything(api, tenant)
    company.begin_restore(Store(), tenant.id)
    CACHE.clear()
    try:
        changes = [c for c in CALLS if c.method not in ("GET", "HEAD", "OPTIONS")]
        assert {c.method for c in changes} == {"POST", "PATCH", "PUT", "DELETE"}
        for call in changes:
            path, body = call.make(targets)
            assert_restoring(api.call(call.method, path, tenant.token, body, headers=call.headers))
        kept = {"idempotency-key": "restore-1"}
        new = {"name": f"Kept Co {uuid.uuid4().hex[:8]}", "kind": "company"}
        assert_restoring(api.post("/crm/customers", tenant.token, new, headers=kept))
        assert api.get(customer, tenant.token).status == 200  # reads keep working
        assert everything(api, tenant) == before

        other = a_tenant(api, "Other Trading")  # another company is not affected
        made = a_customer(api, other)
        assert api.patch(f"/crm/customers/{made['id']}", other.token, {"tags": ["vip"]}).status == 200
    finally:
        company.end_restore(Store(), tenant.id)
        CACHE.clear()

    assert api.patch(customer, tenant.token, {"tags": ["after"]}).status == 200
    # The key of the refused request was never kept: it makes the customer now.
    again = api.post("/crm/customers", tenant.token, new, headers=kept)
    assert again.status == 201 and "idempotent-replayed" not in again.headers, again.body


def test_the_document_declares_503_with_retry_after_on_changes_and_syncs_only(api):
    paths = api.get("/openapi.json").json["paths"]
    created = paths["/crm/customers"]["post"]["responses"]["503"]
    assert "Retry-After" in created["headers"]
    assert "Retry-After" in paths["/crm/customers"]["get"]["responses"]["503"]["headers"]  # a sync waits
    assert "503" not in paths["/crm/customers/{customer_id}"]["get"]["responses"]
    assert "503" not in paths["/auth/login"]["post"]["responses"]  # public: no company to restore


def test_a_confirmation_in_flight_when_a_restore_begins_is_dropped_after_it(api, tenant, shop, pump):
    store = Store()
    customer = a_customer(api, tenant)
    old = an_order(api, tenant, customer["id"], [("TEA", 3)])
    assert api.post(f"/crm/orders/{old['id']}/confirm", tenant.token).status == 200
    assert handlers.run_relay()["published"] >= 1  # its OrderConfirmed waits in the ERP's queue
    assert company.begin_restore(store, tenant.id) == 1
    company.end_restore(store, tenant.id)
    CACHE.clear()
    settle(pump)

    assert level(api, tenant, shop["tea"]["id"], shop["store"]["id"])["reserved"] == "0"
    assert api.get(f"/erp/invoices?customer_id={customer['id']}", tenant.token).json["items"] == []
    seen = api.get(f"/crm/orders/{old['id']}", tenant.token).json
    assert (seen["status"], seen["erp"]["state"]) == ("confirmed", "waiting")
    (confirmed,) = api.get(f"/crm/orders/{old['id']}/handoff", tenant.token).json["events"]
    assert confirmed["handled"] == {} and confirmed["dropped"]["consumer"] == "erp"
    assert "epoch 0" in confirmed["dropped"]["reason"]

    new = an_order(api, tenant, customer["id"], [("TEA", 2)])
    assert api.post(f"/crm/orders/{new['id']}/confirm", tenant.token).status == 200
    settle(pump)
    seen = api.get(f"/crm/orders/{new['id']}", tenant.token).json
    assert seen["status"] == "reserved" and seen["erp"]["invoice_id"], seen
    assert level(api, tenant, shop["tea"]["id"], shop["store"]["id"])["reserved"] == "2"
    invoices = api.get(f"/erp/invoices?customer_id={customer['id']}", tenant.token).json["items"]
    assert [i["order_id"] for i in invoices] == [new["id"]]
    events = api.get(f"/crm/orders/{new['id']}/handoff", tenant.token).json["events"]
    assert all(e["dropped"] is None for e in events) and len(events) > 1


def test_an_erp_answer_of_an_earlier_epoch_is_dropped_by_the_crm(api, tenant, shop, pump, monkeypatch):
    store = Store()
    company.begin_restore(store, tenant.id)
    company.end_restore(store, tenant.id)
    CACHE.clear()
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], [("TEA", 1)])
    assert api.post(f"/crm/orders/{order['id']}/confirm", tenant.token).status == 200
    stale = {
        "source": "crmerp.erp",
        "detail-type": "OrderRejected",
        "detail": {
            "tenant_id": tenant.id,
            "event_id": f"evt_{uuid.uuid4().hex[:26].upper()}",
            "occurred_at": utcnow(),
            "schema_version": "1.1",
            "order_id": order["id"],
            "epoch": 0,
            "reason": "from the world before the restore",
        },
    }
    monkeypatch.setattr(handlers, "run_relay", lambda: {"published": 0, "failed": 0})
    answer = handlers.consume_batch("crm", sqs_event([("m1", stale, "")]), LambdaContext("crm_consumer"))
    assert answer["batchItemFailures"] == []  # acknowledged: neither retried nor dead-lettered
    seen = api.get(f"/crm/orders/{order['id']}", tenant.token).json
    assert (seen["status"], seen["erp"]["state"]) == ("confirmed", "waiting")
    monkeypatch.undo()
    settle(pump)  # the order's own handoff, of the current epoch, goes through
    assert api.get(f"/crm/orders/{order['id']}", tenant.token).json["status"] == "reserved"


def test_events_are_stamped_with_the_epoch_of_the_world_they_are_about(api, tenant, shop):
    from chalicelib.handoff import outbox

    store = Store()
    company.begin_restore(store, tenant.id)
    company.end_restore(store, tenant.id)
    CACHE.clear()
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], [("TEA", 1)])
    api.post(f"/crm/orders/{order['id']}/confirm", tenant.token)
    (item,) = [i for i in outbox.pending(store, 500) if i["order_id"] == order["id"]]
    detail = json.loads(item["detail"])
    assert (detail["epoch"], detail["schema_version"]) == (1, "1.2")


def test_a_second_restore_of_a_company_is_refused_while_one_runs(restoring):
    store = Store()
    with pytest.raises(ConflictError, match="already running"):
        company.begin_restore(store, restoring.id)
    assert company.restoring(store, restoring.id) and company.epoch(store, restoring.id) == 1
    company.end_restore(store, restoring.id)
    company.end_restore(store, restoring.id)  # ending twice is harmless
    assert not company.restoring(store, restoring.id)
    assert company.begin_restore(store, restoring.id) == 2


def test_after_a_restore_an_order_left_waiting_is_redriven_in_the_new_epoch_through_to_paid(
    api, tenant, shop, pump
):
    """What the restore brought back half handed over, reconciliation sends again, in the company's
    epoch now; the ERP's answers, shipment and payment events carry it too, so the order reaches paid."""
    store = Store()
    customer = a_customer(api, tenant)
    order = an_order(api, tenant, customer["id"], [("TEA", 2)])
    api.post(f"/crm/orders/{order['id']}/confirm", tenant.token)
    handlers.run_relay()
    company.begin_restore(store, tenant.id)
    company.end_restore(store, tenant.id)
    CACHE.clear()
    settle(pump)
    assert api.get(f"/crm/orders/{order['id']}", tenant.token).json["status"] == "confirmed"

    report = api.post("/admin/reconciliation/run", tenant.token, {"grace_seconds": 0}).json
    assert (order["id"], "redriven") in {(f["order_id"], f["action"]) for f in report["findings"]}
    settle(pump)
    seen = api.get(f"/crm/orders/{order['id']}", tenant.token).json
    assert seen["status"] == "reserved" and seen["erp"]["invoice_id"], seen
    lines = [{"reservation_id": r} for r in seen["erp"]["reservation_ids"]]
    assert api.post("/erp/shipments", tenant.token, {"lines": lines}).status == 201
    settle(pump)
    assert api.get(f"/crm/orders/{order['id']}", tenant.token).json["status"] == "invoiced"
    payment = {
        "customer_id": customer["id"],
        "amount": order["total"],
        "allocations": [{"invoice_id": seen["erp"]["invoice_id"], "amount": order["total"]}],
    }
    assert api.post("/erp/payments", tenant.token, payment).status == 201
    settle(pump)
    assert api.get(f"/crm/orders/{order['id']}", tenant.token).json["status"] == "paid"


def test_the_scheduled_reconciliation_skips_a_company_being_restored(api, restoring, monkeypatch):
    from chalicelib.crm import reconciliation

    runs: list[tuple[str, int]] = []
    monkeypatch.setattr(
        reconciliation, "run", lambda store, tenant_id, **kw: runs.append((tenant_id, kw["epoch"]))
    )
    other = a_tenant(api, "Other Trading")
    reconciliation.run_all(Store())
    assert (other.id, 0) in runs and restoring.id not in {t for t, _ in runs}
    company.end_restore(Store(), restoring.id)
    reconciliation.run_all(Store())
    assert (restoring.id, 1) in runs

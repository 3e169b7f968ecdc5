"""The CRM + ERP API: Chalice app wiring. Routes live in chalicelib/<context>/routes.py."""

from __future__ import annotations

import os

from chalice import Chalice

from chalicelib.api import web
from chalicelib.api.routes.crm import bp as crm_routes
from chalicelib.api.routes.erp import bp as erp_routes
from chalicelib.api.routes.handoff import bp as handoff_routes
from chalicelib.api.routes.tenants import bp as tenant_routes

app = Chalice(app_name="crmerp")
# CSV travels as bytes (base64 through API Gateway), so a GBK file arrives byte for byte.
app.api.binary_types.append("text/csv")
app.register_blueprint(web.core)
app.register_blueprint(tenant_routes)
app.register_blueprint(crm_routes)
app.register_blueprint(erp_routes)
app.register_blueprint(handoff_routes)
app.register_middleware(web.problem_middleware, "http")


@web.endpoint(
    app,
    "/health",
    "GET",
    permission=None,
    public=True,
    tag="meta",
    summary="Readiness",
    response=web.HealthOut,
)
def health(req: web.Request) -> web.HealthOut:
    """Ready when the table answers (one GetItem on a key no tenant can own)."""
    web.STORE.get({"pk": "P#HEALTH", "sk": "HEALTH"})
    return web.HealthOut(status="ok")


@web.endpoint(
    app,
    "/openapi.json",
    "GET",
    permission=None,
    public=True,
    tag="meta",
    summary="This API's OpenAPI 3.1 document",
)
def openapi_document(req: web.Request) -> dict:
    from chalicelib.api import openapi  # built on first request, not at cold start

    return openapi.document()


# ---- the order handoff: queue consumers and the outbox relay -------------------------------------
_STAGE = os.environ.get("STAGE", "local")


@app.on_sqs_message(queue=f"crmerp-{_STAGE}-erp", batch_size=10, name="erp_consumer")
def erp_consumer(event):  # type: ignore[no-untyped-def]
    from chalicelib.api import handlers

    return handlers.consume_batch("erp", event.to_dict(), event.context)


@app.on_sqs_message(queue=f"crmerp-{_STAGE}-crm", batch_size=10, name="crm_consumer")
def crm_consumer(event):  # type: ignore[no-untyped-def]
    from chalicelib.api import handlers

    return handlers.consume_batch("crm", event.to_dict(), event.context)


# Each dead-letter queue's messages are parked under their company's key (listing and redrive per
# company); what cannot be parked stays and moves on to the quarantine queue (docs/operations.md).
@app.on_sqs_message(queue=f"crmerp-{_STAGE}-erp-dlq", batch_size=10, name="erp_dead_letters")
def erp_dead_letters(event):  # type: ignore[no-untyped-def]
    from chalicelib.api import handlers

    return handlers.park_batch("erp", event.to_dict())


@app.on_sqs_message(queue=f"crmerp-{_STAGE}-crm-dlq", batch_size=10, name="crm_dead_letters")
def crm_dead_letters(event):  # type: ignore[no-untyped-def]
    from chalicelib.api import handlers

    return handlers.park_batch("crm", event.to_dict())


# The table's stream, known once the data stack exists: `TABLE_STREAM_ARN` when packaging (see
# docs/operations.md), the provisioned one locally. The deployment filters it to outbox inserts.
_TABLE_STREAM = (
    os.environ.get("TABLE_STREAM_ARN")
    or f"arn:aws:dynamodb:us-east-1:000000000000:table/crmerp-{_STAGE}/stream/-"
)


@app.on_dynamodb_record(
    stream_arn=_TABLE_STREAM, batch_size=100, maximum_batching_window_in_seconds=1, name="relay_on_write"
)
def relay_on_write(event):  # type: ignore[no-untyped-def]
    """A new outbox item on the table's stream relays it at once (no waiting for the sweep)."""
    from chalicelib.api import handlers

    return handlers.relay_on_stream(event.to_dict())


@app.schedule("rate(1 minute)", name="relay_outbox")
def relay_outbox(event):  # type: ignore[no-untyped-def]
    """Sweeps the outbox every minute: what a missed or failed stream trigger left behind."""
    from chalicelib.api import handlers

    return handlers.run_relay()


@app.schedule("rate(15 minutes)", name="reconcile_orders")
def reconcile_orders(event):  # type: ignore[no-untyped-def]
    """Every tenant's orders against the ERP's records (re-drive, release, report)."""
    from chalicelib.api.web import STORE
    from chalicelib.handoff import reconciliation

    return {"tenants": reconciliation.run_all(STORE)}

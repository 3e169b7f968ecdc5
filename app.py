"""The CRM + ERP API: Chalice app wiring. Routes live in chalicelib/api/routes/, listed in
chalicelib/api/route_table.py; queue, stream and schedule handlers in chalicelib/api/handlers.py."""

from __future__ import annotations

import gc
import os
from typing import Any

from chalice.app import Chalice, CloudWatchEvent, CORSConfig, DynamoDBEvent, SQSEvent

from chalicelib.api import auth, problems, route_table, web
from chalicelib.core import keys

app = Chalice(app_name="crmerp")
# CSV travels as bytes (base64 through API Gateway), so a GBK file arrives byte for byte.
app.api.binary_types.append("text/csv")
# The web client's origin (the stage's CorsOrigin): every route answers it, and the gateway answers
# its preflight (infra/package.py puts the parameter into the API's definition).
if os.environ.get("CORS_ORIGIN"):
    app.api.cors = CORSConfig(
        allow_origin=os.environ["CORS_ORIGIN"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match", "Accept"],
        expose_headers=["ETag", "Location", "X-Request-Id", "Retry-After", "Content-Disposition"],
        max_age=600,
    )
app.register_blueprint(auth.core)
# What is loaded so far lives as long as the container: moved out of the collector's sight, so the
# many small objects of the route table below do not set off full collections over all of it.
gc.freeze()
web.serve(app, route_table.TABLE)  # each route's module is imported on its first request
app.register_middleware(problems.problem_middleware, "http")


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
    web.STORE.get(keys.health())
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
def openapi_document(req: web.Request) -> dict[str, Any]:
    from chalicelib.api import openapi  # built on first request, not at cold start

    return openapi.document()


# ---- the order handoff: queue consumers and the outbox relay -------------------------------------
_STAGE = os.environ.get("STAGE", "local")


@app.on_sqs_message(queue=f"crmerp-{_STAGE}-erp", batch_size=10, name="erp_consumer")
def erp_consumer(event: SQSEvent) -> dict[str, Any]:
    from chalicelib.api import handlers

    return handlers.consume_batch("erp", event.to_dict(), event.context)


@app.on_sqs_message(queue=f"crmerp-{_STAGE}-crm", batch_size=10, name="crm_consumer")
def crm_consumer(event: SQSEvent) -> dict[str, Any]:
    from chalicelib.api import handlers

    return handlers.consume_batch("crm", event.to_dict(), event.context)


# Each dead-letter queue's messages are parked under their company's key (listing and redrive per
# company); what cannot be parked stays and moves on to the quarantine queue (docs/operations.md).
@app.on_sqs_message(queue=f"crmerp-{_STAGE}-erp-dlq", batch_size=10, name="erp_dead_letters")
def erp_dead_letters(event: SQSEvent) -> dict[str, Any]:
    from chalicelib.api import handlers

    return handlers.park_batch("erp", event.to_dict())


@app.on_sqs_message(queue=f"crmerp-{_STAGE}-crm-dlq", batch_size=10, name="crm_dead_letters")
def crm_dead_letters(event: SQSEvent) -> dict[str, Any]:
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
def relay_on_write(event: DynamoDBEvent) -> dict[str, Any]:
    """A new outbox item on the table's stream relays it at once (no waiting for the sweep)."""
    from chalicelib.api import handlers

    return handlers.relay_on_stream(event.to_dict())


@app.schedule("rate(1 minute)", name="relay_outbox")
def relay_outbox(event: CloudWatchEvent) -> dict[str, Any]:
    """Sweeps the outbox every minute: what a missed or failed stream trigger left behind."""
    from chalicelib.api import handlers

    return handlers.run_relay()


@app.schedule("rate(15 minutes)", name="reconcile_orders")
def reconcile_orders(event: CloudWatchEvent) -> dict[str, Any]:
    """Every tenant's orders against the ERP's records (re-drive, release, report)."""
    from chalicelib.api.web import STORE
    from chalicelib.crm import reconciliation

    return {"tenants": reconciliation.run_all(STORE)}


# ---- jobs: backups, restores, imports, exports -----------------------------------------------------
@app.on_sqs_message(queue=f"crmerp-{_STAGE}-jobs", batch_size=1, name="job_worker")
def job_worker(event: SQSEvent) -> dict[str, Any]:
    """One step of a job per message (docs/operations.md)."""
    from chalicelib.api import workers

    return workers.run_batch(event.to_dict(), event.context)


@app.schedule("cron(30 0 * * ? *)", name="close_month")
def close_month(event: CloudWatchEvent) -> dict[str, Any]:
    """At 00:30 UTC every day: the month before, if not closed yet, into one invoice per company
    (early on the 1st; a later day finishes a close that did not)."""
    from chalicelib.api.web import STORE
    from chalicelib.billing import account

    return account.scheduled_close(STORE)


@app.schedule("rate(1 hour)", name="daily_automations")
def daily_automations(event: CloudWatchEvent) -> dict[str, Any]:
    """Hourly: each company whose local day has reached 08:00 gets its birthday and no-order rules
    run, once a local day (chalicelib/crm/automations.py)."""
    from chalicelib.api.web import STORE
    from chalicelib.crm import automations

    return automations.daily(STORE)


@app.schedule("cron(0 2 * * ? *)", name="daily_backups")
def daily_backups(event: CloudWatchEvent) -> dict[str, Any]:
    """At 02:00 UTC: one backup job per company, each running alone."""
    from chalicelib.api import workers

    return workers.daily_backups(workers.STORE)

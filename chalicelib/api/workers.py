"""The job worker and the daily backups' fan-out: Lambda entry points of long work.

The worker takes one message per step of a job (Powertools batch processing: a step that raises
comes back alone, after the queue's visibility timeout). A step that has raised ``MAX_ATTEMPTS``
times ends its job failed instead of trying again, so a job never stays running for ever.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.billing import published as billing
from chalicelib.core import entities, keys, observability
from chalicelib.core.store import Store
from chalicelib.core.tabular import Overtaken
from chalicelib.jobs import jobs
from chalicelib.jobs.jobs import JobFailed, Step

STORE = Store()
Runner = Callable[[Store, dict[str, Any]], Step]


@functools.cache
def shapes() -> list[keys.TypeShape]:
    """Every record type of every context (what a backup walks), loaded for the walk."""
    import chalicelib.crm.types
    import chalicelib.erp.catalogue
    import chalicelib.erp.production
    import chalicelib.erp.purchasing
    import chalicelib.erp.receivables
    import chalicelib.erp.reservations
    import chalicelib.erp.shipments  # noqa: F401

    return [t.shape() for t in sorted(entities.TYPES.values(), key=lambda t: t.name)]


def _runner(kind: str) -> Runner:
    if kind == "backup":
        from chalicelib.backups import backups

        return lambda store, job: backups.backup_step(store, job, shapes())
    if kind == "restore":
        from chalicelib.backups import restore

        return lambda store, job: restore.restore_step(store, job, shapes())
    if kind in ("import", "export"):
        from chalicelib.jobs import transfer

        step = transfer.import_step if kind == "import" else transfer.export_step
        return lambda store, job: step(store, job, specs())
    if kind == "offboard":
        from chalicelib.backups import offboard

        return lambda store, job: offboard.offboard_step(store, job, shapes())
    raise JobFailed(f"no worker runs jobs of kind {kind!r}")


@functools.cache
def specs() -> dict[str, Any]:
    """What can be imported and exported (the CRM's and the ERP's CSV specs), by entity."""
    from chalicelib.crm import imports as crm_imports
    from chalicelib.erp import imports as erp_imports

    return {**crm_imports.SPECS, **erp_imports.SPECS}


def run_step(tenant_id: str, job_id: str, receive_count: int = 1) -> str:
    """One step of a job; what became of it (for the log and the tests)."""
    job = jobs.find(STORE, tenant_id, job_id, consistent=True)
    if job is None or job["state"] in jobs.TERMINAL:
        return "gone" if job is None else "ended"
    if receive_count > jobs.MAX_ATTEMPTS:
        jobs.fail(STORE, job, f"A step failed {jobs.MAX_ATTEMPTS} times; the error is in the worker's log.")
        return "failed"
    if job["kind"] != "offboard" and _closing(tenant_id):
        jobs.fail(STORE, job, "The company is being closed: its other jobs stop.")
        return "failed"
    started = time.monotonic()
    try:
        step = _runner(job["kind"])(STORE, job)
    except JobFailed as exc:
        jobs.fail(STORE, job, str(exc))
        return "failed"
    except Overtaken:
        return "overtaken"
    finally:
        if job["kind"] != "offboard":  # a company's own work; closing it is ours
            billing.job_worked(tenant_id, time.monotonic() - started)
        billing.save_due(force=True)  # a step is long: its seconds are saved at its end
    return "advanced" if jobs.advance(STORE, job, step) else "overtaken"


def _closing(tenant_id: str) -> bool:
    """Whether the company is being closed, or was (one consistent GetItem of its profile)."""
    from chalicelib.tenants import published as tenants

    state = tenants.company_state(STORE, tenant_id)
    return state.closing or state.gone


def record_handler(record: Any) -> str:
    body = json.loads(record.body)
    observability.bind(tenant_id=body["tenant_id"])
    count = int(record.attributes.approximate_receive_count or 1)
    return run_step(body["tenant_id"], body["job_id"], count)


def run_batch(raw_event: dict[str, Any], context: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS)
    answer: dict[str, Any] = process_partial_response(  # type: ignore[assignment]  # a TypedDict of it
        event=raw_event, record_handler=record_handler, processor=processor, context=context
    )
    return answer


def daily_backups(store: Store, day: date | None = None) -> dict[str, int]:
    """One backup job per open company of the registry for ``day`` (today, UTC; a company being
    closed, or closed, is skipped); each company's job runs alone, so a large company never holds up
    the others."""
    from chalicelib.backups import backups
    from chalicelib.handoff import reconciliation

    today = day or datetime.now(UTC).date()
    started = 0

    def one(store: Store, tenant_id: str) -> None:
        nonlocal started
        started += backups.scheduled(store, tenant_id, today)

    companies = reconciliation.for_each_tenant(store, one)
    return {"companies": companies, "started": started}

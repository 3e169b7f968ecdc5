"""Reconciliation's plumbing: a run's report (kept 90 days, read by ``GET /admin/reconciliation/
reports/{id}``) and the scheduled run over every company of the registry. What a run compares and
repairs is the CRM's (``crm.reconciliation``), asking the ERP through its published interface."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from chalicelib.core import ids, keys
from chalicelib.core.errors import NotFoundError
from chalicelib.core.store import Store, put, utcnow

GRACE_SECONDS = 300
SYSTEM_USER = "system:reconciliation"


def save(
    store: Store,
    tenant_id: str,
    started_at: str,
    started_by: str,
    grace_seconds: int,
    findings: list[dict[str, Any]],
) -> dict[str, Any]:
    """Write a run's report and answer it."""
    report_id = ids.new_id("rec")
    report: dict[str, Any] = {
        "id": report_id,
        "started_at": started_at,
        "finished_at": utcnow(),
        "started_by": started_by,
        "grace_seconds": grace_seconds,
        "findings": findings,
        "repaired": sum(1 for f in findings if f["action"] != "needs_person"),
        "needs_person": sum(1 for f in findings if f["action"] == "needs_person"),
    }
    store.transact(
        [
            put(
                {
                    **keys.reconciliation_report(tenant_id, report_id),
                    **report,
                    "expires_at": int(dt.datetime.now(dt.UTC).timestamp()) + 90 * 86400,
                }
            )
        ]
    )
    return report


def read(store: Store, tenant_id: str, report_id: str) -> dict[str, Any]:
    item = store.get(keys.reconciliation_report(tenant_id, report_id))
    if item is None:
        raise NotFoundError(f"There is no reconciliation report {report_id}.")
    return {k: v for k, v in item.items() if k not in ("pk", "sk", "expires_at")}


CLOSED_STATES = ("closing", "closed")  # a registry entry's ``state`` once its company's closing began


def for_each_tenant(store: Store, run: Callable[[Store, str], object]) -> int:
    """Run ``run`` for every open company of the registry (one being closed, or closed, is skipped:
    the platform keeps its entry, nothing else of it); how many there were."""
    tenants = [
        t
        for t in store.query_all(partition=keys.tenant_registry_pk(), index="gsi1")
        if t.get("state") not in CLOSED_STATES
    ]
    for tenant in tenants:
        run(store, tenant["tenant_id"])
    return len(tenants)

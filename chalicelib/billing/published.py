"""What billing promises the edge: the container's meter and limiter (one each per container),
admitting a request, counting events handled and job work, and saving what is due."""

from __future__ import annotations

import math

from chalicelib.billing import limits, meter
from chalicelib.core.store import Store

METER = meter.Meter(Store())
LIMITER = limits.Limiter(METER.store, METER)


def admit(tenant_id: str, plan_id: str, *, write: bool, capped: bool = True) -> None:
    """Let a request of the company in (429 over its rate, 402 past a capped plan's calls unless
    ``capped`` is False) and count it as a read or a write."""
    LIMITER.admit(tenant_id, plan_id, write, capped=capped)


def events_handled(tenant_id: str, n: int = 1) -> None:
    METER.count(tenant_id, "handoff_events", n)


def job_worked(tenant_id: str, seconds: float) -> None:
    """A job step's time, in whole seconds (started ones count)."""
    METER.count(tenant_id, "job_seconds", max(1, math.ceil(seconds)))


def save_due(*, force: bool = False) -> int:
    """Save the counts that are due (all with ``force``); never raises."""
    return METER.save_due(force=force)

"""A company's request rate and monthly cap, checked before a request does anything.

**Rate**: GCRA (the generic cell rate algorithm, a token bucket kept as one number): the company's
theoretical arrival time ``tat`` lives in one item (``keys.api_rate``); a request is let in if
``max(tat, now) + 1/rate`` stays within ``burst/rate`` of now, and pushes ``tat`` on. One conditional
UpdateItem decides it for every container of the company at once, so one company's limit holds
whatever the number of containers, and never touches another company's (its own item).

To spend fewer writes a container takes a *lease* of several requests at once when the company is
busy in it: as many as it served for the company in the last second, at most a quarter of the
burst. A lease is used within the second it was taken or dropped, so a lease can make a request
wait early, never let one in over the rate. An idle company costs one write per request (the
container remembers the ``tat`` it set: behind now, it starts from now at once), a busy one one per
lease (docs/architecture.md).

**Cap**: a capped plan's included API calls are a hard limit. The container knows the company's
saved usage of the month (read when it first serves the company and again after each of its saves)
plus what it counted since; past the included amount the request is refused, 402, naming the limit.
Containers that have not saved yet can let a few more through: at most ``meter.SAVE_EVERY`` per
container serving the company.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.billing import meter, repository, usage
from chalicelib.core import plans
from chalicelib.core.errors import PaymentRequiredError, RateLimitedError
from chalicelib.core.store import ConditionFailed, Store

LEASE_SECONDS = 1.0  # a lease not used within this is dropped


@dataclasses.dataclass
class _Lease:
    left: int = 0
    until: float = 0.0
    served: collections.deque[float] = dataclasses.field(default_factory=collections.deque)  # last second's
    taking: bool = False  # a lease is being taken by one of the container's threads


@dataclasses.dataclass
class _Known:
    month: str
    saved: int  # the company's API calls of the month in its saved shares
    seq: int  # this container's saves when it was read


class Limiter:
    def __init__(
        self,
        store: Store,
        counter: meter.Meter,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.meter = counter
        self.clock = clock
        self._leases: dict[str, _Lease] = {}
        self._known: dict[str, _Known] = {}
        self._tat: dict[str, int] = {}  # the least each company's ``tat`` was when this container last set it
        self._lock = threading.Lock()

    def admit(self, tenant_id: str, plan_id: str, write: bool, *, capped: bool = True) -> None:
        """Let one request of the company in and count it, or raise 429 (rate) or 402 (cap; not
        checked when ``capped`` is False)."""
        plan = _plan(plan_id)
        if plan.capped and capped:
            self._within_cap(tenant_id, plan)
        self._take(tenant_id, plan.rate)
        self.meter.count(tenant_id, "api_write" if write else "api_read")

    # ---- the rate ------------------------------------------------------------------------------
    def _take(self, tenant_id: str, rate: plans.Rate) -> None:
        now = time.monotonic()
        with self._lock:
            lease = self._leases.setdefault(tenant_id, _Lease())
            while lease.served and now - lease.served[0] >= 1.0:
                lease.served.popleft()
            if lease.left > 0 and now < lease.until:
                lease.left -= 1
                lease.served.append(now)
                return
            # One thread at a time takes a lease; the others meanwhile take one request each, so
            # threads arriving together do not each lease a batch and leave most of it unused.
            leasing = not lease.taking
            size = max(1, min(len(lease.served), rate.burst // 4)) if leasing else 1
            lease.taking = lease.taking or leasing
        try:
            granted = self._lease(tenant_id, rate, size)
        finally:
            if leasing:
                with self._lock:
                    lease.taking = False
        with self._lock:
            if leasing:
                lease.left, lease.until = granted - 1, time.monotonic() + LEASE_SECONDS
            lease.served.append(now)

    def _lease(self, tenant_id: str, rate: plans.Rate, size: int) -> int:
        """Take ``size`` requests (or one, if that is all there is) from the company's rate; raise
        429 with the seconds until one is free when none is."""
        interval = 1000.0 / rate.per_second

        def ceiling_of(now: int) -> int:
            return now + int(rate.burst * interval)

        wait_ms = 0
        for wanted in (size, 1) if size > 1 else (1,):
            inc = math.ceil(wanted * interval)
            # One reading of the clock for every try: an idle start that lost to another thread left
            # ``tat`` at or after this ``now``, so the next push from it is decided on the same terms
            # (a fresh clock could find ``tat`` behind again while the company is well under its rate).
            now = int(self.clock() * 1000)
            if self._tat.get(tenant_id, 0) < now:
                # Idle as far as this container knows (an idle company's every request): start from
                # now in one write; another container's push ahead meanwhile refuses it.
                try:
                    self.store.update(**repository.rate_idle(tenant_id, now, inc))
                    self._tat[tenant_id] = now + inc
                    return wanted
                except ConditionFailed as refused:
                    self._tat[tenant_id] = _number((refused.item or {}).get("tat")) or 0
            for _ in range(3):  # the item moved by another thread or container meanwhile: again
                try:
                    pushed = self.store.update(**repository.rate_ahead(tenant_id, now, inc, ceiling_of(now)))
                    self._tat[tenant_id] = _number(pushed.get("Attributes", {}).get("tat")) or now + inc
                    return wanted
                except ConditionFailed as failed:
                    tat = _number((failed.item or {}).get("tat"))
                    self._tat[tenant_id] = tat or 0
                if tat is not None and tat >= now:  # ahead of now and too far for this many
                    wait_ms = tat + inc - ceiling_of(now)
                    break
                try:  # idle (or never seen): start from now
                    self.store.update(**repository.rate_idle(tenant_id, now, inc))
                    self._tat[tenant_id] = now + inc
                    return wanted
                except ConditionFailed:
                    continue
        retry_after = max(1, math.ceil(wait_ms / 1000))
        raise RateLimitedError(
            f"The company is over its plan's request rate ({rate.per_second} a second, bursts of "
            f"{rate.burst}); try again in {retry_after} s.",
            retry_after=retry_after,
        )

    # ---- the cap -------------------------------------------------------------------------------
    def _within_cap(self, tenant_id: str, plan: plans.Plan) -> None:
        month = meter.month_of(datetime.now(UTC))
        seq = self.meter.saves(tenant_id, month)
        with self._lock:
            known = self._known.get(tenant_id)
        if known is None or known.month != month or known.seq != seq:
            saved = usage.api_calls_saved(self.store, tenant_id, month)
            known = _Known(month, saved, seq)
            with self._lock:
                self._known[tenant_id] = known
        used = known.saved + self.meter.unsaved(tenant_id, month)
        included = plan.included["api_calls"]
        if used >= included:
            raise PaymentRequiredError(
                f"The company has made the {included:,} API calls its {plan.name} plan includes this "
                "month; a paid plan goes on (PUT /billing/plan), or the count starts again on the 1st.",
                limit="api_calls",
                included=included,
                used=used,
                month=month,
            )


def _plan(plan_id: str) -> plans.Plan:
    try:
        return plans.get(plan_id)
    except KeyError:
        return plans.get("free")  # a plan no longer offered: its limits are the free plan's


def _number(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, dict):  # the wire form {"N": "..."}
        value = value.get("N")
    return int(Decimal(str(value)))

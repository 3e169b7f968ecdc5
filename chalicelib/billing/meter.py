"""Usage counted in the container, saved in batches: what a request, an event or a job step used.

Each container (one Lambda instance, or the local server's process) keeps, per company and month,
its own running totals of each meter. It saves them as one item per company, month and container
(``keys.usage_share``) holding *totals*, numbered: a save repeated or overtaken changes nothing
(``repository.share_saved``), so nothing is ever counted twice, and a company's usage of a month is
the sum of its shares (one Query).

A company's totals are saved once ``SAVE_EVERY`` counts are waiting or the oldest has waited
``SAVE_SECONDS``, checked at the end of each request, event batch or job step (Lambda runs nothing
between invocations). What a container that ends (is reclaimed, crashes) loses is what it had not
saved: fewer than ``SAVE_EVERY`` counts per company it served, and in practice only those of its last
``SAVE_SECONDS`` of work for that company. Losses err in the company's favour; docs/architecture.md
gives the cost and the bound.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from chalicelib.billing import repository
from chalicelib.core import aws, observability
from chalicelib.core.store import ConditionFailed, Store, utcnow

SAVE_EVERY = 25  # counts waiting (per company) that make the container save them
SAVE_SECONDS = 10.0  # the longest a count waits for its save once another request comes
COUNTED = ("api_read", "api_write", "handoff_events", "job_seconds")


def month_of(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m")


@dataclasses.dataclass
class _Share:
    totals: dict[str, int] = dataclasses.field(default_factory=dict)
    seq: int = 0  # saves made
    calls: int = 0  # counts made (a job step's seconds are one count)
    waiting: int = 0  # counts since the last save
    since: float = 0.0  # when the oldest of them was counted (monotonic)


class Meter:
    def __init__(
        self,
        store: Store,
        container: str | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.container = container or uuid.uuid4().hex[:16]
        self.clock = clock
        self._shares: dict[tuple[str, str], _Share] = {}
        self._lock = threading.Lock()

    def count(self, tenant_id: str, meter: str, n: int = 1) -> None:
        """Count ``n`` of ``meter`` for the company in the current month (nothing is written here)."""
        if meter not in COUNTED:
            raise ValueError(f"no meter {meter!r}")
        key = (tenant_id, month_of(self.clock()))
        with self._lock:
            share = self._shares.setdefault(key, _Share())
            share.totals[meter] = share.totals.get(meter, 0) + n
            if share.waiting == 0:
                share.since = time.monotonic()
            share.calls += 1
            share.waiting += 1

    def unsaved(self, tenant_id: str, month: str) -> int:
        """What this container counted for the company and month that no save holds yet (an upper
        bound on its unsaved API calls: the counts since the last save, whichever meter)."""
        with self._lock:
            share = self._shares.get((tenant_id, month))
            return share.waiting if share else 0

    def saves(self, tenant_id: str, month: str) -> int:
        """How many saves of the company's month this container made (its cap's reading is redone
        after each)."""
        with self._lock:
            share = self._shares.get((tenant_id, month))
            return share.seq if share else 0

    def save_due(self, *, force: bool = False) -> int:
        """Save every company's totals whose save is due (all waiting ones with ``force``); how many
        saves were written. A save that fails is left waiting for the next call (logged): a request
        never fails for its count."""
        now = time.monotonic()
        with self._lock:
            due = [
                (key, share.seq + 1, dict(share.totals), share.calls)
                for key, share in self._shares.items()
                if share.waiting
                and (force or share.waiting >= SAVE_EVERY or now - share.since >= SAVE_SECONDS)
            ]
        saved = 0
        for (tenant_id, month), seq, totals, calls in due:
            try:
                self._save(tenant_id, month, seq, totals)
            except Exception:
                observability.logger().exception("usage save failed; it is tried again at the next one")
                continue
            saved += 1
            with self._lock:
                share = self._shares[(tenant_id, month)]
                share.seq = max(share.seq, seq)
                share.waiting = share.calls - calls  # counted while saving: waits for the next save
                if share.waiting:
                    share.since = now
        return saved

    def _save(self, tenant_id: str, month: str, seq: int, totals: dict[str, int]) -> None:
        try:
            with aws.on_behalf_of(tenant_id):  # a request saves other companies' counts too
                self.store.update(
                    **repository.share_saved(tenant_id, month, self.container, seq, totals, utcnow())
                )
        except ConditionFailed:
            pass  # a save of this number or a later one is there already: nothing to add

    def discard(self) -> None:
        """Forget everything not saved, as a container that ends does, and go on as a new container
        (tests)."""
        with self._lock:
            self._shares.clear()
            self.container = uuid.uuid4().hex[:16]

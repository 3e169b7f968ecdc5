"""Which backups a company keeps: by default the newest of each of the last 7 days, of the last 4
ISO weeks and of the last 12 months that have one, by the calendar in UTC. A backup kept for any
of the three reasons is kept; the rest is pruned by the backup job that made the newest."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import date, datetime


@dataclasses.dataclass(frozen=True)
class Policy:
    daily: int = 7
    weekly: int = 4
    monthly: int = 12


DEFAULT = Policy()


def kept(backups: Iterable[tuple[str, datetime]], policy: Policy = DEFAULT) -> set[str]:
    """The ids to keep of ``(id, taken_at)`` pairs (taken_at in UTC)."""
    ordered = sorted(backups, key=lambda b: b[1], reverse=True)  # newest first
    keep: set[str] = set()

    def newest_per(period: Callable[[date], tuple[int, ...]], count: int) -> None:
        seen: list[tuple[int, ...]] = []
        for backup_id, taken in ordered:
            slot = period(taken.date())
            if slot in seen:
                continue
            if len(seen) == count:
                return
            seen.append(slot)
            keep.add(backup_id)

    newest_per(lambda d: (d.year, d.month, d.day), policy.daily)
    newest_per(lambda d: tuple(d.isocalendar())[:2], policy.weekly)
    newest_per(lambda d: (d.year, d.month), policy.monthly)
    return keep

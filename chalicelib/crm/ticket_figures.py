"""Open and overdue tickets, kept by the tickets' own writes (``store.Tally``) for the dashboard.

A ticket counts while it is open or in progress. Per company (the ``tickets`` family, 8 shards):
``total`` (``open``), and by due time: ``month#<YYYY-MM>`` (``open``: the month's) and
``day#<YYYY-MM-DD>`` (``open``: the day's, and ``at#<HHMMSS>``: those due at that second). Overdue
now = the open ones due before now: the months before this one, the days of this month before
today, today's seconds before now. Three Queries (the total, the months before this one, this
month's days to today), whatever the number of tickets.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.core import keys
from chalicelib.core.store import Store, Tally, sort_key_between, sort_key_prefix

FAMILY = "tickets"
ACTIVE = ("open", "in_progress")


def ticket_tallies(
    tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[Tally]:
    out: list[Tally] = []
    for ticket, sign in ((before, -1), (after, 1)):
        if ticket is None or ticket.get("status") not in ACTIVE or not ticket.get("due_at"):
            continue
        due = str(ticket["due_at"])  # 2026-12-03T10:15:00.000000Z
        second = due[11:13] + due[14:16] + due[17:19]
        out.append(Tally(tenant_id, FAMILY, "total", {"open": sign}))
        out.append(Tally(tenant_id, FAMILY, f"month#{due[:7]}", {"open": sign}))
        out.append(Tally(tenant_id, FAMILY, f"day#{due[:10]}", {"open": sign, f"at#{second}": sign}))
    return out


def figures(store: Store, tenant_id: str, now: datetime) -> dict[str, int]:
    """Open tickets and how many of them are overdue at ``now`` (UTC)."""
    partition = keys.aggregate_pk(tenant_id, FAMILY)
    total = sum(
        int(Decimal(i.get("open", 0)))
        for i in store.query_all(partition=partition, sort_condition=sort_key_prefix("total#"))
    )
    month, day, second = now.strftime("%Y-%m"), now.strftime("%Y-%m-%d"), now.strftime("%H%M%S")
    before = store.query_all(partition=partition, sort_condition=sort_key_between("month#", f"month#{month}"))
    overdue = sum(int(Decimal(i.get("open", 0))) for i in before)
    for item in store.query_all(
        partition=partition, sort_condition=sort_key_between(f"day#{month}-01", f"day#{day}#~")
    ):
        when = str(item["sk"]).split("#")[1]
        if when < day:
            overdue += int(Decimal(item.get("open", 0)))
        else:
            overdue += sum(int(Decimal(v)) for k, v in item.items() if k.startswith("at#") and k[3:] < second)
    return {"open": total, "overdue": overdue}

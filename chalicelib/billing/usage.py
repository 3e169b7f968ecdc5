"""A company's usage of a month: the meters its containers saved (``meter.py``), its seats and its
stored records (counters the writes keep), against its plan."""

from __future__ import annotations

from typing import Any

from chalicelib.billing import meter, repository
from chalicelib.core import keys
from chalicelib.core.store import Store


def counted(store: Store, tenant_id: str, month: str) -> dict[str, int]:
    """The month's counts of every meter: the sum of the company's shares (one Query, a page per
    few thousand containers that served it)."""
    totals = dict.fromkeys(meter.COUNTED, 0)
    for share in store.query_all(
        partition=keys.usage_pk(tenant_id), sort_condition=repository.month_shares(month)
    ):
        for name in meter.COUNTED:
            totals[name] += int(share.get(name, 0))
    return totals


def api_calls_saved(store: Store, tenant_id: str, month: str) -> int:
    totals = counted(store, tenant_id, month)
    return totals["api_read"] + totals["api_write"]


def stored_records(store: Store, tenant_id: str) -> int:
    """Records the company stores now: the sum of its counter shards (one Query)."""
    return sum(int(i.get("records", 0)) for i in store.query_all(partition=keys.record_count_pk(tenant_id)))


def seats(store: Store, tenant_id: str) -> int:
    """Enabled users now (the profile's count, kept by every change of a user)."""
    profile: dict[str, Any] = store.get(keys.tenant_profile(tenant_id), consistent=True) or {}
    return int(profile.get("seat_count", 0))

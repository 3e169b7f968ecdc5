"""Who may read which record: the one read rule that record routes, lists and gathering views
(the 360 view, the timeline, a probable duplicate's answer) all apply.

A permission is granted over every record (``crm.contacts:read``) or over the user's own records
only (``crm.contacts:read@own``). Granted over own records only, a record is readable when the
user owns it or nobody does (the shared pool); another user's record is as good as absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OWN = "@own"


def holds(grants: frozenset[str] | None, permission: str) -> bool:
    """Whether ``permission`` is granted at all, over every record or over own records only."""
    return grants is None or permission in grants or permission + OWN in grants


def may_read(grants: frozenset[str] | None, user_id: str, permission: str, item: Mapping[str, Any]) -> bool:
    """Whether ``item`` is readable under ``permission`` by a user holding ``grants`` (None: the
    platform itself, which reads everything)."""
    if grants is None or permission in grants:
        return True
    return permission + OWN in grants and item.get("owner_id") in (None, user_id)

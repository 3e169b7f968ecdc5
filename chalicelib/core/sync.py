"""Mobile sync: every change after the client's last answer, none missed (docs/architecture.md "Sync").

A list that offers ``updated_since`` also answers ``sync=true`` (from scratch) and ``sync_token``
(from where the last answer left off). The token is opaque and signed, bound to the company, the
user and the list, and carries the *boundary* of what the client holds: every change stamped at or
before it. The answer lists every change stamped after the previous boundary, live records and
tombstones from the type's change index (gsi1), oldest first, a page at a time; its token's new
boundary is the moment the sync began **less the settle window** (``SETTLE_SECONDS``).

Why the window: a writer stamps ``updated_at`` before its transaction commits, and the index shows
a committed write a moment later. A change that was not yet visible when the sync read the index
was stamped at most ``SETTLE_SECONDS`` before the read (the window bounds commit delay plus index
lag), so it is after the new boundary and the next sync lists it. The price: each sync lists again
the changes of the window before it (a client keeps a record's highest ``version``).

A user who reads only their own records (``p:read@own``) sees a record that leaves their scope
(reassigned, released to the pool, claimed from the pool by another) as a removal: each owner
change notes the record under its previous owner (``entities.scope_exit``), and the first page of a
sync lists the notes after the boundary whose record the user may no longer read. A record that
enters their scope changes, so it is listed as a change.

A token whose boundary is older than the tombstones' retention, or made before a restore of the
company (an earlier epoch), answers 410 (``/problems/sync-expired``): the client syncs from scratch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core import entities, keys, pagination
from chalicelib.core.config import settings
from chalicelib.core.errors import BadRequestError, SyncExpiredError
from chalicelib.core.schemas import iso
from chalicelib.core.store import Actor, Store, sort_key_between

SETTLE_SECONDS = 60  # a write commits and shows in the index within this of its stamp (docs/architecture.md)
RETENTION_DAYS = entities.TOMBSTONE_DAYS  # a deletion is listed this long after it
VERSION = 1


@dataclasses.dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    sync_token: str
    complete: bool  # False: the sync goes on (pass the token back at once)


def _now() -> datetime:
    return datetime.now(UTC)


def _invalid(detail: str) -> BadRequestError:
    return BadRequestError(
        detail,
        errors=[{"loc": ["query", "sync_token"], "msg": "invalid sync token", "type": "sync_token_invalid"}],
    )


def _binding(actor: Actor, list_id: str) -> str:
    return f"sync|{actor.user_id}|{list_id}"


def _token(actor: Actor, list_id: str, **payload: Any) -> str:
    return pagination.seal(
        settings().cursor_secret, actor.tenant_id, _binding(actor, list_id), {"v": VERSION, **payload}
    )


def page(
    store: Store,
    actor: Actor,
    et: entities.EntityType,
    list_id: str,
    token: str | None,
    limit: int,
    *,
    own_only: bool,
    present: Callable[[dict[str, Any]], dict[str, Any]] = entities.public,
) -> Page:
    """One page of a sync of ``et``'s records as ``actor`` may read them (``token`` None: from
    scratch). ``list_id`` names the list and its filters: a token serves that list alone."""
    now = _now()
    since, until, cursor = "", "", None
    if token is not None:
        held = pagination.unseal(settings().cursor_secret, actor.tenant_id, _binding(actor, list_id), token)
        if held is None or held.get("v") != VERSION:
            raise _invalid(
                "The sync token is not valid for this list: pass back the last answer's sync_token."
            )
        if int(held["epoch"]) < actor.epoch:
            raise SyncExpiredError(
                "The company was restored since this sync token was made: drop the copy and sync from scratch "
                "(sync=true).",
                reason="restored",
            )
        since, until, cursor = str(held["since"]), str(held["until"]), held.get("cursor")
        if since and since < iso(now - timedelta(days=RETENTION_DAYS)):
            raise SyncExpiredError(
                f"The sync token is older than {RETENTION_DAYS} days, how long deletions are kept: drop the "
                "copy and sync from scratch (sync=true).",
                reason="too_old",
            )
    if not until:  # a new sync: its boundary is now, less the settle window
        until = iso(now - timedelta(seconds=SETTLE_SECONDS))
    removed = _left_scope(store, actor, et, since) if own_only and since and cursor is None else []
    found = store.query_page(
        tenant_id=actor.tenant_id,
        partition=keys.updated_index_pk(actor.tenant_id, et.name),
        index="gsi1",
        sort_condition=_after(since),
        limit=limit,
        cursor=cursor,
        query_id=f"sync|{since}",
    )
    shown = [entities.public(i) if i.get("deleted") else present(i) for i in found.items]
    changed = entities.readable(actor, et, shown)
    gone = {r["id"] for r in removed}  # read consistently just now: what the index shows of them is older
    items = [*removed, *(i for i in changed if i["id"] not in gone)]
    if found.next_cursor:
        nxt = _token(actor, list_id, epoch=actor.epoch, since=since, until=until, cursor=found.next_cursor)
        return Page(items, nxt, complete=False)
    return Page(items, _token(actor, list_id, epoch=actor.epoch, since=until, until="", cursor=None), True)


def _after(since: str) -> Any:
    from boto3.dynamodb.conditions import Key

    return Key("gsi1sk").gt(keys.updated_after(since)) if since else Key("gsi1sk").gt(" ")


def _left_scope(store: Store, actor: Actor, et: entities.EntityType, since: str) -> list[dict[str, Any]]:
    """Removals for the records that left the user's scope (their own, or the pool's) after
    ``since`` and that the user may not read now (one back in their scope is listed as a change)."""
    notes: dict[str, str] = {}
    for owner in (actor.user_id, None):
        low, high = keys.scope_left_after(owner, since)
        for note in store.query_all(
            partition=keys.scope_left_pk(actor.tenant_id, et.name), sort_condition=sort_key_between(low, high)
        ):
            notes[note["id"]] = max(notes.get(note["id"], ""), note["at"])
    if not notes:
        return []
    ids = list(notes)
    now = {
        i["id"]: i
        for start in range(0, len(ids), 100)
        for i in entities.get_many(store, actor.tenant_id, et, ids[start : start + 100], consistent=True)
    }
    return [
        {"id": record_id, "deleted": True, "updated_at": at}
        for record_id, at in sorted(notes.items(), key=lambda n: n[1])
        if record_id not in now or not actor.may_read(et.read_permission, now[record_id])
    ]

"""Mobile sync: every change after the client's last answer, none missed (docs/architecture.md "Sync").

A list that offers ``updated_since`` also answers ``sync=true`` (from scratch) and ``sync_token``
(from where the last answer left off). The token is signed, bound to the company, the user and
the list, and carries the *boundary* of what the client holds: every change stamped at or before
it. The answer lists every change stamped after the previous boundary and up to the moment the
sync began, live records and tombstones from the type's change index (gsi1), oldest first, a page
at a time; its token's new boundary is the moment the sync began **less the settle window**
(``SETTLE_SECONDS``). A record changed while the client pages moves past the sync's start, to the
next sync: a sync ends however busy the list.

Why the window: a writer stamps ``updated_at`` before its transaction commits, and the index shows
a committed write a moment later. A change that was not yet visible when the sync read the index
was stamped at most ``SETTLE_SECONDS`` before the read (the window bounds commit delay plus index
lag), so it is after the new boundary and the next sync lists it. The price: each sync lists again
the changes of the window before it (a client keeps a record's highest ``version``).

A user who reads only their own records (``p:read@own``) sees a record that leaves their scope
(reassigned, released to the pool, claimed from the pool by another) as a removal: each owner
change notes the record under its previous owner (``entities.scope_exit``), and a sync first pages
through the user's and the pool's notes after the boundary, listing as deleted each record the
user may no longer read. A record that enters their scope changes, so it is listed as a change.

A token whose boundary is older than the tombstones' retention, made before a restore of the
company (an earlier epoch), for a user whose roles changed what they may read (all records, or
their own), or by an earlier version of this code answers 410 (``/problems/sync-expired``): the
client syncs from scratch. While a restore runs, a sync waits (503, api/crud.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core import aws, entities, keys, pagination
from chalicelib.core.config import settings
from chalicelib.core.errors import BadRequestError, SyncExpiredError
from chalicelib.core.schemas import iso
from chalicelib.core.store import STAMP_SECONDS, Actor, Store, sort_key_between

# A write's transaction is sent within STAMP_SECONDS of its stamp (Store.transact refuses one older,
# at each try) and is answered within aws.WORST_CALL_SECONDS: 47 s. The rest, 13 s, is for the
# change index's lag (docs/architecture.md "Sync").
SETTLE_SECONDS = 60
INDEX_LAG_SECONDS = SETTLE_SECONDS - STAMP_SECONDS - aws.WORST_CALL_SECONDS
RETENTION_DAYS = entities.TOMBSTONE_DAYS - 1  # a deletion is listed 90 days after it: a day's margin
VERSION = 2  # 2: a sync reads the changes up to its start (``upto``)


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
    since, until, upto, cursor = "", "", "", None
    held: dict[str, Any] = {}
    if token is not None:
        unsealed = pagination.unseal(
            settings().cursor_secret, actor.tenant_id, _binding(actor, list_id), token
        )
        if unsealed is None:
            raise _invalid(
                "The sync token is not valid for this list: pass back the last answer's sync_token "
                "(or, if it was, drop the copy and sync from scratch: the server's key changed)."
            )
        if unsealed.get("v") != VERSION:
            raise SyncExpiredError(
                "The sync token was made by an earlier version of the server: drop the copy and sync from "
                "scratch (sync=true).",
                reason="format",
            )
        held = unsealed
        if int(held["epoch"]) < actor.epoch:
            raise SyncExpiredError(
                "The company was restored since this sync token was made: drop the copy and sync from scratch "
                "(sync=true).",
                reason="restored",
            )
        if bool(held.get("own")) != own_only:
            raise SyncExpiredError(
                "The user's roles changed since this sync token was made (what they may read is not the "
                "same): drop the copy and sync from scratch (sync=true).",
                reason="scope_changed",
            )
        since, until, upto = str(held["since"]), str(held["until"]), str(held["upto"])
        cursor = held.get("cursor")
        if since and since < iso(now - timedelta(days=RETENTION_DAYS)):
            raise SyncExpiredError(
                f"The sync token is older than {RETENTION_DAYS} days, how long deletions are kept: drop the "
                "copy and sync from scratch (sync=true).",
                reason="too_old",
            )
    if not until:  # a new sync: it reads up to now; its boundary is now, less the settle window
        upto, until = max(iso(now), since), iso(now - timedelta(seconds=SETTLE_SECONDS))
    phase = str(held.get("phase") or "") if token is not None else ""
    if not phase:
        phase = "mine" if own_only and since else "changes"

    def token_on(phase: str, cursor: str | None) -> str:
        return _token(
            actor,
            list_id,
            epoch=actor.epoch,
            own=own_only,
            since=since,
            until=until,
            upto=upto,
            phase=phase,
            cursor=cursor,
        )

    removed: list[dict[str, Any]] = []
    while phase in ("mine", "pool"):  # first the records that left the user's scope
        left, cursor = _left_scope(store, actor, et, since, upto, phase, cursor, limit - len(removed))
        removed += left
        if cursor is not None:  # more notes of this phase: the next page goes on with them
            return Page(removed, token_on(phase, cursor), complete=False)
        phase = "pool" if phase == "mine" else "changes"
        if len(removed) >= limit:
            return Page(removed, token_on(phase, None), complete=False)
    # The page goes on with the changes (a quiet sync is one request).
    found = store.query_page(
        tenant_id=actor.tenant_id,
        partition=keys.updated_index_pk(actor.tenant_id, et.name),
        index="gsi1",
        sort_condition=_between(since, upto),
        limit=limit - len(removed),
        cursor=cursor,
        query_id=f"sync|{since}|{upto}",
    )
    # From scratch the client holds nothing: deletions are news only to a copy.
    shown = [
        entities.public(i) if i.get("deleted") else present(i)
        for i in found.items
        if since or not i.get("deleted")
    ]
    items = removed + (entities.readable(actor, et, shown) if et.owned else shown)
    if found.next_cursor:
        return Page(items, token_on("changes", found.next_cursor), complete=False)
    done = _token(
        actor, list_id, epoch=actor.epoch, own=own_only, since=until, until="", upto="", phase="", cursor=None
    )
    return Page(items, done, complete=True)


def _between(since: str, upto: str) -> Any:
    """The changes stamped after ``since`` (from the first if empty) and at or before ``upto``: a
    record changed while the client pages moves past ``upto``, to the next sync, so a sync ends
    however busy the list."""
    from boto3.dynamodb.conditions import Key

    return Key("gsi1sk").between(keys.updated_after(since) if since else " ", keys.updated_after(upto))


def _left_scope(
    store: Store,
    actor: Actor,
    et: entities.EntityType,
    since: str,
    upto: str,
    phase: str,
    cursor: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of removals: the records that left the user's own scope (``phase`` "mine") or the
    pool's ("pool") after ``since`` and that the user may not read now (one back in their scope is
    listed as a change); and the cursor to the next page of that phase's notes."""
    low, high = keys.scope_left_between(actor.user_id if phase == "mine" else None, since, upto)
    found = store.query_page(
        tenant_id=actor.tenant_id,
        partition=keys.scope_left_pk(actor.tenant_id, et.name),
        sort_condition=sort_key_between(low, high),
        limit=limit,
        cursor=cursor,
        query_id=f"left|{phase}|{since}|{upto}",
    )
    notes: dict[str, str] = {}
    for note in found.items:
        notes[note["id"]] = max(notes.get(note["id"], ""), note["at"])
    now = {i["id"]: i for i in entities.get_many(store, actor.tenant_id, et, list(notes), consistent=True)}
    removed = [
        {"id": record_id, "deleted": True, "updated_at": at}
        for record_id, at in sorted(notes.items(), key=lambda n: n[1])
        if record_id not in now or not actor.may_read(et.read_permission, now[record_id])
    ]
    return removed, found.next_cursor

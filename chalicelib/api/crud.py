"""The five routes of a record type (create, list, read, change, delete), declared once.

Each record type gives its models and its service module; the routes stay a thin layer over it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol, cast

from pydantic import BaseModel

from chalicelib.api.web import STORE, Request, Result, endpoint
from chalicelib.core import entities, sync
from chalicelib.core.entities import POOL, Change, EntityType
from chalicelib.core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    RestoringError,
)
from chalicelib.core.store import Actor, Page, Store


class Service(Protocol):
    def create(self, store: Store, actor: Actor, data: Any) -> dict[str, Any]: ...

    def list_page(self, store: Store, tenant_id: str, query: Any) -> Page: ...


class Editable(Service, Protocol):
    """A service whose records also change and go through PATCH and DELETE (most of them)."""

    def update(
        self, store: Store, actor: Actor, entity_id: str, patch: Any, if_match: int | None
    ) -> dict[str, Any]: ...

    def remove(self, store: Store, actor: Actor, entity_id: str, if_match: int | None) -> None: ...


@dataclasses.dataclass(frozen=True)
class Resource:
    et: EntityType
    path: str
    id_param: str
    permissions: str  # "crm.contacts": the routes need ":read", ":create", ":update", ":delete"
    tag: str
    create_model: type[BaseModel]
    patch_model: type[BaseModel]
    out_model: type[BaseModel]
    page_model: type[BaseModel]
    query_model: type[BaseModel]
    deleted_model: type[BaseModel]
    # The record type's module (or a PlainRecords, for a type with no rules of its own): create,
    # list_page, and update and remove if routed (and present, if it shows records its own way).
    service: Service
    create_query: type[BaseModel] | None = None  # options of a create (allow a probable duplicate)
    assign_model: type[BaseModel] | None = None  # a shared pool: claim, release and assign routes
    routes: tuple[str, ...] = ("create", "list", "read", "update", "delete")  # which of the five to declare

    @property
    def label(self) -> str:
        return self.et.label()


def _named(name: str, view: Any) -> Any:
    view.__name__ = view.__qualname__ = name
    return view


def _sync(r: Resource, req: Request) -> sync.Page:
    """A page of a sync of the list (``core/sync.py``): alone, with ``limit`` only."""
    q = req.query
    others = sorted(set(q.model_fields_set) - {"limit", "sync", "sync_token"})
    if q.sync and q.sync_token is not None:
        others = ["sync_token"]
    if others:
        raise BadRequestError(
            f"A sync takes no other filter: {others[0]} cannot be combined with sync or sync_token.",
            errors=[{"loc": ["query", others[0]], "msg": "not with sync", "type": "conflict"}],
        )
    if q.sync is False:
        raise BadRequestError(
            "sync=true begins a sync; leave it out otherwise.",
            errors=[{"loc": ["query", "sync"], "msg": "only true", "type": "value_error"}],
        )
    if req.me.restoring:  # the table is being replaced: a copy made now would miss what comes back
        raise RestoringError(
            "A restore of the company is running: sync when it is done (its first sync answers 410, "
            "then sync from scratch)."
        )
    own_only = r.et.owned and req.me.own_only(f"{r.permissions}:read")
    actor = req.me.actor()
    present = getattr(r.service, "present", entities.public)  # as the record's own route shows it
    return sync.page(STORE, actor, r.et, r.path, q.sync_token, q.limit, own_only=own_only, present=present)


def _list_visible(r: Resource, req: Request) -> Page:
    """The list, by owner when asked (``me``, ``none`` for the pool, a user id); a user who may
    read only their own records gets their own, and the pool's when they search."""
    q, me, read = req.query, req.me.user_id, f"{r.permissions}:read"
    owner = getattr(q, "owner", None)
    owner = me if owner == "me" else owner
    scoped = r.et.owned and req.me.own_only(read)
    if scoped and owner not in (None, me, POOL):
        raise PermissionDeniedError(
            f"You may list only your own {r.label}s and the pool: {read} is granted to you over your own records.",
            permission=read,
        )
    others = sorted(set(q.model_fields_set) - {"limit", "cursor", "owner"})
    if owner is not None and others:
        raise BadRequestError(
            f"owner cannot be combined with {others[0]}.",
            errors=[{"loc": ["query", others[0]], "msg": "not with owner", "type": "conflict"}],
        )
    if owner is not None or (scoped and not others):
        return entities.lookup(
            STORE,
            req.me.tenant_id,
            r.et,
            "owner",
            owner or me,
            limit=q.limit,
            cursor=q.cursor,
            newest_first=True,
        )
    page = r.service.list_page(STORE, req.me.tenant_id, q)
    if scoped:
        return Page(entities.readable(req.me.actor(), r.et, page.items), page.next_cursor)
    return page


def _change_owner(r: Resource, req: Request, decide: Callable[[dict[str, Any]], Change]) -> dict[str, Any]:
    """One owner change, as a versioned update; a concurrent change is read again and decided anew."""
    for _attempt in range(3):
        try:
            return entities.update(STORE, req.me.actor(), r.et, req.params[r.id_param], decide=decide).item
        except PreconditionFailedError:
            continue
    raise ConflictError(f"The {r.label} keeps changing; try again.")


def register_pool(bp: Any, r: Resource) -> None:
    """Claim from the shared pool, release into it, assign to anyone: each audited (claim, release,
    reassign) with the owner before and after."""
    item_path = f"{r.path}/{{{r.id_param}}}"
    ids = {r.id_param: r.et.id_pattern}
    name, read = r.et.name, f"{r.permissions}:read"

    def claim(req: Request) -> Result:
        me = req.me.user_id

        def decide(before: dict[str, Any]) -> Change:
            owner = before.get("owner_id")
            if owner not in (None, me):
                if req.me.own_only(read):
                    raise NotFoundError(f"There is no {r.label} {before['id']}.")
                raise ConflictError(
                    f"This {r.label} belongs to another user; it must be released first.", owner_id=owner
                )
            return Change({"owner_id": me}, action="claim")

        item = _change_owner(r, req, decide)
        return Result(r.out_model(**entities.public(item)), etag=item["version"])

    def release(req: Request) -> Result:
        me, may_assign = req.me.user_id, req.me.holds(f"{r.permissions}:assign")

        def decide(before: dict[str, Any]) -> Change:
            owner = before.get("owner_id")
            if owner not in (None, me) and not may_assign:
                if req.me.own_only(read):
                    raise NotFoundError(f"There is no {r.label} {before['id']}.")
                raise PermissionDeniedError(
                    f"This {r.label} is not yours; releasing another user's needs {r.permissions}:assign.",
                    permission=f"{r.permissions}:assign",
                )
            return Change({"owner_id": None}, action="release")

        item = _change_owner(r, req, decide)
        return Result(r.out_model(**entities.public(item)), etag=item["version"])

    def assign(req: Request) -> Result:
        change = Change({"owner_id": req.body.owner_id}, action="reassign")
        item = entities.update(
            STORE, req.me.actor(), r.et, req.params[r.id_param], decide=change, if_match=req.if_match
        ).item
        return Result(r.out_model(**entities.public(item)), etag=item["version"])

    endpoint(
        bp,
        f"{item_path}/claim",
        "POST",
        permission=f"{r.permissions}:claim",
        summary=f"Claim a {r.label} from the shared pool (yours already: no change)",
        tag=r.tag,
        path_params=ids,
        response=r.out_model,
    )(_named(f"claim_{name}", claim))
    endpoint(
        bp,
        f"{item_path}/release",
        "POST",
        permission=f"{r.permissions}:claim",
        summary=f"Release your {r.label} into the shared pool (another user's: needs assign)",
        tag=r.tag,
        path_params=ids,
        response=r.out_model,
    )(_named(f"release_{name}", release))
    endpoint(
        bp,
        f"{item_path}/assign",
        "POST",
        permission=f"{r.permissions}:assign",
        body=r.assign_model,
        summary=f"Give a {r.label} to a user, or to the pool with null",
        etag=True,
        tag=r.tag,
        path_params=ids,
        response=r.out_model,
    )(_named(f"assign_{name}", assign))


def register(bp: Any, r: Resource) -> None:
    for route, method in (("update", "update"), ("delete", "remove")):
        if route in r.routes and not callable(getattr(r.service, method, None)):
            raise TypeError(f"{r.path}: the {route} route needs the service's {method}()")
    editable = cast(Editable, r.service)  # update and delete are declared only when it is (checked above)
    item_path = f"{r.path}/{{{r.id_param}}}"
    ids = {r.id_param: r.et.id_pattern}
    name = r.et.name

    def out(item: dict[str, Any]) -> Result:
        return Result(r.out_model(**item), etag=item["version"])

    def create(req: Request) -> Result:
        options = (req.query,) if r.create_query else ()
        item = r.service.create(STORE, req.me.actor(), req.body, *options)
        result = out(item)
        result.headers["Location"] = f"{r.path}/{item['id']}"
        return result

    def list_(req: Request) -> Any:
        q = req.query
        if getattr(q, "sync", None) is not None or getattr(q, "sync_token", None) is not None:
            synced = _sync(r, req)
            items = [r.deleted_model(**i) if i.get("deleted") else r.out_model(**i) for i in synced.items]
            return r.page_model(
                items=items, next_cursor=None, sync_token=synced.sync_token, sync_complete=synced.complete
            )
        page = _list_visible(r, req)
        items = [r.deleted_model(**i) if i.get("deleted") else r.out_model(**i) for i in page.items]
        return r.page_model(items=items, next_cursor=page.next_cursor)

    present = getattr(r.service, "present", entities.public)

    def read(req: Request) -> Result:
        return out(present(entities.get(STORE, req.me.tenant_id, r.et, req.params[r.id_param])))

    def update(req: Request) -> Result:
        return out(editable.update(STORE, req.me.actor(), req.params[r.id_param], req.body, req.if_match))

    def delete(req: Request) -> Result:
        editable.remove(STORE, req.me.actor(), req.params[r.id_param], req.if_match)
        return Result(status=204)

    if "create" in r.routes:
        endpoint(
            bp,
            r.path,
            "POST",
            permission=f"{r.permissions}:create",
            summary=f"Create a {r.label}",
            body=r.create_model,
            query=r.create_query,
            response=r.out_model,
            status=201,
            tag=r.tag,
        )(_named(f"create_{name}", create))
    if "list" in r.routes:
        endpoint(
            bp,
            r.path,
            "GET",
            permission=f"{r.permissions}:read",
            summary=f"List or search {r.label}s",
            query=r.query_model,
            response=r.page_model,
            tag=r.tag,
            # a sync: a token to start again from scratch (410), a restore running (503)
            also=(410, 503) if "sync_token" in r.query_model.model_fields else (),
        )(_named(f"list_{name}s", list_))
    if "read" in r.routes:
        endpoint(
            bp,
            item_path,
            "GET",
            permission=f"{r.permissions}:read",
            summary=f"Read a {r.label}",
            response=r.out_model,
            path_params=ids,
            etag=True,
            tag=r.tag,
        )(_named(f"get_{name}", read))
    if "update" in r.routes:
        endpoint(
            bp,
            item_path,
            "PATCH",
            permission=f"{r.permissions}:update",
            summary=f"Change a {r.label} (fields given replace the stored ones)",
            body=r.patch_model,
            response=r.out_model,
            path_params=ids,
            etag=True,
            tag=r.tag,
        )(_named(f"update_{name}", update))
    if "delete" in r.routes:
        endpoint(
            bp,
            item_path,
            "DELETE",
            permission=f"{r.permissions}:delete",
            summary=f"Delete a {r.label}",
            path_params=ids,
            status=204,
            etag=True,
            tag=r.tag,
        )(_named(f"delete_{name}", delete))
    if r.assign_model is not None:
        register_pool(bp, r)

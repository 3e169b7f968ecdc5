"""The five routes of a record type (create, list, read, change, delete), declared once.

Each record type gives its models and its service module; the routes stay a thin layer over it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from pydantic import BaseModel

from chalicelib.core import entities
from chalicelib.core.entities import EntityType
from chalicelib.core.store import Actor, Page, Store
from chalicelib.core.web import STORE, Request, Result, endpoint


class Service(Protocol):
    def create(self, store: Store, actor: Actor, data: Any) -> dict[str, Any]: ...

    def list(self, store: Store, tenant_id: str, query: Any) -> Page: ...

    def update(self, store: Store, actor: Actor, entity_id: str, patch: Any, if_match: int | None) -> dict[str, Any]: ...

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
    service: Service  # the record type's module: create, list, update, remove (and present)
    create_query: type[BaseModel] | None = None  # options of a create (allow a probable duplicate)

    @property
    def label(self) -> str:
        return self.et.label()


def _named(name: str, view: Any) -> Any:
    view.__name__ = view.__qualname__ = name
    return view


def register(bp: Any, r: Resource) -> None:
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
        page = r.service.list(STORE, req.me.tenant_id, req.query)
        items = [r.deleted_model(**i) if i.get("deleted") else r.out_model(**i) for i in page.items]
        return r.page_model(items=items, next_cursor=page.next_cursor)

    present = getattr(r.service, "present", entities.public)

    def read(req: Request) -> Result:
        return out(present(entities.get(STORE, req.me.tenant_id, r.et, req.params[r.id_param])))

    def update(req: Request) -> Result:
        return out(r.service.update(STORE, req.me.actor(), req.params[r.id_param], req.body, req.if_match))

    def delete(req: Request) -> Result:
        r.service.remove(STORE, req.me.actor(), req.params[r.id_param], req.if_match)
        return Result(status=204)

    common = {"tag": r.tag}
    endpoint(bp, r.path, "POST", permission=f"{r.permissions}:create", summary=f"Create a {r.label}", body=r.create_model,
             query=r.create_query, response=r.out_model, status=201, **common)(_named(f"create_{name}", create))  # fmt: skip
    endpoint(bp, r.path, "GET", permission=f"{r.permissions}:read", summary=f"List or search {r.label}s",
             query=r.query_model, response=r.page_model, **common)(_named(f"list_{name}s", list_))  # fmt: skip
    endpoint(bp, item_path, "GET", permission=f"{r.permissions}:read", summary=f"Read a {r.label}", response=r.out_model,
             path_params=ids, etag=True, **common)(_named(f"get_{name}", read))  # fmt: skip
    endpoint(bp, item_path, "PATCH", permission=f"{r.permissions}:update",
             summary=f"Change a {r.label} (fields given replace the stored ones)", body=r.patch_model, response=r.out_model,
             path_params=ids, etag=True, **common)(_named(f"update_{name}", update))  # fmt: skip
    endpoint(bp, item_path, "DELETE", permission=f"{r.permissions}:delete", summary=f"Delete a {r.label}", path_params=ids,
             status=204, etag=True, **common)(_named(f"delete_{name}", delete))  # fmt: skip

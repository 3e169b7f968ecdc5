"""What a route is and what its view is given and gives back: the declaration (``RouteSpec``), the
parsed request (``Request``) and a view's answer with its status and headers (``Result``)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from pydantic import BaseModel

from chalicelib.core.errors import PreconditionFailedError
from chalicelib.tenants.access import Principal

MAX_BODY_BYTES = 1024 * 1024
JSON_TYPES = ("application/json",)


# ---- route declaration ----------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    permission: str | None
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    path_params: dict[str, str]
    etag: bool
    public: bool
    operation_id: str = ""
    raw_types: tuple[str, ...] = ()  # a body taken as bytes, in one of these content types
    max_body: int = MAX_BODY_BYTES
    response_type: str = "application/json"
    also: tuple[int, ...] = ()  # statuses answered besides those the route's shape implies (openapi.py)
    module: str = ""  # the module that declares it (the route table's entry imports it)

    @property
    def body_required(self) -> bool:
        """A body may be omitted when every field of its model is optional (an action's options)."""
        return bool(self.raw_types) or (
            self.body is not None and any(f.is_required() for f in self.body.model_fields.values())
        )


# ---- request and response -------------------------------------------------------------------
@dataclasses.dataclass
class Request:
    principal: Principal | None
    body: Any
    query: Any
    params: dict[str, str]
    headers: dict[str, str]
    source_ip: str
    request_id: str
    raw: Any
    operator: Any = None  # an operator's verified token, on the routes under /operator/

    @property
    def if_match(self) -> int | None:
        """The version named by ``If-Match`` (``"3"`` or ``W/"3"``), or None when absent."""
        value = self.headers.get("if-match")
        if value is None or value.strip() == "*":
            return None
        match = re.fullmatch(r'\s*(?:W/)?"(\d{1,18})"\s*', value)
        if not match:
            raise PreconditionFailedError('If-Match must be an ETag this API returned, such as "3".')
        return int(match.group(1))

    @property
    def me(self) -> Principal:
        assert self.principal is not None
        return self.principal


@dataclasses.dataclass
class Result:
    body: Any = None
    status: int | None = None
    etag: int | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

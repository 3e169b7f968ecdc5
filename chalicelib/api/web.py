"""The thin HTTP edge: one decorator declares a route, its permission and its schemas.

``endpoint`` records a ``RouteSpec`` (the OpenAPI document is generated from these) and the handler
``serve`` calls on a request to the route. At request time the handler authenticates (``auth``),
checks the permission, validates the path, query and body (``parsing``), enforces grants over own
records (``scope``), keeps ``Idempotency-Key`` answers (``idempotent``) and maps every ``ApiError``
to problem+json (``problems``). While a restore of the caller's company runs, or once its closing
began, every change answers 503 with ``Retry-After`` before anything is read or written; reads still
answer. Nothing here knows
about customers or tenants' rules: services do.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

from chalice.app import Blueprint, Response
from pydantic import BaseModel

from chalicelib.api import auth, idempotent, parsing, scope
from chalicelib.api.auth import jwt_auth
from chalicelib.api.problems import problem_response, request_id, request_path
from chalicelib.api.responses import respond
from chalicelib.api.shapes import JSON_TYPES, MAX_BODY_BYTES, Request, Result, RouteSpec
from chalicelib.billing import published as billing
from chalicelib.core import aws
from chalicelib.core.errors import ApiError, ClosingError, RestoringError
from chalicelib.core.models import PublicModel
from chalicelib.core.store import Store

__all__ = ["STORE", "HealthOut", "Request", "Result", "RouteSpec", "endpoint", "serve"]

STORE = Store()


class HealthOut(PublicModel):
    status: str


ROUTES: list[RouteSpec] = []

READS = frozenset(
    {"GET", "HEAD", "OPTIONS"}
)  # the methods that change nothing: answered during a restore or a closing


HANDLERS: dict[tuple[str, str], Callable[..., Response]] = {}  # (method, path) → the declared handler


APP: Any = None  # the Chalice app serving the routes (``serve``): where the current request is


def serve(app: Any, table: tuple[Any, ...]) -> None:
    """Register every route of ``table`` on ``app`` at once, as it will be answered, each importing
    the module that declares it on its first request: a cold start builds no route module and no
    model. The gateway sees the same routes, authorizer and content types as if declared eagerly."""
    global APP
    APP = app
    for entry in table:
        route_kwargs: dict[str, Any] = {
            "methods": [entry.method],
            "content_types": [*JSON_TYPES, *entry.raw_types],
            "name": entry.name,
        }
        if not entry.public:
            route_kwargs["authorizer"] = _authorizer(entry.path)
        app.route(entry.path, **route_kwargs)(_on_first_request(entry.method, entry.path, entry.module))


def _authorizer(path: str) -> Any:
    """Routes under /operator/ are the platform operators' (their own pool), the rest a company's."""
    return auth.operator_auth if path.startswith(auth.OPERATOR_PREFIX) else jwt_auth


def _on_first_request(method: str, path: str, module: str) -> Callable[..., Response]:
    def view(**params: str) -> Response:
        handler = HANDLERS.get((method, path))
        if handler is None:
            importlib.import_module(module)  # declares its routes: HANDLERS holds this one now
            handler = HANDLERS[(method, path)]
        return handler(**params)

    return view


def _current_request(blueprint: Any) -> Any:
    return APP.current_request if APP is not None else blueprint.current_request


def endpoint(
    blueprint: Any,
    path: str,
    method: str,
    *,
    permission: str | None,
    summary: str,
    tag: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    path_params: dict[str, str] | None = None,
    public: bool = False,
    any_user: bool = False,
    etag: bool = False,
    raw_types: tuple[str, ...] = (),
    max_body: int = MAX_BODY_BYTES,
    response_type: str = "application/json",
    also: tuple[int, ...] = (),
) -> Callable[[Callable[[Request], Any]], Callable[..., Response]]:
    """Declare a route: deny by default, so each route names its permission, or says it is open to
    ``any_user`` of the tenant (``/me``) or ``public`` (signup, login).

    ``path_params`` maps each path parameter to the regular expression it must match; ``also`` lists
    the statuses the route answers besides ``status`` and those its shape implies (a 200 for an
    action repeated, a 401 for a wrong password), so that the document declares them.
    """
    operator = path.startswith(auth.OPERATOR_PREFIX) and not public
    if permission is None and not (public or any_user or operator):
        raise ValueError(f"{method} {path}: every authenticated route declares its permission")
    if operator and (permission is not None or any_user):
        raise ValueError(f"{method} {path}: an operator's route takes no company permission")

    def decorate(view: Callable[[Request], Any]) -> Callable[..., Response]:
        spec = RouteSpec(
            method,
            path,
            permission,
            summary,
            tag,
            body,
            query,
            response,
            status,
            path_params or {},
            etag,
            public,
            view.__name__,
            raw_types,
            max_body,
            response_type,
            also,
            getattr(blueprint, "_import_name", None) or blueprint.app_name,
        )
        ROUTES.append(spec)

        @functools.wraps(view)
        def handler(**params: str) -> Response:
            request = _current_request(blueprint)
            try:
                with aws.running("api"):
                    return _handle(spec, view, request, params)
            except ApiError as exc:
                return problem_response(exc, request_path(request))

        HANDLERS[(method, path)] = handler
        if not isinstance(blueprint, Blueprint):  # the app itself (its own few routes): at once
            route_kwargs: dict[str, Any] = {"methods": [method], "content_types": [*JSON_TYPES, *raw_types]}
            if not public:
                route_kwargs["authorizer"] = _authorizer(path)
            blueprint.route(path, **route_kwargs)(handler)
        return handler

    return decorate


def _handle(
    spec: RouteSpec, view: Callable[[Request], Any], request: Any, params: dict[str, str]
) -> Response:
    if spec.path.startswith(auth.OPERATOR_PREFIX) and not spec.public:
        operator = auth.authenticate_operator(request)
        return _answer(spec, view, request, params, None, operator)
    if spec.public:
        return _answer(spec, view, request, params, None)
    # From here on DynamoDB is reached with the company's own credentials (its keys only), the
    # company the verified token names; a token that names none is refused by ``authenticate``.
    with aws.tenant_scope(auth.claimed_tenant(request)):
        return _company_answer(spec, view, request, params)


def _company_answer(
    spec: RouteSpec, view: Callable[[Request], Any], request: Any, params: dict[str, str]
) -> Response:
    principal = auth.authenticate(STORE, request)
    # The company's rate and cap before anything else is read; the request is counted once in. Past
    # a capped plan's calls, billing stays open: the way on is a paid plan.
    billing.admit(
        principal.tenant_id,
        principal.plan,
        write=spec.method not in READS,
        capped=not spec.path.startswith("/billing/"),
    )
    try:
        return _answer(spec, view, request, params, principal)
    finally:
        billing.save_due()


def _answer(
    spec: RouteSpec,
    view: Callable[[Request], Any],
    request: Any,
    params: dict[str, str],
    principal: Any,
    operator: Any = None,
) -> Response:
    if principal is not None and spec.permission is not None:
        principal.require(spec.permission)
    if principal is not None and spec.method not in READS:
        # Before the view and before an Idempotency-Key record: the request changes nothing.
        if principal.closing:
            raise ClosingError("The company is being closed: it takes no more changes.")
        if principal.restoring:
            raise RestoringError("A restore of the company is running; try again when it is done.")
    parsing.check_params(spec, params)
    query = parsing.query(spec, request)
    body = parsing.body(spec, request)
    if principal is not None and spec.permission is not None:
        principal = scope.owner_scope(STORE, spec, principal, params, body)
    identity = (request.context or {}).get("identity") or {}
    req = Request(
        principal=principal,
        body=body,
        query=query,
        params=params,
        headers={k.lower(): v for k, v in (request.headers or {}).items()},
        source_ip=str(identity.get("sourceIp") or "unknown"),
        request_id=request_id(request),
        raw=request,
        operator=operator,
    )
    key = req.headers.get("idempotency-key")
    if key is not None and spec.method == "POST" and principal is not None:
        return idempotent.answer(STORE, spec, view, req, key)
    return respond(spec, view(req))

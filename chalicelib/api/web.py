"""The thin HTTP edge: one decorator declares a route, its permission and its schemas.

``endpoint`` registers the Chalice route and records a ``RouteSpec`` (the OpenAPI document is
generated from these).  At request time it authenticates, checks the permission, validates the
path, query and body with pydantic and maps every ``ApiError`` to problem+json.  Nothing here knows
about customers or tenants' rules: services do.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import json
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from chalice import Blueprint, Response
from chalice.app import AuthResponse
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from chalicelib.core import keys, observability
from chalicelib.core.config import settings
from chalicelib.core.errors import (
    STATUS_ERRORS,
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PreconditionFailedError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from chalicelib.core.models import PublicModel
from chalicelib.core.store import Store
from chalicelib.core.tokens import TokenError, VerifiedToken, verify
from chalicelib.tenants.access import Principal, load_principal

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32  # far deeper than any request model; Python's parser gives up near 1,000
PROBLEM_JSON = "application/problem+json"
JSON_TYPES = ("application/json",)

core = Blueprint(__name__)


class HealthOut(PublicModel):
    status: str


# ---- authorizer -------------------------------------------------------------------------------
@core.authorizer(ttl_seconds=0)
def jwt_auth(auth_request: Any) -> AuthResponse:
    """Verify the JWT; the route layer answers 401 problem+json when it does not verify.

    The authorizer passes its verdict on instead of denying, because a gateway denial is a bare 403
    in chalice local and the test client, while a bad token must be a 401 with a problem body.
    """
    try:
        token = verify(auth_request.token or "")
    except TokenError as exc:
        return AuthResponse(routes=["*"], principal_id="anonymous", context={"auth_error": str(exc)})
    return AuthResponse(
        routes=["*"],
        principal_id=token.user_id,
        context={
            "tenant_id": token.tenant_id,
            "user_id": token.user_id,
            "email": token.email,
            "expires_at": str(token.expires_at),
            "issued_at": str(token.issued_at),
        },
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


def etag(version: int) -> str:
    return f'"{version}"'


def _json(body: Any) -> str:
    if isinstance(body, BaseModel):
        return body.model_dump_json(by_alias=True)
    return json.dumps(body, ensure_ascii=False, default=str)


def problem_response(error: ApiError, instance: str | None = None) -> Response:
    return Response(
        body=json.dumps(error.problem(instance), ensure_ascii=False),
        status_code=error.status,
        headers={"Content-Type": PROBLEM_JSON, **error.headers()},
    )


def pydantic_errors(exc: PydanticValidationError, where: str) -> list[dict[str, Any]]:
    return [
        {"loc": [where, *[str(p) for p in err["loc"]]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def _validation_detail(errors: list[dict[str, Any]]) -> str:
    fields = ", ".join(".".join(e["loc"][1:]) or e["loc"][0] for e in errors[:5])
    return f"Invalid value for: {fields}."


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


ROUTES: list[RouteSpec] = []
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
            route_kwargs["authorizer"] = jwt_auth
        app.route(entry.path, **route_kwargs)(_on_first_request(entry.method, entry.path, entry.module))


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
    if permission is None and not (public or any_user):
        raise ValueError(f"{method} {path}: every authenticated route declares its permission")

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
                return _handle(spec, view, request, params)
            except ApiError as exc:
                return problem_response(exc, _path(request))

        HANDLERS[(method, path)] = handler
        if not isinstance(blueprint, Blueprint):  # the app itself (its own few routes): at once
            route_kwargs: dict[str, Any] = {"methods": [method], "content_types": [*JSON_TYPES, *raw_types]}
            if not public:
                route_kwargs["authorizer"] = jwt_auth
            blueprint.route(path, **route_kwargs)(handler)
        return handler

    return decorate


def _authenticate(request: Any) -> Principal:
    context = (request.context or {}).get("authorizer") or {}
    if "auth_error" in context or "tenant_id" not in context:
        raise AuthenticationError(f"The bearer token was refused: {context.get('auth_error', 'no token')}.")
    if int(context.get("expires_at", "0")) < time.time() - 5:
        raise AuthenticationError("The bearer token was refused: token expired.")
    token = VerifiedToken(
        tenant_id=context["tenant_id"],
        user_id=context["user_id"],
        email=context.get("email", ""),
        expires_at=int(context["expires_at"]),
        issued_at=int(context.get("issued_at", "0")),
    )
    principal = load_principal(STORE, token, settings().principal_cache_seconds, _request_id(request))
    observability.bind(tenant_id=principal.tenant_id, user_id=principal.user_id)
    return principal


def _path(request: Any) -> str:
    """The path as the client sent it (``request.path`` is the route's template)."""
    return str((request.context or {}).get("path") or request.path)


def _request_id(request: Any) -> str:
    return str((request.context or {}).get("requestId", ""))


def _parse_body(spec: RouteSpec, request: Any) -> Any:
    raw: bytes = request.raw_body or b""
    if len(raw) > spec.max_body:
        raise PayloadTooLargeError(
            f"The body is {len(raw)} bytes; the limit is {spec.max_body} ({spec.max_body / 1024 / 1024:g} MiB).",
            limit=spec.max_body,
        )
    if spec.raw_types:
        content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type not in spec.raw_types:
            raise UnsupportedMediaTypeError(f"Send the body as {' or '.join(spec.raw_types)}.")
        return raw
    if spec.body is None:
        if raw.strip():
            raise BadRequestError("This operation takes no body.")
        return None
    if not raw.strip():
        if not spec.body_required:
            return spec.body.model_validate({})  # an action whose body is all optional may omit it
        raise BadRequestError(
            "A JSON body is required.", errors=[{"loc": ["body"], "msg": "missing", "type": "missing"}]
        )
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES:
        raise UnsupportedMediaTypeError("Send the body as application/json.")
    try:
        # Numbers with a fraction become Decimal exactly as written: money never passes through float.
        data = json.loads(raw, parse_float=Decimal)
    except RecursionError as exc:
        raise _unreadable(f"nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise _unreadable(str(exc)) from exc
    if _depth(data) > MAX_JSON_DEPTH:
        raise _unreadable(f"nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        # Strict: JSON's types as the schema says them ("yes" is no boolean, true no integer). Text
        # becomes a day, an instant or a decimal only through the types of core/schemas.py.
        return spec.body.model_validate(data, strict=True)
    except PydanticValidationError as exc:
        errors = pydantic_errors(exc, "body")
        raise ValidationError(_validation_detail(errors), errors=errors) from exc


def _unreadable(reason: str) -> BadRequestError:
    return BadRequestError(
        f"The body is not valid JSON: {reason}.",
        errors=[{"loc": ["body"], "msg": reason, "type": "json_invalid"}],
    )


def _depth(data: Any) -> int:
    """How deeply arrays and objects nest in parsed JSON (a scalar is 0), without recursion."""
    deepest, level = 0, [(data, 1)]
    while level:
        value, depth = level.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                break
            level.extend((child, depth + 1) for child in children)
    return deepest


def _parse_query(spec: RouteSpec, request: Any) -> Any:
    given = dict(request.query_params or {})
    if spec.query is None:
        if given:
            raise BadRequestError(
                "This operation takes no query parameters.",
                errors=[
                    {"loc": ["query", k], "msg": "unknown parameter", "type": "extra_forbidden"}
                    for k in given
                ],
            )
        return None
    try:
        return spec.query.model_validate(given)
    except PydanticValidationError as exc:
        errors = pydantic_errors(exc, "query")
        raise BadRequestError(_validation_detail(errors), errors=errors) from exc


def _check_params(spec: RouteSpec, params: dict[str, str]) -> None:
    for name, pattern in spec.path_params.items():
        if not re.fullmatch(pattern, params.get(name, "")):
            raise BadRequestError(
                f"The path parameter {name} is malformed.",
                errors=[{"loc": ["path", name], "msg": f"must match {pattern}", "type": "pattern_mismatch"}],
            )


def _owner_scope(spec: RouteSpec, principal: Principal, params: dict[str, str], body: Any) -> Principal:
    """Enforce a permission granted over own records only (``p@own``).

    A record named in the path must be the user's (a pool record is readable); one the user may
    not even read answers 404, one they may read but not act on answers 403. A body may name only
    customers the user may read, and only the user as owner. The writes themselves check the owner
    again on the version they replace (``entities.update``), so a concurrent reassignment cannot
    slip through between this check and the write.
    """
    from chalicelib.core import entities  # entities -> schemas -> web: imported when first needed

    assert spec.permission is not None
    resource = spec.permission.split(":")[0]
    _check_named_records(principal, body)
    owner = (
        getattr(body, "owner_id", None)
        if "owner_id" in getattr(body, "model_fields_set", ())
        else principal.user_id
    )
    if owner != principal.user_id and not (
        f"{resource}:update" in principal.permissions or principal.holds(f"{resource}:assign")
    ):
        raise PermissionDeniedError(
            f"Giving a record to someone else needs {resource}:update over all records, or {resource}:assign.",
            permission=f"{resource}:assign",
            errors=[{"loc": ["body", "owner_id"], "msg": "only yourself", "type": "permission"}],
        )
    if not principal.own_only(spec.permission):
        return principal
    for name, pattern in spec.path_params.items():
        et = entities.OWNED.get(pattern)
        if et is None:
            continue
        item = STORE.get(keys.entity(principal.tenant_id, et.name, params[name]), consistent=True)
        if item is None:
            break  # the handler answers 404
        if not principal.may_read(et.read_permission, item):
            raise NotFoundError(f"There is no {et.label()} {params[name]}.")
        if item.get("owner_id") != principal.user_id and spec.method != "GET":
            raise PermissionDeniedError(
                f"This {et.label()} is not yours: {spec.permission} is granted to you over your own records only.",
                permission=spec.permission,
            )
        break
    return dataclasses.replace(principal, acting_own_only=True)


# Fields of a body that name a record with an owner: the record's type.
_NAMED_RECORDS = {"customer_id": "customer", "contact_id": "contact", "opportunity_id": "opportunity"}


def _check_named_records(principal: Principal, body: Any) -> None:
    """A customer, contact or opportunity named in the body must be one the user may read: to a user
    who may read only their own (and the pool's), another user's is as absent as it is by id, and
    cannot be linked to (one GetItem per such field, only for such users)."""
    from chalicelib.core import entities  # entities -> schemas -> web: imported when first needed

    given = getattr(body, "model_fields_set", ())
    types = {t.name: t for t in entities.OWNED.values()}
    for field, type_name in _NAMED_RECORDS.items():
        record_id = getattr(body, field, None) if field in given else None
        et = types.get(type_name)
        if not record_id or et is None or not principal.own_only(et.read_permission):
            continue
        item = STORE.get(keys.entity(principal.tenant_id, et.name, record_id))
        if item is not None and not principal.may_read(et.read_permission, item):
            raise ValidationError(
                f"There is no {et.label()} {record_id}.",
                errors=[{"loc": ["body", field], "msg": f"no such {et.label()}", "type": "reference"}],
            )


def _handle(
    spec: RouteSpec, view: Callable[[Request], Any], request: Any, params: dict[str, str]
) -> Response:
    principal = None if spec.public else _authenticate(request)
    if principal is not None and spec.permission is not None:
        principal.require(spec.permission)
    _check_params(spec, params)
    query = _parse_query(spec, request)
    body = _parse_body(spec, request)
    if principal is not None and spec.permission is not None:
        principal = _owner_scope(spec, principal, params, body)
    identity = (request.context or {}).get("identity") or {}
    req = Request(
        principal=principal,
        body=body,
        query=query,
        params=params,
        headers={k.lower(): v for k, v in (request.headers or {}).items()},
        source_ip=str(identity.get("sourceIp") or "unknown"),
        request_id=_request_id(request),
        raw=request,
    )
    key = req.headers.get("idempotency-key")
    if key is not None and spec.method == "POST" and principal is not None:
        return _idempotent(spec, view, req, key)
    return _respond(spec, view(req))


def _respond(spec: RouteSpec, outcome: Any) -> Response:
    result = outcome if isinstance(outcome, Result) else Result(body=outcome)
    headers = dict(result.headers)
    if result.etag is not None:
        headers["ETag"] = etag(result.etag)
    status = result.status or spec.status
    if result.body is None and status == 204:
        return Response(body="", status_code=204, headers=headers)
    if isinstance(result.body, bytes):
        headers.setdefault("Content-Type", spec.response_type)
        return Response(body=result.body, status_code=status, headers=headers)
    headers.setdefault("Content-Type", "application/json")
    return Response(body=_json(result.body), status_code=status, headers=headers)


def _idempotent(spec: RouteSpec, view: Callable[[Request], Any], req: Request, key: str) -> Response:
    """A POST with an ``Idempotency-Key``: a retry with the same key, body and query answers the
    first answer (``Idempotent-Replayed: true``), however large; the same key with another body or
    query is 422; while the first is still running, 409. Keys live 24 hours under the company's
    own keys (``core/idempotency.py``); errors are not kept (a retry runs again)."""
    from aws_lambda_powertools.utilities.idempotency import idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    from chalicelib.core import idempotency

    if not 1 <= len(key) <= 255:
        error = {"loc": ["header", "Idempotency-Key"], "msg": "1 to 255 characters", "type": "value_error"}
        raise BadRequestError("Idempotency-Key takes 1 to 255 characters.", errors=[error])
    tenant_id = req.me.tenant_id
    persistence, config = idempotency.persistence(settings().table_name, tenant_id)
    context = getattr(req.raw, "lambda_context", None)
    if context is not None:
        config.register_lambda_context(context)  # an in-progress record expires with the invocation
    produced: list[dict[str, Any]] = []

    @idempotent_function(
        data_keyword_argument="request", persistence_store=persistence, config=config, key_prefix="api"
    )
    def run(request: dict[str, Any]) -> dict[str, Any]:
        response = _respond(spec, view(req))
        binary = not isinstance(response.body, str)
        body = response.body.decode("latin-1") if binary else response.body
        answer = {
            "status": response.status_code,
            "headers": dict(response.headers),
            "body": body,
            "binary": binary,
        }
        produced.append(answer)
        return idempotency.keep(STORE, tenant_id, answer)

    request = {
        "user": req.me.user_id,
        "route": f"{spec.method} {_path(req.raw)}",
        "key": key,
        "body": hashlib.sha256(req.raw.raw_body or b"").hexdigest(),
        "query": _canonical_query(req.raw),
    }
    try:
        stored = run(request=request)
    except IdempotencyValidationError as exc:
        raise ValidationError(
            "This Idempotency-Key was used with another request (body or query); use a new key for a new request.",
            errors=[
                {
                    "loc": ["header", "Idempotency-Key"],
                    "msg": "reused with another request",
                    "type": "idempotency",
                }
            ],
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise ConflictError(
            "A request with this Idempotency-Key is still running; retry in a moment."
        ) from exc
    except IdempotencyPersistenceLayerError:
        if not produced:
            raise
        # The work is done and its answer is here: give it, rather than a 500 the client would
        # retry into a 409. The record stays in progress until the invocation's time runs out.
        observability.logger().exception("the answer of an Idempotency-Key request could not be kept")
        return _stored_response(produced[0], replayed=False)
    if produced:
        return _stored_response(produced[0], replayed=False)
    return _stored_response(idempotency.restore(STORE, tenant_id, stored), replayed=True)


def _stored_response(answer: dict[str, Any], *, replayed: bool) -> Response:
    body = answer["body"].encode("latin-1") if answer.get("binary") else answer["body"]
    headers = dict(answer["headers"])
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(body=body, status_code=answer["status"], headers=headers)


def _canonical_query(request: Any) -> str:
    """The query string in a canonical order: ``?a=1&b=2`` and ``?b=2&a=1`` are one request."""
    params = request.query_params or {}
    getlist = getattr(params, "getlist", lambda k: [params[k]])
    return urllib.parse.urlencode(sorted((k, v) for k in params for v in getlist(k)))


STORE = Store()


# ---- middleware: one error format, request logging ---------------------------------------------
def problem_middleware(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Turn Chalice's own error bodies (415, 405, 500...) into problem+json and log the request."""
    started = time.perf_counter()
    context = event.context if isinstance(event.context, dict) else {}
    request_id = context.setdefault("requestId", str(uuid.uuid4()))
    observability.start_request(event)
    try:
        response = get_response(event)
    except Exception:
        observability.logger().exception("unhandled error")
        response = problem_response(ApiError("An internal error occurred; it has been logged."), _path(event))
    if response.status_code >= 400 and isinstance(response.body, dict) and "Code" in response.body:
        error_class = STATUS_ERRORS.get(response.status_code, ApiError)
        problem = problem_response(error_class(str(response.body.get("Message", ""))), _path(event))
        # Chalice's own headers stay (a 405's Allow names the path's methods); the body is ours.
        problem.headers = {
            **{k: v for k, v in response.headers.items() if k.lower() != "content-type"},
            **problem.headers,
        }
        response = problem
    response.headers["X-Request-Id"] = request_id
    observability.finish_request(event, response.status_code, time.perf_counter() - started)
    return response

"""OpenAPI 3.1, generated from the route table (web.ROUTES) and the pydantic models."""

from __future__ import annotations

import functools
import re
from typing import Any

from chalicelib.api import route_table
from chalicelib.api.shapes import RouteSpec
from chalicelib.api.web import READS, ROUTES
from chalicelib.core.errors import STATUS_ERRORS

REF = "#/components/schemas/{model}"

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "examples": ["/problems/validation-error"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}


REQUEST_ID = {
    "X-Request-Id": {
        "description": "This request's id, also in the logs and the audit entries.",
        "required": True,
        "schema": {"type": "string"},
    }
}


RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait.", "required": True, "schema": {"type": "string"}}
}


def _error_codes(spec: RouteSpec) -> set[int]:
    """Every error status the route can answer, from its shape (core/web.py's checks) and ``also``."""
    codes = {400, 429} if spec.public else {400, 401, 402, 403, 429}
    if spec.path_params:
        codes |= {404}
    if spec.body is not None:
        codes |= {409, 413, 415, 422}
    if spec.raw_types:
        codes |= {413, 415}
    if (
        spec.method == "POST" and not spec.public
    ):  # Idempotency-Key: still running (409), reused with another body (422)
        codes |= {409, 422}
    if spec.etag and spec.method != "GET":  # If-Match (412), and the state the record is in (409)
        codes |= {409, 412}
    if spec.method not in READS and not spec.public:  # a change while the company is being restored
        codes |= {503}
    return codes | {code for code in spec.also if code >= 400}


def _error_responses(spec: RouteSpec) -> dict[str, Any]:
    headers = dict(REQUEST_ID)
    return {
        str(code): {
            "description": STATUS_ERRORS[code].title,
            "headers": {**headers, **RETRY_AFTER} if code in (429, 503) else headers,
            "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
        }
        for code in sorted(_error_codes(spec))
    }


@functools.cache
def document() -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema  # only when the document is asked for

    route_table.load_all()
    rank = {module: n for n, module in enumerate(route_table.MODULES)}
    # The route modules' order, then each one's (imported on first request, they came in any order).
    routes = sorted(ROUTES, key=lambda s: rank.get(s.module, len(rank)))
    models: list[Any] = []
    for spec in routes:
        for model, mode in (
            (spec.body, "validation"),
            (spec.query, "validation"),
            (spec.response, "serialization"),
        ):
            if model is not None and (model, mode) not in models:
                models.append((model, mode))
    keys, defs = models_json_schema(models, ref_template=REF)
    schemas = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, Any] = {}
    for spec in routes:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, keys, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CRM + ERP API",
            "version": "0.1.0",
            "description": "Multi-tenant CRM and ERP for small and medium enterprises. Every operation names the "
            "permission it needs in `x-permission`; errors are application/problem+json.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (Cognito ID token)"}
            },
        },
    }


def _operation(spec: RouteSpec, keys: dict[Any, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": spec.operation_id,
        "summary": spec.summary,
        "tags": [spec.tag],
        "x-permission": spec.permission,
        "security": [] if spec.public else [{"bearer": []}],
        "parameters": [],
    }
    if spec.permission:
        op["description"] = f"Needs the permission `{spec.permission}`."
    elif not spec.public:
        op["description"] = "Open to every user of the company."
    for name in re.findall(r"\{(\w+)\}", spec.path):
        pattern = spec.path_params.get(name)
        op["parameters"].append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", **({"pattern": pattern} if pattern else {})},
            }
        )
    if spec.query is not None:
        ref = keys[(spec.query, "validation")]["$ref"].split("/")[-1]
        model_schema = schemas[ref]
        required = set(model_schema.get("required", []))
        for prop, schema in model_schema.get("properties", {}).items():
            op["parameters"].append(
                {"name": prop, "in": "query", "required": prop in required, "schema": schema}
            )
    if spec.etag and spec.method != "GET":  # every change of a versioned record honours If-Match
        op["parameters"].append(
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "The ETag last read; the change is refused with 412 if the record changed since.",
            }
        )
    if spec.method == "POST" and not spec.public:  # honoured by every authenticated POST (core/web.py)
        op["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "A retry with the same key and body answers the first answer (`Idempotent-Replayed: true`) "
                "and does nothing twice; the same key with another body is 422. Keys live 24 hours.",
            }
        )
    if spec.body is not None:
        schema = keys[(spec.body, "validation")]
        op["requestBody"] = {
            "required": spec.body_required,
            "content": {"application/json": {"schema": schema}},
        }
    elif spec.raw_types:
        content = {media: {"schema": {"type": "string"}} for media in spec.raw_types}
        op["requestBody"] = {"required": True, "content": content}
    success: dict[str, Any] = {"description": "Success", "headers": dict(REQUEST_ID)}
    media = spec.response_type.split(";")[0]
    if spec.response is not None:
        success["content"] = {media: {"schema": keys[(spec.response, "serialization")]}}
    elif media != "application/json":
        success["content"] = {media: {"schema": {"type": "string"}}}
    if spec.etag and spec.method != "DELETE":
        success["headers"]["ETag"] = {
            "description": "The record's version.",
            "required": True,
            "schema": {"type": "string"},
        }
    successes = {str(code): success for code in sorted({spec.status, *(c for c in spec.also if c < 400)})}
    op["responses"] = {**successes, **_error_responses(spec)}
    return op

"""OpenAPI 3.1, generated from the route table (web.ROUTES) and the pydantic models."""

from __future__ import annotations

import functools
import re
from typing import Any

from chalicelib.core.errors import STATUS_ERRORS
from chalicelib.core.web import ROUTES, RouteSpec

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


def _error_responses(spec: RouteSpec) -> dict[str, Any]:
    codes = {400, 429} if spec.public else {400, 401, 403, 429}
    if spec.path_params:
        codes |= {404}
    if spec.body is not None:
        codes |= {409, 413, 415, 422}
    if spec.etag and spec.method in {"PATCH", "PUT", "DELETE"}:
        codes |= {409, 412}
    return {
        str(code): {
            "description": STATUS_ERRORS[code].title,
            "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
        }
        for code in sorted(codes)
    }


@functools.cache
def document() -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema  # only when the document is asked for

    models: list[Any] = []
    for spec in ROUTES:
        for model, mode in ((spec.body, "validation"), (spec.query, "validation"), (spec.response, "serialization")):
            if model is not None and (model, mode) not in models:
                models.append((model, mode))
    keys, defs = models_json_schema(models, ref_template=REF)
    schemas = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, Any] = {}
    for spec in ROUTES:
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
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (Cognito ID token)"}},
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
            op["parameters"].append({"name": prop, "in": "query", "required": prop in required, "schema": schema})
    if spec.etag and spec.method in {"PATCH", "PUT", "DELETE"}:
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
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": keys[(spec.body, "validation")]}}}
    success: dict[str, Any] = {"description": "Success"}
    if spec.response is not None:
        success["content"] = {"application/json": {"schema": keys[(spec.response, "serialization")]}}
    if spec.etag and spec.method != "DELETE":
        success["headers"] = {"ETag": {"schema": {"type": "string"}, "description": "The record's version."}}
    op["responses"] = {str(spec.status): success, **_error_responses(spec)}
    return op

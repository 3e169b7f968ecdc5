"""A request's path parameters, query and body, validated with the route's models before its view
runs: sizes, content types, JSON nesting, strict types; each refusal names the field."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from chalicelib.api.problems import pydantic_errors, validation_detail
from chalicelib.api.shapes import JSON_TYPES, RouteSpec
from chalicelib.core.errors import (
    BadRequestError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ValidationError,
)

MAX_JSON_DEPTH = 32  # far deeper than any request model; Python's parser gives up near 1,000


def body(spec: RouteSpec, request: Any) -> Any:
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
        raise ValidationError(validation_detail(errors), errors=errors) from exc


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


def query(spec: RouteSpec, request: Any) -> Any:
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
        raise BadRequestError(validation_detail(errors), errors=errors) from exc


def check_params(spec: RouteSpec, params: dict[str, str]) -> None:
    for name, pattern in spec.path_params.items():
        if not re.fullmatch(pattern, params.get(name, "")):
            raise BadRequestError(
                f"The path parameter {name} is malformed.",
                errors=[{"loc": ["path", name], "msg": f"must match {pattern}", "type": "pattern_mismatch"}],
            )

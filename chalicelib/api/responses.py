"""A view's answer as an HTTP response: JSON (or bytes) with its status, ``ETag`` and headers."""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Response
from pydantic import BaseModel

from chalicelib.api.shapes import Result, RouteSpec


def etag(version: int) -> str:
    return f'"{version}"'


def to_json(body: Any) -> str:
    if isinstance(body, BaseModel):
        return body.model_dump_json(by_alias=True)
    return json.dumps(body, ensure_ascii=False, default=str)


def respond(spec: RouteSpec, outcome: Any) -> Response:
    result = outcome if isinstance(outcome, Result) else Result(body=outcome)
    headers: dict[str, str | list[str]] = dict(result.headers)
    if result.etag is not None:
        headers["ETag"] = etag(result.etag)
    status = result.status or spec.status
    if result.body is None and status == 204:
        return Response(body="", status_code=204, headers=headers)
    if isinstance(result.body, bytes) or (
        isinstance(result.body, str) and not spec.response_type.startswith("application/json")
    ):  # bytes, or the text of a route that answers text (an HTML page)
        headers.setdefault("Content-Type", spec.response_type)
        return Response(body=result.body, status_code=status, headers=headers)
    headers.setdefault("Content-Type", "application/json")
    return Response(body=to_json(result.body), status_code=status, headers=headers)


def stored_response(answer: dict[str, Any], *, replayed: bool) -> Response:
    body = answer["body"].encode("latin-1") if answer.get("binary") else answer["body"]
    headers = dict(answer["headers"])
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(body=body, status_code=answer["status"], headers=headers)

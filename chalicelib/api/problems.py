"""One error format: every refusal as problem+json (RFC 9457), Chalice's own errors included, and
each request logged with its id."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from chalice.app import Response
from pydantic import ValidationError as PydanticValidationError

from chalicelib.core import observability
from chalicelib.core.errors import STATUS_ERRORS, ApiError, AuthenticationError

PROBLEM_JSON = "application/problem+json"


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


def validation_detail(errors: list[dict[str, Any]]) -> str:
    fields = ", ".join(".".join(e["loc"][1:]) or e["loc"][0] for e in errors[:5])
    return f"Invalid value for: {fields}."


def request_path(request: Any) -> str:
    """The path as the client sent it (``request.path`` is the route's template)."""
    return str((request.context or {}).get("path") or request.path)


def request_id(request: Any) -> str:
    return str((request.context or {}).get("requestId", ""))


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
        response = problem_response(
            ApiError("An internal error occurred; it has been logged."), request_path(event)
        )
    if response.status_code >= 400 and isinstance(response.body, dict) and "Code" in response.body:
        error_class = STATUS_ERRORS.get(response.status_code, ApiError)
        error = error_class(str(response.body.get("Message", "")))
        refused = (context.get("authorizer") or {}).get("auth_error")
        if refused and response.status_code == 415:
            # Chalice checks the content type before the route sees the authorizer's verdict; who is
            # asking comes first (as at the gateway), so a refused token is a 401 whatever the body.
            error = AuthenticationError(f"The bearer token was refused: {refused}.")
        problem = problem_response(error, request_path(event))
        # Chalice's own headers stay (a 405's Allow names the path's methods); the body is ours.
        problem.headers = {
            **{k: v for k, v in response.headers.items() if k.lower() != "content-type"},
            **problem.headers,
        }
        response = problem
    response.headers["X-Request-Id"] = request_id
    observability.finish_request(event, response.status_code, time.perf_counter() - started)
    return response

"""``Idempotency-Key`` on a POST: a retry answers the first answer, kept under the company's keys."""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Callable
from typing import Any

from chalice.app import Response

from chalicelib.api.problems import request_path
from chalicelib.api.responses import respond, stored_response
from chalicelib.api.shapes import Request, RouteSpec
from chalicelib.core import observability
from chalicelib.core.config import settings
from chalicelib.core.errors import BadRequestError, ConflictError, ValidationError
from chalicelib.core.store import Store


def answer(store: Store, spec: RouteSpec, view: Callable[[Request], Any], req: Request, key: str) -> Response:
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

    @idempotent_function(  # type: ignore[untyped-decorator]  # Powertools' decorator is untyped
        data_keyword_argument="request", persistence_store=persistence, config=config, key_prefix="api"
    )
    def run(request: dict[str, Any]) -> dict[str, Any]:
        response = respond(spec, view(req))
        binary = not isinstance(response.body, str)
        body = response.body.decode("latin-1") if binary else response.body
        answer = {
            "status": response.status_code,
            "headers": dict(response.headers),
            "body": body,
            "binary": binary,
        }
        produced.append(answer)
        return idempotency.keep(store, tenant_id, answer)

    request = {
        "user": req.me.user_id,
        "route": f"{spec.method} {request_path(req.raw)}",
        "key": key,
        "body": hashlib.sha256(req.raw.raw_body or b"").hexdigest(),
        "query": canonical_query(req.raw),
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
        return stored_response(produced[0], replayed=False)
    if produced:
        return stored_response(produced[0], replayed=False)
    return stored_response(idempotency.restore(store, tenant_id, stored), replayed=True)


def canonical_query(request: Any) -> str:
    """The query string in a canonical order: ``?a=1&b=2`` and ``?b=2&a=1`` are one request."""
    params = request.query_params or {}
    getlist = getattr(params, "getlist", lambda k: [params[k]])
    return urllib.parse.urlencode(sorted((k, v) for k in params for v in getlist(k)))

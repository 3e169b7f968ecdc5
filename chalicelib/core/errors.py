"""Domain errors, raised by services and turned into problem+json (RFC 9457) in one place (web.py).

Each class is one meaning of one status code; ``type`` is a stable URI documented in docs/api.md.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 500
    slug = "internal-error"
    title = "Internal error"

    RESERVED = frozenset({"type", "title", "status", "detail", "instance", "errors"})

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None, **extra: Any) -> None:
        clash = self.RESERVED & extra.keys()
        if clash:  # an extension must not overwrite a problem+json member (a record's status is "state")
            raise ValueError(f"problem extension named like a member: {sorted(clash)}")
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.extra = extra

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors is not None:
            # A location is a list of strings, as the document declares: a list index becomes text.
            body["errors"] = [
                {**e, "loc": [str(part) for part in e["loc"]]} if "loc" in e else e for e in self.errors
            ]
        body.update(self.extra)
        return body

    def headers(self) -> dict[str, str]:
        return {}


class BadRequestError(ApiError):
    """The request cannot be read: invalid JSON, a malformed id, cursor or query parameter."""

    status, slug, title = 400, "bad-request", "Bad request"


class AuthenticationError(ApiError):
    """No valid token, or the token's user is unknown or disabled."""

    status, slug, title = 401, "unauthenticated", "Authentication required"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class PermissionDeniedError(ApiError):
    status, slug, title = 403, "forbidden", "Permission denied"


class NotFoundError(ApiError):
    """Absent, or belonging to another tenant: the two are indistinguishable on purpose."""

    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowedError(ApiError):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class ConflictError(ApiError):
    """The change clashes with the state: a unique value taken, a rule such as the last owner."""

    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailedError(ApiError):
    """``If-Match`` names a version that is no longer current."""

    status, slug, title = 412, "precondition-failed", "Precondition failed"


class SyncExpiredError(ApiError):
    """A sync token too old to continue from (past the deletions' retention, or from before a restore
    of the company): the client drops its copy and syncs from scratch."""

    status, slug, title = 410, "sync-expired", "Sync from scratch"


class PayloadTooLargeError(ApiError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaTypeError(ApiError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class ValidationError(ApiError):
    """The body is JSON but breaks the schema; ``errors`` names each offending field."""

    status, slug, title = 422, "validation-error", "Validation failed"


class RateLimitedError(ApiError):
    status, slug, title = 429, "rate-limited", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class PaymentRequiredError(ApiError):
    """A capped plan's monthly limit is reached (``limit`` names it): a paid plan goes on."""

    status, slug, title = 402, "plan-limit", "Plan limit reached"


class RestoringError(ApiError):
    """A restore of the company is running: its writes wait until it is done (reads still answer)."""

    status, slug, title = 503, "restoring", "Restore in progress"
    retry_after = 30

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class WriteTooSlowError(ApiError):
    """The request took so long that its change would be stamped too far in the past for a syncing
    client to be sure to see it (core/sync.py): nothing was written, and the same request again is
    safe."""

    status, slug, title = 503, "write-too-slow", "Write took too long"
    retry_after = 1

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ClosingError(ApiError):
    """The company is being closed (offboarded): it takes no more changes, ever (reads still answer
    until its data is removed). A 503 like a restore's, so clients treat both alike; never retried
    into success."""

    status, slug, title = 503, "closing", "Company closing"
    retry_after = 3600

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


STATUS_ERRORS: dict[int, type[ApiError]] = {
    cls.status: cls
    for cls in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        MethodNotAllowedError,
        ConflictError,
        PreconditionFailedError,
        SyncExpiredError,
        PayloadTooLargeError,
        UnsupportedMediaTypeError,
        ValidationError,
        RateLimitedError,
        PaymentRequiredError,
        RestoringError,
    )
}


def field_error(message: str, loc: list[Any], msg: str, kind: str = "value_error") -> ValidationError:
    """A 422 naming one field: ``loc`` as in pydantic's errors (``["body", "lines", 0, "quantity"]``; the index is
    answered as text, ``"0"``)."""
    return ValidationError(message, errors=[{"loc": loc, "msg": msg, "type": kind}])

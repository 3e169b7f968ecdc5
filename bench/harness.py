"""A moto-backed app for counting calls: the same stack as the tests, outside pytest."""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import secrets
from collections.abc import Iterator
from typing import Any


class Counter:
    """Counts DynamoDB API calls made through the app's client (botocore's before-call event)."""

    def __init__(self) -> None:
        from chalicelib.core import aws

        self.calls: collections.Counter[str] = collections.Counter()
        aws.observe("before-call.dynamodb", self._seen)

    def _seen(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def reset(self) -> None:
        self.calls.clear()

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def describe(self) -> str:
        return ", ".join(f"{n} {name}" for name, n in sorted(self.calls.items()))


@contextlib.contextmanager
def local_api() -> Iterator[tuple[Any, str]]:
    """(api helper, owner token) on a fresh moto stack; the helper is the tests' one."""
    from infra.moto_server import start_local_aws

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server, endpoint = start_local_aws()
    os.environ.update(
        CURSOR_SECRET=secrets.token_hex(16),
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    from infra.provision import provision

    stack = provision("bench")
    os.environ.update(stack.local_environment(endpoint))
    from chalice.test import Client

    from app import app
    from chalicelib.core import aws, tokens
    from chalicelib.core.config import settings
    from chalicelib.tenants.access import CACHE
    from tests.conftest import Api, login

    for cached in (settings, aws.cognito, tokens._jwks_client):
        cached.cache_clear()
    aws.forget_company_sessions()
    tokens.VERIFIED.clear()
    CACHE.clear()
    try:
        with Client(app) as client:
            api = Api(client)
            r = api.post(
                "/tenants",
                None,
                {
                    "company_name": "Bench",
                    "owner_email": "bench@example.com",
                    "owner_password": "bench-pass-123",
                },
            )
            assert r.status == 202, r.body
            yield api, login(api, "bench@example.com", "bench-pass-123")
    finally:
        server.stop()

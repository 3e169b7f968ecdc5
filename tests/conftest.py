"""Test fixtures: moto in server mode as the AWS, the stack provisioned from infra/, and the app
driven through chalice.test.Client with real Cognito logins and real JWT verification."""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.moto_server import start_local_aws  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def moto_server() -> Any:
    """One moto server per test process (pytest-xdist worker)."""
    server, endpoint = start_local_aws()
    os.environ.update(
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
        CURSOR_SECRET=secrets.token_hex(16),
        SIGNUP_LIMIT_PER_HOUR="100000",
        LOGIN_LIMIT_PER_MINUTE="100000",
        INVITE_LIMIT_PER_HOUR="100000",
        RESTORE_QUIESCE_SECONDS="0",
        OFFBOARD_GRACE_SECONDS="0",
        BACKUP_LIMIT_PER_HOUR="100000",
    )
    from chalicelib.core import aws as clients
    from tests import iam_audit

    clients.observe("before-call.dynamodb", iam_audit.check)
    clients.observe("provide-client-params", iam_audit.check_service)
    yield endpoint
    clients.unobserve("before-call.dynamodb", iam_audit.check)
    clients.unobserve("provide-client-params", iam_audit.check_service)
    server.stop()


@pytest.fixture(autouse=True)
def _judged_by_iam() -> Any:
    """Each test's DynamoDB calls as IAM would judge them in AWS (tests/iam_audit.py)."""
    from tests import iam_audit

    iam_audit.take()
    yield
    refused = iam_audit.take()
    assert not refused, "IAM would refuse: " + "; ".join(sorted(set(refused))[:10])


_stages = iter(range(1, 10_000))


@pytest.fixture(scope="module")
def aws(moto_server: str) -> Any:
    """A fresh stack (table, bus, queues, user pool...) per test module, made from infra/.

    moto copies the whole table on every TransactWriteItems (to roll back), so a table shared by
    the whole session would make each test slower than the last.
    """
    from infra.provision import provision

    stack = provision(f"test{next(_stages)}")
    os.environ.update(stack.local_environment(moto_server))
    from chalicelib.core import aws as clients
    from chalicelib.core.config import settings
    from chalicelib.tenants.access import CACHE

    settings.cache_clear()
    clients.forget_company_sessions()  # a company's session names the table of its stack
    CACHE.clear()
    return stack


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", self.headers.get("Content-Type", ""))


class Api:
    """A thin HTTP helper over chalice.test.Client."""

    def __init__(self, client: Any) -> None:
        self._http = client.http

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        h = {"content-type": "application/json"}
        if token:
            h["authorization"] = f"Bearer {token}"
        h.update(headers or {})
        if isinstance(body, bytes):
            raw, body = body, None
        data = (
            raw
            if raw is not None
            else (json.dumps(body, ensure_ascii=False).encode() if body is not None else b"")
        )
        r = self._http.request(method, path, headers=h, body=data)
        return Reply(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.body)

    def get(self, path: str, token: str | None = None, **kw: Any) -> Reply:
        return self.call("GET", path, token, **kw)

    def post(self, path: str, token: str | None = None, body: Any = None, **kw: Any) -> Reply:
        return self.call("POST", path, token, body, **kw)

    def patch(self, path: str, token: str | None = None, body: Any = None, **kw: Any) -> Reply:
        return self.call("PATCH", path, token, body, **kw)

    def put(self, path: str, token: str | None = None, body: Any = None, **kw: Any) -> Reply:
        return self.call("PUT", path, token, body, **kw)

    def delete(self, path: str, token: str | None = None, **kw: Any) -> Reply:
        return self.call("DELETE", path, token, **kw)


@pytest.fixture(scope="module")
def api(aws: Any) -> Any:
    from chalice.test import Client

    from app import app

    with Client(app) as client:
        yield Api(client)


PASSWORD = "correct-horse-42"


@dataclass
class TenantCtx:
    id: str
    owner_email: str
    token: str
    owner_id: str


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def login(api: Api, email: str, password: str = PASSWORD) -> str:
    r = api.post("/auth/login", body={"email": email, "password": password})
    assert r.status == 200, r.body
    return r.json["id_token"]


def a_tenant(api: Api, name: str = "Acme Trading") -> TenantCtx:
    email = unique_email("owner")
    r = api.post(
        "/tenants",
        body={"company_name": name, "owner_email": email, "owner_password": PASSWORD, "plan": "enterprise"},
    )
    assert r.status == 202, r.body
    token = login(api, email)
    me = api.get("/me", token).json
    return TenantCtx(me["tenant"]["id"], email, token, me["user"]["id"])


def a_user(api: Api, tenant: TenantCtx, roles: list[str]) -> tuple[str, str]:
    """A user of ``tenant`` with ``roles``; returns (user_id, id_token)."""
    email = unique_email("-".join(roles))
    r = api.post("/admin/users", tenant.token, {"email": email, "roles": roles, "password": PASSWORD})
    assert r.status == 201, r.body
    return r.json["id"], login(api, email)


def a_customer(api: Api, tenant: TenantCtx, **fields: Any) -> dict[str, Any]:
    """A customer; its default name is unique, as a second "Globex" would be a probable duplicate."""
    body = {"name": f"Globex {uuid.uuid4().hex[:8]}", "kind": "company", **fields}
    r = api.post("/crm/customers", tenant.token, body)
    assert r.status == 201, r.body
    return r.json


@pytest.fixture
def tenant(api: Api) -> TenantCtx:
    return a_tenant(api)


@pytest.fixture
def backdated_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests that write months of history straight to the table (records stamped in the past):
    the store's refusal of a change stamped more than ``STAMP_SECONDS`` ago is off."""
    from chalicelib.core import store

    monkeypatch.setattr(store, "STAMP_SECONDS", 10**9)

"""boto3 clients, created lazily once per container with the standard retry mode.

Endpoints come from boto3's own configuration (``AWS_ENDPOINT_URL`` locally), never from code.

DynamoDB is reached with one of two kinds of credentials. A request handler working for a company
(``with tenant_scope(tenant_id)``, entered by the route layer once the token names the company) gets
a client whose credentials come from STS: the tenant data role (``TENANT_ROLE_ARN``) assumed with a
session policy that allows only partition keys beginning with ``T#<tenant>#`` or
``P#COMPANY#<tenant>#`` (``dynamodb:LeadingKeys``, on the table and its indexes). Those credentials
are kept per company for the container's life and refreshed by botocore before they expire: one STS
call per company per container hour. Outside a company's scope (platform work: public routes, the
operators', the queue consumers, the schedules), the function's own role answers.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials

from chalicelib.core import keys
from chalicelib.core.config import settings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
# The longest one call with _CONFIG can take: 3 tries of 2 s to connect and 5 s to read, and the
# standard mode's waits between them (at most 2 s, then 4 s). core/sync.py's settle window counts on it.
WORST_CALL_SECONDS = 3 * (2 + 5) + 2 + 4

# ---- which company's keys the current request may touch ---------------------------------------------
_TENANT: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant_scope", default=None)
# The DynamoDB actions a company's session may take: each names the keys it touches, so the leading
# keys condition always has values to test (ForAllValues holds for an empty set: Scan is never here).
TENANT_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
)
SESSION_SECONDS = 3600
_KEPT_COMPANIES = 256  # companies whose clients a container keeps (least recently used go first)


@contextlib.contextmanager
def tenant_scope(tenant_id: str | None) -> Iterator[None]:
    """DynamoDB calls inside reach only ``tenant_id``'s keys (None: the function's own role)."""
    token = _TENANT.set(tenant_id)
    try:
        yield
    finally:
        _TENANT.reset(token)


def current_tenant_scope() -> str | None:
    return _TENANT.get()


@contextlib.contextmanager
def on_behalf_of(tenant_id: str) -> Iterator[None]:
    """Work for ``tenant_id`` from wherever this runs: inside a company's request (which may save
    what the container counted for other companies) with ``tenant_id``'s own session; in platform
    work with the function's own role, as before."""
    if _TENANT.get() is None:
        yield
        return
    with tenant_scope(tenant_id):
        yield


# Which of the app's functions is running (``api``, ``erp-consumer``...: infra/package.py's names):
# for logs and for the tests that judge each call against that function's role.
_FUNCTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("function", default=None)


@contextlib.contextmanager
def running(function: str) -> Iterator[None]:
    token = _FUNCTION.set(function)
    try:
        yield
    finally:
        _FUNCTION.reset(token)


def current_function() -> str | None:
    return _FUNCTION.get()


def session_policy(tenant_id: str, table_arn: str) -> dict[str, Any]:
    """The session policy of a company's STS session (its effect is the intersection with the
    tenant data role's own policy, infra/template.yaml)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": list(TENANT_ACTIONS),
                "Resource": [table_arn, f"{table_arn}/index/*"],
                "Condition": {
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": keys.company_key_patterns(tenant_id)}
                },
            }
        ],
    }


def table_arn() -> str:
    """The table's ARN, in the tenant data role's account and partition."""
    if not settings().tenant_role_arn:
        raise RuntimeError("TENANT_ROLE_ARN is not set: a company's request has no credentials of its own")
    role = settings().tenant_role_arn.split(":")
    return f"arn:{role[1]}:dynamodb:{settings().region}:{role[4]}:table/{settings().table_name}"


# ---- client observers (call counts in tests and benchmarks) -------------------------------------
# (event, handler, first) registered on every client made here (each company's DynamoDB clients
# included); a handler is called with ``credentials``: the company whose client made the call, or
# None for the function's own.
_OBSERVERS: list[tuple[str, Callable[..., Any], bool]] = []
_CLIENTS: list[tuple[Any, str | None]] = []
_LOCK = threading.RLock()


def observe(event: str, handler: Callable[..., Any], *, first: bool = False) -> None:
    """Register ``handler`` for botocore ``event`` on every client made here, now and to come."""
    with _LOCK:
        _OBSERVERS.append((event, handler, first))
        for client, owner in _CLIENTS:
            _register(client, owner, event, handler, first)


def unobserve(event: str, handler: Callable[..., Any]) -> None:
    with _LOCK:
        _OBSERVERS[:] = [o for o in _OBSERVERS if not (o[0] == event and o[1] is handler)]
        for client, _owner in _CLIENTS:
            client.meta.events.unregister(event, unique_id=f"observer-{id(handler)}")


def _register(client: Any, owner: str | None, event: str, handler: Callable[..., Any], first: bool) -> None:
    how = client.meta.events.register_first if first else client.meta.events.register

    def told(**kwargs: Any) -> Any:
        return handler(credentials=owner, client=client, **kwargs)

    how(event, told, unique_id=f"observer-{id(handler)}")


def _kept(client: Any, owner: str | None = None) -> Any:
    with _LOCK:
        _CLIENTS.append((client, owner))
        for event, handler, first in _OBSERVERS:
            _register(client, owner, event, handler, first)
    return client


# ---- the companies' sessions ----------------------------------------------------------------------
_COMPANIES: OrderedDict[str, tuple[Any, Any]] = OrderedDict()


def _loader() -> Any:
    return _shared_session().get_component("data_loader")


@functools.cache
def _shared_session() -> Any:
    return botocore.session.get_session()


def _company_session(tenant_id: str) -> boto3.Session:
    """A boto3 session holding ``tenant_id``'s STS credentials, refreshed before they expire."""
    policy = json.dumps(session_policy(tenant_id, table_arn()), separators=(",", ":"))

    def fetch() -> dict[str, Any]:
        answer = sts().assume_role(
            RoleArn=settings().tenant_role_arn,
            RoleSessionName=f"company-{tenant_id}"[:64],
            Policy=policy,
            DurationSeconds=SESSION_SECONDS,
        )["Credentials"]
        return {
            "access_key": answer["AccessKeyId"],
            "secret_key": answer["SecretAccessKey"],
            "token": answer["SessionToken"],
            "expiry_time": answer["Expiration"].isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(fetch(), fetch, "sts-assume-role")
    core = botocore.session.Session()
    core.register_component("data_loader", _loader())  # service models parsed once per container
    core.register_component("credential_provider", CredentialResolver([_Given(credentials)]))
    return boto3.Session(botocore_session=core, region_name=settings().region)


class _Given(CredentialProvider):
    """The one source of a company session's credentials: its STS session."""

    METHOD = "company-sts-session"

    def __init__(self, credentials: RefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


def company_clients(tenant_id: str) -> tuple[Any, Any]:
    """The company's DynamoDB clients (resource interface, wire format), made on first use."""
    return _company_clients(tenant_id)


def _company_clients(tenant_id: str) -> tuple[Any, Any]:
    with _LOCK:
        kept = _COMPANIES.get(tenant_id)
        if kept is not None:
            _COMPANIES.move_to_end(tenant_id)
            return kept
    session = _company_session(tenant_id)
    made = (
        _kept(session.resource("dynamodb", config=_CONFIG).meta.client, tenant_id),
        _kept(session.client("dynamodb", config=_CONFIG), tenant_id),
    )
    with _LOCK:
        _COMPANIES[tenant_id] = made
        while len(_COMPANIES) > _KEPT_COMPANIES:
            _, (old, old_wire) = _COMPANIES.popitem(last=False)
            _CLIENTS[:] = [c for c in _CLIENTS if c[0] is not old and c[0] is not old_wire]
    return made


def forget_company_sessions() -> None:
    """Drop every company's clients (tests that change the stack)."""
    with _LOCK:
        _COMPANIES.clear()
        _CLIENTS[:] = [c for c in _CLIENTS if c[0].meta.service_model.service_name != "dynamodb"]
    _platform_dynamodb.cache_clear()
    _platform_dynamodb_wire.cache_clear()


def dynamodb() -> Any:
    """The DynamoDB client of the resource interface (plain Python values): the current company's
    scoped one inside ``tenant_scope``, else the function's own."""
    tenant = _TENANT.get()
    if tenant is not None:
        return _company_clients(tenant)[0]
    return _platform_dynamodb()


def dynamodb_wire() -> Any:
    """A plain DynamoDB client (typed attribute values), for libraries that speak the wire format;
    scoped as ``dynamodb()`` is."""
    tenant = _TENANT.get()
    if tenant is not None:
        return _company_clients(tenant)[1]
    return _platform_dynamodb_wire()


@functools.cache
def _platform_dynamodb() -> Any:
    return _kept(boto3.resource("dynamodb", region_name=settings().region, config=_CONFIG).meta.client)


@functools.cache
def _platform_dynamodb_wire() -> Any:
    return _kept(boto3.client("dynamodb", region_name=settings().region, config=_CONFIG))


@functools.cache
def sts() -> Any:
    return _kept(boto3.client("sts", region_name=settings().region, config=_CONFIG))


@functools.cache
def cognito() -> Any:
    return _kept(boto3.client("cognito-idp", region_name=settings().region, config=_CONFIG))


@functools.cache
def events() -> Any:
    return _kept(boto3.client("events", region_name=settings().region, config=_CONFIG))


@functools.cache
def sqs() -> Any:
    return _kept(boto3.client("sqs", region_name=settings().region, config=_CONFIG))


@functools.cache
def s3() -> Any:
    """S3 with SigV4 (presigned URLs for KMS-encrypted objects need it)."""
    config = _CONFIG.merge(Config(signature_version="s3v4", read_timeout=30))
    return _kept(boto3.client("s3", region_name=settings().region, config=config))


@functools.cache
def ses() -> Any:
    return _kept(boto3.client("ses", region_name=settings().region, config=_CONFIG))

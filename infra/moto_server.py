"""moto in server mode, as the local AWS of `make run` and of the tests.

Two changes to moto's own server, both about DynamoDB transactions:

- DynamoDB requests are served one at a time. moto checks a condition and then writes without a
  lock, so two concurrent conditional writes could both pass, which real DynamoDB never allows.
  Serialising DynamoDB calls restores the atomicity that the product's concurrency guarantees (and
  their tests) rely on. Other services stay concurrent, so an SQS long poll never blocks the table.
- moto keeps a deep copy of the table to roll a failed transaction back, and makes it once per
  item of the transaction: a ten-item transaction copied the whole table ten times, so a table of
  a few thousand items made each write take seconds (and botocore's retry of a slow write then
  failed its own condition). The copy is now made once per transaction.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.threaded_moto_server import MotoRequestHandler, ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


class _SerialDynamoDB:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self._lock:
                return list(self._app(environ, start_response))
        return self._app(environ, start_response)


class _CopyOncePerTransaction:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend (see the module docstring)."""

    def __init__(self) -> None:
        self.copies: dict[int, Any] | None = None  # only inside a transaction

    def deepcopy(self, value: Any) -> Any:
        if self.copies is None:
            return copy.deepcopy(value)
        if id(value) not in self.copies:
            self.copies[id(value)] = copy.deepcopy(value)
        return self.copies[id(value)]


def _copy_tables_once() -> None:
    from moto.dynamodb import models

    if isinstance(models.copy, _CopyOncePerTransaction):
        return
    shim = _CopyOncePerTransaction()
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: Any) -> Any:
        shim.copies = {}  # a fresh copy for every transaction (calls are serialised, see above)
        try:
            return original(self, transact_items)
        finally:
            shim.copies = None

    models.copy = shim  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


class MotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        _copy_tables_once()
        app = _SerialDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def start_local_aws(port: int = 0, region: str = "us-east-1") -> tuple[MotoServer, str]:
    """Start moto on loopback and point boto3 at it through its standard variables."""
    server = MotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    endpoint = f"http://{host}:{bound}"
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(key, None)
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION=region
    )
    return server, endpoint

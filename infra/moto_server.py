"""moto in server mode, as the local AWS of `make run` and of the tests.

One change to moto's own server: DynamoDB requests are served one at a time. moto checks a
condition and then writes without a lock, so two concurrent conditional writes could both pass,
which real DynamoDB never allows. Serialising DynamoDB calls restores the atomicity that the
product's concurrency guarantees (and their tests) rely on. Other services stay concurrent, so an
SQS long poll never blocks the table.
"""

from __future__ import annotations

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


class MotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        app = _SerialDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()

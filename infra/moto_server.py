"""moto in server mode, as the local AWS of `make run` and of the tests.

Two changes to moto's own server, both about DynamoDB transactions:

- DynamoDB requests are served one at a time. moto checks a condition and then writes without a
  lock, so two concurrent conditional writes could both pass, which real DynamoDB never allows.
  Serialising DynamoDB calls restores the atomicity that the product's concurrency guarantees (and
  their tests) rely on. Other services stay concurrent, so an SQS long poll never blocks the table.
- moto keeps a deep copy of the whole table to roll a failed transaction back, and makes it once
  per item of the transaction: with a few thousand items each write took seconds (and botocore's
  retry of a slow write then failed its own condition). Now only the items the transaction touches
  are saved, and restored if it fails: the same all-or-nothing, at the cost of the transaction.
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


class _NoTableCopy:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend: while a transaction runs,
    the "copy" of a table is the table itself; the wrapper below saves and restores only the items
    the transaction touches."""

    in_transaction = False

    def deepcopy(self, value: Any) -> Any:
        return value if self.in_transaction else copy.deepcopy(value)


def _rollback_touched_items_only() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType

    if isinstance(models.copy, _NoTableCopy):
        return
    shim = _NoTableCopy()
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: Any) -> Any:
        saved = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            source = op["Item"] if op_type == "Put" else op.get("Key", {})
            if table.hash_key_attr not in source or (
                table.range_key_attr and table.range_key_attr not in source
            ):
                continue  # a malformed operation: moto refuses it before writing anything
            hash_value = DynamoType(source[table.hash_key_attr])
            range_value = DynamoType(source[table.range_key_attr]) if table.range_key_attr else None
            current = (
                table.items.get(hash_value, {}).get(range_value)
                if range_value
                else table.items.get(hash_value)
            )
            saved.append((table, hash_value, range_value, copy.deepcopy(current)))
        shim.in_transaction = True  # calls are serialised (see above), so the flag is this call's
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, old in reversed(saved):
                if range_value is None:
                    if old is None:
                        table.items.pop(hash_value, None)
                    else:
                        table.items[hash_value] = old
                elif old is None:
                    table.items.get(hash_value, {}).pop(range_value, None)
                else:
                    table.items[hash_value][range_value] = old
            raise
        finally:
            shim.in_transaction = False

    models.copy = shim  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


class MotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        _rollback_touched_items_only()
        app = _SerialDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
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
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION=region,
    )
    return server, endpoint

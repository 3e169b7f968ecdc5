"""The processes of tests/test_sync.py's concurrent simulation: each is one Lambda container (its own
app, serving one request at a time) against the tests' local server, so the writers' and the
devices' requests run at the same time, not one after another. Started with ``spawn``: a fresh
interpreter that takes the test's environment (the stack, the cursor secret) and nothing else."""

from __future__ import annotations

import os
import random
import time
from typing import Any


def _api(environment: dict[str, str], stamp_seconds: float, settle_seconds: float) -> Any:
    """The app in this process, with the test's short windows (a settle window twice the stamp
    limit, as in production: core/sync.py)."""
    os.environ.update(environment)
    from chalice.test import Client

    from app import app
    from chalicelib.core import store, sync
    from tests.conftest import Api

    store.STAMP_SECONDS = stamp_seconds  # type: ignore[misc]
    sync.SETTLE_SECONDS = settle_seconds  # type: ignore[misc]
    client = Client(app)
    client.__enter__()
    return Api(client)


def writer(
    environment: dict[str, str],
    windows: tuple[float, float],
    token: str,
    manager: bool,
    owners: list[str],
    shared: list[str],
    seed: int,
    rounds: int,
    results: Any,
) -> None:
    """Create, edit, assign (a manager), claim, release and delete customers: the shared ones and
    its own. Puts (seed, ids created, statuses seen) on ``results``; a retry after 503 is the
    client's part (the write was refused whole)."""
    api = _api(environment, *windows)
    rnd = random.Random(seed)
    made: list[str] = []
    seen: dict[int, int] = {}
    for n in range(rounds):
        action = rnd.choice(["create", "create", "edit", "edit", "assign", "claim", "release", "delete"])
        known = shared + made
        target = rnd.choice(known) if known else None
        for _ in range(5):
            if action == "create" or target is None:
                body: dict[str, Any] = {"name": f"Proc {seed}-{n}", "kind": "company"}
                if manager:
                    body["owner_id"] = rnd.choice([*owners, None])
                reply = api.post("/crm/customers", token, body)
                if reply.status == 201:
                    made.append(reply.json["id"])
            elif action == "edit":
                reply = api.patch(f"/crm/customers/{target}", token, {"tags": [f"p{seed}-{n}"]})
            elif action == "assign" and manager:
                reply = api.post(f"/crm/customers/{target}/assign", token, {"owner_id": rnd.choice(owners)})
            elif action in ("claim", "release"):
                reply = api.post(f"/crm/customers/{target}/{action}", token)
            else:
                reply = api.delete(f"/crm/customers/{target}", token)
            seen[reply.status] = seen.get(reply.status, 0) + 1
            if reply.status != 503:
                break
            time.sleep(float(reply.headers.get("retry-after", "1")))
    results.put(("writer", seed, made, seen))


def device(
    environment: dict[str, str],
    windows: tuple[float, float],
    token: str,
    seed: int,
    stop: Any,
    results: Any,
) -> None:
    """Sync (pages of 3) at random moments until ``stop``; puts its copy and sync token on
    ``results``."""
    from tests.test_sync import Device

    api = _api(environment, *windows)
    rnd = random.Random(seed)
    phone = Device(api, token)
    syncs = 0
    while not stop.is_set():
        phone.sync(limit=3)
        syncs += 1
        stop.wait(rnd.random() * 0.3)
    results.put(("device", seed, phone.copy, phone.sync_token, syncs))

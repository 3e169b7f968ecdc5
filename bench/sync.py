"""Issue 16: a sync page against the plain list page and a bare Chalice route making the same Query,
side by side (rounds alternate the three, median of each round's median), with DynamoDB calls
counted exactly per request; and what a sync sends again because of its settle window.

A company of 300 customers (a third a rep's, a third another's, a third in the pool) on the same
moto stack as the tests. Measured, each a page of 50 records of the change index (gsi1):

- ``sync=true&limit=50``: a sync's first page (the owner);
- ``updated_since=<long ago>&limit=50``: the plain list's page, the same Query;
- a bare Chalice route: one ``Query`` of the same index, partition and limit, its items as JSON
  (no token, no permission, no rate, no metering): the floor;
- a rep's next sync (scope exits first: its notes and the pool's, then the changes), with the 300
  customers inside the settle window (all read again) and with nothing changed.

    python -m bench.sync [--rounds 7] [--requests 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGE = 50


def bare_app(table: str, partition: str) -> Any:
    """A Chalice app with one route doing the Query a sync page does, nothing else."""
    from chalice import Chalice

    from chalicelib.core import aws

    bare = Chalice("bare")
    client = aws.dynamodb()  # plain Python values, as the store's

    @bare.route("/bare")
    def page() -> dict[str, Any]:
        found = client.query(
            TableName=table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p AND gsi1sk > :s",
            ExpressionAttributeValues={":p": partition, ":s": " "},
            Limit=PAGE,
        )
        return json.loads(json.dumps({"items": found["Items"]}, default=str))

    return bare


def timed(call: Any, requests: int) -> float:
    """The median time of ``requests`` calls, in ms."""
    spent = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    from chalice.test import Client

    from bench.harness import Counter, local_api

    with local_api() as (api, _):
        from chalicelib.core import keys, sync
        from chalicelib.core.config import settings
        from tests.conftest import a_user, login

        settle = sync.SETTLE_SECONDS

        body = {
            "company_name": "Sync bench",
            "owner_email": "sync-bench@example.com",
            "owner_password": "bench-pass-123",
            "plan": "enterprise",
        }
        assert api.post("/tenants", None, body).status == 202
        owner = login(api, "sync-bench@example.com", "bench-pass-123")
        me = api.get("/me", owner).json
        tenant = me["tenant"]["id"]

        class Owner:  # what tests.conftest.a_user needs of a company
            token = owner

        rep_id, rep = a_user(api, Owner, ["sales_rep"])  # type: ignore[arg-type]
        other_id, _ = a_user(api, Owner, ["sales_rep"])  # type: ignore[arg-type]
        for n in range(300):
            body: dict[str, Any] = {"name": f"Customer {n:03d}", "kind": "company"}
            body["owner_id"] = (rep_id, other_id, None)[n % 3]
            assert api.post("/crm/customers", owner, body).status == 201
        counter = Counter()
        partition = keys.updated_index_pk(tenant, "CUSTOMER")
        with Client(bare_app(settings().table_name, partition)) as bare_client:
            bare_items = len(json.loads(bare_client.http.get("/bare").body)["items"])

            def ours_sync() -> None:
                reply = api.get(f"/crm/customers?sync=true&limit={PAGE}", owner)
                assert reply.status == 200 and len(reply.json["items"]) == PAGE

            def ours_list() -> None:
                reply = api.get(f"/crm/customers?updated_since=2000-01-01T00:00:00Z&limit={PAGE}", owner)
                assert reply.status == 200 and len(reply.json["items"]) == PAGE

            def floor() -> None:
                assert bare_client.http.get("/bare").status_code == 200

            def whole_sync(token: str | None) -> str:
                """Every page of a rep's sync; the last answer's token."""
                which = f"sync_token={token}" if token else "sync=true"
                reply = api.get(f"/crm/customers?{which}&limit={PAGE}", rep)
                while not reply.json["sync_complete"]:
                    reply = api.get(f"/crm/customers?sync_token={reply.json['sync_token']}&limit={PAGE}", rep)
                return str(reply.json["sync_token"])

            # The 300 customers were written within the last minute: a rep's next sync reads them
            # all again (the settle window). A token made with no window shows a quiet sync's cost.
            in_window = whole_sync(None)
            sync.SETTLE_SECONDS = 0  # type: ignore[misc]
            quiet = whole_sync(None)
            sync.SETTLE_SECONDS = settle  # type: ignore[misc]

            def rep_sync() -> None:
                whole_sync(in_window)

            def rep_quiet() -> None:
                whole_sync(quiet)

            shapes = {
                "sync page (sync=true)": ours_sync,
                "list page (updated_since)": ours_list,
                "bare Chalice route, same Query": floor,
                "a rep's next sync, 300 changes in the window (every page)": rep_sync,
                "a rep's next sync, nothing changed (every page)": rep_quiet,
            }
            calls = {}
            for name, call in shapes.items():
                call()  # warm
                counter.reset()
                call()
                calls[name] = counter.describe()
            rounds: dict[str, list[float]] = {name: [] for name in shapes}
            for _ in range(args.rounds):
                for name, call in shapes.items():
                    rounds[name].append(timed(call, args.requests))
        medians = {name: statistics.median(spent) for name, spent in rounds.items()}
        base = medians["bare Chalice route, same Query"]
        print(f"\n300 customers; pages of {PAGE} ({bare_items} items from the bare route); ")
        print(f"{args.rounds} rounds x {args.requests} requests, median of the rounds' medians\n")
        print("| request | DynamoDB calls | ms (median) | ratio to the bare route |")
        print("|---|---|---|---|")
        for name in shapes:
            print(f"| {name} | {calls[name]} | {medians[name]:.1f} | {medians[name] / base:.2f} |")


if __name__ == "__main__":
    main()

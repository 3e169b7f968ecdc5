"""Mobile sync that never misses a change (issue 16): ``sync=true`` then ``sync_token``."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core import store as store_module
from chalicelib.core import sync
from chalicelib.core.store import Store
from tests.conftest import TenantCtx, a_customer, a_tenant, a_user


class Device:
    """A phone's copy of one list, kept by the sync loop of docs/api.md."""

    def __init__(self, api: Any, token: str, path: str = "/crm/customers") -> None:
        self.api, self.token, self.path = api, token, path
        self.copy: dict[str, dict[str, Any]] = {}
        self.sync_token: str | None = None

    def sync(self, limit: int = 100) -> list[dict[str, Any]]:
        """One whole sync (every page); the items it was given."""
        given: list[dict[str, Any]] = []
        while True:
            which = f"sync_token={self.sync_token}" if self.sync_token else "sync=true"
            reply = self.api.get(f"{self.path}?{which}&limit={limit}", self.token)
            if reply.status == 410:  # too old: from scratch
                self.copy, self.sync_token = {}, None
                continue
            assert reply.status == 200, reply.body
            for item in reply.json["items"]:
                given.append(item)
                if item.get("deleted"):
                    self.copy.pop(item["id"], None)
                elif item["version"] >= self.copy.get(item["id"], {}).get("version", 0):
                    self.copy[item["id"]] = item
            self.sync_token = reply.json["sync_token"]
            if reply.json["sync_complete"]:
                return given


def server_view(api: Any, token: str, path: str = "/crm/customers") -> dict[str, int]:
    """Every record the user may read, by id, with its version (the long way: updated_since)."""
    found: dict[str, int] = {}
    cursor = ""
    while True:
        reply = api.get(f"{path}?updated_since=2000-01-01T00:00:00Z&limit=100{cursor}", token)
        assert reply.status == 200, reply.body
        found.update({i["id"]: i["version"] for i in reply.json["items"] if not i.get("deleted")})
        if not reply.json["next_cursor"]:
            return found
        cursor = f"&cursor={reply.json['next_cursor']}"


class OneAtATime:
    """The test client for threads: Chalice's app object holds the current request, so requests made
    in process go one at a time."""

    def __init__(self, api: Any) -> None:
        self._api, self._lock = api, threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._api, name)

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return locked


def versions(device: Device) -> dict[str, int]:
    return {i: item["version"] for i, item in device.copy.items()}


@pytest.fixture
def company(api) -> TenantCtx:
    return a_tenant(api, "Field Sales Ltd")


def test_a_sync_lists_everything_then_every_change_and_deletion(api, company):
    phone = Device(api, company.token)
    kept = a_customer(api, company)
    gone = a_customer(api, company)
    phone.sync()
    assert versions(phone) == server_view(api, company.token)
    changed = api.patch(f"/crm/customers/{kept['id']}", company.token, {"tags": ["vip"]}).json
    assert api.delete(f"/crm/customers/{gone['id']}", company.token).status == 204
    added = a_customer(api, company)
    given = phone.sync()
    assert {i["id"] for i in given} >= {kept["id"], gone["id"], added["id"]}
    assert (
        phone.copy[kept["id"]]["tags"] == ["vip"] and phone.copy[kept["id"]]["version"] == changed["version"]
    )
    assert gone["id"] not in phone.copy
    assert versions(phone) == server_view(api, company.token)


def test_a_sync_pages_and_its_token_serves_that_list_and_user_alone(api, company):
    for _ in range(5):
        a_customer(api, company)
    phone = Device(api, company.token)
    pages = []
    reply = api.get("/crm/customers?sync=true&limit=2", company.token).json
    pages.append(reply)
    while not reply["sync_complete"]:
        reply = api.get(f"/crm/customers?sync_token={reply['sync_token']}&limit=2", company.token).json
        pages.append(reply)
    assert len(pages) == 3 and sum(len(p["items"]) for p in pages) == 5
    token = pages[-1]["sync_token"]
    other_list = api.get(f"/crm/contacts?sync_token={token}", company.token)
    assert other_list.status == 400 and other_list.json["errors"][0]["loc"] == ["query", "sync_token"]
    _, rep = a_user(api, company, ["sales_rep"])
    other_user = api.get(f"/crm/customers?sync_token={token}", rep)
    assert other_user.status == 400
    other_company = a_tenant(api, "Elsewhere Ltd")
    stolen = api.get(f"/crm/customers?sync_token={token}", other_company.token)
    assert stolen.status == 400 and stolen.json.get("items") is None
    edited = api.get(f"/crm/customers?sync_token={token[:-2]}xx", company.token)
    assert edited.status == 400
    mixed = api.get(f"/crm/customers?sync_token={token}&updated_since=2026-01-01T00:00:00Z", company.token)
    assert mixed.status == 400 and mixed.json["errors"][0]["loc"] == ["query", "updated_since"]
    both = api.get(f"/crm/customers?sync=true&sync_token={token}", company.token)
    assert both.status == 400
    assert phone.sync() and versions(phone) == server_view(api, company.token)


def test_a_write_stamped_earlier_that_commits_after_a_later_one_and_after_a_sync_is_not_missed(
    api, company, monkeypatch
):
    """Writer A stamps its change, then its transaction is held; writer B stamps later and commits;
    the phone syncs (it sees B, not A); A commits. The next sync returns A. A client that passed
    the last ``updated_at`` it saw (B's) to ``updated_since`` would have lost A for ever."""
    first, second = a_customer(api, company), a_customer(api, company)
    phone = Device(api, company.token)
    phone.sync()
    held, release = threading.Event(), threading.Event()
    real = Store.transact

    def hold_a(self: Store, operations: Any) -> None:
        if any(first["id"] in str(op) for op in operations) and threading.current_thread().name == "A":
            held.set()
            assert release.wait(timeout=30)
        real(self, operations)

    monkeypatch.setattr(Store, "transact", hold_a)
    a_answer: list[Any] = []
    writer_a = threading.Thread(
        name="A",
        target=lambda: a_answer.append(
            api.patch(f"/crm/customers/{first['id']}", company.token, {"tags": ["from-a"]})
        ),
    )
    writer_a.start()
    assert held.wait(timeout=30)  # A has stamped its change; its transaction waits
    b = api.patch(f"/crm/customers/{second['id']}", company.token, {"tags": ["from-b"]}).json
    given = phone.sync()
    assert second["id"] in {i["id"] for i in given} and phone.copy[first["id"]].get("tags") != ["from-a"]
    release.set()
    writer_a.join(timeout=30)
    a = a_answer[0].json
    assert a["updated_at"] < b["updated_at"]  # stamped earlier, committed later
    naive = api.get(f"/crm/customers?updated_since={b['updated_at']}", company.token).json["items"]
    assert first["id"] not in {i["id"] for i in naive}  # what updated_since alone would miss
    phone.sync()
    assert phone.copy[first["id"]]["tags"] == ["from-a"]
    assert versions(phone) == server_view(api, company.token)


class LaggingIndex:
    """The local server's global indexes lagging the table (infra/moto_server.py ``IndexLag``), on
    a clock the test moves (``later(s)`` is ``s`` seconds passing for the index), or on the real one."""

    def __init__(self, seconds: float, real_time: bool = False) -> None:
        from infra.moto_server import INDEX_LAG

        self._lag, self._now = INDEX_LAG, 0.0
        INDEX_LAG.clock = time.monotonic if real_time else lambda: self._now
        INDEX_LAG.set(seconds)

    def later(self, seconds: float) -> None:
        self._now += seconds

    def off(self) -> None:
        self._lag.set(0)
        self._lag.clock = time.monotonic


@pytest.fixture
def lagging_index() -> Any:
    made: list[LaggingIndex] = []

    def lag(seconds: float, real_time: bool = False) -> LaggingIndex:
        made.append(LaggingIndex(seconds, real_time))
        return made[-1]

    yield lag
    for index in made:
        index.off()


def test_a_change_the_index_does_not_show_yet_is_listed_by_the_next_sync(api, company, lagging_index):
    """The local server's change index (gsi1) shows each write 5 s late: a customer created, one
    edited and one deleted just before a sync are all invisible to it (the index still shows the
    edited one's former version and the deleted one alive), while the table has them. The settle
    window (60 s) is longer than the lag, so the sync after the index caught up lists all three."""
    edited, deleted = a_customer(api, company), a_customer(api, company)
    phone = Device(api, company.token)
    phone.sync()
    index = lagging_index(5)
    created = a_customer(api, company)
    assert api.patch(f"/crm/customers/{edited['id']}", company.token, {"tags": ["vip"]}).status == 200
    assert api.delete(f"/crm/customers/{deleted['id']}", company.token).status == 204
    assert api.get(f"/crm/customers/{created['id']}", company.token).status == 200  # the table has it
    given = phone.sync()  # the index does not show the three changes yet (it may list the former
    assert created["id"] not in {i["id"] for i in given}  # versions again, inside the window)
    assert not any(i.get("deleted") or i.get("tags") == ["vip"] for i in given)
    assert created["id"] not in phone.copy and deleted["id"] in phone.copy
    assert phone.copy[edited["id"]].get("tags") != ["vip"]
    index.later(5)  # the index caught up
    phone.sync()
    assert created["id"] in phone.copy and deleted["id"] not in phone.copy
    assert phone.copy[edited["id"]]["tags"] == ["vip"]
    assert versions(phone) == server_view(api, company.token)


def test_with_no_settle_window_the_same_lag_loses_the_change(api, company, monkeypatch, lagging_index):
    """What the window is for: at 0 s the boundary passes a change the index did not show yet."""
    monkeypatch.setattr(sync, "SETTLE_SECONDS", 0)
    phone = Device(api, company.token)
    phone.sync()
    index = lagging_index(5)
    late = a_customer(api, company)
    phone.sync()
    index.later(5)
    assert late["id"] in server_view(api, company.token)  # listed now...
    phone.sync()
    assert late["id"] not in phone.copy  # ...and lost to the phone: the reason the window exists


def test_a_token_past_the_deletions_retention_or_from_before_a_restore_is_gone(api, company, monkeypatch):
    phone = Device(api, company.token)
    a_customer(api, company)
    phone.sync()
    token = phone.sync_token
    real_now = sync._now
    monkeypatch.setattr(sync, "_now", lambda: real_now() + timedelta(days=sync.RETENTION_DAYS + 1))
    old = api.get(f"/crm/customers?sync_token={token}", company.token)
    assert old.status == 410 and old.json["type"] == "/problems/sync-expired", old.body
    assert old.json["reason"] == "too_old" and "items" not in old.json
    monkeypatch.setattr(sync, "_now", real_now)
    assert api.get(f"/crm/customers?sync_token={token}", company.token).status == 200

    from chalicelib.tenants import published as tenants
    from chalicelib.tenants.access import CACHE

    tenants.begin_restore(Store(), company.id)
    tenants.end_restore(Store(), company.id)
    CACHE.clear()
    restored = api.get(f"/crm/customers?sync_token={token}", company.token)
    assert restored.status == 410 and restored.json["reason"] == "restored", restored.body


def test_a_token_of_a_user_whose_roles_changed_what_they_read_is_gone(api, company):
    """A manager's copy holds every customer; made a rep (own and pool only), their token answers
    410: the copy holds records they may no longer read, and no note says which."""
    from chalicelib.tenants.access import CACHE

    user_id, manager = a_user(api, company, ["sales"])
    a_customer(api, company)
    phone = Device(api, manager)
    phone.sync()
    assert api.patch(f"/admin/users/{user_id}", company.token, {"roles": ["sales_rep"]}).status == 200
    CACHE.clear()  # the principal's 30 s are over
    reply = api.get(f"/crm/customers?sync_token={phone.sync_token}", manager)
    assert reply.status == 410 and reply.json["reason"] == "scope_changed", reply.body
    phone.sync()  # from scratch
    assert versions(phone) == server_view(api, manager)


def test_a_record_reassigned_away_from_an_own_records_user_arrives_as_a_removal(api, company):
    (rep_id, rep), (other_id, other) = (
        a_user(api, company, ["sales_rep"]),
        a_user(api, company, ["sales_rep"]),
    )
    mine = api.post("/crm/customers", rep, {"name": "Rep's Co", "kind": "company"}).json
    pooled = a_customer(api, company, owner_id=None)
    theirs = api.post("/crm/customers", other, {"name": "Other's Co", "kind": "company"}).json
    phone = Device(api, rep)
    phone.sync()
    assert {mine["id"], pooled["id"]} <= set(phone.copy) and theirs["id"] not in phone.copy
    # Reassigned away, and the pool's record claimed by someone else: both leave the rep's scope.
    assert (
        api.post(f"/crm/customers/{mine['id']}/assign", company.token, {"owner_id": other_id}).status == 200
    )
    assert api.post(f"/crm/customers/{pooled['id']}/claim", other).status == 200
    # Given to the rep: enters their scope.
    assert (
        api.post(f"/crm/customers/{theirs['id']}/assign", company.token, {"owner_id": rep_id}).status == 200
    )
    given = phone.sync()
    removed = {i["id"] for i in given if i.get("deleted")}
    assert removed == {mine["id"], pooled["id"]}
    assert set(phone.copy) == set(server_view(api, rep)) and theirs["id"] in phone.copy
    # A rep none of these records ever belonged to is told nothing of them, not even as removals.
    _, third = a_user(api, company, ["sales_rep"])
    third_phone = Device(api, third)
    third_phone.sync()
    assert not [i for i in third_phone.sync() if i["id"] in {mine["id"], theirs["id"]}]


def test_three_devices_syncing_while_five_writers_work_end_with_exactly_what_the_server_lists(api, company):
    """Five writers create, edit, reassign, claim, release and delete customers at once while three
    devices (two reps who read their own and the pool's, a manager who reads all) sync at random
    moments, pages of 3; at the end each device's copy is exactly what the server lists for its user.
    In process, Chalice's app object serves one request at a time (as a Lambda container does), so
    the threads' requests interleave at random between requests; a write that commits late inside
    its request is the case of the test above with a held transaction."""
    import random

    api = OneAtATime(api)
    (a_id, rep_a), (b_id, rep_b) = a_user(api, company, ["sales_rep"]), a_user(api, company, ["sales_rep"])
    devices = [Device(api, rep_a), Device(api, rep_b), Device(api, company.token)]
    writers = [(company.token, True), (company.token, True), (rep_a, False), (rep_b, False), (rep_a, False)]
    made: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(token: str, manager: bool, seed: int) -> None:
        rnd = random.Random(seed)
        try:
            for n in range(25):
                with lock:
                    known = list(made)
                action = rnd.choice(
                    ["create", "create", "edit", "edit", "assign", "claim", "release", "delete"]
                )
                target = rnd.choice(known) if known else None
                if action == "create" or target is None:
                    body: dict[str, Any] = {"name": f"Sim {seed}-{n}", "kind": "company"}
                    if manager:
                        body["owner_id"] = rnd.choice([a_id, b_id, None])
                    reply = api.post("/crm/customers", token, body)
                    if reply.status == 201:
                        with lock:
                            made.append(reply.json["id"])
                elif action == "edit":
                    api.patch(f"/crm/customers/{target}", token, {"tags": [f"t{n}"]})
                elif action == "assign" and manager:
                    api.post(f"/crm/customers/{target}/assign", token, {"owner_id": rnd.choice([a_id, b_id])})
                elif action in ("claim", "release"):
                    api.post(f"/crm/customers/{target}/{action}", token)
                elif action == "delete":
                    api.delete(f"/crm/customers/{target}", token)
        except BaseException as exc:
            errors.append(exc)

    def syncing(device: Device, seed: int) -> None:
        rnd = random.Random(seed)
        try:
            while not stop.is_set():
                device.sync(limit=3)
                stop.wait(rnd.random() * 0.2)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t, m, n)) for n, (t, m) in enumerate(writers)]
    syncs = [threading.Thread(target=syncing, args=(d, 100 + n)) for n, d in enumerate(devices)]
    for thread in [*threads, *syncs]:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    stop.set()
    for thread in syncs:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(made) >= 20
    for device, token in zip(devices, (rep_a, rep_b, company.token), strict=True):
        device.sync(limit=3)
        assert versions(device) == server_view(api, token)


def test_devices_and_writers_in_processes_of_their_own_with_a_lagging_index_miss_nothing(
    api, company, monkeypatch, lagging_index
):
    """The simulation with real concurrency: five writers and three devices, each a process of its
    own (a Lambda container each) sending requests at the same time to the local server, whose
    change index lags the table by 0.5 s; windows shortened to 2 s (stamp limit) and 4 s (settle
    window) so that the boundary moves past the changes during the run (with 60 s every sync of a
    short run would list everything again). At the end each device's copy, after one more sync,
    is exactly what the server lists for its user: nothing was missed along the way (a change
    stamped before a boundary the device passed is never listed again)."""
    import multiprocessing
    import os

    from tests import sync_sim

    windows = (2.0, 4.0)
    monkeypatch.setattr(store_module, "STAMP_SECONDS", windows[0])
    monkeypatch.setattr(sync, "SETTLE_SECONDS", windows[1])
    (a_id, rep_a), (b_id, rep_b) = a_user(api, company, ["sales_rep"]), a_user(api, company, ["sales_rep"])
    shared = [a_customer(api, company, owner_id=owner)["id"] for owner in (a_id, b_id, None) * 3]
    environment = dict(os.environ)
    lagging_index(0.5, real_time=True)
    spawn = multiprocessing.get_context("spawn")
    results, stop = spawn.Queue(), spawn.Event()
    tokens = (rep_a, rep_b, company.token)
    writing = [
        spawn.Process(
            target=sync_sim.writer,
            args=(environment, windows, token, manager, [a_id, b_id], shared, seed, 30, results),
        )
        for seed, (token, manager) in enumerate(
            [(company.token, True), (company.token, True), (rep_a, False), (rep_b, False), (rep_a, False)]
        )
    ]
    syncing = [
        spawn.Process(target=sync_sim.device, args=(environment, windows, token, 100 + n, stop, results))
        for n, token in enumerate(tokens)
    ]
    for process in [*syncing, *writing]:
        process.start()
    reports = [results.get(timeout=600) for _ in writing]
    stop.set()
    reports += [results.get(timeout=120) for _ in syncing]
    for process in [*writing, *syncing]:
        process.join(timeout=60)
        assert process.exitcode == 0
    statuses: dict[int, int] = {}
    for report in reports:
        if report[0] == "writer":
            for status, count in report[3].items():
                statuses[status] = statuses.get(status, 0) + count
    devices = {report[1]: report[2:] for report in reports if report[0] == "device"}
    assert 500 not in statuses and statuses.get(201, 0) >= 20 and statuses.get(200, 0) >= 20, statuses
    assert all(syncs >= 3 for _, _, syncs in devices.values()), devices  # synced during the writes
    time.sleep(0.5)  # the index shows every write (its lag)
    for n, token in enumerate(tokens):
        phone = Device(api, token)
        phone.copy, phone.sync_token, _ = devices[100 + n]
        phone.sync(limit=3)
        assert versions(phone) == server_view(api, token)


def test_every_list_that_takes_updated_since_syncs_and_its_token_is_no_use_to_another_company(api, company):
    doc = api.get("/openapi.json").json
    lists = sorted(
        path
        for path, methods in doc["paths"].items()
        if "get" in methods
        and {p["name"] for p in methods["get"].get("parameters", [])} >= {"sync", "updated_since"}
    )
    assert len(lists) >= 16, lists
    a_customer(api, company)
    assert api.post("/erp/warehouses", company.token, {"code": "SH", "name": "Shanghai"}).status == 201
    body = {"sku": "TEA", "name": "Tea", "list_price": "20"}
    assert api.post("/erp/products", company.token, body).status == 201
    assert api.post("/erp/suppliers", company.token, {"code": "FARM", "name": "Farm"}).status == 201
    other = a_tenant(api, "Nosy Ltd")
    for path in lists:
        phone = Device(api, company.token, path)
        phone.sync()
        assert versions(phone) == server_view(api, company.token, path), path
        started = api.get(f"{path}?sync=true", company.token)
        assert started.status == 200, (path, started.body)
        assert started.json["sync_complete"] is True and started.json["sync_token"], path
        token = started.json["sync_token"]
        again = api.get(f"{path}?sync_token={token}", company.token)
        assert again.status == 200 and again.json["sync_token"], (path, again.body)
        stolen = api.get(f"{path}?sync_token={token}", other.token)
        assert stolen.status == 400 and "items" not in stolen.json, (path, stolen.body)
        plain = api.get(path, company.token).json
        assert plain["sync_token"] is None and plain["sync_complete"] is None, path
        refused = api.get(f"{path}?sync=false", company.token)
        assert refused.status == 400 and refused.json["errors"][0]["loc"] == ["query", "sync"], path


def test_a_warehouse_that_stops_being_the_default_reaches_the_copy(api, company):
    first = api.post("/erp/warehouses", company.token, {"code": "W1", "name": "First"}).json
    phone = Device(api, company.token, "/erp/warehouses")
    phone.sync()
    assert phone.copy[first["id"]]["is_default"] is True
    body = {"code": "W2", "name": "Second", "is_default": True}
    assert api.post("/erp/warehouses", company.token, body).status == 201
    phone.sync()
    assert phone.copy[first["id"]]["is_default"] is False
    assert versions(phone) == server_view(api, company.token, "/erp/warehouses")


def test_records_that_left_a_rep_s_scope_come_a_page_at_a_time(api, company):
    (_, rep_a), (_, rep_b) = a_user(api, company, ["sales_rep"]), a_user(api, company, ["sales_rep"])
    pooled = [a_customer(api, company, owner_id=None)["id"] for _ in range(3)]
    phone = Device(api, rep_a)
    phone.sync()
    assert set(pooled) <= set(phone.copy)
    for customer_id in pooled:
        assert api.post(f"/crm/customers/{customer_id}/claim", rep_b).status == 200
    pages = []
    while True:
        reply = api.get(f"/crm/customers?sync_token={phone.sync_token}&limit=1", rep_a).json
        pages.append(reply["items"])
        for item in reply["items"]:
            if item.get("deleted"):
                phone.copy.pop(item["id"], None)
        phone.sync_token = reply["sync_token"]
        if reply["sync_complete"]:
            break
    assert all(len(page) <= 1 for page in pages)
    assert not set(pooled) & set(phone.copy)
    assert versions(phone) == server_view(api, rep_a)


def test_what_a_sync_costs_in_reads(api, company):
    """A page: one Query of the change index; a user of own records adds, on a sync's first page,
    one Query of their scope exits and one of the pool's (and one BatchGetItem when there are some),
    in the same request when they fill less than the page."""
    from tests.reads import Reads

    (_, rep) = a_user(api, company, ["sales_rep"])
    for _ in range(3):
        a_customer(api, company)
    manager, own = Device(api, company.token), Device(api, rep)
    manager.sync()
    own.sync()

    def reads_of(device: Device) -> tuple[int, int]:
        api.get("/me", device.token)  # the principal cached, as in a warm container
        with Reads() as reads:
            device.sync(limit=100)
            return reads.take()

    assert reads_of(manager)[0] == 1
    assert reads_of(own)[0] == 3  # no exits to look at: two Queries that find nothing, one for the changes
    quiet = api.get(f"/crm/customers?sync_token={own.sync_token}&limit=100", rep).json
    assert quiet["sync_complete"]  # in one request: the scope exits and the changes share the page


def test_a_change_stamped_longer_ago_than_the_window_allows_is_refused_not_written(api, company):
    """What the settle window rests on: a change reaches the table within ``STAMP_SECONDS`` of its
    stamp. A transaction carrying an older stamp (a step that stamped rows, then stalled) is
    refused, and its work done again with fresh stamps, rather than land behind a sync's boundary."""
    from chalicelib.core import entities
    from chalicelib.core.store import STAMP_SECONDS, Actor, StaleStamp
    from chalicelib.crm.types import CUSTOMER

    actor = Actor(tenant_id=company.id, user_id=company.owner_id)
    item = entities.new_item(CUSTOMER, actor, {"name": "Stalled Co", "kind": "company"})
    stale = (datetime.now(UTC) - timedelta(seconds=STAMP_SECONDS + 5)).isoformat().replace("+00:00", "Z")
    item.update(updated_at=stale, gsi1sk=f"{stale}#{item['id']}")
    with pytest.raises(StaleStamp):
        Store().transact(entities.create_operations(CUSTOMER, actor, item))
    assert api.get(f"/crm/customers/{item['id']}", company.token).status == 404
    assert sync.INDEX_LAG_SECONDS >= 10  # what the window leaves the index, after the stamp and the call


def test_a_request_that_stalls_past_the_stamp_limit_answers_503_and_writes_nothing(api, company, monkeypatch):
    """The same guard seen by a client: a request whose change is stamped too long before its write
    (here the clock jumps 31 s between stamp and write) answers 503 ``write-too-slow`` with
    ``Retry-After``, nothing is written, and the request sent again goes through."""
    from chalicelib.core.store import STAMP_SECONDS

    customer = a_customer(api, company)
    real = store_module._ago
    monkeypatch.setattr(store_module, "_ago", lambda seconds: real(seconds - STAMP_SECONDS - 1))
    stalled = api.patch(f"/crm/customers/{customer['id']}", company.token, {"tags": ["late"]})
    assert stalled.status == 503 and stalled.json["type"] == "/problems/write-too-slow"
    assert stalled.headers["retry-after"] == "1"
    assert api.get(f"/crm/customers/{customer['id']}", company.token).json["version"] == customer["version"]
    monkeypatch.setattr(store_module, "_ago", real)
    again = api.patch(f"/crm/customers/{customer['id']}", company.token, {"tags": ["late"]})
    assert again.status == 200 and again.json["tags"] == ["late"]


def _step_jobs_until(aws: Any, tenant_id: str, job_id: str, phase: str) -> None:
    """Deliver the jobs queue's messages one step at a time until the job's phase is ``phase``."""
    import json

    import boto3

    from chalicelib.api import workers
    from chalicelib.api.web import STORE
    from chalicelib.jobs import jobs

    sqs = boto3.client("sqs", region_name=aws.region)
    for _ in range(100):
        if (jobs.find(STORE, tenant_id, job_id, consistent=True).get("cursor") or {}).get("phase") == phase:
            return
        message = sqs.receive_message(QueueUrl=aws.jobs_queue_url, MaxNumberOfMessages=1)["Messages"][0]
        body = json.loads(message["Body"])
        workers.run_step(body["tenant_id"], body["job_id"], 1)
        sqs.delete_message(QueueUrl=aws.jobs_queue_url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError(f"the job never reached {phase}")


def test_a_sync_waits_while_a_restore_runs_then_starts_again_from_scratch(api, aws, company, monkeypatch):
    """Halfway through a restore (the company's records cleared, the backup's not loaded yet) a sync
    from scratch would hand out a copy of nothing with a token of the new epoch, and the restored
    records, stamped before its boundary, would never come: a sync answers 503 while the restore
    runs; afterwards the old token is a 410 and a sync from scratch holds the restored company."""
    from chalicelib.tenants.access import CACHE
    from tests.test_backups import restore, run_jobs, take_backup

    kept, dropped = a_customer(api, company), a_customer(api, company)
    phone = Device(api, company.token)
    phone.sync()
    backup = take_backup(api, aws, company)
    assert api.delete(f"/crm/customers/{dropped['id']}", company.token).status == 204
    a_customer(api, company)  # after the backup: the restore removes it
    phone.sync()
    started = restore(api, company, backup)
    assert started.status == 202, started.body
    _step_jobs_until(aws, company.id, started.json["job"]["id"], "load")  # cleared, not loaded yet
    CACHE.clear()
    real = sync._now
    monkeypatch.setattr(sync, "_now", lambda: real() + timedelta(minutes=10))  # past every window
    for which in ("sync=true", f"sync_token={phone.sync_token}"):
        waiting = api.get(f"/crm/customers?{which}", company.token)
        assert waiting.status == 503 and waiting.json["type"] == "/problems/restoring", waiting.body
        assert "retry-after" in waiting.headers
    run_jobs(aws)  # the restore loads the backup and ends
    gone = api.get(f"/crm/customers?sync_token={phone.sync_token}", company.token)
    assert gone.status == 410 and gone.json["reason"] == "restored"
    phone.sync()  # from scratch (the 410)
    assert set(phone.copy) == {kept["id"], dropped["id"]}
    assert versions(phone) == server_view(api, company.token)


def test_a_sync_of_a_busy_list_ends(api, company):
    """Records changed while a client pages move past the sync's start, to the next sync: with two
    records edited after every page of one, the sync still ends, each sent at most once."""
    a_customer(api, company)
    busy = [a_customer(api, company)["id"], a_customer(api, company)["id"]]
    reply = api.get("/crm/customers?sync=true&limit=1", company.token).json
    sent = [i["id"] for i in reply["items"]]
    for n in range(10):
        for record in busy:
            assert api.patch(f"/crm/customers/{record}", company.token, {"tags": [f"t{n}"]}).status == 200
        if reply["sync_complete"]:
            break
        reply = api.get(f"/crm/customers?sync_token={reply['sync_token']}&limit=1", company.token).json
        sent += [i["id"] for i in reply["items"]]
    assert reply["sync_complete"] and n <= 3
    assert sorted(sent) == sorted(set(sent)) and len(sent) <= 3
    following = api.get(f"/crm/customers?sync_token={reply['sync_token']}", company.token).json
    assert {i["id"]: i.get("tags") for i in following["items"] if i["id"] in busy} == {
        record: [f"t{n}"] for record in busy
    }  # the next sync has their last versions


def test_a_token_of_an_earlier_version_of_the_server_is_gone_and_one_it_cannot_verify_is_refused(
    api, company, monkeypatch
):
    """A token the server signed but of an earlier format: 410 (sync from scratch). One it cannot
    verify (edited, another company's, or signed with a key since rotated): 400 naming the token,
    which docs/api.md's loop also answers by syncing from scratch."""
    phone = Device(api, company.token)
    phone.sync()
    monkeypatch.setattr(sync, "VERSION", sync.VERSION + 1)  # the next release changes the token
    old = api.get(f"/crm/customers?sync_token={phone.sync_token}", company.token)
    assert old.status == 410 and old.json["reason"] == "format"
    monkeypatch.undo()
    import dataclasses

    from chalicelib.core.config import settings

    rotated = dataclasses.replace(settings(), cursor_secret=b"another key, after a rotation")
    monkeypatch.setattr(sync, "settings", lambda: rotated)
    unverified = api.get(f"/crm/customers?sync_token={phone.sync_token}", company.token)
    assert unverified.status == 400 and unverified.json["errors"][0]["loc"] == ["query", "sync_token"]
    assert "sync from scratch" in unverified.json["detail"]


def test_the_stamp_limit_holds_at_every_try_of_a_transaction(api, company, monkeypatch):
    """A transaction cancelled by conflicts is tried again: each try checks the stamp, so a write
    whose retries outlast ``STAMP_SECONDS`` is refused (nothing written) rather than committed late
    (the clock here moves 15 s at each try)."""
    from botocore.exceptions import ClientError

    from chalicelib.core import entities
    from chalicelib.core.store import STAMP_SECONDS, Actor, StaleStamp
    from chalicelib.crm.types import CUSTOMER

    store = Store()
    real_ago, moved = store_module._ago, [0.0]
    monkeypatch.setattr(store_module, "_ago", lambda seconds: real_ago(seconds - moved[0]))
    tries: list[int] = []

    class Conflicting:
        def __getattr__(self, name: str) -> Any:
            return getattr(store.client, name)

        def transact_write_items(self, **params: Any) -> Any:
            tries.append(1)
            moved[0] += 15
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [{"Code": "TransactionConflict"}],
                },
                "TransactWriteItems",
            )

    actor = Actor(tenant_id=company.id, user_id=company.owner_id)
    item = entities.new_item(CUSTOMER, actor, {"name": "Retried Co", "kind": "company"})
    with pytest.raises(StaleStamp):
        Store(Conflicting(), store.table).transact(entities.create_operations(CUSTOMER, actor, item))
    assert len(tries) == 2 and 15 < STAMP_SECONDS < 30  # the third try would commit 30 s after the stamp
    assert api.get(f"/crm/customers/{item['id']}", company.token).status == 404

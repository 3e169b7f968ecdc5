"""Usage metering, plans, limits and the monthly bill (issue 13)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import PASSWORD, TenantCtx, a_customer, login, unique_email
from tests.test_handoff import an_order, pump, settle  # noqa: F401  # pump: the fixture
from tests.test_stock import a_product, a_warehouse, receive


def a_company(api, plan: str) -> TenantCtx:
    email = unique_email("billing")
    r = api.post(
        "/tenants",
        body={
            "company_name": f"Billing {plan}",
            "owner_email": email,
            "owner_password": PASSWORD,
            "plan": plan,
        },
    )
    assert r.status == 202, r.body
    token = login(api, email)
    me = api.get("/me", token).json
    return TenantCtx(me["tenant"]["id"], email, token, me["user"]["id"])


def this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def saved(tenant_id: str) -> dict[str, int]:
    """The company's counts this month as saved (after every container's waiting counts are)."""
    from chalicelib.api.web import STORE
    from chalicelib.billing import published as billing
    from chalicelib.billing import usage

    billing.save_due(force=True)
    return usage.counted(STORE, tenant_id, this_month())


# ---- metering ----------------------------------------------------------------------------------------
def test_n_requests_of_each_kind_make_usage_of_exactly_n(api):
    company = a_company(api, "business")
    before = saved(company.id)  # its signup's /me: one read
    for _ in range(37):
        assert api.get("/crm/customers", company.token).status == 200
    for n in range(23):
        assert (
            api.post("/crm/customers", company.token, {"name": f"顾客 {n}", "kind": "company"}).status == 201
        )
    assert api.post("/crm/customers", company.token, {"kind": "company"}).status == 422  # counted: it came in
    after = saved(company.id)
    assert (after["api_read"] - before["api_read"], after["api_write"] - before["api_write"]) == (37, 24)
    # Saved again with nothing new: nothing moves; and the usage route says the same.
    assert saved(company.id) == after
    report = api.get("/billing/usage", company.token).json
    assert report["api_calls"] == {"read": after["api_read"], "write": after["api_write"]}
    meters = {m["meter"]: m for m in report["meters"]}
    assert meters["api_calls"]["used"] == after["api_read"] + after["api_write"]
    assert meters["stored_records"]["used"] == 23  # the customers, counted by the writes that made them
    assert report["seats"] == {"used": 1, "included": 30}
    ahead = api.get("/billing/usage?month=2999-01", company.token)  # a month not begun: nothing to show
    assert ahead.status == 400 and ahead.json["errors"][0]["loc"] == ["query", "month"], ahead.body
    assert api.get("/billing/usage?month=2026-13", company.token).status == 400


def test_a_container_that_ends_loses_at_most_its_unsaved_counts_and_never_counts_twice(api, monkeypatch):
    """The documented bound: a container that ends loses fewer than SAVE_EVERY counts per company,
    and a save whose answer was lost, made again, adds nothing."""
    from chalicelib.billing import meter
    from chalicelib.billing import published as billing

    company = a_company(api, "business")
    start = sum(saved(company.id).values())
    made = 0
    for _ in range(60):
        assert api.get("/me", company.token).status == 200
        made += 1
    unsaved = billing.METER.unsaved(company.id, this_month())
    assert 0 < unsaved < meter.SAVE_EVERY
    billing.METER.discard()  # the container ends: what it had not saved is gone
    after_crash = sum(saved(company.id).values()) - start
    assert made - (meter.SAVE_EVERY - 1) <= after_crash <= made
    assert after_crash == made - unsaved

    # A new container goes on counting, on its own share: nothing of the old one's is counted again.
    for _ in range(5):
        assert api.get("/me", company.token).status == 200
    assert sum(saved(company.id).values()) - start == after_crash + 5

    # A save whose answer is lost (the write happened) is made again: counted once.
    real = billing.METER.store.update
    lost = []

    def answer_lost(**params):
        real(**params)
        if not lost:
            lost.append(params["Key"])
            raise ConnectionError("the answer was lost")
        return {}

    monkeypatch.setattr(billing.METER.store, "update", answer_lost)
    for _ in range(3):
        assert api.get("/me", company.token).status == 200
    billing.save_due(force=True)  # the first save "failed": its counts wait
    billing.save_due(force=True)  # made again: the same totals, the same number
    monkeypatch.undo()
    assert lost and sum(saved(company.id).values()) - start == after_crash + 8


def test_handoff_events_and_job_minutes_are_counted_without_a_write_each(api, pump):
    from chalicelib.api import workers

    company = a_company(api, "business")
    warehouse = a_warehouse(api, company, "MTR")
    product = a_product(api, company, "MTR-1")
    receive(api, company, product["id"], warehouse["id"], 10)
    order = an_order(api, company, a_customer(api, company)["id"], [("MTR-1", 1)])
    api.post(f"/crm/orders/{order['id']}/confirm", company.token)
    settle(pump)
    assert api.get(f"/crm/orders/{order['id']}", company.token).json["erp"]["invoice_id"]
    handled = saved(company.id)["handoff_events"]
    trail = api.get(f"/crm/orders/{order['id']}/handoff", company.token).json["events"]
    # Each event of the order's trail was handled by its one consumer, and counted once.
    assert handled == sum(len(e["handled"]) for e in trail) == 2, trail
    settle(pump)  # nothing left to deliver, nothing more counted
    assert saved(company.id)["handoff_events"] == handled

    # A job's steps count their seconds (started ones): a backup of the company.
    job = api.post("/admin/backups", company.token).json["job"]["id"]
    steps = 0
    while workers.run_step(company.id, job) == "advanced":
        steps += 1
    assert saved(company.id)["job_seconds"] >= steps >= 1  # every step started a second


# ---- limits ------------------------------------------------------------------------------------------
def test_threads_arriving_together_get_the_whole_burst(aws):
    """16 threads of one container send 240 requests of one company at once, under its burst of 300:
    every one is let in (threads that each leased a batch of requests would use up the burst and be
    refused with most of it unused)."""
    import threading

    from chalicelib.billing import limits, meter
    from chalicelib.core import ids
    from chalicelib.core.errors import RateLimitedError
    from chalicelib.core.store import Store

    store = Store()
    limiter = limits.Limiter(store, meter.Meter(store))
    tenant_id = ids.new_id("ten")
    refused = []
    start = threading.Barrier(16)

    def send() -> None:
        start.wait()
        for _ in range(15):
            try:
                limiter.admit(tenant_id, "business", write=False)
            except RateLimitedError as exc:
                refused.append(exc)

    threads = [threading.Thread(target=send) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert refused == []


def test_an_idle_company_s_request_costs_one_write_of_its_rate(aws):
    """The container remembers the rate's ``tat`` it set: an idle company (its last request's slot
    behind now) starts from now in one write; a container that has not seen the company's latest
    push tries that first, is refused, and pushes on (two writes), still within the rate."""
    from chalicelib.billing import limits, meter
    from chalicelib.core import ids
    from chalicelib.core.store import Store

    writes: list[str] = []

    class Counted(Store):
        def update(self, **params: Any) -> dict[str, Any]:
            writes.append(params["UpdateExpression"])
            return super().update(**params)

    clock = [1_000_000.0]
    tenant_id = ids.new_id("ten")
    one, other = (limits.Limiter(Counted(), meter.Meter(Store()), clock=lambda: clock[0]) for _ in range(2))
    for _ in range(3):
        clock[0] += 10  # idle ten seconds
        one._leases.clear()  # no lease left from the last request (a lease lasts a second)
        one.admit(tenant_id, "business", write=False)
    assert writes == ["SET tat = :tat"] * 3  # one write each
    writes.clear()
    other.admit(tenant_id, "business", write=False)  # the same moment, another container
    assert writes == ["SET tat = :tat", "SET tat = tat + :inc"]  # refused as idle, pushed on
    writes.clear()
    one._leases.clear()
    one.admit(tenant_id, "business", write=False)  # it knows the company is ahead of now
    assert writes == ["SET tat = tat + :inc"]
    writes.clear()
    for n in range(10):  # a burst served by both containers in turn: each learns the slot it pushed to
        (one if n % 2 else other)._leases.clear()
        (one if n % 2 else other).admit(tenant_id, "business", write=False)
    assert writes == ["SET tat = tat + :inc"] * 10


def test_a_capped_plan_past_its_calls_answers_402_naming_the_limit(api):
    from chalicelib.api.web import STORE
    from chalicelib.billing import published as billing
    from chalicelib.billing import repository
    from chalicelib.core import plans

    company = a_company(api, "free")
    included = plans.get("free").included["api_calls"]
    assert saved(company.id)["api_read"] == 1  # its first /me, saved by this container
    # Another container saved nearly all of the rest of the month's calls.
    STORE.update(
        **repository.share_saved(company.id, this_month(), "elsewhere", 1, {"api_read": included - 3}, "x")
    )
    billing.LIMITER._known.pop(company.id, None)  # this container reads the company's usage afresh
    assert api.get("/me", company.token).status == 200
    assert api.get("/me", company.token).status == 200
    refused = api.get("/crm/customers", company.token)
    assert refused.status == 402, refused.body
    assert refused.json["type"] == "/problems/plan-limit" and refused.json["limit"] == "api_calls"
    assert refused.json["included"] == included
    assert saved(company.id)["api_read"] == included  # the refused call is not counted
    other = a_company(api, "free")
    assert api.get("/me", other.token).status == 200  # another company is not touched
    # Billing stays open past the cap: the owner moves to a paid plan, and its limits follow at once.
    assert api.get("/billing/usage", company.token).status == 200
    assert api.put("/billing/plan", company.token, {"plan": "starter"}).status == 200
    assert api.get("/crm/customers", company.token).status == 200


def test_seats_past_the_plan_are_refused_naming_the_limit(api):
    company = a_company(api, "free")  # 2 seats: the owner and one more
    first = api.post("/admin/users", company.token, {"email": unique_email("s1"), "roles": ["viewer"]})
    assert first.status == 201, first.body
    second = api.post("/admin/users", company.token, {"email": unique_email("s2"), "roles": ["viewer"]})
    assert second.status == 402 and second.json["limit"] == "seats", second.body
    assert len(api.get("/admin/users", company.token).json["items"]) == 2  # nothing was made
    # A disabled user frees the seat; enabling them again needs one.
    assert api.patch(f"/admin/users/{first.json['id']}", company.token, {"enabled": False}).status == 200
    third = api.post("/admin/users", company.token, {"email": unique_email("s3"), "roles": ["viewer"]})
    assert third.status == 201, third.body
    again = api.patch(f"/admin/users/{first.json['id']}", company.token, {"enabled": True})
    assert again.status == 402 and again.json["limit"] == "seats"
    # A plan with fewer seats than the enabled users is refused too.
    big = a_company(api, "starter")
    for n in range(2):
        api.post("/admin/users", big.token, {"email": unique_email(f"b{n}"), "roles": ["viewer"]})
    down = api.put("/billing/plan", big.token, {"plan": "free"})
    assert down.status == 409 and down.json["limit"] == "seats", down.body


def test_the_owner_changes_the_plan_and_the_history_keeps_it(api):
    from tests.conftest import a_user

    company = a_company(api, "starter")
    _, admin = a_user(api, company, ["admin"])
    assert api.put("/billing/plan", admin, {"plan": "business"}).status == 403
    assert api.get("/billing/plan", admin).status == 200
    bad = api.put("/billing/plan", company.token, {"plan": "platinum"})
    assert bad.status == 422 and bad.json["errors"][0]["loc"] == ["body", "plan"]
    moved = api.put("/billing/plan", company.token, {"plan": "business"})
    assert moved.status == 200, moved.body
    view = moved.json
    assert view["plan"]["id"] == "business" and view["plan"]["rate"] == {"per_second": 100, "burst": 300}
    assert [h["plan"] for h in view["history"]] == ["starter", "business"]
    assert {p["id"] for p in view["offered"]} == {"free", "starter", "business", "enterprise"}
    assert api.get("/me", company.token).json["tenant"]["plan"] == "business"


def test_the_plans_table_of_docs_api_md_is_the_catalogue():
    """A customer reads prices and limits in docs/api.md: each row says what plans.json holds."""
    import re
    from pathlib import Path

    from chalicelib.core import plans

    text = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    rows = {
        m[1]: m[2] for m in re.finditer(r"^\| `([a-z]+)` \| ([^\n]+)$", text, re.M) if m[1] in plans.ids()
    }
    assert set(rows) == set(plans.ids())
    for plan_id, row in rows.items():
        plan = plans.get(plan_id)
        cells = [c.strip() for c in row.rstrip(" |").split(" | ")]
        included = plan.included
        kept = plan.retention
        expected = [
            f"{plan.monthly_price:.2f}",
            f"{plan.rate.per_second:,} / {plan.rate.burst:,}",
            f"{included['seats']:,}",
            f"{included['api_calls']:,}" + (" (a hard cap: 402)" if plan.capped else ""),
            f"{included['stored_records']:,}",
            f"{included['handoff_events']:,}",
            f"{included['job_minutes']:,}",
            f"{kept.daily}/{kept.weekly}/{kept.monthly}",
        ]
        assert cells[:8] == expected, plan_id
        overage = (
            " / ".join(
                f"{plan.overage[m].price:.2f}"
                for m in ("api_calls", "stored_records", "handoff_events", "job_minutes")
            )
            if plan.overage
            else "none: capped"
        )
        assert cells[8] == overage, plan_id


# ---- the bill ----------------------------------------------------------------------------------------
def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


SIGNED_UP = at("2026-01-01T00:00:00")


@pytest.mark.parametrize(
    ("case", "month", "changes", "since", "used", "lines", "total"),
    [
        (
            "a whole month of starter, nothing over (28 days)",
            "2027-02",
            [(SIGNED_UP, "starter")],
            SIGNED_UP,
            {"api_calls": 200_000, "handoff_events": 10_000, "job_minutes": 120, "stored_records": 50_000},
            [("base", 28, "29.00")],
            "29.00",
        ),
        (
            "free to starter on the 10th of a 31-day month, calls over",
            "2026-12",
            [(SIGNED_UP, "free"), (at("2026-12-10T15:00:00"), "starter")],
            SIGNED_UP,
            {"api_calls": 150_000, "handoff_events": 0, "job_minutes": 0, "stored_records": 0},
            # free 9 days, starter 22 of 31: 29 × 22 / 31 = 20.58; included 10,000×9//31 + 200,000×22//31
            # = 2,903 + 141,935 = 144,838; over 5,162 → 6 blocks of 1,000 at 0.40
            [("base", 9, "0.00"), ("base", 22, "20.58"), ("overage", 6, "2.40")],
            "22.98",
        ),
        (
            "signed up on the 20th of a 31-day month, business",
            "2027-01",
            [(at("2027-01-20T08:00:00"), "business")],
            at("2027-01-20T08:00:00"),
            {"api_calls": 1, "handoff_events": 0, "job_minutes": 0, "stored_records": 0},
            [("base", 12, "38.32")],  # 99 × 12 / 31 = 38.3225…
            "38.32",
        ),
        (
            "business all February, events, minutes and records over",
            "2027-02",
            [(SIGNED_UP, "business")],
            SIGNED_UP,
            {"api_calls": 10, "handoff_events": 100_001, "job_minutes": 601, "stored_records": 510_000},
            [("base", 28, "99.00"), ("overage", 1, "0.50"), ("overage", 1, "0.03"), ("overage", 1, "1.00")],
            "100.53",
        ),
        (
            "two changes in one day: the day is on the last",
            "2026-11",
            [
                (SIGNED_UP, "starter"),
                (at("2026-11-15T09:00:00"), "business"),
                (at("2026-11-15T18:00:00"), "starter"),
            ],
            SIGNED_UP,
            {"api_calls": 0, "handoff_events": 0, "job_minutes": 0, "stored_records": 0},
            [("base", 30, "29.00")],
            "29.00",
        ),
        (
            "starter to free on the last day: the month ends capped, no overage",
            "2026-11",
            [(SIGNED_UP, "starter"), (at("2026-11-30T12:00:00"), "free")],
            SIGNED_UP,
            {"api_calls": 900_000, "handoff_events": 0, "job_minutes": 0, "stored_records": 0},
            [("base", 29, "28.03"), ("base", 1, "0.00")],  # 29 × 29 / 30 = 28.0333…
            "28.03",
        ),
    ],
)
def test_invoice_totals_are_exact_to_the_cent(case, month, changes, since, used, lines, total):
    from chalicelib.billing import invoices

    runs = invoices.days_on_plans(changes, month, since=since)
    bill = invoices.bill(month, runs, used)
    assert [(line["kind"], line["quantity"], line["amount"]) for line in bill["lines"]] == lines, case
    assert bill["total"] == total and Decimal(bill["total"]) == sum(
        Decimal(x["amount"]) for x in bill["lines"]
    )


def test_closing_a_month_twice_makes_one_invoice_per_company(api):
    from chalicelib.api.web import STORE
    from chalicelib.billing import account

    first, second = a_company(api, "starter"), a_company(api, "business")
    api.post("/crm/customers", first.token, {"name": "记账客户", "kind": "company"})
    month = this_month()
    one = account.close_month(STORE, month)
    two = account.close_month(STORE, month)
    assert one["invoiced"] >= 2 and two["invoiced"] == 0
    for company, price in ((first, "29.00"), (second, "99.00")):
        listed = api.get("/billing/invoices", company.token).json["items"]
        assert [i["month"] for i in listed] == [month]
        invoice = api.get(f"/billing/invoices/{month}", company.token).json
        base = [line for line in invoice["lines"] if line["kind"] == "base"]
        assert [(b["plan"], b["unit_price"]) for b in base] == [
            ("starter" if company is first else "business", price)
        ]
        assert invoice["total"] == base[0]["amount"]  # nothing over
        page = api.get(f"/billing/invoices/{month}/document", company.token)
        assert page.status == 200 and page.headers["content-type"].startswith("text/html")
        assert invoice["total"] in page.body.decode() and "Billing" in page.body.decode()
    # Scheduled: the month before is closed once; a second run that day reads one item and stops.
    ran = account.scheduled_close(STORE, date(2031, 2, 1))
    assert (
        ran["month"] == "2031-01" and account.scheduled_close(STORE, date(2031, 2, 1))["closed"] == "before"
    )


# ---- the operators' view -----------------------------------------------------------------------------
def an_operator(api) -> str:
    import boto3

    from chalicelib.core.config import settings

    idp, email = boto3.client("cognito-idp"), unique_email("operator")
    pool = settings().operator_pool_id
    idp.admin_create_user(UserPoolId=pool, Username=email, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username=email, Password="operator-pass-123", Permanent=True)
    answer = api.post("/operator/login", body={"email": email, "password": "operator-pass-123"})
    assert answer.status == 200, answer.body
    return answer.json["id_token"]


def test_the_operators_report_shows_usage_revenue_and_cost_and_no_company_reaches_it(api):
    company = a_company(api, "starter")
    for n in range(3):
        api.post("/crm/customers", company.token, {"name": f"运营 {n}", "kind": "company"})
    saved(company.id)
    operator = an_operator(api)
    report = api.get("/operator/usage", operator)
    assert report.status == 200, report.body
    mine = [c for c in report.json["companies"] if c["tenant_id"] == company.id]
    assert len(mine) == 1 and mine[0]["plan"] == "starter"
    row = mine[0]
    assert row["usage"]["api_write"] == 3 and row["usage"]["stored_records"] == 3
    assert Decimal(row["revenue"]) > 0 and Decimal(row["estimated_cost"]) >= 0
    assert Decimal(row["margin"]) == Decimal(row["revenue"]) - Decimal(row["estimated_cost"])
    starter = next(p for p in report.json["plans"] if p["plan"] == "starter")
    assert starter["companies"] >= 1
    # A company's token, even an owner's, is no operator's; an operator's token is no company's.
    refused = api.get("/operator/usage", company.token)
    assert refused.status == 401 and "operator" in refused.json["detail"], refused.body
    assert api.get("/me", operator).status == 401
    assert api.get("/billing/usage", operator).status == 401
    assert api.get("/operator/usage").status == 401

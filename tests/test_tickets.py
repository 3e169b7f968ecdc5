"""Service tickets: SLA due times, status rules, reopening, the overdue list."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.conftest import a_customer, a_user


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_due_time_follows_the_sla_and_the_priority(api, tenant):
    customer = a_customer(api, tenant)
    ticket = api.post(
        "/crm/tickets",
        tenant.token,
        {"customer_id": customer["id"], "kind": "complaint", "subject": "茶具破损", "priority": "urgent"},
    ).json
    assert at(ticket["due_at"]) - at(ticket["created_at"]) == timedelta(hours=4)
    assert ticket["status"] == "open" and ticket["overdue"] is False
    assert api.put("/crm/sla", tenant.token, {"hours": {"low": 120}}).json["hours"]["low"] == 120
    lowered = api.patch(f"/crm/tickets/{ticket['id']}", tenant.token, {"priority": "low"}).json
    assert at(lowered["due_at"]) - at(lowered["created_at"]) == timedelta(hours=120)


def test_status_rules_and_reopening(api, tenant):
    customer = a_customer(api, tenant)
    ticket = api.post(
        "/crm/tickets", tenant.token, {"customer_id": customer["id"], "subject": "Invoice copy"}
    ).json
    path = f"/crm/tickets/{ticket['id']}"
    assert api.patch(path, tenant.token, {"status": "closed"}).status == 409
    assert api.patch(path, tenant.token, {"status": "in_progress"}).json["status"] == "in_progress"
    resolved = api.patch(path, tenant.token, {"status": "resolved", "resolution": "sent by mail"}).json
    assert resolved["resolved_at"] and resolved["resolution"] == "sent by mail"
    closed = api.patch(path, tenant.token, {"status": "closed"}).json
    assert closed["closed_at"]
    reopened = api.patch(path, tenant.token, {"status": "open"}).json
    assert (reopened["status"], reopened["reopened"], reopened["closed_at"]) == ("open", 1, None)
    events = [
        e["summary"]["event"]
        for e in api.get(f"/crm/customers/{customer['id']}/timeline", tenant.token).json["items"]
        if e["kind"] == "ticket"
    ]
    assert events == ["reopened", "closed", "resolved", "in_progress", "opened"]


def test_overdue_lists_only_active_tickets_past_due(api, tenant, monkeypatch):
    from chalicelib.crm import tickets

    customer = a_customer(api, tenant)
    _, agent = a_user(api, tenant, ["service"])
    late, done, fresh = (
        api.post(
            "/crm/tickets", agent, {"customer_id": customer["id"], "subject": s, "priority": "urgent"}
        ).json
        for s in ("late", "done", "fresh")
    )
    api.patch(f"/crm/tickets/{done['id']}", agent, {"status": "resolved"})
    assert api.get("/crm/tickets?overdue=true", agent).json["items"] == []
    # Five hours later the urgent ones (4 h) are overdue, unless resolved.
    later = (
        (at(late["created_at"]) + timedelta(hours=5))
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )
    monkeypatch.setattr(tickets, "utcnow", lambda: later)
    overdue = api.get("/crm/tickets?overdue=true", agent).json["items"]
    assert {t["id"] for t in overdue} == {late["id"], fresh["id"]}
    assert all(t["overdue"] for t in overdue)

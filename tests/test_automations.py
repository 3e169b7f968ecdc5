"""Marketing automation: rules fire once per record and occurrence, mail only contacts who
consented, through SES (moto's, read back here), with an unsubscribe link that works signed out."""

from __future__ import annotations

import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime

import pytest

from tests.conftest import a_customer, a_tenant, a_user

GREETING = {
    "name": "Birthday greeting",
    "trigger": "birthday",
    "action": {
        "kind": "email",
        "subject": "Happy birthday, {{contact_name}}!",
        "body": "All of us at {{company_name}} wish {{contact_name}} of {{customer_name}} a good year.",
    },
}


def mails_to(moto_server: str, address: str) -> list[dict]:
    """What SES (moto's, serving in this process) sent to ``address``. Read from its backend: moto's
    ``/moto-api/data.json`` fails whole (500) once any module has left an S3 multipart part behind,
    whose ``status`` property raises."""
    from moto.ses.models import ses_backends

    sent = ses_backends["123456789012"]["us-east-1"].sent_messages
    return [
        {"subject": m.subject, "body": m.body, "destinations": m.destinations, "source": m.source}
        for m in sent
        if address in (getattr(m, "destinations", None) or {}).get("ToAddresses", [])
    ]


def a_contact(api, tenant, customer_id, consent=True, birthday=None, name=None):
    address = f"c-{uuid.uuid4().hex[:10]}@example.com"
    body = {
        "customer_id": customer_id,
        "name": name or f"Contact {address[:8]}",
        "emails": [{"address": address}],
        "marketing_consent": consent,
        **({"birthday": birthday} if birthday else {}),
    }
    reply = api.post("/crm/contacts", tenant.token, body)
    assert reply.status == 201, reply.body
    return reply.json, address


def daily(at: str) -> dict:
    from chalicelib.api.web import STORE
    from chalicelib.crm import automations

    return automations.daily(STORE, datetime.fromisoformat(at).replace(tzinfo=UTC))


def test_a_birthday_greeting_goes_once_on_the_local_day_only_to_consenting_contacts(api, moto_server):
    tenant = a_tenant(api, "Birthday Tea Co")
    assert api.post("/crm/automations", tenant.token, GREETING).status == 201
    customer = a_customer(api, tenant, name="West Lake Tea")["id"]
    chen, chen_mail = a_contact(api, tenant, customer, birthday="1990-03-15", name="陈静")
    _, quiet_mail = a_contact(api, tenant, customer, consent=False, birthday="1985-03-15")
    _, leap_mail = a_contact(api, tenant, customer, birthday="2000-02-29")
    _, tomorrow_mail = a_contact(api, tenant, customer, birthday="1990-03-16")

    daily("2026-03-14T23:30:00")  # 07:30 on 15 March in Shanghai: not yet the company's morning
    assert mails_to(moto_server, chen_mail) == []
    daily("2026-03-15T00:30:00")  # 08:30 in Shanghai
    daily("2026-03-15T05:30:00")  # the same local day again
    sent = mails_to(moto_server, chen_mail)
    assert len(sent) == 1, sent
    assert sent[0]["subject"] == "Happy birthday, 陈静!"
    assert "All of us at Birthday Tea Co wish 陈静 of West Lake Tea a good year." in sent[0]["body"]
    assert mails_to(moto_server, quiet_mail) == [] and mails_to(moto_server, tomorrow_mail) == []

    # A day's run cut short (its day never marked done) is run again: the greeting stays single.
    from chalicelib.api.web import STORE
    from chalicelib.core import keys

    STORE.client.delete_item(TableName=STORE.table, Key=keys.automation_day(tenant.id, "2026-03-15"))
    daily("2026-03-15T06:30:00")
    assert len(mails_to(moto_server, chen_mail)) == 1

    # 29 February: greeted on 28 February in a common year, on the 29th in a leap year.
    daily("2027-02-28T01:00:00")
    assert len(mails_to(moto_server, leap_mail)) == 1
    daily("2028-02-28T01:00:00")
    assert len(mails_to(moto_server, leap_mail)) == 1
    daily("2028-02-29T01:00:00")
    assert len(mails_to(moto_server, leap_mail)) == 2

    # The link in the mail, followed signed out, stops the next year's greeting.
    link = next(line for line in sent[0]["body"].splitlines() if "/unsubscribe?token=" in line)
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link.split()[-1]).query)["token"][0]
    stopped = api.get(f"/unsubscribe?token={token}")
    assert stopped.status == 200 and stopped.json["unsubscribed"] is True, stopped.body
    assert api.get(f"/crm/contacts/{chen['id']}", tenant.token).json["marketing_consent"] is False
    daily("2027-03-15T01:00:00")
    assert len(mails_to(moto_server, chen_mail)) == 1
    assert api.get(f"/unsubscribe?token={token}").status == 200  # again: still unsubscribed


def test_the_company_time_zone_sets_its_morning(api, moto_server):
    tenant = a_tenant(api, "Berlin Kaffee GmbH")
    moved = api.patch("/tenants/me", tenant.token, {"time_zone": "Europe/Berlin"})
    assert moved.status == 200 and moved.json["tenant"]["time_zone"] == "Europe/Berlin", moved.body
    assert api.post("/crm/automations", tenant.token, GREETING).status == 201
    _, mail = a_contact(api, tenant, a_customer(api, tenant)["id"], birthday="1970-07-01")
    daily("2026-07-01T05:30:00")  # 07:30 in Berlin (summer time), 13:30 in Shanghai
    assert mails_to(moto_server, mail) == []
    daily("2026-07-01T06:30:00")  # 08:30 in Berlin
    assert len(mails_to(moto_server, mail)) == 1
    for zone in ("Mars/Olympus", "localtime", "posixrules", "Factory", "right/UTC"):
        bad = api.patch("/tenants/me", tenant.token, {"time_zone": zone})
        assert bad.status == 422 and ["body", "time_zone"] in [e["loc"] for e in bad.json["errors"]], zone
    _, sales = a_user(api, tenant, ["sales"])
    assert api.patch("/tenants/me", sales, {"time_zone": "UTC"}).status == 403


def test_an_order_shipped_rule_sends_once_when_the_event_comes_again(api, moto_server):
    """The ERP's OrderShipped through the CRM's consumer, then again (as after its idempotency
    record expired): one mail; a rule's conditions on the customer's tags are honoured."""
    from chalicelib.api import handlers
    from chalicelib.api.web import STORE
    from chalicelib.core import entities
    from chalicelib.core.store import Actor
    from chalicelib.crm.types import ORDER
    from chalicelib.handoff import contracts

    tenant = a_tenant(api, "Shipping Tea Co")
    rule = {
        "name": "Shipped",
        "trigger": "order_shipped",
        "conditions": [{"field": "tags", "op": "equals", "value": "vip"}],
        "action": {"kind": "email", "subject": "On its way", "body": "Your order left us, {{contact_name}}."},
    }
    assert api.post("/crm/automations", tenant.token, rule).status == 201
    vip = a_customer(api, tenant, tags=["vip"])["id"]
    plain = a_customer(api, tenant)["id"]
    _, vip_mail = a_contact(api, tenant, vip)
    _, plain_mail = a_contact(api, tenant, plain)
    actor = Actor(tenant.id, tenant.owner_id)
    for customer in (vip, plain):
        fields = {
            "customer_id": customer,
            "currency": "CNY",
            "total": "10.00",
            "lines": [],
            "status": "reserved",
        }
        order = entities.new_item(ORDER, actor, {**fields, "confirmed_at": "2026-12-01T00:00:00.000000Z"})
        STORE.transact(entities.create_operations(ORDER, actor, order))
        event = contracts.OrderShipped(
            tenant_id=tenant.id,
            event_id=f"evt_{uuid.uuid4().hex}",
            occurred_at="2026-12-02T00:00:00.000000Z",
            order_id=order["id"],
            shipment_id="shp_1",
            lines=[1],
            complete=True,
        )
        for _ in range(2):
            handlers.CONSUMERS["crm"](event)
    assert len(mails_to(moto_server, vip_mail)) == 1
    assert mails_to(moto_server, plain_mail) == []  # not tagged vip


def test_created_records_start_their_rules_once_with_tasks_and_tags(api, moto_server):
    tenant = a_tenant(api, "Welcome Tea Co")
    welcome = {
        "name": "Welcome",
        "trigger": "contact_created",
        "action": {"kind": "email", "subject": "Welcome", "body": "Welcome, {{contact_name}}."},
    }
    follow_up = {
        "name": "Call the new customer",
        "trigger": "customer_created",
        "conditions": [{"field": "address.city", "op": "equals", "value": "杭州"}],
        "action": {"kind": "task", "subject": "Call {{customer_name}}", "due_in_days": 2},
    }
    tag = {"name": "New", "trigger": "customer_created", "action": {"kind": "tag", "tag": "new"}}
    for rule in (welcome, follow_up, tag):
        assert api.post("/crm/automations", tenant.token, rule).status == 201, rule
    local = a_customer(api, tenant, name="Hangzhou Buyer", address={"city": "杭州", "country": "CN"})
    far = a_customer(api, tenant, name="Far Buyer", address={"city": "Beijing", "country": "CN"})
    _, consented = a_contact(api, tenant, local["id"])
    _, refused = a_contact(api, tenant, local["id"], consent=False)
    assert len(mails_to(moto_server, consented)) == 1 and mails_to(moto_server, refused) == []
    tasks = api.get(f"/crm/activities?customer_id={local['id']}", tenant.token).json["items"]
    assert [(t["kind"], t["subject"]) for t in tasks] == [("task", "Call Hangzhou Buyer")]
    assert api.get(f"/crm/activities?customer_id={far['id']}", tenant.token).json["items"] == []
    assert "new" in api.get(f"/crm/customers/{far['id']}", tenant.token).json["tags"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({**GREETING, "trigger": "no_order"}, ["body", "days"]),  # no_order needs days
        ({**GREETING, "days": 7}, ["body", "days"]),  # and no other takes them
        ({**GREETING, "action": {"kind": "email", "subject": "Hi"}}, ["body", "action"]),
        ({**GREETING, "trigger": "sometimes"}, ["body", "trigger"]),
        (
            {**GREETING, "conditions": [{"field": "Tags!", "op": "equals", "value": "x"}]},
            ["body", "conditions", "0", "field"],
        ),
    ],
)
def test_a_bad_rule_is_a_422_naming_its_field(api, tenant, body, field):
    reply = api.post("/crm/automations", tenant.token, body)
    assert reply.status == 422, reply.body
    assert any(e["loc"][: len(field)] == field for e in reply.json["errors"]), reply.json


def test_a_forged_or_expired_unsubscribe_link_is_refused_and_changes_nothing(api, tenant):
    from datetime import timedelta

    from chalicelib.crm import automations

    contact, _ = a_contact(api, tenant, a_customer(api, tenant)["id"])
    old = automations.unsubscribe_token(tenant.id, contact["id"], datetime.now(UTC) - timedelta(days=91))
    for token in (old, old[:-4] + "abcd", "nonsense"):
        reply = api.get(f"/unsubscribe?token={token}")
        assert reply.status == 400 and reply.json["errors"][0]["loc"] == ["query", "token"], reply.body
    assert api.get(f"/crm/contacts/{contact['id']}", tenant.token).json["marketing_consent"] is True


@pytest.mark.usefixtures("backdated_writes")  # its orders are written months in the past
def test_a_customer_who_stopped_ordering_is_written_to_once_per_lapse(api, moto_server):
    from chalicelib.api.web import STORE
    from chalicelib.core import entities
    from chalicelib.core.store import Actor
    from chalicelib.crm.types import ORDER

    tenant = a_tenant(api, "Lapse Tea Co")
    rule = {
        "name": "We miss you",
        "trigger": "no_order",
        "days": 30,
        "action": {
            "kind": "email",
            "subject": "We miss you",
            "body": "It has been a while, {{contact_name}}.",
        },
    }
    assert api.post("/crm/automations", tenant.token, rule).status == 201
    actor = Actor(tenant.id, tenant.owner_id)

    def ordered(customer, at, status="confirmed"):
        fields = {"customer_id": customer, "currency": "CNY", "total": "10.00", "lines": [], "status": status}
        order = entities.new_item(ORDER, actor, {**fields, "confirmed_at": at}, now=at)
        STORE.transact(entities.create_operations(ORDER, actor, order))

    idle, busy, never = (a_customer(api, tenant)["id"] for _ in range(3))
    mails = {c: a_contact(api, tenant, c)[1] for c in (idle, busy, never)}
    ordered(idle, "2026-05-01T03:00:00.000000Z")
    ordered(idle, "2026-05-20T03:00:00.000000Z", status="cancelled")  # cancelled: not an order
    ordered(busy, "2026-05-25T03:00:00.000000Z")
    daily("2026-05-31T01:00:00")  # 30 days after 1 May in Shanghai
    daily("2026-06-01T01:00:00")
    assert len(mails_to(moto_server, mails[idle])) == 1
    assert mails_to(moto_server, mails[busy]) == [] and mails_to(moto_server, mails[never]) == []
    ordered(idle, "2026-06-05T03:00:00.000000Z")  # back, then idle again: a new lapse
    daily("2026-07-04T01:00:00")
    assert len(mails_to(moto_server, mails[idle])) == 1
    daily("2026-07-05T01:00:00")
    assert len(mails_to(moto_server, mails[idle])) == 2
    assert len(mails_to(moto_server, mails[busy])) == 1  # 25 May + 30 days = 24 June


def test_a_rule_keeps_days_exactly_when_it_is_a_no_order_rule(api, tenant):
    lapse = {"name": "Lapse", "trigger": "no_order", "days": 30, "action": {"kind": "tag", "tag": "lapsed"}}
    made = api.post("/crm/automations", tenant.token, lapse)
    assert made.status == 201, made.body
    welcome = api.post(
        "/crm/automations", tenant.token, {**lapse, "trigger": "customer_created", "days": None}
    )
    assert welcome.status == 201, welcome.body
    for rule, days in ((made.json, None), (welcome.json, 7)):
        reply = api.patch(f"/crm/automations/{rule['id']}", tenant.token, {"days": days})
        assert reply.status == 422 and reply.json["errors"][0]["loc"] == ["body", "days"], reply.body
    assert api.get(f"/crm/automations/{made.json['id']}", tenant.token).json["days"] == 30
    moved = api.patch(f"/crm/automations/{made.json['id']}", tenant.token, {"days": 60})
    assert moved.status == 200 and moved.json["days"] == 60


def test_an_unsubscribe_token_naming_no_contact_id_is_refused(api, tenant):
    from chalicelib.crm import automations

    for contact_id in ("con_1#x", "nonsense"):
        token = automations.unsubscribe_token(tenant.id, contact_id)
        reply = api.get(f"/unsubscribe?token={token}")
        assert reply.status == 400 and reply.json["errors"][0]["loc"] == ["query", "token"], reply.body


def test_a_trigger_s_rules_are_read_once_per_container_not_per_record(api, tenant, monkeypatch):
    """Making customers costs no Query for their rules after the first (the container keeps a
    trigger's rules); a rule written here is seen at once."""
    from chalicelib.crm import automations

    asked = []
    real = automations.entities.lookup_all

    def counting(store, tenant_id, et, kind, value, *args, **kwargs):
        if kind == "trigger":
            asked.append(value)
        return real(store, tenant_id, et, kind, value, *args, **kwargs)

    monkeypatch.setattr(automations.entities, "lookup_all", counting)
    for _ in range(3):
        a_customer(api, tenant)
    assert asked.count("customer_created") == 1
    tag = {"name": "Tag", "trigger": "customer_created", "action": {"kind": "tag", "tag": "fresh"}}
    assert api.post("/crm/automations", tenant.token, tag).status == 201
    made = a_customer(api, tenant)
    assert "fresh" in api.get(f"/crm/customers/{made['id']}", tenant.token).json["tags"]
    assert asked.count("customer_created") == 2

"""Marketing automation: rules that act on what the CRM knows (a greeting to a new customer, a
birthday wish, a word to a customer who stopped ordering, a task for the owner, a tag).

A rule has a trigger, conditions on the customer (all must hold) and one action. Each rule fires at
most once per record per occurrence: before it acts, it writes its run (``keys.automation_run``,
rule × record × occurrence) on condition that there is none, so a trigger seen again (an event
redelivered, an hourly run repeated, a retried request) finds the run and does nothing. If the
action fails, the run is taken back so a later attempt acts; if the process dies between the action
and nothing else, the run stays: at most once, never twice.

Triggers: ``customer_created``, ``contact_created`` (after the record's write, in the request),
``ticket_resolved`` (when a ticket becomes resolved), ``order_shipped`` (in the CRM consumer, when
the ERP's ``OrderShipped`` arrives), ``birthday`` and ``no_order`` (the hourly schedule, once per
company's local day from 08:00 in its time zone: a contact's birthday (29 February on 28 February
in other years), a customer whose last order is ``days`` days old or more, once per last order).

Email goes through Amazon SES to contacts whose ``marketing_consent`` is true, one mail each, with
an unsubscribe link that works without signing in: a token signed with the platform's secret (HS256)
carrying the company, the contact and an expiry inside its signed payload.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jwt

from chalicelib.core import aws, entities, keys
from chalicelib.core.config import settings
from chalicelib.core.entities import Change, EntityType
from chalicelib.core.errors import BadRequestError, NotFoundError, field_error
from chalicelib.core.store import Actor, ConditionFailed, Store, delete, put_new, utcnow
from chalicelib.crm import purchases
from chalicelib.crm.types import CONTACT, CUSTOMER
from chalicelib.tenants import published as company

LOG = logging.getLogger(__name__)
SYSTEM_USER = "system:automation"
DAILY_FROM_HOUR = 8  # a company's birthdays and lapses are looked at from this local hour
DAILY = ("birthday", "no_order")
UNSUBSCRIBE_DAYS = 90  # how long an unsubscribe link works
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


def _rule_lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    if item.get("enabled", True):
        yield "trigger", item["trigger"]  # a trigger's enabled rules are one Query


AUTOMATION = EntityType(
    "automation",
    "aut",
    lookups=_rule_lookups,
    lookup_kinds=("trigger",),
    resource="marketing.automations",
)


class Rules(entities.PlainRecords):
    """Rules are plain records, but for ``days``, which a no_order rule needs and no other takes."""

    def update(
        self, store: Store, actor: Actor, entity_id: str, patch: Any, if_match: int | None
    ) -> dict[str, Any]:
        changes = entities.patch_fields(entities.given(patch), self.required, self.emptiable)

        def decide(before: dict[str, Any]) -> Change:
            if "days" in changes and (before["trigger"] == "no_order") != (changes["days"] is not None):
                needed = before["trigger"] == "no_order"
                raise field_error(
                    "A no_order rule needs `days`." if needed else "`days` is for no_order rules only.",
                    ["body", "days"],
                    "needed" if needed else "not for this trigger",
                )
            return Change(changes)

        written = entities.update(store, actor, AUTOMATION, entity_id, decide=decide, if_match=if_match)
        _forget(actor.tenant_id)
        return entities.public(written.item)

    def create(self, store: Store, actor: Actor, data: Any) -> dict[str, Any]:
        made = super().create(store, actor, data)
        _forget(actor.tenant_id)
        return made

    def remove(self, store: Store, actor: Actor, entity_id: str, if_match: int | None) -> None:
        super().remove(store, actor, entity_id, if_match)
        _forget(actor.tenant_id)


service = Rules(AUTOMATION, ("name", "action", "enabled"), {"conditions": []})


# ---- rules ------------------------------------------------------------------------------------------------
# A trigger's rules, per company, kept by the container for as long as it trusts a user's roles: a
# customer made or an order shipped costs no Query for them; a rule written here is seen at once,
# one written in another container within that time.
_RULES: dict[tuple[str, str], tuple[float, list[dict[str, Any]]]] = {}


def _forget(tenant_id: str) -> None:
    for key in [k for k in _RULES if k[0] == tenant_id]:
        _RULES.pop(key, None)


def rules(store: Store, tenant_id: str, trigger: str) -> list[dict[str, Any]]:
    cached = _RULES.get((tenant_id, trigger))
    if cached and cached[0] > time.monotonic():
        return cached[1]
    found = [
        r
        for r in entities.lookup_all(store, tenant_id, AUTOMATION, "trigger", trigger)
        if r.get("enabled", True) and r["trigger"] == trigger
    ]
    _RULES[(tenant_id, trigger)] = (time.monotonic() + settings().principal_cache_seconds, found)
    return found


def _value(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def holds(condition: dict[str, Any], customer: dict[str, Any]) -> bool:
    field, op, wanted = str(condition["field"]), str(condition["op"]), str(condition["value"])
    if field == "tags":
        has = wanted.casefold() in {str(t).casefold() for t in customer.get("tags") or []}
        return has if op in ("equals", "contains") else not has
    value = _value(customer, field)
    text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    if op == "equals":
        return text == wanted
    if op == "not_equals":
        return text != wanted
    return wanted.casefold() in text.casefold()


def matches(rule: dict[str, Any], customer: dict[str, Any]) -> bool:
    return all(holds(c, customer) for c in rule.get("conditions") or [])


def render(text: str, values: dict[str, str]) -> str:
    """``{{name}}`` placeholders filled from ``values`` (an unknown one left empty)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), text)


# ---- firing -------------------------------------------------------------------------------------------------
def run(
    store: Store,
    tenant_id: str,
    trigger: str,
    customer: dict[str, Any],
    *,
    record_id: str,
    occurrence: str,
    contact: dict[str, Any] | None = None,
    found: list[dict[str, Any]] | None = None,
) -> int:
    """Fire every enabled rule of ``trigger`` whose conditions hold of ``customer``, once per record
    and occurrence; how many acted now."""
    fired = 0
    for rule in found if found is not None else rules(store, tenant_id, trigger):
        if matches(rule, customer) and fire(store, tenant_id, rule, customer, contact, record_id, occurrence):
            fired += 1
    return fired


def fire(
    store: Store,
    tenant_id: str,
    rule: dict[str, Any],
    customer: dict[str, Any],
    contact: dict[str, Any] | None,
    record_id: str,
    occurrence: str,
) -> bool:
    """Act once: False when this rule already ran on this record for this occurrence."""
    key = keys.automation_run(tenant_id, rule["id"], record_id, occurrence)
    claimed = {**key, "rule_id": rule["id"], "record_id": record_id, "occurrence": occurrence, "at": utcnow()}
    try:
        store.transact([put_new({**claimed, "state": "acting"})])
    except ConditionFailed:
        return False
    try:
        outcome = ACTIONS[rule["action"]["kind"]](store, tenant_id, rule, customer, contact)
    except Exception:
        store.transact([delete(key)])  # not done: a later attempt acts
        raise
    store.put_one({**claimed, "state": "done", "outcome": outcome})
    return True


def _values(
    store: Store, tenant_id: str, customer: dict[str, Any], contact: dict[str, Any] | None
) -> dict[str, str]:
    return {
        "customer_name": str(customer.get("name", "")),
        "contact_name": str((contact or {}).get("name", "")),
        "company_name": company.company_name(store, tenant_id),
    }


def _email(
    store: Store,
    tenant_id: str,
    rule: dict[str, Any],
    customer: dict[str, Any],
    contact: dict[str, Any] | None,
) -> str:
    """One mail to each consenting contact (the one the trigger names, or the customer's)."""
    people = (
        [contact] if contact else entities.lookup_all(store, tenant_id, CONTACT, "customer", customer["id"])
    )
    action, sent = rule["action"], []
    shared = _values(store, tenant_id, customer, None)
    for person in people:
        address = next((e["address"] for e in person.get("emails") or []), None)
        if not person.get("marketing_consent") or not address:
            continue
        values = {**shared, "contact_name": str(person.get("name", ""))}
        link = f"{settings().public_url}/unsubscribe?token={unsubscribe_token(tenant_id, person['id'])}"
        body = f"{render(action['body'], values)}\n\n--\nTo receive no more of these mails: {link}\n"
        aws.ses().send_email(
            Source=settings().mail_from,
            Destination={"ToAddresses": [address]},
            Message={
                "Subject": {"Data": render(action["subject"], values), "Charset": "UTF-8"},
                "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
            },
        )
        sent.append(person["id"])
    return f"mailed {len(sent)}: {', '.join(sent)}" if sent else "no contact with consent and an email"


def _task(
    store: Store,
    tenant_id: str,
    rule: dict[str, Any],
    customer: dict[str, Any],
    contact: dict[str, Any] | None,
) -> str:
    """A task on the customer for its owner (the pool's if it has none)."""
    from chalicelib.crm import activities
    from chalicelib.crm.models import ActivityIn

    owner = customer.get("owner_id") or SYSTEM_USER
    values = _values(store, tenant_id, customer, contact)
    due = datetime.now(UTC) + timedelta(days=int(rule["action"].get("due_in_days") or 0))
    data = ActivityIn(
        kind="task",
        customer_id=customer["id"],
        contact_id=contact["id"] if contact else None,
        subject=render(rule["action"]["subject"], values)[:200] or rule["name"],
        body=f"From the automation {rule['name']}.",
        due_at=due,
        assignee_id=customer.get("owner_id"),
    )
    task = activities.create(store, Actor(tenant_id=tenant_id, user_id=owner), data)
    return f"task {task['id']}"


def _tag(
    store: Store,
    tenant_id: str,
    rule: dict[str, Any],
    customer: dict[str, Any],
    contact: dict[str, Any] | None,
) -> str:
    tag = rule["action"]["tag"]

    def decide(before: dict[str, Any]) -> Change:
        tags = list(before.get("tags") or [])
        if tag in tags or len(tags) >= 30:
            return Change()
        return Change({"tags": [*tags, tag]}, action="automation.tag")

    entities.update(
        store, Actor(tenant_id=tenant_id, user_id=SYSTEM_USER), CUSTOMER, customer["id"], decide=decide
    )
    return f"tagged {tag}"


ACTIONS = {"email": _email, "task": _task, "tag": _tag}


# ---- triggers ---------------------------------------------------------------------------------------------
def after_write(
    store: Store, tenant_id: str, trigger: str, record: dict[str, Any], occurrence: str | None = None
) -> None:
    """A record was made (a customer, a contact) or resolved (a ticket): its rules fire, and a failure
    to act is logged, never the request's failure (the record is written)."""
    try:
        found = rules(store, tenant_id, trigger)
        if not found:
            return
        customer = (
            record
            if trigger == "customer_created"
            else entities.get(store, tenant_id, CUSTOMER, record["customer_id"])
        )
        contact = record if trigger == "contact_created" else None
        run(
            store,
            tenant_id,
            trigger,
            customer,
            record_id=record["id"],
            occurrence=trigger,
            contact=contact,
            found=found,
        )
    except Exception:  # the write succeeded; the rule's run was taken back
        LOG.exception("automation %s on %s failed", trigger, record.get("id"))


def order_shipped(store: Store, tenant_id: str, order: dict[str, Any]) -> int:
    """The ERP shipped an order (the CRM consumer, also on a redelivered event: fires once)."""
    found = rules(store, tenant_id, "order_shipped")
    if not found:
        return 0
    customer = entities.get(store, tenant_id, CUSTOMER, order["customer_id"])
    return run(
        store, tenant_id, "order_shipped", customer, record_id=order["id"], occurrence="shipped", found=found
    )


def local_now(store: Store, tenant_id: str, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(company.time_zone(store, tenant_id)))


def birthdays_on(day: date) -> list[str]:
    """The birthdays (MM-DD) greeted on ``day``: 29 February also on 28 February in other years."""
    days = [day.strftime("%m-%d")]
    if days[0] == "02-28" and not _leap(day.year):
        days.append("02-29")
    return days


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def daily(store: Store, now: datetime | None = None) -> dict[str, int]:
    """The hourly schedule: every open company whose local day has reached 08:00 and is not done yet
    gets its birthday and no-order rules run; the day is marked done at the end (a run cut short is
    finished by the next hour's, the runs' guard keeping each greeting single)."""
    now = now or datetime.now(UTC)
    totals = {"companies": 0, "fired": 0}
    for entry in company.open_companies(store):
        tenant_id = entry["tenant_id"]
        try:
            local = local_now(store, tenant_id, now)
            if local.hour < DAILY_FROM_HOUR:
                continue
            day = keys.automation_day(tenant_id, local.date().isoformat())
            if store.get(day, consistent=True):
                continue
            totals["fired"] += company_day(store, tenant_id, local.date())
            totals["companies"] += 1
            store.put_one({**day, "at": utcnow()})
        except Exception:  # one company's failure never stops the others' day
            totals["failed"] = totals.get("failed", 0) + 1
            LOG.exception("daily automations of %s failed; the next hour tries again", tenant_id)
    return totals


def company_day(store: Store, tenant_id: str, today: date) -> int:
    """One company's birthday and no-order rules for its local ``today``."""
    fired = 0
    greetings = rules(store, tenant_id, "birthday")
    if greetings:
        for birthday in birthdays_on(today):
            for contact in entities.lookup_all(store, tenant_id, CONTACT, "birthday", birthday):
                customer = entities.get(store, tenant_id, CUSTOMER, contact["customer_id"])
                fired += run(
                    store,
                    tenant_id,
                    "birthday",
                    customer,
                    record_id=contact["id"],
                    occurrence=str(today.year),
                    contact=contact,
                    found=greetings,
                )
    lapses = rules(store, tenant_id, "no_order")
    if lapses:
        cursor = None
        while True:
            page = entities.list_page(store, tenant_id, CUSTOMER, limit=100, cursor=cursor)
            for customer in page.items:
                if customer.get("deleted"):
                    continue
                last = purchases.last_order_at(store, tenant_id, customer["id"])
                if last is None:
                    continue
                idle = (today - last.date()).days
                due = [r for r in lapses if r.get("days") and idle >= int(r["days"])]
                if due:
                    fired += run(
                        store,
                        tenant_id,
                        "no_order",
                        customer,
                        record_id=customer["id"],
                        occurrence=last.date().isoformat(),
                        found=due,
                    )
            cursor = page.next_cursor
            if not cursor:
                break
    return fired


# ---- unsubscribing ------------------------------------------------------------------------------------------
_AUDIENCE = "crmerp:unsubscribe"


def _key() -> bytes:
    return b"unsubscribe:" + settings().cursor_secret


def unsubscribe_token(tenant_id: str, contact_id: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    claims = {
        "t": tenant_id,
        "c": contact_id,
        "aud": _AUDIENCE,
        "exp": now + timedelta(days=UNSUBSCRIBE_DAYS),
    }
    return jwt.encode(claims, _key(), algorithm="HS256")


def unsubscribe(store: Store, token: str) -> dict[str, Any]:
    """Withdraw the contact's marketing consent (the company is the token's, never the caller's)."""
    try:
        claims = jwt.decode(
            token, _key(), algorithms=["HS256"], audience=_AUDIENCE, options={"require": ["exp", "aud"]}
        )
        tenant_id, contact_id = str(claims["t"]), str(claims["c"])
        if not re.match(CONTACT.id_pattern, contact_id) or not keys.is_tenant_id(tenant_id):
            raise KeyError("c")
    except (jwt.PyJWTError, KeyError) as exc:
        expired = isinstance(exc, jwt.ExpiredSignatureError)
        raise BadRequestError(
            "This unsubscribe link has expired: use the link of a newer mail."
            if expired
            else "This unsubscribe link is not valid.",
            errors=[{"loc": ["query", "token"], "msg": "expired" if expired else "invalid", "type": "token"}],
        ) from exc

    def decide(before: dict[str, Any]) -> Change:
        if not before.get("marketing_consent"):
            return Change()
        return Change(
            {"marketing_consent": False, "marketing_consent_changed_at": utcnow()}, action="unsubscribe"
        )

    try:
        with aws.tenant_scope(tenant_id):  # a public link: the token's company's credentials only
            entities.update(
                store, Actor(tenant_id=tenant_id, user_id=SYSTEM_USER), CONTACT, contact_id, decide=decide
            )
    except NotFoundError:
        pass  # the contact is gone: nothing will be sent to it
    return {"unsubscribed": True, "detail": "You will receive no more marketing mail from this company."}

"""The CRM's record types: each aggregate's name, id prefix, exact-match lookups and owner rule.

Every aggregate module imports its own type and the types it refers to from here, never from another
aggregate's module, so the aggregates (a contact names a customer, an order names a contact, a
customer's removal looks for its orders) never import each other in a circle.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.core.entities import EntityType, Unique
from chalicelib.core.normalise import normalise_phone
from chalicelib.core.store import Tally
from chalicelib.crm import purchases, sales, ticket_figures
from chalicelib.handoff import contracts

ACTIVE = {"open", "in_progress"}  # ticket states that can run late (the due lookup)


def contact_points(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """Exact-match lookups of a customer or contact: each email and each phone number."""
    for email in item.get("emails") or []:
        yield "email", email["address"]
    for phone in item.get("phones") or []:
        yield "phone", normalise_phone(phone["number"])


CUSTOMER = EntityType(
    contracts.CUSTOMER.name,
    contracts.CUSTOMER.prefix,
    uniques=(Unique("code"),),
    lookups=contact_points,
    lookup_kinds=("email", "phone"),
    owned=True,
    resource="crm.customers",
    tallies=sales.crm_tallies("customer"),  # the dashboard's new customers
)


def _contacts_lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    yield from contact_points(item)
    yield "customer", item["customer_id"]
    if item.get("birthday"):
        yield "birthday", str(item["birthday"])[5:10]  # MM-DD: the day's birthdays are one Query


CONTACT = EntityType(
    "contact",
    "con",
    lookups=_contacts_lookups,
    lookup_kinds=("email", "phone", "customer", "birthday"),
    owned=True,
    resource="crm.contacts",
)


def _leads_lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    if item.get("email"):
        yield "email", item["email"]
    if item.get("phone"):
        yield "phone", normalise_phone(item["phone"])


LEAD = EntityType(
    "lead",
    "lea",
    lookups=_leads_lookups,
    lookup_kinds=("email", "phone"),
    owned=True,
    resource="crm.leads",
    tallies=sales.crm_tallies("lead"),  # the dashboard's leads made and converted
)


def _opportunities_lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    yield "customer", item["customer_id"]


OPPORTUNITY = EntityType(
    "opportunity",
    "opp",
    lookups=_opportunities_lookups,
    lookup_kinds=("customer",),
    owned=True,
    resource="crm.opportunities",
    tallies=sales.opportunity_tallies,  # the dashboard's pipeline
)


def _activities_lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    yield "customer", item["customer_id"]
    if item.get("assignee_id"):
        yield "assignee", item["assignee_id"]


ACTIVITY = EntityType(
    "activity",
    "act",
    name_field=None,
    lookups=_activities_lookups,
    lookup_kinds=("customer", "assignee"),
    owned=True,
    resource="crm.activities",
    tallies=sales.crm_tallies("activity"),  # the dashboard's activities logged
)


def _quotes_lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    yield "customer", item["customer_id"]


QUOTE = EntityType(
    "quote",
    "quo",
    name_field=None,
    lookups=_quotes_lookups,
    lookup_kinds=("customer",),
    owned=True,
    resource="crm.quotes",
    tallies=purchases.quote_tallies,  # interest in a product (GET /analytics/products/{id})
)


def _orders_lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    yield "customer", item["customer_id"]


def _order_tallies(
    tenant_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[Tally]:
    return [
        *sales.order_tallies(tenant_id, before, after),
        *purchases.order_tallies(tenant_id, before, after),
        *purchases.together_tallies(tenant_id, before, after),
        *purchases.top_tallies(tenant_id, before, after),
    ]


ORDER = EntityType(
    "order",
    "ord",
    name_field=None,
    lookups=_orders_lookups,
    lookup_kinds=("customer",),
    owned=True,
    resource="crm.orders",
    tallies=_order_tallies,  # the dashboard's sales and the 360 view's purchases, kept by every write
)


def _tickets_lookups(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    yield "customer", item["customer_id"]
    if item.get("assignee_id"):
        yield "assignee", item["assignee_id"]
    if item["status"] in ACTIVE:
        yield "due", item["due_at"]  # only active tickets can be overdue: the overdue list is one range Query


TICKET = EntityType(
    "ticket",
    "tic",
    name_field=None,
    lookups=_tickets_lookups,
    lookup_kinds=("customer", "assignee", "due"),
    owned=True,
    resource="crm.tickets",
    tallies=ticket_figures.ticket_tallies,  # the dashboard's open and overdue tickets
)

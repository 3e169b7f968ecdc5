"""HTTP routes of the CRM."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core import crud
from chalicelib.core.web import STORE, Request, endpoint
from chalicelib.crm import activities, contacts, customers, timeline
from chalicelib.crm.models import (
    ActivityIn,
    ActivityOut,
    ActivityPage,
    ActivityPatch,
    ActivityQuery,
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    ContactQuery,
    CustomerIn,
    CustomerOut,
    CustomerPage,
    CustomerPatch,
    CustomerQuery,
    DeletedOut,
    TimelineEntry,
    TimelinePage,
    TimelineQuery,
)

bp = Blueprint(__name__)

crud.register(bp, crud.Resource(
    customers.CUSTOMER, "/crm/customers", "customer_id", "crm.customers", "crm",
    CustomerIn, CustomerPatch, CustomerOut, CustomerPage, CustomerQuery, DeletedOut, customers,
))  # fmt: skip
crud.register(bp, crud.Resource(
    contacts.CONTACT, "/crm/contacts", "contact_id", "crm.contacts", "crm",
    ContactIn, ContactPatch, ContactOut, ContactPage, ContactQuery, DeletedOut, contacts,
))  # fmt: skip
crud.register(bp, crud.Resource(
    activities.ACTIVITY, "/crm/activities", "activity_id", "crm.activities", "crm",
    ActivityIn, ActivityPatch, ActivityOut, ActivityPage, ActivityQuery, DeletedOut, activities,
))  # fmt: skip


@endpoint(bp, "/crm/customers/{customer_id}/timeline", "GET", permission="crm.customers:read", tag="crm",
          summary="A customer's timeline, newest first: activities, stage changes, quotes, orders, tickets",
          query=TimelineQuery, response=TimelinePage, path_params={"customer_id": customers.CUSTOMER.id_pattern})  # fmt: skip
def customer_timeline(req: Request) -> TimelinePage:
    page = timeline.page(STORE, req.me.tenant_id, req.params["customer_id"], req.query.limit, req.query.cursor)
    return TimelinePage(items=[TimelineEntry(**e) for e in page.items], next_cursor=page.next_cursor)

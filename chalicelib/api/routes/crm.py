"""HTTP routes of the CRM."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api import crud
from chalicelib.api.routes import jobs as jobs_routes
from chalicelib.api.web import STORE, Request, Result, endpoint
from chalicelib.core import entities, tabular
from chalicelib.core.errors import NotFoundError
from chalicelib.core.schemas import DeletedOut, ListQuery
from chalicelib.crm import (
    activities,
    automations,
    contacts,
    customers,
    leads,
    merge,
    opportunities,
    orders,
    overview,
    quotes,
    recommendations,
    tickets,
    timeline,
)
from chalicelib.crm import imports as crm_imports
from chalicelib.crm.models import (
    ActivityIn,
    ActivityOut,
    ActivityPage,
    ActivityPatch,
    ActivityQuery,
    AssignIn,
    AutomationIn,
    AutomationOut,
    AutomationPage,
    AutomationPatch,
    AutomationQuery,
    CancelIn,
    CloseIn,
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    ContactQuery,
    ConvertIn,
    ConvertOut,
    CreateOptions,
    Customer360,
    CustomerIn,
    CustomerOut,
    CustomerPage,
    CustomerPatch,
    CustomerQuery,
    HandoffEvent,
    HandoffOut,
    ImportOut,
    ImportQuery,
    LeadIn,
    LeadOut,
    LeadPage,
    LeadPatch,
    LeadQuery,
    MergeIn,
    MergeOut,
    OpportunityIn,
    OpportunityOut,
    OpportunityPage,
    OpportunityPatch,
    OpportunityQuery,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderPatch,
    OrderQuery,
    PipelineIn,
    PipelineOut,
    QuoteIn,
    QuoteOut,
    QuotePage,
    QuotePatch,
    QuoteQuery,
    QuoteRevisionPage,
    RecommendationsOut,
    RejectIn,
    SlaIn,
    SlaOut,
    TicketIn,
    TicketOut,
    TicketPage,
    TicketPatch,
    TicketQuery,
    TimelineEntry,
    TimelinePage,
    TimelineQuery,
    UnsubscribeOut,
    UnsubscribeQuery,
)
from chalicelib.crm.types import ACTIVITY, CONTACT, CUSTOMER, LEAD, OPPORTUNITY, ORDER, QUOTE, TICKET
from chalicelib.erp import imports as erp_imports
from chalicelib.jobs import transfer
from chalicelib.jobs.models import ImportJobIn, ImportJobOut, JobAccepted

bp = Blueprint(__name__)

crud.register(
    bp,
    crud.Resource(
        automations.AUTOMATION,
        "/crm/automations",
        "automation_id",
        "marketing.automations",
        "crm",
        AutomationIn,
        AutomationPatch,
        AutomationOut,
        AutomationPage,
        AutomationQuery,
        DeletedOut,
        automations.service,
    ),
)
crud.register(
    bp,
    crud.Resource(
        CUSTOMER,
        "/crm/customers",
        "customer_id",
        "crm.customers",
        "crm",
        CustomerIn,
        CustomerPatch,
        CustomerOut,
        CustomerPage,
        CustomerQuery,
        DeletedOut,
        customers,
        CreateOptions,
        AssignIn,
    ),
)
crud.register(
    bp,
    crud.Resource(
        CONTACT,
        "/crm/contacts",
        "contact_id",
        "crm.contacts",
        "crm",
        ContactIn,
        ContactPatch,
        ContactOut,
        ContactPage,
        ContactQuery,
        DeletedOut,
        contacts,
        CreateOptions,
    ),
)
crud.register(
    bp,
    crud.Resource(
        ACTIVITY,
        "/crm/activities",
        "activity_id",
        "crm.activities",
        "crm",
        ActivityIn,
        ActivityPatch,
        ActivityOut,
        ActivityPage,
        ActivityQuery,
        DeletedOut,
        activities,
    ),
)


@endpoint(
    bp,
    "/crm/customers/{customer_id}/timeline",
    "GET",
    permission="crm.customers:read",
    tag="crm",
    summary="A customer's timeline, newest first: activities, stage changes, quotes, orders, tickets",
    query=TimelineQuery,
    response=TimelinePage,
    path_params={"customer_id": CUSTOMER.id_pattern},
)
def customer_timeline(req: Request) -> TimelinePage:
    page = timeline.page(STORE, req.me.actor(), req.params["customer_id"], req.query.limit, req.query.cursor)
    return TimelinePage(items=[TimelineEntry(**e) for e in page.items], next_cursor=page.next_cursor)


crud.register(
    bp,
    crud.Resource(
        QUOTE,
        "/crm/quotes",
        "quote_id",
        "crm.quotes",
        "crm",
        QuoteIn,
        QuotePatch,
        QuoteOut,
        QuotePage,
        QuoteQuery,
        DeletedOut,
        quotes,
    ),
)
crud.register(
    bp,
    crud.Resource(
        ORDER,
        "/crm/orders",
        "order_id",
        "crm.orders",
        "crm",
        OrderIn,
        OrderPatch,
        OrderOut,
        OrderPage,
        OrderQuery,
        DeletedOut,
        orders,
    ),
)

QUOTE_ID = {"quote_id": QUOTE.id_pattern}
ORDER_ID = {"order_id": ORDER.id_pattern}


def _quote(item: dict[str, Any]) -> Result:
    return Result(QuoteOut(**item), etag=item["version"])


def _order(item: dict[str, Any], status: int | None = None) -> Result:
    return Result(
        OrderOut(**item),
        etag=item["version"],
        status=status,
        headers={"Location": f"/crm/orders/{item['id']}"},
    )


@endpoint(
    bp,
    "/crm/quotes/{quote_id}/send",
    "POST",
    permission="crm.quotes:update",
    tag="crm",
    summary="Mark a draft quote sent",
    response=QuoteOut,
    path_params=QUOTE_ID,
    etag=True,
)
def send_quote(req: Request) -> Result:
    return _quote(quotes.send(STORE, req.me.actor(), req.params["quote_id"], req.if_match))


@endpoint(
    bp,
    "/crm/quotes/{quote_id}/reject",
    "POST",
    permission="crm.quotes:update",
    tag="crm",
    summary="Record that the customer rejected a sent quote",
    body=RejectIn,
    response=QuoteOut,
    path_params=QUOTE_ID,
    etag=True,
)
def reject_quote(req: Request) -> Result:
    return _quote(quotes.reject(STORE, req.me.actor(), req.params["quote_id"], req.body, req.if_match))


@endpoint(
    bp,
    "/crm/quotes/{quote_id}/revise",
    "POST",
    permission="crm.quotes:update",
    tag="crm",
    summary="Start a new draft revision of a sent or rejected quote",
    response=QuoteOut,
    path_params=QUOTE_ID,
    etag=True,
)
def revise_quote(req: Request) -> Result:
    return _quote(quotes.revise(STORE, req.me.actor(), req.params["quote_id"], req.if_match))


@endpoint(
    bp,
    "/crm/quotes/{quote_id}/revisions",
    "GET",
    permission="crm.quotes:read",
    tag="crm",
    summary="Earlier revisions of a quote, newest first",
    query=ListQuery,
    response=QuoteRevisionPage,
    path_params=QUOTE_ID,
)
def quote_revisions(req: Request) -> QuoteRevisionPage:
    page = quotes.revisions(
        STORE, req.me.tenant_id, req.params["quote_id"], req.query.limit, req.query.cursor
    )
    return QuoteRevisionPage(items=[QuoteOut(**i) for i in page.items], next_cursor=page.next_cursor)


@endpoint(
    bp,
    "/crm/quotes/{quote_id}/accept",
    "POST",
    permission="crm.quotes:accept",
    tag="crm",
    summary="Accept a quote: creates its sales order (201), or answers that order again (200)",
    response=OrderOut,
    status=201,
    also=(200,),
    path_params=QUOTE_ID,
    etag=True,
)
def accept_quote(req: Request) -> Result:
    order, created = quotes.accept(STORE, req.me.actor(), req.params["quote_id"], req.if_match)
    return _order(order, 201 if created else 200)


@endpoint(
    bp,
    "/crm/orders/{order_id}/confirm",
    "POST",
    permission="crm.orders:confirm",
    tag="crm",
    summary="Confirm a draft order (confirming a confirmed order answers it again)",
    response=OrderOut,
    path_params=ORDER_ID,
    etag=True,
)
def confirm_order(req: Request) -> Result:
    return _order(orders.confirm(STORE, req.me.actor(), req.params["order_id"], req.if_match))


@endpoint(
    bp,
    "/crm/orders/{order_id}/cancel",
    "POST",
    permission="crm.orders:cancel",
    tag="crm",
    summary="Cancel an order not shipped (a confirmed one via the ERP: cancelling, then cancelled)",
    body=CancelIn,
    response=OrderOut,
    path_params=ORDER_ID,
    etag=True,
)
def cancel_order(req: Request) -> Result:
    return _order(orders.cancel(STORE, req.me.actor(), req.params["order_id"], req.body, req.if_match))


@endpoint(
    bp,
    "/crm/orders/{order_id}/handoff",
    "GET",
    permission="crm.orders:read",
    tag="crm",
    response=HandoffOut,
    path_params=ORDER_ID,
    summary="The order's events between CRM and ERP: times, attempts, who handled them",
)
def order_handoff(req: Request) -> HandoffOut:
    events = orders.trail(STORE, req.me.tenant_id, req.params["order_id"])
    return HandoffOut(order_id=req.params["order_id"], events=[HandoffEvent(**e) for e in events])


crud.register(
    bp,
    crud.Resource(
        LEAD,
        "/crm/leads",
        "lead_id",
        "crm.leads",
        "crm",
        LeadIn,
        LeadPatch,
        LeadOut,
        LeadPage,
        LeadQuery,
        DeletedOut,
        leads,
        assign_model=AssignIn,
    ),
)
crud.register(
    bp,
    crud.Resource(
        OPPORTUNITY,
        "/crm/opportunities",
        "opportunity_id",
        "crm.opportunities",
        "crm",
        OpportunityIn,
        OpportunityPatch,
        OpportunityOut,
        OpportunityPage,
        OpportunityQuery,
        DeletedOut,
        opportunities,
    ),
)


@endpoint(
    bp,
    "/crm/leads/{lead_id}/convert",
    "POST",
    permission="crm.leads:convert",
    tag="crm",
    summary="Convert a lead: its customer, contact and opportunity in one transaction (201; a retry answers 200)",
    body=ConvertIn,
    response=ConvertOut,
    status=201,
    also=(200,),
    path_params={"lead_id": LEAD.id_pattern},
    etag=True,
)
def convert_lead(req: Request) -> Result:
    lead, converted = leads.convert(STORE, req.me.actor(), req.params["lead_id"], req.body, req.if_match)
    body = ConvertOut(
        lead=LeadOut(**lead),
        customer_id=lead["customer_id"],
        contact_id=lead["contact_id"],
        opportunity_id=lead["opportunity_id"],
    )
    return Result(body, status=201 if converted else 200, etag=lead["version"])


@endpoint(
    bp,
    "/crm/opportunities/{opportunity_id}/close",
    "POST",
    permission="crm.opportunities:close",
    tag="crm",
    summary="Close an opportunity as won or lost, with the reason",
    body=CloseIn,
    response=OpportunityOut,
    path_params={"opportunity_id": OPPORTUNITY.id_pattern},
    etag=True,
)
def close_opportunity(req: Request) -> Result:
    item = opportunities.close(STORE, req.me.actor(), req.params["opportunity_id"], req.body, req.if_match)
    return Result(OpportunityOut(**item), etag=item["version"])


@endpoint(
    bp,
    "/crm/pipeline",
    "GET",
    permission="crm.pipeline:read",
    tag="crm",
    summary="The pipeline's stages and their win probability",
    response=PipelineOut,
    etag=True,
)
def get_pipeline(req: Request) -> Result:
    current = opportunities.pipeline(STORE, req.me.tenant_id)
    return Result(PipelineOut(**current), etag=current["version"])


@endpoint(
    bp,
    "/crm/pipeline",
    "PUT",
    permission="crm.pipeline:write",
    tag="crm",
    summary="Replace the pipeline's stages",
    body=PipelineIn,
    response=PipelineOut,
    etag=True,
)
def put_pipeline(req: Request) -> Result:
    current = opportunities.replace_pipeline(STORE, req.me.actor(), req.body, req.if_match)
    return Result(PipelineOut(**current), etag=current["version"])


ENTITY = {"entity": r"^[a-z_]{1,40}$"}
IMPORTABLE: dict[str, tabular.Spec] = {**crm_imports.SPECS, **erp_imports.SPECS}


def _spec(entity: str) -> tabular.Spec:
    if entity not in IMPORTABLE:
        raise NotFoundError(f"Nothing to import or export as {entity}; try one of {', '.join(IMPORTABLE)}.")
    return IMPORTABLE[entity]


@endpoint(
    bp,
    "/import/{entity}",
    "POST",
    permission="crm.import:run",
    tag="transfer",
    summary="Import customers, contacts, leads or products from CSV (UTF-8 or GBK, up to 5 MB); upsert on code, SKU, email",
    query=ImportQuery,
    response=ImportOut,
    path_params=ENTITY,
    raw_types=("text/csv",),
    max_body=tabular.MAX_IMPORT_BYTES,
)
def import_csv(req: Request) -> ImportOut:
    entity = req.params["entity"]
    spec = _spec(entity)
    for action in ("create", "update"):
        req.me.require_all(f"{spec.permission}:{action}")
    q = req.query
    result = tabular.run_import(
        STORE,
        req.me.actor(),
        entity,
        spec,
        req.body,
        dry_run=q.dry_run,
        encoding=q.encoding,
        allow_duplicates=q.allow_duplicates,
    )
    return ImportOut(**result)


@endpoint(
    bp,
    "/export/{entity}",
    "GET",
    permission="crm.export:run",
    tag="transfer",
    summary="Export customers, contacts, leads or products as CSV, UTF-8 with BOM (for Excel)",
    path_params=ENTITY,
    response_type="text/csv; charset=utf-8",
)
def export_csv(req: Request) -> Result:
    entity = req.params["entity"]
    spec = _spec(entity)
    req.me.require_all(f"{spec.permission}:read")
    body = tabular.export(STORE, req.me.tenant_id, spec)
    return Result(body, headers={"Content-Disposition": f'attachment; filename="{entity}.csv"'})


@endpoint(
    bp,
    "/import/{entity}/jobs",
    "POST",
    permission="crm.import:run",
    tag="transfer",
    summary="Import a large CSV as a job: answers the job and a presigned URL to upload the file to",
    body=ImportJobIn,
    response=ImportJobOut,
    status=202,
    path_params=ENTITY,
)
def import_job(req: Request) -> Result:
    entity = req.params["entity"]
    spec = _spec(entity)
    for action in ("create", "update"):
        req.me.require_all(f"{spec.permission}:{action}")
    made = transfer.request_import(STORE, req.me.actor(), entity, req.body.model_dump())
    job = jobs_routes.job_out(made["job"])
    body = ImportJobOut(
        job=job, upload_url=made["upload_url"], expires_in=made["expires_in"], start_url=f"{job.url}/start"
    )
    return Result(body, status=202, headers={"Location": job.url})


@endpoint(
    bp,
    "/export/{entity}/jobs",
    "POST",
    permission="crm.export:run",
    tag="transfer",
    summary="Export a collection as a job: its CSV downloads through a presigned URL once done",
    response=JobAccepted,
    status=202,
    path_params=ENTITY,
)
def export_job(req: Request) -> Result:
    entity = req.params["entity"]
    spec = _spec(entity)
    req.me.require_all(f"{spec.permission}:read")
    return jobs_routes.accepted(transfer.request_export(STORE, req.me.actor(), entity))


crud.register(
    bp,
    crud.Resource(
        TICKET,
        "/crm/tickets",
        "ticket_id",
        "crm.tickets",
        "crm",
        TicketIn,
        TicketPatch,
        TicketOut,
        TicketPage,
        TicketQuery,
        DeletedOut,
        tickets,
    ),
)


@endpoint(
    bp,
    "/crm/sla",
    "GET",
    permission="crm.sla:read",
    tag="crm",
    summary="Hours to resolve a ticket, per priority",
    response=SlaOut,
    etag=True,
)
def get_sla(req: Request) -> Result:
    current = tickets.sla(STORE, req.me.tenant_id)
    return Result(SlaOut(**current), etag=current["version"])


@endpoint(
    bp,
    "/crm/sla",
    "PUT",
    permission="crm.sla:write",
    tag="crm",
    summary="Set the hours to resolve, per priority",
    body=SlaIn,
    response=SlaOut,
    etag=True,
)
def put_sla(req: Request) -> Result:
    current = tickets.replace_sla(STORE, req.me.actor(), req.body, req.if_match)
    return Result(SlaOut(**current), etag=current["version"])


@endpoint(
    bp,
    "/crm/customers/{customer_id}/360",
    "GET",
    permission="crm.customers:read",
    tag="crm",
    summary="Customer 360: profile, contacts, open opportunities and tickets, last activities, purchases, preferences",
    response=Customer360,
    path_params={"customer_id": CUSTOMER.id_pattern},
)
def customer_360(req: Request) -> Customer360:
    view = overview.customer_360(STORE, req.me.actor(), req.params["customer_id"])
    return Customer360(**view)


@endpoint(
    bp,
    "/unsubscribe",
    "GET",
    permission=None,
    public=True,
    tag="crm",
    query=UnsubscribeQuery,
    response=UnsubscribeOut,
    summary="Stop a company's marketing mail to a contact: the link in each mail, no sign-in needed",
)
def unsubscribe(req: Request) -> UnsubscribeOut:
    return UnsubscribeOut(**automations.unsubscribe(STORE, req.query.token))


@endpoint(
    bp,
    "/crm/customers/{customer_id}/recommendations",
    "GET",
    permission="crm.customers:read",
    tag="crm",
    summary="What the customer will likely buy next, with reasons; their churn risk",
    response=RecommendationsOut,
    path_params={"customer_id": CUSTOMER.id_pattern},
)
def customer_recommendations(req: Request) -> RecommendationsOut:
    req.me.require("crm.orders:read")  # built from orders: over own orders only, from those (docs/api.md)
    customer_id = req.params["customer_id"]
    entities.get(STORE, req.me.tenant_id, CUSTOMER, customer_id)  # 404 for an unknown customer
    return RecommendationsOut.model_validate(recommendations.recommend(STORE, req.me.actor(), customer_id))


@endpoint(
    bp,
    "/crm/customers/{customer_id}/merge",
    "POST",
    permission="crm.customers:merge",
    tag="crm",
    summary="Fold a duplicate customer's contacts, activities, opportunities, quotes, orders and tickets into this one",
    body=MergeIn,
    response=MergeOut,
    path_params={"customer_id": CUSTOMER.id_pattern},
)
def merge_customer(req: Request) -> MergeOut:
    return MergeOut(**merge.merge(STORE, req.me.actor(), req.params["customer_id"], req.body.duplicate_id))

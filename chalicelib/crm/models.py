"""API models of CRM customers: create, patch, public view, list query."""

# No `from __future__ import annotations` in model modules: pydantic would compile every field's
# annotation string at import (about 40 ms of cold start); evaluated annotations cost nothing.

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from chalicelib.core.ids import id_pattern
from chalicelib.core.models import PublicModel, StrictModel
from chalicelib.core.schemas import (
    Code,
    Currency,
    Day,
    DeletedOut,
    Email,
    Exact,
    Instant,
    ListQuery,
    Name,
    NamePrefix,
    PageOut,
    Percent,
    Price,
    Quantity,
    SyncQuery,
)

Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
FieldKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
# Integers as DynamoDB stores them exactly: at most 38 digits.
FieldInt = Annotated[StrictInt, Field(ge=1 - 10**38, le=10**38 - 1)]
FieldValue = Annotated[str, StringConstraints(max_length=1000)] | StrictBool | FieldInt


class Phone(StrictModel):
    number: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()./-]{2,31}$")]
    label: Label = ""


class EmailAddress(StrictModel):
    address: Email
    label: Label = ""


class Address(StrictModel):
    line1: Line = ""
    line2: Line = ""
    city: Line = ""
    region: Line = ""
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = ""
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = Field(
        default=None, description="ISO 3166-1 alpha-2"
    )


USER_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
UserId = Annotated[str, StringConstraints(pattern=f"^{USER_ID}$")]


class OwnedQuery(SyncQuery):
    owner: Annotated[str, StringConstraints(pattern=f"^(me|none|{USER_ID})$")] | None = Field(
        default=None,
        description="Only the records of this owner: a user id, `me`, or `none` for the shared pool. "
        "Not combined with other filters.",
    )


class AssignIn(StrictModel):
    owner_id: UserId | None = Field(
        description="The new owner, a user of the company; null: the shared pool."
    )


class _CustomerFields(StrictModel):
    @field_validator("tags", check_fields=False)
    @classmethod
    def _unique_tags(cls, tags: list[str] | None) -> list[str] | None:
        return None if tags is None else list(dict.fromkeys(tags))


CustomerStatus = Literal["active", "closed"]
CUSTOMER_STATUS = "`closed`: no more orders are confirmed for the customer, and the ERP rejects those it has not accepted yet."


class CustomerIn(_CustomerFields):
    name: Name
    kind: Literal["company", "person"]
    code: Code | None = Field(default=None, description="Unique per company, case-insensitive.")
    phones: Annotated[list[Phone], Field(max_length=10)] = []
    emails: Annotated[list[EmailAddress], Field(max_length=10)] = []
    address: Address | None = None
    tags: Annotated[list[Tag], Field(max_length=30)] = []
    custom_fields: Annotated[dict[FieldKey, FieldValue], Field(max_length=50)] = {}
    status: CustomerStatus = Field(default="active", description=CUSTOMER_STATUS)
    owner_id: UserId | None = Field(
        default=None,
        description="Default: the creator; `null` puts the customer in the shared pool of unassigned ones.",
    )


class CustomerPatch(_CustomerFields):
    """Fields given replace the stored ones; ``null`` clears ``code`` and ``address``."""

    name: Name | None = None
    kind: Literal["company", "person"] | None = None
    code: Code | None = None
    phones: Annotated[list[Phone], Field(max_length=10)] | None = None
    emails: Annotated[list[EmailAddress], Field(max_length=10)] | None = None
    address: Address | None = None
    tags: Annotated[list[Tag], Field(max_length=30)] | None = None
    custom_fields: Annotated[dict[FieldKey, FieldValue], Field(max_length=50)] | None = None
    status: CustomerStatus | None = Field(default=None, description=CUSTOMER_STATUS)


class CustomerOut(PublicModel):
    id: str
    name: str
    kind: str
    code: str | None = None
    phones: list[Phone] = []
    emails: list[EmailAddress] = []
    address: Address | None = None
    tags: list[str] = []
    custom_fields: dict[str, str | bool | int] = {}
    status: CustomerStatus = "active"
    owner_id: str | None = Field(default=None, description="The user who owns it; absent in the shared pool.")
    version: int
    created_at: str
    updated_at: str
    created_by: str
    updated_by: str


class CreateOptions(StrictModel):
    allow_duplicate: bool = Field(
        default=False,
        description="Create even when a probable duplicate exists: a customer with the same name, email or phone; a "
        "contact with the same name at the same customer, or the same email or phone (else 409).",
    )


class CustomerQuery(OwnedQuery):
    email: Email | None = Field(default=None, description="Exact email (any of the record's emails).")
    phone: (
        Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()./-]{2,31}$")]
        | None
    ) = Field(default=None, description="Exact phone number; spaces and punctuation are ignored.")
    name_prefix: NamePrefix | None = Field(
        default=None,
        description="Case-insensitive prefix of the name (any script, Chinese included); a trailing space ends a word.",
    )


class CustomerPage(PageOut):
    items: list[CustomerOut | DeletedOut]


# ---- contacts ----------------------------------------------------------------------------------
CustomerId = Annotated[str, StringConstraints(pattern=id_pattern("cus"))]
ContactId = Annotated[str, StringConstraints(pattern=id_pattern("con"))]
OpportunityId = Annotated[str, StringConstraints(pattern=id_pattern("opp"))]
Preferences = Annotated[
    dict[FieldKey, Annotated[str, StringConstraints(max_length=500)]], Field(max_length=30)
]


class ContactIn(_CustomerFields):
    customer_id: CustomerId
    name: Name
    title: Line = ""
    phones: Annotated[list[Phone], Field(max_length=10)] = []
    emails: Annotated[list[EmailAddress], Field(max_length=10)] = []
    birthday: Day | None = None
    preferences: Preferences = Field(
        default={}, description="What the person prefers: channel, language, products..."
    )
    marketing_consent: bool = Field(default=False, description="The time it was given or withdrawn is kept.")
    tags: Annotated[list[Tag], Field(max_length=30)] = []


class ContactPatch(_CustomerFields):
    customer_id: CustomerId | None = None
    name: Name | None = None
    title: Line | None = None
    phones: Annotated[list[Phone], Field(max_length=10)] | None = None
    emails: Annotated[list[EmailAddress], Field(max_length=10)] | None = None
    birthday: Day | None = None
    preferences: Preferences | None = None
    marketing_consent: bool | None = None
    tags: Annotated[list[Tag], Field(max_length=30)] | None = None


class ContactOut(PublicModel):
    id: str
    customer_id: str
    name: str
    title: str = ""
    phones: list[Phone] = []
    emails: list[EmailAddress] = []
    birthday: date | None = None
    preferences: dict[str, str] = {}
    marketing_consent: bool
    marketing_consent_changed_at: str
    tags: list[str] = []
    owner_id: str | None = Field(default=None, description="The user who owns it; absent in the shared pool.")
    version: int
    created_at: str
    updated_at: str
    created_by: str
    updated_by: str


class ContactPage(PageOut):
    items: list[ContactOut | DeletedOut]


class ContactQuery(OwnedQuery):
    customer_id: CustomerId | None = Field(default=None, description="The contacts of one customer.")
    email: Email | None = None
    phone: (
        Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()./-]{2,31}$")]
        | None
    ) = None
    name_prefix: NamePrefix | None = None


# ---- activities ----------------------------------------------------------------------------------
ActivityKind = Literal["call", "email", "meeting", "note", "task"]
Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Body = Annotated[str, StringConstraints(max_length=20000)]


class ActivityIn(StrictModel):
    kind: ActivityKind
    customer_id: CustomerId
    contact_id: ContactId | None = None
    opportunity_id: OpportunityId | None = None
    subject: Subject
    body: Body = ""
    occurred_at: Instant | None = Field(
        default=None, description="When it happened (default: now); orders the timeline."
    )
    due_at: Instant | None = None
    assignee_id: UserId | None = None
    done: bool = False


class ActivityPatch(StrictModel):
    kind: ActivityKind | None = None
    contact_id: ContactId | None = None
    opportunity_id: OpportunityId | None = None
    subject: Subject | None = None
    body: Body | None = None
    occurred_at: Instant | None = None
    due_at: Instant | None = None
    assignee_id: UserId | None = None
    done: bool | None = None


class ActivityOut(PublicModel):
    id: str
    kind: str
    customer_id: str
    contact_id: str | None = None
    opportunity_id: str | None = None
    subject: str
    body: str = ""
    occurred_at: str
    due_at: str | None = None
    assignee_id: str | None = None
    done: bool
    done_at: str | None = None
    owner_id: str | None = Field(default=None, description="The user who owns it; absent in the shared pool.")
    version: int
    created_at: str
    updated_at: str
    created_by: str
    updated_by: str


class ActivityPage(PageOut):
    items: list[ActivityOut | DeletedOut]


class ActivityQuery(OwnedQuery):
    customer_id: CustomerId | None = None
    assignee_id: UserId | None = None


# ---- timeline ------------------------------------------------------------------------------------
class TimelineEntry(PublicModel):
    at: str
    kind: str = Field(description="activity, stage_change, quote, order, ticket...")
    ref_id: str = Field(description="What the entry records: the record, or the ERP event on an order.")
    record_id: str = Field(
        description="The record the entry is about (an activity, opportunity, quote, order, ticket)."
    )
    summary: dict[str, Any]


class TimelinePage(PageOut):
    items: list[TimelineEntry]


class TimelineQuery(ListQuery):
    pass


# ---- quotes and orders ---------------------------------------------------------------------------
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class LineIn(StrictModel):
    product_code: Code
    description: Line = ""
    quantity: Quantity
    unit_price: Price
    discount_percent: Percent = Decimal(0)
    tax_rate: Percent = Decimal(0)


Lines = Annotated[list[LineIn], Field(min_length=1, max_length=200)]


class LineOut(PublicModel):
    product_code: str
    description: str = ""
    quantity: str
    unit_price: str
    discount_percent: str
    tax_rate: str
    net: str = Field(description="quantity × unit price × (1 − discount), rounded half-up to the minor unit")


class TaxOut(PublicModel):
    rate: str
    base: str
    tax: str


class _Priced(PublicModel):
    currency: str
    lines: list[LineOut]
    subtotal: str
    taxes: list[TaxOut]
    tax_total: str
    total: str


class QuoteIn(StrictModel):
    customer_id: CustomerId
    contact_id: ContactId | None = None
    opportunity_id: OpportunityId | None = None
    currency: Currency | None = Field(
        default=None, description="Default: the company's currency (chosen at signup)."
    )
    lines: Lines
    valid_until: Day | None = None
    notes: Body = ""


class QuotePatch(StrictModel):
    """Only a draft quote changes; revise a sent or rejected one first."""

    contact_id: ContactId | None = None
    currency: Currency | None = None
    lines: Lines | None = None
    valid_until: Day | None = None
    notes: Body | None = None


class QuoteOut(_Priced):
    id: str
    customer_id: str
    contact_id: str | None = None
    opportunity_id: str | None = None
    status: Literal["draft", "sent", "accepted", "rejected"]
    revision: int
    valid_until: date | None = None
    notes: str = ""
    order_id: str | None = None
    reject_reason: str | None = None
    owner_id: str | None = Field(default=None, description="The user who owns it; absent in the shared pool.")
    version: int
    created_at: str
    updated_at: str
    created_by: str
    updated_by: str


class QuotePage(PageOut):
    items: list[QuoteOut | DeletedOut]


class QuoteQuery(OwnedQuery):
    customer_id: CustomerId | None = None


class RejectIn(StrictModel):
    reason: Reason = ""


class QuoteRevisionPage(PageOut):
    items: list[QuoteOut]


OrderStatus = Literal[
    "draft",
    "confirmed",
    "accepted",
    "reserved",
    "backordered",
    "shipped",
    "invoiced",
    "paid",
    "rejected",
    "cancelling",
    "cancelled",
]


class OrderIn(StrictModel):
    customer_id: CustomerId
    contact_id: ContactId | None = None
    currency: Currency | None = Field(
        default=None, description="Default: the company's currency (chosen at signup)."
    )
    lines: Lines
    notes: Body = ""


class OrderPatch(StrictModel):
    """Only a draft order changes."""

    contact_id: ContactId | None = None
    currency: Currency | None = None
    lines: Lines | None = None
    notes: Body | None = None


class ErpState(PublicModel):
    state: str = Field(description="waiting (the ERP has not answered yet), or the last state it reported")
    last_event: str | None = None
    last_event_at: str | None = None
    reservation_ids: list[str] = []
    backordered_lines: list[int] = []
    production_order_ids: list[str] = []
    purchase_order_ids: list[str] = []
    invoice_id: str | None = None
    shipment_ids: list[str] = []
    shipped_at: str | None = None
    paid_at: str | None = None
    rejected_reason: str | None = None
    cancellation: dict[str, Any] | None = Field(
        default=None, description="What the ERP undid when the order was cancelled."
    )


class HandoffEvent(PublicModel):
    event_id: str
    type: str
    source: str
    occurred_at: str
    published_at: str | None = Field(
        default=None, description="When the bus took it; null while it waits in the outbox."
    )
    attempts: int = Field(description="Publication attempts (failed ones included).")
    last_error: str | None = None
    last_attempt_at: str | None = None
    handled: dict[str, str] = Field(description="Consumer (crm, erp) → when it handled the event.")
    dropped: dict[str, str] | None = Field(
        default=None,
        description="Its consumer dropped it (`consumer`, `at`, `reason`): an event of the company's world "
        "before a restore.",
    )
    summary: dict[str, Any] = {}


class HandoffOut(PublicModel):
    order_id: str
    events: list[HandoffEvent]


class OrderOut(_Priced):
    id: str
    customer_id: str
    contact_id: str | None = None
    quote_id: str | None = None
    opportunity_id: str | None = Field(default=None, description="The opportunity of the quote it came from.")
    status: str = Field(
        description="draft → confirmed → accepted → reserved or backordered → shipped → invoiced → paid; rejected; cancelled"
    )
    erp: "ErpState | None" = Field(default=None, description="What the ERP reported, once confirmed.")
    notes: str = ""
    confirmed_at: str | None = None
    cancelled_at: str | None = None
    cancel_reason: str | None = None
    owner_id: str | None = Field(default=None, description="The user who owns it; absent in the shared pool.")
    version: int
    created_at: str
    updated_at: str
    created_by: str
    updated_by: str


class OrderPage(PageOut):
    items: list[OrderOut | DeletedOut]


class OrderQuery(OwnedQuery):
    customer_id: CustomerId | None = None
    status: OrderStatus | None = None


class CancelIn(StrictModel):
    reason: Reason = ""


# ---- pipeline, opportunities, leads --------------------------------------------------------------
StageKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Amount = Annotated[Decimal, Exact(17, 4, ge=0)]


class StageIn(StrictModel):
    key: StageKey
    name: Name
    probability: Annotated[int, Field(ge=0, le=100)]


class PipelineIn(StrictModel):
    stages: Annotated[list[StageIn], Field(min_length=1, max_length=20)]

    @field_validator("stages")
    @classmethod
    def _unique_keys(cls, stages: list[StageIn]) -> list[StageIn]:
        keys = [s.key for s in stages]
        if len(set(keys)) != len(keys):
            raise ValueError("stage keys must be unique")
        return stages


class StageOut(PublicModel):
    key: str
    name: str
    probability: int


class PipelineOut(PublicModel):
    stages: list[StageOut]
    version: int


class OpportunityIn(StrictModel):
    customer_id: CustomerId
    contact_id: ContactId | None = None
    name: Name
    amount: Amount = Decimal(0)
    currency: Currency | None = Field(
        default=None, description="Default: the company's currency (chosen at signup)."
    )
    expected_close_date: Day | None = None
    stage: StageKey | None = Field(
        default=None, description="A key of the pipeline; default its first stage."
    )
    owner_id: UserId | None = Field(default=None, description="Default: the creator.")


class OpportunityPatch(StrictModel):
    contact_id: ContactId | None = None
    name: Name | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    expected_close_date: Day | None = None
    stage: StageKey | None = None
    owner_id: UserId | None = None


class StageChange(PublicModel):
    from_stage: str | None
    to_stage: str
    at: str
    by: str


class OpportunityOut(PublicModel):
    id: str
    customer_id: str
    contact_id: str | None = None
    name: str
    amount: str
    currency: str
    expected_close_date: date | None = None
    stage: str
    probability: int
    status: Literal["open", "won", "lost"]
    close_reason: str | None = None
    closed_at: str | None = None
    owner_id: str
    stage_history: list[StageChange]
    version: int
    created_at: str
    updated_at: str
    created_by: str
    updated_by: str


class OpportunityPage(PageOut):
    items: list[OpportunityOut | DeletedOut]


class OpportunityQuery(OwnedQuery):
    customer_id: CustomerId | None = None
    name_prefix: NamePrefix | None = None


class CloseIn(StrictModel):
    outcome: Literal["won", "lost"]
    reason: Reason = ""


LeadStatus = Literal["new", "contacted", "qualified", "disqualified"]


class LeadIn(StrictModel):
    name: Name
    company_name: Line = ""
    email: Email | None = None
    phone: (
        Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()./-]{2,31}$")]
        | None
    ) = None
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)] = "other"
    notes: Body = ""
    owner_id: UserId | None = Field(
        default=None, description="Default: the creator; `null` puts the lead in the shared pool."
    )


class LeadPatch(StrictModel):
    name: Name | None = None
    company_name: Line | None = None
    email: Email | None = None
    phone: (
        Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()./-]{2,31}$")]
        | None
    ) = None
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)] | None = (
        None
    )
    notes: Body | None = None
    owner_id: UserId | None = None
    status: LeadStatus | None = Field(
        default=None, description="new → contacted → qualified, or disqualified (with a reason)"
    )
    disqualify_reason: Reason | None = None


class LeadOut(PublicModel):
    id: str
    name: str
    company_name: str = ""
    email: str | None = None
    phone: str | None = None
    source: str
    notes: str = ""
    owner_id: str | None = None
    status: Literal["new", "contacted", "qualified", "converted", "disqualified"]
    disqualify_reason: str | None = None
    customer_id: str | None = None
    contact_id: str | None = None
    opportunity_id: str | None = None
    converted_at: str | None = None
    version: int
    created_at: str
    updated_at: str
    created_by: str
    updated_by: str


class LeadPage(PageOut):
    items: list[LeadOut | DeletedOut]


class LeadQuery(OwnedQuery):
    name_prefix: NamePrefix | None = None
    email: Email | None = None


class ConvertIn(StrictModel):
    opportunity_name: Name | None = Field(default=None, description="Default: the lead's company or name.")
    amount: Amount = Decimal(0)
    currency: Currency | None = Field(
        default=None, description="Default: the company's currency (chosen at signup)."
    )
    expected_close_date: Day | None = None
    customer_id: CustomerId | None = Field(
        default=None,
        description="Attach the contact and the deal to this existing customer instead of creating one.",
    )
    allow_duplicate: bool = Field(
        default=False,
        description="Create the customer even when one with the same name, email or phone exists (else 409).",
    )


class ConvertOut(PublicModel):
    lead: LeadOut
    customer_id: str
    contact_id: str
    opportunity_id: str


# ---- import and export --------------------------------------------------------------------------
class ImportQuery(StrictModel):
    dry_run: bool = Field(default=False, description="Validate and count, write nothing.")
    encoding: Literal["utf-8", "gb18030", "gbk"] | None = Field(
        default=None,
        description="Default: UTF-8 (with or without BOM), else GB18030 (GBK), as Chinese Excel saves.",
    )
    allow_duplicates: bool = Field(
        default=False,
        description="Create customers even when one with the same name, email or phone exists (else a row error naming it).",
    )


class RowErrorOut(PublicModel):
    row: int = Field(description="The line in the file; the header is row 1.")
    field: str
    reason: str


class ImportOut(PublicModel):
    entity: str
    encoding: str
    dry_run: bool
    rows: int
    created: int
    updated: int
    failed: int
    ignored_columns: list[str]
    errors: list[RowErrorOut]


# ---- tickets and the SLA --------------------------------------------------------------------------
Priority = Literal["low", "normal", "high", "urgent"]
TicketStatus = Literal["open", "in_progress", "resolved", "closed"]


class SlaIn(StrictModel):
    hours: dict[Priority, Annotated[int, Field(ge=1, le=24 * 90)]] = Field(
        description="Hours to resolve, per priority."
    )


class SlaOut(PublicModel):
    hours: dict[str, int]
    version: int


class TicketIn(StrictModel):
    customer_id: CustomerId
    contact_id: ContactId | None = None
    kind: Literal["complaint", "request", "question"] = "request"
    subject: Subject
    description: Body = ""
    priority: Priority = "normal"
    assignee_id: UserId | None = None


class TicketPatch(StrictModel):
    contact_id: ContactId | None = None
    subject: Subject | None = None
    description: Body | None = None
    priority: Priority | None = Field(
        default=None, description="A new priority sets a new due time from the SLA."
    )
    assignee_id: UserId | None = None
    status: TicketStatus | None = Field(
        default=None, description="open → in_progress → resolved → closed; resolved or closed → open reopens"
    )
    resolution: Body | None = None


class TicketOut(PublicModel):
    id: str
    customer_id: str
    contact_id: str | None = None
    kind: str
    subject: str
    description: str = ""
    priority: str
    status: str
    assignee_id: str | None = None
    due_at: str
    overdue: bool = False
    resolution: str | None = None
    resolved_at: str | None = None
    closed_at: str | None = None
    reopened: int = 0
    owner_id: str | None = Field(default=None, description="The user who owns it; absent in the shared pool.")
    version: int
    created_at: str
    updated_at: str
    created_by: str
    updated_by: str


class TicketPage(PageOut):
    items: list[TicketOut | DeletedOut]


class TicketQuery(OwnedQuery):
    customer_id: CustomerId | None = None
    assignee_id: UserId | None = None
    overdue: bool = Field(
        default=False, description="Only open or in-progress tickets past their due time, most overdue first."
    )


# ---- customer 360 ---------------------------------------------------------------------------------
class CurrencyTotal(PublicModel):
    currency: str
    total: str


class ProductFigure(PublicModel):
    product_code: str
    description: str = ""
    orders: int
    quantity: str
    revenue: list[CurrencyTotal]


class ChurnRisk(PublicModel):
    level: Literal["low", "medium", "high"] = Field(
        description="low: ratio under 1.5; medium: under 3; high: 3 or more."
    )
    days_since_last_order: str
    usual_interval_days: str = Field(description="The average days between the customer's orders.")
    ratio: str = Field(description="days_since_last_order / usual_interval_days, 2 decimals.")


class PurchaseFigures(PublicModel):
    order_count: int = Field(
        description="Orders confirmed or beyond: not drafts, orders the ERP rejected or cancelled ones."
    )
    totals: list[CurrencyTotal]
    first_order_at: str | None
    last_order_at: str | None
    average_days_between_orders: str | None
    next_order_expected_at: str | None = Field(
        description="The last order plus the average interval: a guess, not a promise."
    )
    top_products: list[ProductFigure]
    churn_risk: ChurnRisk | None = Field(
        description="Days since the last order against the usual interval; null under two orders."
    )


class Recommendation(PublicModel):
    product_code: str
    product_id: str
    description: str = Field(description="As on the customer's last order of it, else the product's name.")
    source: Literal["repeat", "together"] = Field(
        description="repeat: due by the customer's own interval; together: bought with what they buy."
    )
    score: str = Field(description="0 to 1, 4 decimals: the list is sorted by it.")
    expected_at: str | None = Field(description="repeat: the last purchase plus the usual interval.")
    reason: str = Field(description="In words, for the salesperson.")


class RecommendationsOut(PublicModel):
    customer_id: str
    items: list[Recommendation]
    churn_risk: ChurnRisk | None


class ContactPreferences(PublicModel):
    contact_id: str
    name: str
    preferences: dict[str, str]
    marketing_consent: bool


class Customer360(PublicModel):
    """Each part is null when the user may not read its records (contacts, opportunities...)."""

    profile: CustomerOut
    contacts: list[ContactOut] | None
    open_opportunities: list[OpportunityOut] | None
    last_activities: list[ActivityOut] | None
    open_tickets: list[TicketOut] | None
    purchases: PurchaseFigures | None
    preferences: list[ContactPreferences] | None


class MergeIn(StrictModel):
    duplicate_id: CustomerId = Field(description="The customer folded into this one and then deleted.")


class MergeOut(PublicModel):
    survivor_id: str
    duplicate_id: str
    moved: dict[str, int]


# ---- the dashboard -------------------------------------------------------------------------------------
class DashboardQuery(StrictModel):
    start: Day | None = Field(
        default=None, alias="from", description="First day (UTC), inclusive. Default: 29 days before `to`."
    )
    end: Day | None = Field(
        default=None, alias="to", description="Last day (UTC), inclusive. Default: today."
    )
    granularity: Literal["day", "week", "month"] = Field(
        default="day", description="Periods: days, ISO weeks (named by their Monday), months (by their 1st)."
    )


class SalesFigure(PublicModel):
    currency: str
    orders: int = Field(description="Orders confirmed in the period that count as sales now.")
    revenue: str = Field(description="Their totals, tax included, as decimal text.")


class SalesPeriod(PublicModel):
    period: str = Field(description="The period's first day (YYYY-MM-DD).")
    sales: list[SalesFigure]


class CustomersPeriod(PublicModel):
    period: str = Field(description="The period's first day (YYYY-MM-DD).")
    new_customers: int = Field(description="Customers created in the period that exist now.")
    activities: int = Field(description="Activities logged (created) in the period that exist now.")
    leads: int = Field(description="Leads made in the period that exist now.")
    leads_converted: int = Field(description="Leads converted in the period.")
    opportunities_won: int = Field(description="Opportunities won in the period.")
    opportunities_lost: int = Field(description="Opportunities lost in the period.")
    lead_conversion: str | None = Field(
        description="leads_converted / leads, 4 decimals; null without leads."
    )
    win_rate: str | None = Field(
        description="opportunities_won / (won + lost), 4 decimals; null when none closed."
    )
    orders_from_opportunities: int = Field(
        description="Orders from an opportunity's quote that count as sales, by their confirmation day."
    )
    opportunity_conversion: str | None = Field(
        description="orders_from_opportunities / opportunities_won, 4 decimals; null when none won."
    )


class PipelineFigure(PublicModel):
    open: int = Field(description="Open opportunities.")
    amount: str = Field(description="Their amounts, as decimal text.")
    weighted: str = Field(description="Their amounts times their win probability, to the cent.")


class PipelineStage(PipelineFigure):
    stage: str
    currency: str


class PipelineTotal(PipelineFigure):
    currency: str


class PipelineFigures(PublicModel):
    stages: list[PipelineStage] = Field(description="In the pipeline's order; stages with open ones only.")
    totals: list[PipelineTotal] = Field(description="Per currency: the forecast is `weighted`.")


class Withheld(PublicModel):
    section: str
    permission: str = Field(description="What reading the section needs, over all records.")


class ReceivablesFigure(PublicModel):
    currency: str
    open_invoices: int = Field(description="Invoices issued or partially paid.")
    current: str = Field(description="Open balance not yet due today.")
    days_1_30: str
    days_31_60: str
    days_61_90: str
    over_90: str
    open_total: str
    overdue: str = Field(description="open_total - current: due before today and not paid.")
    unapplied: str = Field(description="Payments on account, not allocated to an invoice.")
    balance: str = Field(description="open_total - unapplied")


class TopProduct(PublicModel):
    product_code: str
    orders: int
    quantity: str
    revenue: list[CurrencyTotal] = Field(description="The lines' net, per currency.")


class TopCustomer(PublicModel):
    customer_id: str
    orders: int
    revenue: list[CurrencyTotal] = Field(description="The orders' totals, per currency.")


class ActiveMonth(PublicModel):
    month: str
    active_customers: int = Field(
        description="Distinct customers with an order that counts, confirmed in the month."
    )


class TopFigures(PublicModel):
    months: list[str] = Field(
        description="The first and last month (YYYY-MM) the lists cover: those the range touches."
    )
    products: list[TopProduct] = Field(description="Ten at most, by orders, then quantity.")
    customers: list[TopCustomer] = Field(description="Ten at most, by orders.")
    active_customers: int = Field(description="Distinct customers with an order that counts in those months.")
    active_per_month: list[ActiveMonth] = Field(description="Months with any, oldest first.")


class InventoryFigure(PublicModel):
    product_id: str
    on_hand: str = Field(description="Now, over every warehouse, in the product's unit.")
    out: str = Field(description="Shipped to customers and consumed by production in the range's months.")
    average_on_hand: str = Field(description="(on hand at the start + at the end of those months) ÷ 2.")
    turnover: str | None = Field(description="out ÷ average_on_hand, 2 decimals; null with no stock.")
    days_of_stock: str | None = Field(
        description="on_hand ÷ the daily out of those months (to today), 1 decimal; null when nothing left."
    )


class TicketsFigure(PublicModel):
    open: int = Field(description="Tickets open or in progress now.")
    overdue: int = Field(description="Of them, due before now (to the second).")


class DashboardOut(PublicModel):
    start: str = Field(serialization_alias="from")
    end: str = Field(serialization_alias="to")
    granularity: str
    sales: list[SalesPeriod] | None = Field(
        description="Periods with sales only, oldest first; null if withheld."
    )
    customers: list[CustomersPeriod] | None = Field(
        description="Periods with new customers or activities only, oldest first; null if withheld."
    )
    pipeline: PipelineFigures | None = Field(
        description="Open opportunities now (not of the range); null if withheld."
    )
    receivables: list[ReceivablesFigure] | None = Field(
        description="What customers owe now (not of the range), aged today, per currency; null if withheld."
    )
    tickets: TicketsFigure | None = Field(description="Open and overdue tickets now; null if withheld.")
    inventory: list[InventoryFigure] | None = Field(
        description="The 50 slowest-moving products of the range's months (nothing out first); null if withheld."
    )
    top: TopFigures | None = Field(
        description="Top products and customers of the range's months; null with `sales`."
    )
    withheld: list[Withheld] = Field(
        description="Sections left out: each sums every record of its kind, and the user may read only some."
    )


# ---- marketing automation -------------------------------------------------------------------------------
Trigger = Literal[
    "customer_created", "contact_created", "birthday", "no_order", "order_shipped", "ticket_resolved"
]
ConditionField = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}(\.[a-z][a-z0-9_]{0,39})?$")]


class ConditionIn(StrictModel):
    field: ConditionField = Field(
        description="A field of the customer: `tags`, `kind`, `status`, `address.city`, `custom_fields.tier`..."
    )
    op: Literal["equals", "not_equals", "contains"] = Field(
        description="On `tags`: equals = has the tag, not_equals = has not; on text: exact or containing."
    )
    value: Annotated[str, StringConstraints(max_length=200)]


class ActionIn(StrictModel):
    kind: Literal["email", "task", "tag"]
    subject: Subject | None = Field(
        default=None,
        description="email and task. `{{customer_name}}`, `{{contact_name}}`, `{{company_name}}`.",
    )
    body: Body | None = Field(default=None, description="email: the text, with the same placeholders.")
    tag: Tag | None = Field(default=None, description="tag: added to the customer.")
    due_in_days: Annotated[int, Field(ge=0, le=365)] = Field(
        default=1, description="task: due this many days on."
    )

    @model_validator(mode="after")
    def _complete(self) -> Self:
        needed = {"email": ("subject", "body"), "task": ("subject",), "tag": ("tag",)}[self.kind]
        for name in needed:
            if getattr(self, name) is None:
                raise PydanticCustomError("missing", f"a {self.kind} action needs `{name}`")
        return self


class AutomationIn(StrictModel):
    name: Name
    trigger: Trigger = Field(description="What starts the rule (docs/api.md, Marketing automation).")
    days: Annotated[int, Field(ge=1, le=3650)] | None = Field(
        default=None,
        validate_default=True,
        description="no_order (and only no_order): the days without an order that start it.",
    )
    conditions: Annotated[list[ConditionIn], Field(max_length=10)] = Field(
        default=[], description="All must hold of the customer."
    )
    action: ActionIn
    enabled: bool = True

    @field_validator("days")
    @classmethod
    def _days(cls, value: int | None, info: ValidationInfo) -> int | None:
        trigger = info.data.get("trigger")
        if trigger == "no_order" and value is None:
            raise PydanticCustomError("missing", "a no_order rule needs `days`")
        if trigger is not None and trigger != "no_order" and value is not None:
            raise PydanticCustomError("extra", "`days` is for no_order rules only")
        return value


class AutomationPatch(StrictModel):
    name: Name | None = None
    days: Annotated[int, Field(ge=1, le=3650)] | None = None
    conditions: Annotated[list[ConditionIn], Field(max_length=10)] | None = None
    action: ActionIn | None = None
    enabled: bool | None = None


class ConditionOut(PublicModel):
    field: str
    op: str
    value: str


class ActionOut(PublicModel):
    kind: str
    subject: str | None = None
    body: str | None = None
    tag: str | None = None
    due_in_days: int = 1


class AutomationOut(PublicModel):
    id: str
    name: str
    trigger: str
    days: int | None = None
    conditions: list[ConditionOut]
    action: ActionOut
    enabled: bool
    version: int
    created_at: str
    updated_at: str


class AutomationPage(PageOut):
    items: list[AutomationOut | DeletedOut]


class AutomationQuery(SyncQuery):
    name_prefix: NamePrefix | None = None


class UnsubscribeQuery(StrictModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class UnsubscribeOut(PublicModel):
    unsubscribed: bool
    detail: str


# ---- a product's sales, costs and interest (GET /analytics/products/{product_id}) -------------------------
InsightMonth = Annotated[str, StringConstraints(pattern=r"^2[0-9]{3}-(0[1-9]|1[0-2])$")]


class ProductInsightQuery(StrictModel):
    start: InsightMonth | None = Field(
        default=None, alias="from", description="First month (YYYY-MM, UTC). Default: 11 months before `to`."
    )
    end: InsightMonth | None = Field(default=None, alias="to", description="Last month. Default: this month.")


class ProductMonth(PublicModel):
    month: str
    orders: int = Field(description="Orders that count as sales naming the product, confirmed in the month.")
    quantity_sold: str
    revenue: list[CurrencyTotal] = Field(description="The lines' net.")
    average_price: list[CurrencyTotal] = Field(description="revenue ÷ quantity_sold, 4 decimals.")
    received_quantity: str = Field(description="Received from suppliers in the month.")
    unit_cost: list[CurrencyTotal] = Field(
        description="The month's receipts' value ÷ their quantity, 4 decimals; else the product's standard cost."
    )
    cost: list[CurrencyTotal] = Field(description="quantity_sold × unit_cost, in the revenue's currency.")
    margin: list[CurrencyTotal] = Field(description="revenue − cost, per currency with both.")
    quotes: int | None = Field(
        description="Quotes made in the month naming it; null without crm.quotes:read."
    )
    quoted_quantity: str | None


class InsightProduct(PublicModel):
    id: str
    sku: str
    name: str
    standard_cost: str
    currency: str


class ProductInsightOut(PublicModel):
    product: InsightProduct
    months: list[ProductMonth] = Field(description="Every month of the range, oldest first.")
    diagnosis: list[str] = Field(
        description="The last two months with sales compared: price, unit cost, quantity and interest, in words."
    )

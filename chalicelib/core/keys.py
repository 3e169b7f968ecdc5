"""Every DynamoDB key of the table, built here and nowhere else.

Tenant data lives under partition keys that start with ``T#<tenant_id>#``: the delimiter is part of
the prefix, so tenant ``acme`` never matches ``acme-corp`` and IAM ``dynamodb:LeadingKeys`` can scope
credentials to one tenant.  Platform items (the tenant registry, rate limits, the relay's outbox
index, the health check, a company's billing and registry entry) start with ``P#``.
"""

from __future__ import annotations

import dataclasses
import re
import zlib
from collections.abc import Iterable

DELIM = "#"
_TENANT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SEGMENT = re.compile(r"^[^#]{1,512}$")


class InvalidKeyError(ValueError):
    """A key segment that would break the layout (empty, too long, or holding the delimiter)."""


def _segment(value: str) -> str:
    if not _SEGMENT.match(value):
        raise InvalidKeyError(f"invalid key segment: {value!r}")
    return value


def is_tenant_id(value: str) -> bool:
    """Whether ``value`` can be a tenant id (what a token's tenant claim must be)."""
    return bool(_TENANT_ID.match(value))


def is_segment(value: str) -> bool:
    """Whether ``value`` can be one segment of a key (what a token's subject must be)."""
    return bool(_SEGMENT.match(value))


def tenant_prefix(tenant_id: str) -> str:
    if not _TENANT_ID.match(tenant_id):
        raise InvalidKeyError(f"invalid tenant id: {tenant_id!r}")
    return f"T{DELIM}{tenant_id}{DELIM}"


def tenant_pk(tenant_id: str, *parts: str) -> str:
    return tenant_prefix(tenant_id) + DELIM.join(_segment(p) for p in parts)


def belongs_to(tenant_id: str, partition_key: str) -> bool:
    """Whether a partition key is inside the tenant's key space (exact prefix, delimiter included)."""
    return partition_key.startswith(tenant_prefix(tenant_id))


# Tenant profile and its role set share a partition so that the authorizer's principal load is
# one BatchGetItem with the member item.
def tenant_profile(tenant_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id, "TENANT"), "sk": "PROFILE"}


def role_set(tenant_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id, "TENANT"), "sk": "ROLES"}


def pipeline(tenant_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id, "TENANT"), "sk": "PIPELINE"}


def sla(tenant_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id, "TENANT"), "sk": "SLA"}


def members_pk(tenant_id: str) -> str:
    return tenant_pk(tenant_id, "USER")


def member(tenant_id: str, user_id: str) -> dict[str, str]:
    return {"pk": members_pk(tenant_id), "sk": _segment(user_id)}


def member_email(tenant_id: str, email: str) -> dict[str, str]:
    """Reserves an address among the company's members (an address may hold "#": escaped)."""
    escaped = email.replace("%", "%25").replace("#", "%23")
    return {"pk": tenant_pk(tenant_id, "UNIQUE", "USER", "EMAIL"), "sk": _segment(escaped)}


def tenant_registry_pk() -> str:
    """gsi1: the platform's list of companies (read by platform jobs such as backups). Written only
    when a company signs up, changes plan or closes; each entry itself sits under the company's
    platform partition, so a company's own credentials reach its entry and no other."""
    return "P#TENANTS"


def tenant_registry(tenant_id: str) -> dict[str, str]:
    """A company's entry in the platform's list of companies (its key)."""
    return {"pk": company_platform_pk(tenant_id, "REGISTRY"), "sk": "ENTRY"}


def tenant_registry_index(tenant_id: str) -> dict[str, str]:
    """Where a registry entry is listed (gsi1)."""
    tenant_prefix(tenant_id)
    return {"gsi1pk": tenant_registry_pk(), "gsi1sk": tenant_id}


def health() -> dict[str, str]:
    """The item the readiness check reads: a key no tenant can own (it need not exist)."""
    return {"pk": "P#HEALTH", "sk": "HEALTH"}


def idempotency_pk(tenant_id: str) -> str:
    """The company's Idempotency-Key records (Powertools' persistence layer writes the sort key)."""
    return tenant_pk(tenant_id, "IDEMPOTENCY")


def idempotent_answer_pk(tenant_id: str, answer_id: str) -> str:
    """The partition of an answer too large for its idempotency record (``answer_id`` in the record)."""
    return tenant_pk(tenant_id, "IDEMPOTENCY", "ANSWER", answer_id)


def idempotent_answer_part(tenant_id: str, answer_id: str, part: int) -> dict[str, str]:
    """One part of an answer too large for its idempotency record, in a partition of its own."""
    return {"pk": idempotent_answer_pk(tenant_id, answer_id), "sk": f"{part:04d}"}


def dead_letters_pk(tenant_id: str) -> str:
    return tenant_pk(tenant_id, "DEADLETTER")


def dead_letter(tenant_id: str, occurred_at: str, message_id: str) -> dict[str, str]:
    """A handoff message parked from a dead-letter queue: the company's, in event time order."""
    return {"pk": dead_letters_pk(tenant_id), "sk": f"{_segment(occurred_at)}#{_segment(message_id)}"}


def rate_window(bucket: str, source: str, window: str) -> dict[str, str]:
    return {"pk": f"P#RATE#{_segment(bucket)}#{_segment(source)}", "sk": _segment(window)}


COMPANY_RATE_BUCKETS = ("invite", "backup")  # the company's own rate windows (listed: see partitions)


# ---- billing: the company's usage, plan history, invoices and request rate -------------------------
def company_platform_pk(tenant_id: str, kind: str) -> str:
    """A partition the platform keeps of a company, outside its key space (``P#COMPANY#<t>#<kind>``):
    written beside the company's own requests but kept through its restores and after its closing
    (usage, plan history and invoices are the platform's accounts of it)."""
    tenant_prefix(tenant_id)
    return f"P#COMPANY{DELIM}{tenant_id}{DELIM}{kind}"


def company_key_patterns(tenant_id: str) -> list[str]:
    """Every partition key of a company, as IAM ``StringLike`` patterns (``dynamodb:LeadingKeys`` of
    its STS session): its own and the platform's of it. Tenant ids hold no ``*`` or ``?``."""
    return [tenant_prefix(tenant_id) + "*", company_platform_pk(tenant_id, "") + "*"]


def usage_pk(tenant_id: str) -> str:
    """The company's usage: one item per month per container that served it (``<month>#<container>``)."""
    return company_platform_pk(tenant_id, "USAGE")


def usage_share(tenant_id: str, month: str, container: str) -> dict[str, str]:
    return {"pk": usage_pk(tenant_id), "sk": f"{_segment(month)}#{_segment(container)}"}


def usage_month_prefix(month: str) -> str:
    return f"{_segment(month)}#"


def billing_pk(tenant_id: str) -> str:
    """The company's plan history (``PLAN#<from>``), invoices (``INVOICE#<month>``) and request rate."""
    return company_platform_pk(tenant_id, "BILLING")


def plan_change(tenant_id: str, effective_at: str) -> dict[str, str]:
    return {"pk": billing_pk(tenant_id), "sk": f"PLAN#{_segment(effective_at)}"}


def invoice(tenant_id: str, month: str) -> dict[str, str]:
    return {"pk": billing_pk(tenant_id), "sk": f"INVOICE#{_segment(month)}"}


def api_rate(tenant_id: str) -> dict[str, str]:
    """The company's request rate (one item: its theoretical arrival time, GCRA)."""
    return {"pk": billing_pk(tenant_id), "sk": "RATE"}


def record_count(tenant_id: str, shard: int) -> dict[str, str]:
    """One shard of the company's count of stored records (kept by the writes: ``store.Count``)."""
    return {"pk": tenant_pk(tenant_id, "COUNT"), "sk": f"records#{int(shard)}"}


def record_count_pk(tenant_id: str) -> str:
    return tenant_pk(tenant_id, "COUNT")


# The company's aggregates (``store.Tally``), kept by the writes of the records they sum, one partition
# per family: ``sales`` (orders and revenue per day and month of confirmation), ``pipeline`` (open
# opportunities per stage), ``customers`` (customers made and activities logged per day and month).
AGGREGATE_FAMILIES = (
    "sales",
    "pipeline",
    "customers",
    "receivables",
    "purchases",
    "together",
    "tickets",
    "top",
    "stock",
)


def aggregate_pk(tenant_id: str, family: str) -> str:
    if family not in AGGREGATE_FAMILIES:
        raise ValueError(f"no aggregate family {family!r}: add it to keys.AGGREGATE_FAMILIES")
    return tenant_pk(tenant_id, "AGG", family.upper())


def aggregate(tenant_id: str, family: str, key: str, shard: int) -> dict[str, str]:
    """One shard of one aggregate: sort key ``<key>#<shard>`` (``day#2026-12-03#5``)."""
    return {"pk": aggregate_pk(tenant_id, family), "sk": f"{key}#{int(shard)}"}


def invoices_run(month: str) -> dict[str, str]:
    """The platform's record of a month's close (which companies are done)."""
    return {"pk": "P#BILLING#CLOSE", "sk": _segment(month)}


def company_rate_window(tenant_id: str, bucket: str, window: str) -> dict[str, str]:
    """A rate-limit window counted per company (invitations), under the company's keys."""
    if bucket not in COMPANY_RATE_BUCKETS:
        raise InvalidKeyError(f"unknown company rate bucket: {bucket!r}")
    return {"pk": tenant_pk(tenant_id, "RATE", bucket), "sk": _segment(window)}


# Entities of a tenant: one collection partition per type, id as sort key.
def entity_pk(tenant_id: str, entity_type: str) -> str:
    return tenant_pk(tenant_id, entity_type.upper())


def entity(tenant_id: str, entity_type: str, entity_id: str) -> dict[str, str]:
    return {"pk": entity_pk(tenant_id, entity_type), "sk": _segment(entity_id)}


def tombstone(tenant_id: str, entity_type: str, entity_id: str) -> dict[str, str]:
    """Deleted entities leave a tombstone, so clients syncing with ``updated_since`` see the delete."""
    return {"pk": tenant_pk(tenant_id, entity_type.upper(), "DELETED"), "sk": _segment(entity_id)}


SCOPE_POOL = "POOL"  # the shared pool (records with no owner), as the owner of a scope exit


def scope_left(
    tenant_id: str, entity_type: str, owner: str | None, at: str, entity_id: str
) -> dict[str, str]:
    """A record left its owner's scope (reassigned, or released to the pool or claimed from it) at
    ``at``: what tells that owner's syncing devices to drop it (a user of own records only)."""
    return {
        "pk": scope_left_pk(tenant_id, entity_type),
        "sk": f"{_segment(owner or SCOPE_POOL)}#{at}#{entity_id}",
    }


def scope_left_pk(tenant_id: str, entity_type: str) -> str:
    return tenant_pk(tenant_id, entity_type.upper(), "LEFT")


def scope_left_between(owner: str | None, since: str, upto: str) -> tuple[str, str]:
    """The sort keys of ``owner``'s scope exits after ``since`` and at or before ``upto`` (from, to:
    both inclusive)."""
    return f"{_segment(owner or SCOPE_POOL)}#{since}~", f"{_segment(owner or SCOPE_POOL)}#{upto}~"


def updated_index(tenant_id: str, entity_type: str, updated_at: str, entity_id: str) -> dict[str, str]:
    """gsi1: a type's live items and tombstones in order of last change (incremental sync)."""
    return {
        "gsi1pk": tenant_pk(tenant_id, entity_type.upper(), "UPDATED"),
        "gsi1sk": f"{updated_at}#{entity_id}",
    }


def updated_index_pk(tenant_id: str, entity_type: str) -> str:
    return tenant_pk(tenant_id, entity_type.upper(), "UPDATED")


def is_change_index(gsi1pk: str) -> bool:
    """Whether a gsi1 partition is a type's change index (``updated_index``)."""
    return gsi1pk.startswith(f"T{DELIM}") and gsi1pk.endswith(f"{DELIM}UPDATED")


def updated_after(since: str) -> str:
    """A gsi1 sort key above every entry changed at ``since`` (ids sort below "~"), below any later."""
    return f"{since}#~"


def name_index(tenant_id: str, entity_type: str, normalised_name: str, entity_id: str) -> dict[str, str]:
    """gsi2: a type's items by normalised name, for case-insensitive prefix search."""
    return {"gsi2pk": name_index_pk(tenant_id, entity_type), "gsi2sk": f"{normalised_name}#{entity_id}"}


def name_index_pk(tenant_id: str, entity_type: str) -> str:
    return tenant_pk(tenant_id, entity_type.upper(), "NAME")


def name_index_prefix(normalised_name: str) -> str:
    """The gsi2 sort key prefix of the items of exactly this normalised name."""
    return f"{normalised_name}#"


def unique_guard(tenant_id: str, entity_type: str, field: str, value: str) -> dict[str, str]:
    """An item whose existence reserves a unique value (a customer code) within the tenant."""
    return {"pk": tenant_pk(tenant_id, "UNIQUE", entity_type.upper(), field.upper()), "sk": _segment(value)}


def lookup(tenant_id: str, entity_type: str, kind: str, value: str, entity_id: str) -> dict[str, str]:
    """An exact-match lookup entry (a contact's email or phone): value then id in the sort key."""
    partition, prefix = lookup_prefix(tenant_id, entity_type, kind, value)
    return {"pk": partition, "sk": prefix + _segment(entity_id)}


def lookup_prefix(tenant_id: str, entity_type: str, kind: str, value: str) -> tuple[str, str]:
    # Values are the user's (an email may hold "#"): escaped so the delimiter stays unambiguous.
    escaped = value.replace("%", "%25").replace("#", "%23")
    partition = tenant_pk(tenant_id, "LOOKUP", entity_type.upper(), kind.upper())
    return partition, (f"{_segment(escaped)}#" if value else "")


def timeline_pk(tenant_id: str, customer_id: str) -> str:
    return tenant_pk(tenant_id, "TIMELINE", customer_id)


def timeline(tenant_id: str, customer_id: str, at: str, kind: str, ref_id: str) -> dict[str, str]:
    """A customer's timeline entry: newest first is a reverse Query on the time-ordered sort key."""
    return {"pk": timeline_pk(tenant_id, customer_id), "sk": f"{at}#{_segment(kind)}#{_segment(ref_id)}"}


def quote_revisions_pk(tenant_id: str, quote_id: str) -> str:
    return tenant_pk(tenant_id, "QUOTE", quote_id, "REVISIONS")


def quote_revision(tenant_id: str, quote_id: str, revision: int) -> dict[str, str]:
    return {"pk": quote_revisions_pk(tenant_id, quote_id), "sk": f"{revision:06d}"}


# ---- ERP stock -------------------------------------------------------------------------------------
def stock_pk(tenant_id: str) -> str:
    return tenant_pk(tenant_id, "STOCK")


def stock_level(tenant_id: str, product_id: str, warehouse_id: str) -> dict[str, str]:
    """A product's level in one warehouse: the tenant's levels in one partition, by product."""
    return {"pk": stock_pk(tenant_id), "sk": f"{_segment(product_id)}#{_segment(warehouse_id)}"}


def movement(tenant_id: str, movement_id: str, product_id: str) -> dict[str, str]:
    """A stock ledger entry; gsi1 lists a product's movements in time order (ids are ULIDs)."""
    return {
        "pk": tenant_pk(tenant_id, "MOVEMENT"),
        "sk": _segment(movement_id),
        "gsi1pk": movements_pk(tenant_id, product_id),
        "gsi1sk": _segment(movement_id),
    }


def movements_pk(tenant_id: str, product_id: str) -> str:
    return tenant_pk(tenant_id, "MOVEMENT", product_id)


def default_warehouse(tenant_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id, "TENANT"), "sk": "DEFAULT_WAREHOUSE"}


def stock_prefix(product_id: str) -> str:
    """The sort key prefix of a product's levels (every warehouse) in the stock partition."""
    return f"{product_id}#"


# ---- ERP production --------------------------------------------------------------------------------
def capacity_pk(tenant_id: str, work_centre_id: str) -> str:
    return tenant_pk(tenant_id, "CAPACITY", work_centre_id)


def capacity_day(tenant_id: str, work_centre_id: str, day: str) -> dict[str, str]:
    """A work centre's booked quantity on one day (ISO date): a range of days is one Query."""
    return {"pk": capacity_pk(tenant_id, work_centre_id), "sk": _segment(day)}


# ---- the handoff between CRM and ERP ---------------------------------------------------------------
# An event's sort key is its time then its id, as the event carries them (they come off the wire and
# are not checked here: a consumer answers any event, and its markers absorb a redelivery).
def _event_sort(occurred_at: str, event_id: str) -> str:
    return f"{occurred_at}#{event_id}"


# gsi1: every company's pending outbox events, spread over this many platform partitions by order
# (an order's events share one, in time order): no single key takes every order's writes.
OUTBOX_SHARDS = 16
OUTBOX_INDEX_PREFIX = "P#OUTBOX#"


def outbox_index_pks() -> list[str]:
    """The relay's index partitions, all of them (the sweep reads each)."""
    return [f"{OUTBOX_INDEX_PREFIX}{shard:02d}" for shard in range(OUTBOX_SHARDS)]


def outbox_index_pk(tenant_id: str, order_id: str) -> str:
    """The index partition of an order's pending events."""
    shard = zlib.crc32(f"{tenant_id}{DELIM}{order_id}".encode()) % OUTBOX_SHARDS
    return f"{OUTBOX_INDEX_PREFIX}{shard:02d}"


def outbox(tenant_id: str, occurred_at: str, event_id: str, order_id: str) -> dict[str, str]:
    """An event waiting to be relayed to the bus, under the company's keys and on the relay's index."""
    return {
        "pk": tenant_pk(tenant_id, "OUTBOX"),
        "sk": _event_sort(occurred_at, event_id),
        "gsi1pk": outbox_index_pk(tenant_id, order_id),
        "gsi1sk": f"{occurred_at}#{tenant_id}#{event_id}",
    }


def handoff_trail_pk(tenant_id: str, order_id: str) -> str:
    return tenant_pk(tenant_id, "HANDOFF", order_id)


def handoff_trail(tenant_id: str, order_id: str, occurred_at: str, event_id: str) -> dict[str, str]:
    """An order's event trail entry: the event, its delivery attempts and who handled it when."""
    return {"pk": handoff_trail_pk(tenant_id, order_id), "sk": _event_sort(occurred_at, event_id)}


def erp_cancelled(tenant_id: str, order_id: str) -> dict[str, str]:
    """The ERP's marker that an order's cancellation was handled (a late confirmation is dropped)."""
    return {"pk": tenant_pk(tenant_id, "ERP", "CANCELLED"), "sk": order_id}


def erp_decided(tenant_id: str, order_id: str) -> dict[str, str]:
    """The ERP's marker that it answered an order's confirmation (``decision``: accepted or rejected),
    written with the answers: a confirmation delivered again is not decided again."""
    return {"pk": tenant_pk(tenant_id, "ERP", "DECIDED"), "sk": order_id}


def automation_run(tenant_id: str, rule_id: str, record_id: str, occurrence: str) -> dict[str, str]:
    """A rule's run on one record for one occurrence (a birthday's year, a lapse's last order): written
    before the action, conditionally, so each fires once."""
    return {
        "pk": tenant_pk(tenant_id, "AUTOMATION", "RUNS"),
        "sk": f"{rule_id}#{record_id}#{_segment(occurrence)}",
    }


def automation_day(tenant_id: str, day: str) -> dict[str, str]:
    """The company's daily automations (birthdays, lapses) claimed for its local ``day``."""
    return {"pk": tenant_pk(tenant_id, "AUTOMATION", "DAYS"), "sk": _segment(day)}


def reconciliation_report(tenant_id: str, report_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id, "RECONCILIATION"), "sk": _segment(report_id)}


def audit_pk(tenant_id: str) -> str:
    return tenant_pk(tenant_id, "AUDIT")


def audit(
    tenant_id: str, at: str, audit_id: str, entity_type: str, entity_id: str, user_id: str
) -> dict[str, str]:
    sort = f"{at}#{audit_id}"
    return {
        "pk": audit_pk(tenant_id),
        "sk": sort,
        "gsi1pk": audit_entity_pk(tenant_id, entity_type, entity_id),
        "gsi1sk": sort,
        "gsi2pk": audit_user_pk(tenant_id, user_id),
        "gsi2sk": sort,
    }


def audit_entity_pk(tenant_id: str, entity_type: str, entity_id: str) -> str:
    return tenant_pk(tenant_id, "AUDIT", "ENTITY", entity_type, entity_id)


def audit_user_pk(tenant_id: str, user_id: str) -> str:
    return tenant_pk(tenant_id, "AUDIT", "USER", user_id)


# ---- jobs and backups ------------------------------------------------------------------------------
def jobs_pk(tenant_id: str) -> str:
    return tenant_pk(tenant_id, "JOB")


def job(tenant_id: str, job_id: str) -> dict[str, str]:
    """A company's job (backup, restore, import, export): ids are ULIDs, so the newest sort last."""
    return {"pk": jobs_pk(tenant_id), "sk": _segment(job_id)}


def job_errors_pk(tenant_id: str, job_id: str) -> str:
    return tenant_pk(tenant_id, "JOB", job_id, "ERRORS")


def job_error(tenant_id: str, job_id: str, row: int, n: int) -> dict[str, str]:
    """A row's ``n``-th error in an import job, by row number (a retried step writes the same item)."""
    return {"pk": job_errors_pk(tenant_id, job_id), "sk": f"{row:09d}#{n:03d}"}


def backups_pk(tenant_id: str) -> str:
    return tenant_pk(tenant_id, "BACKUP")


def backup(tenant_id: str, backup_id: str) -> dict[str, str]:
    """A company's backup record: where its object is, its manifest's checksum, its state."""
    return {"pk": backups_pk(tenant_id), "sk": _segment(backup_id)}


def backup_object(tenant_id: str, backup_id: str) -> str:
    """The S3 key of a backup's data (gzip JSON Lines); the manifest sits beside it."""
    tenant_prefix(tenant_id)
    return f"tenants/{tenant_id}/backups/{_segment(backup_id)}/items.jsonl.gz"


def backup_manifest(tenant_id: str, backup_id: str) -> str:
    tenant_prefix(tenant_id)
    return f"tenants/{tenant_id}/backups/{_segment(backup_id)}/manifest.json"


def tenant_objects_prefix(tenant_id: str) -> str:
    """The prefix of every S3 object of the company (backups, job files): the slash ends the id."""
    tenant_prefix(tenant_id)
    return f"tenants/{tenant_id}/"


def job_upload(tenant_id: str, job_id: str) -> str:
    """The S3 key a job's input file is uploaded to (an import's CSV)."""
    tenant_prefix(tenant_id)
    return f"tenants/{tenant_id}/jobs/{_segment(job_id)}/input"


def job_output(tenant_id: str, job_id: str, name: str) -> str:
    """The S3 key of a file a job made (an export's CSV)."""
    tenant_prefix(tenant_id)
    return f"tenants/{tenant_id}/jobs/{_segment(job_id)}/{_segment(name)}"


# ---- a company's partitions: what a backup reads, a restore replaces, an offboarding removes ----------
@dataclasses.dataclass(frozen=True)
class Partition:
    """One partition of a company's keys, found by Query alone (never Scan): the fixed ones are
    listed here, the rest belong to a record (a customer's timeline) and are found through it."""

    pk: str
    family: str  # what a backup's manifest counts its items as
    restorable: bool  # a backup holds it; a restore makes it exactly the backup's
    parent: str = ""  # a record type: each of its records (live or deleted) owns partitions (owned_by)


@dataclasses.dataclass(frozen=True)
class TypeShape:
    """What the catalogue needs of a record type: its name, unique fields and lookup kinds."""

    name: str
    uniques: tuple[str, ...]
    lookup_kinds: tuple[str, ...]


# The settings items restored with the data; the rest of the company's own partition (its profile:
# plan, state, epoch; its role set) is kept as it is by a restore (docs/operations.md).
RESTORED_SETTINGS = ("PIPELINE", "SLA", "DEFAULT_WAREHOUSE")


def partitions(tenant_id: str, types: Iterable[TypeShape]) -> list[Partition]:
    """Every fixed partition of the company: its records' and the rest (kept by a restore)."""

    def p(family: str, restorable: bool, *parts: str, parent: str = "") -> Partition:
        return Partition(tenant_pk(tenant_id, *parts), family, restorable, parent)

    found = [
        p("settings", True, "TENANT"),
        p("stock", True, "STOCK"),
        p("movement", True, "MOVEMENT"),
        p("erp.cancelled", True, "ERP", "CANCELLED"),
        p("erp.decided", True, "ERP", "DECIDED"),
        p("automation.runs", True, "AUTOMATION", "RUNS"),
        p("automation.days", True, "AUTOMATION", "DAYS"),
        p("counters", True, "COUNT"),  # restored with the records they count
        *(p(f"aggregates.{f}", True, "AGG", f.upper()) for f in AGGREGATE_FAMILIES),  # the same
    ]
    for shape in sorted(types, key=lambda t: t.name):
        name = shape.name.upper()
        found.append(p(shape.name, True, name, parent=shape.name))
        found.append(p(f"{shape.name}.deleted", True, name, "DELETED", parent=shape.name))
        found.extend(p(f"unique.{shape.name}.{f}", True, "UNIQUE", name, f.upper()) for f in shape.uniques)
        found.extend(
            p(f"lookup.{shape.name}.{k}", True, "LOOKUP", name, k.upper()) for k in shape.lookup_kinds
        )
        if "owner" in shape.lookup_kinds:  # a record type with an owner: its scope exits (kept, TTL)
            found.append(p(f"{shape.name}.left", False, name, "LEFT"))
    kept = [
        p("users", False, "USER"),
        p("users.email", False, "UNIQUE", "USER", "EMAIL"),
        p("audit", False, "AUDIT"),
        p("idempotency", False, "IDEMPOTENCY"),
        p("outbox", False, "OUTBOX"),
        p("dead_letters", False, "DEADLETTER"),
        p("reconciliation", False, "RECONCILIATION"),
        p("jobs", False, "JOB", parent="job"),
        p("backups", False, "BACKUP"),
        *(p(f"rate.{b}", False, "RATE", b) for b in COMPANY_RATE_BUCKETS),
    ]
    return found + kept


# A record's own partitions, by its type: the customer's timeline, a quote's revisions, a work
# centre's booked days (restored with it); an order's handoff trail (the handoff's log: kept).
_OWNED_PARTITIONS: dict[str, tuple[tuple[str, bool, tuple[str, ...]], ...]] = {
    "customer": (("timeline", True, ("TIMELINE", "{}")),),
    "quote": (("quote.revisions", True, ("QUOTE", "{}", "REVISIONS")),),
    "order": (("handoff", False, ("HANDOFF", "{}")),),
    "work_centre": (("capacity", True, ("CAPACITY", "{}")),),
    "job": (("job.errors", False, ("JOB", "{}", "ERRORS")),),
}
PARENT_TYPES = tuple(_OWNED_PARTITIONS)


def owned_by(tenant_id: str, entity_type: str, entity_id: str) -> list[Partition]:
    """The partitions that a record of ``entity_type`` owns."""
    return [
        Partition(tenant_pk(tenant_id, *(s.format(entity_id) for s in parts)), family, restorable)
        for family, restorable, parts in _OWNED_PARTITIONS.get(entity_type, ())
    ]


def restorable(partition: Partition, sort_key: str) -> bool:
    """Whether an item is part of what a backup holds and a restore replaces."""
    if partition.family == "settings":
        return sort_key in RESTORED_SETTINGS
    return partition.restorable


KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")


# The partitions each platform role may touch (``dynamodb:LeadingKeys`` patterns, infra/roles.py):
# the families its code reaches, never wider than the work needs.
ROLE_KEY_PATTERNS: dict[str, list[str]] = {
    # The API outside a company's scope: rate windows by address, the health item, the registry's index.
    "api": ["P#RATE#*", "P#HEALTH", "P#TENANTS"],
    # Work over every company's data (consumers, jobs, reconciliation, automations).
    "companies": ["T#*", "P#COMPANY#*"],
    "registry": ["P#TENANTS"],
    "outbox_index": [f"{OUTBOX_INDEX_PREFIX}*"],
    # The relays: the outbox index, the outbox items and the orders' trails.
    "relay": [f"{OUTBOX_INDEX_PREFIX}*", "T#*#OUTBOX", "T#*#HANDOFF#*"],
    # The dead-letter handlers: the company's standing and its parked letters.
    "dead_letters": ["T#*#TENANT", "T#*#DEADLETTER"],
    # The month's close: the registry, companies' billing and standing, record counts, the run's mark.
    "close_month": ["P#TENANTS", "P#COMPANY#*", "P#BILLING#CLOSE", "T#*#TENANT", "T#*#COUNT"],
    # The daily backups' fan-out: the registry, each company's backup record, job and audit entry.
    "daily_backups": ["P#TENANTS", "T#*#BACKUP", "T#*#JOB", "T#*#AUDIT"],
}

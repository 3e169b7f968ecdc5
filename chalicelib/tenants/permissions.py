"""The permission catalogue and the built-in roles.

A permission is ``<area>.<resource>:<action>``.  A role grants it over all of the tenant's records,
or, written ``<permission>@own``, only over the records the user owns (for the record types that
have an owner; see ``SCOPABLE``).  Built-in roles are written as patterns over the catalogue (``!``
excludes, ``@own`` narrows what matched so far), so a permission added with a new resource lands in
the roles whose job covers it; docs/api.md lists what each role holds today.
"""

from __future__ import annotations

import fnmatch
import functools

from chalicelib.core.scope import OWN

CATALOGUE: dict[str, str] = {
    "crm.customers:read": "Read customers",
    "crm.customers:create": "Create customers",
    "crm.customers:update": "Change customers",
    "crm.customers:delete": "Delete customers",
    "crm.customers:merge": "Merge a duplicate customer into another (deletes the duplicate)",
    "crm.customers:claim": "Claim customers from the shared pool of unassigned ones, and release own ones",
    "crm.customers:assign": "Give a customer to another user or back to the pool",
    "crm.contacts:read": "Read contacts",
    "crm.contacts:create": "Create contacts",
    "crm.contacts:update": "Change contacts",
    "crm.contacts:delete": "Delete contacts",
    "crm.activities:read": "Read activities",
    "crm.activities:create": "Log activities",
    "crm.activities:update": "Change activities",
    "crm.activities:delete": "Delete activities",
    "crm.quotes:read": "Read quotes",
    "crm.quotes:create": "Create quotes",
    "crm.quotes:update": "Change, send, reject and revise quotes",
    "crm.quotes:delete": "Delete quotes not accepted",
    "crm.quotes:accept": "Accept quotes (creates the sales order)",
    "crm.orders:read": "Read sales orders",
    "crm.orders:create": "Create sales orders",
    "crm.orders:update": "Change draft sales orders",
    "crm.orders:delete": "Delete draft sales orders",
    "crm.orders:confirm": "Confirm sales orders (hands them to the ERP)",
    "crm.orders:cancel": "Cancel sales orders",
    "crm.leads:read": "Read leads",
    "crm.leads:create": "Create leads",
    "crm.leads:update": "Work leads (status, owner, details)",
    "crm.leads:delete": "Delete leads",
    "crm.leads:convert": "Convert leads into customers",
    "crm.leads:claim": "Claim leads from the shared pool of unassigned ones, and release own ones",
    "crm.leads:assign": "Give a lead to another user or back to the pool",
    "crm.opportunities:read": "Read opportunities",
    "crm.opportunities:create": "Create opportunities",
    "crm.opportunities:update": "Change opportunities and move their stage",
    "crm.opportunities:delete": "Delete opportunities",
    "crm.opportunities:close": "Close opportunities as won or lost",
    "crm.pipeline:read": "Read the pipeline's stages",
    "crm.pipeline:write": "Change the pipeline's stages",
    "crm.tickets:read": "Read service tickets",
    "crm.tickets:create": "Open service tickets",
    "crm.tickets:update": "Work service tickets (assign, resolve, close, reopen)",
    "crm.tickets:delete": "Delete service tickets",
    "crm.sla:read": "Read the service-level targets",
    "crm.sla:write": "Change the service-level targets",
    "crm.import:run": "Import CSV files (also needs create and update on what is imported)",
    "crm.export:run": "Export CSV files (also needs read on what is exported)",
    "erp.products:read": "Read products",
    "erp.products:create": "Create products",
    "erp.products:update": "Change products",
    "erp.products:delete": "Delete products without stock",
    "erp.suppliers:read": "Read suppliers",
    "erp.suppliers:create": "Create suppliers",
    "erp.suppliers:update": "Change suppliers",
    "erp.suppliers:delete": "Delete suppliers",
    "erp.warehouses:read": "Read warehouses",
    "erp.warehouses:create": "Create warehouses",
    "erp.warehouses:update": "Change warehouses and choose the default",
    "erp.warehouses:delete": "Delete empty warehouses",
    "erp.stock:read": "Read stock levels, movements and reservations",
    "erp.stock:adjust": "Adjust stock on hand (counts, breakage)",
    "erp.stock:transfer": "Transfer stock between warehouses",
    "erp.stock:reserve": "Reserve stock and release reservations",
    "erp.purchasing:read": "Read purchase orders and replenishment suggestions",
    "erp.purchasing:create": "Draft purchase orders (also from replenishment suggestions)",
    "erp.purchasing:update": "Change draft purchase orders",
    "erp.purchasing:delete": "Delete draft purchase orders",
    "erp.purchasing:order": "Place and cancel purchase orders",
    "erp.purchasing:receive": "Receive purchased goods into stock",
    "erp.production:read": "Read work centres, bills of materials and production orders",
    "erp.production:create": "Create work centres and bills of materials, plan production orders",
    "erp.production:update": "Change work centres and bills of materials; release, start and cancel production orders",
    "erp.production:delete": "Delete work centres and bills of materials",
    "erp.production:complete": "Complete production orders (consumes components, produces goods)",
    "erp.shipments:read": "Read shipments",
    "erp.shipments:create": "Ship reserved stock",
    "erp.invoices:read": "Read invoices",
    "erp.invoices:create": "Draft invoices",
    "erp.invoices:update": "Change drafts; issue and void invoices",
    "erp.invoices:delete": "Delete draft invoices",
    "erp.invoices:credit": "Issue credit notes",
    "erp.payments:read": "Read payments",
    "erp.payments:create": "Record payments and allocate them to invoices",
    "erp.receivables:read": "Read receivables aging and customer balances",
    "admin.users:read": "List the tenant's users and their roles",
    "admin.users:write": "Invite, change, disable and remove users",
    "admin.roles:read": "List roles",
    "admin.roles:write": "Create, change and delete custom roles",
    "admin.audit:read": "Read the audit log",
    "admin.operations:read": "See dead letters and reconciliation reports of the order handoff",
    "admin.operations:write": "Redrive dead letters and run the reconciliation",
    "admin.backups:read": "List the company's backups and download them",
    "admin.backups:write": "Take a backup of the company now",
    "admin.jobs:read": "See every user's jobs (each user sees their own)",
    "admin.billing:read": "See the company's plan, usage and invoices",
    "admin.company:write": "Change the company's settings (its time zone)",
    "marketing.automations:read": "See the marketing automation rules",
    "marketing.automations:create": "Make marketing automation rules (mail, tasks, tags)",
    "marketing.automations:update": "Change, enable and disable marketing automation rules",
    "marketing.automations:delete": "Delete marketing automation rules",
    "analytics.dashboard:read": "See the dashboard: the whole company's figures (needs crm.orders:read over all orders)",
    "tenant.owners:manage": "Grant or revoke the owner role",
    "tenant.plan:write": "Change the company's plan (owners only)",
    "tenant.data:restore": "Restore the company from one of its backups (owners only)",
    "tenant.company:close": "Close the company's account and delete its data (owners only)",
}

_ROLE_PATTERNS: dict[str, tuple[str, ...]] = {
    "owner": ("*",),
    "admin": ("*", "!tenant.*"),
    "sales": (
        "crm.*",
        "!crm.*:delete",
        "!crm.customers:merge",
        "!crm.pipeline:write",
        "!crm.sla:write",
        "erp.products:read",
        "erp.stock:read",
    ),
    "sales_rep": (
        "crm.*",
        "!crm.*:delete",
        "!crm.*:assign",
        "!crm.customers:merge",
        "!crm.pipeline:write",
        "!crm.sla:write",
        "!crm.export:run",
        "!crm.import:run",
        "crm.*@own",
        "erp.products:read",
        "erp.stock:read",
    ),
    "service": (
        "crm.customers:read",
        "crm.customers:update",
        "crm.contacts:read",
        "crm.tickets:*",
        "crm.sla:read",
        "crm.activities:*",
    ),
    "finance": (
        "crm.customers:read",
        "erp.products:read",
        "erp.purchasing:read",
        "crm.orders:read",
        "crm.quotes:read",
        "erp.invoices:*",
        "erp.payments:*",
        "erp.receivables:*",
    ),
    "warehouse": (
        "crm.customers:read",
        "crm.orders:read",
        "erp.products:*",
        "erp.warehouses:*",
        "erp.stock:*",
        "erp.suppliers:*",
        "erp.purchasing:*",
        "erp.production:*",
        "erp.shipments:*",
    ),
    "viewer": ("*:read", "!admin.*"),
}

BUILTIN_ROLE_DESCRIPTIONS = {
    "owner": "Everything, including granting the owner role; a tenant always keeps one enabled owner.",
    "admin": "Everything but the owner role: users, roles, audit and all data.",
    "sales": "Works all of the company's customers in the CRM (no deletes); reads products and stock.",
    "sales_rep": "Works own customers, leads and deals only; claims from the shared pool; reads products and stock.",
    "service": "Reads and updates customers; works tickets and activities.",
    "finance": "Reads customers; works invoices, payments and receivables.",
    "warehouse": "Reads customers and orders; works products, stock, purchasing, production and shipments.",
    "viewer": "Reads all business data; no administration.",
}


# Record types with an owner: their permissions (but create, claim, assign) may be granted @own.
SCOPABLE = (
    "crm.customers",
    "crm.contacts",
    "crm.activities",
    "crm.quotes",
    "crm.orders",
    "crm.leads",
    "crm.opportunities",
    "crm.tickets",
)
_UNSCOPED_ACTIONS = ("create", "claim", "assign", "merge")


def scopable(permission: str) -> bool:
    resource, _, action = permission.partition(":")
    return resource in SCOPABLE and action not in _UNSCOPED_ACTIONS and permission in CATALOGUE


def valid_grant(grant: str) -> bool:
    """A catalogue permission, or a scopable one narrowed to own records."""
    base, own, rest = grant.partition(OWN)
    return (grant in CATALOGUE) or (own == OWN and not rest and scopable(base))


def normalise(grants: set[str]) -> frozenset[str]:
    """Drop a ``p@own`` when ``p`` itself is granted (all covers own)."""
    return frozenset(g for g in grants if not (g.endswith(OWN) and g[: -len(OWN)] in grants))


def covered(grant: str, held: frozenset[str]) -> bool:
    """Whether holding ``held`` lets one grant ``grant`` (all covers own, own covers own)."""
    return grant in held or (grant.endswith(OWN) and grant[: -len(OWN)] in held)


def uncovered(grants: frozenset[str] | set[str], held: frozenset[str]) -> list[str]:
    return sorted(g for g in grants if not covered(g, held))


def expand(patterns: tuple[str, ...]) -> frozenset[str]:
    granted: set[str] = set()
    for pattern in patterns:
        if pattern.startswith("!"):
            granted -= {p for p in granted if fnmatch.fnmatchcase(p.removesuffix(OWN), pattern[1:])}
        elif pattern.endswith(OWN):
            narrowed = {p for p in granted if fnmatch.fnmatchcase(p, pattern[: -len(OWN)]) and scopable(p)}
            granted = (granted - narrowed) | {p + OWN for p in narrowed}
        else:
            granted |= {p for p in CATALOGUE if fnmatch.fnmatchcase(p, pattern)}
    return normalise(granted)


@functools.cache
def builtin_roles() -> dict[str, frozenset[str]]:
    return {name: expand(patterns) for name, patterns in _ROLE_PATTERNS.items()}


def role_permissions(role: str, custom_roles: dict[str, list[str]]) -> frozenset[str]:
    """Grants of a role by name; an unknown role grants nothing (deny by default)."""
    builtin = builtin_roles().get(role)
    if builtin is not None:
        return builtin
    return normalise({p for p in custom_roles.get(role, ()) if valid_grant(p)})


def effective(roles: list[str], custom_roles: dict[str, list[str]]) -> frozenset[str]:
    granted: set[str] = set()
    for role in roles:
        granted |= role_permissions(role, custom_roles)
    return normalise(granted)

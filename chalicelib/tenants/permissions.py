"""The permission catalogue and the built-in roles.

A permission is ``<area>.<resource>:<action>``.  Built-in roles are written as patterns over the
catalogue (``!`` excludes), so a permission added with a new resource lands in the roles whose job
covers it; docs/api.md lists what each role holds today.
"""

from __future__ import annotations

import fnmatch
import functools

CATALOGUE: dict[str, str] = {
    "crm.customers:read": "Read customers",
    "crm.customers:create": "Create customers",
    "crm.customers:update": "Change customers",
    "crm.customers:delete": "Delete customers",
    "crm.customers:merge": "Merge a duplicate customer into another (deletes the duplicate)",
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
    "admin.users:read": "List the tenant's users and their roles",
    "admin.users:write": "Invite, change, disable and remove users",
    "admin.roles:read": "List roles",
    "admin.roles:write": "Create, change and delete custom roles",
    "admin.audit:read": "Read the audit log",
    "tenant.owners:manage": "Grant or revoke the owner role",
}

_ROLE_PATTERNS: dict[str, tuple[str, ...]] = {
    "owner": ("*",),
    "admin": ("*", "!tenant.owners:manage"),
    "sales": (
        "crm.*",
        "!crm.*:delete",
        "!crm.customers:merge",
        "!crm.pipeline:write",
        "!crm.sla:write",
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
        "crm.orders:read",
        "crm.quotes:read",
        "erp.invoices:*",
        "erp.payments:*",
        "erp.receivables:*",
    ),
    "warehouse": ("crm.customers:read", "crm.orders:read", "erp.products:*", "erp.warehouses:*", "erp.stock:*"),
    "viewer": ("*:read", "!admin.*"),
}

BUILTIN_ROLE_DESCRIPTIONS = {
    "owner": "Everything, including granting the owner role; a tenant always keeps one enabled owner.",
    "admin": "Everything but the owner role: users, roles, audit and all data.",
    "sales": "Works customers in the CRM (no deletes); reads products and stock.",
    "service": "Reads and updates customers; works tickets and activities.",
    "finance": "Reads customers; works invoices, payments and receivables.",
    "warehouse": "Reads customers; works products, warehouses and stock.",
    "viewer": "Reads all business data; no administration.",
}


def expand(patterns: tuple[str, ...]) -> frozenset[str]:
    granted: set[str] = set()
    for pattern in patterns:
        if pattern.startswith("!"):
            granted -= {p for p in granted if fnmatch.fnmatchcase(p, pattern[1:])}
        else:
            granted |= {p for p in CATALOGUE if fnmatch.fnmatchcase(p, pattern)}
    return frozenset(granted)


@functools.cache
def builtin_roles() -> dict[str, frozenset[str]]:
    return {name: expand(patterns) for name, patterns in _ROLE_PATTERNS.items()}


def role_permissions(role: str, custom_roles: dict[str, list[str]]) -> frozenset[str]:
    """Permissions of a role by name; an unknown role grants nothing (deny by default)."""
    builtin = builtin_roles().get(role)
    if builtin is not None:
        return builtin
    return frozenset(p for p in custom_roles.get(role, ()) if p in CATALOGUE)


def effective(roles: list[str], custom_roles: dict[str, list[str]]) -> frozenset[str]:
    granted: set[str] = set()
    for role in roles:
        granted |= role_permissions(role, custom_roles)
    return frozenset(granted)

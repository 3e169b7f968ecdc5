"""API models of tenants, users, roles and the audit log."""

# No `from __future__ import annotations` in model modules: pydantic would compile every field's
# annotation string at import (about 40 ms of cold start); evaluated annotations cost nothing.

import functools
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints

from chalicelib.core import plans
from chalicelib.core.models import PublicModel, StrictModel
from chalicelib.core.schemas import Currency, Email, Instant, ListQuery, Name, PageOut


def _offered_plan(value: str) -> str:
    if value not in plans.ids():
        raise ValueError(f"there is no plan {value!r}; the plans are {', '.join(plans.ids())}")
    return value


Plan = Annotated[
    str,
    AfterValidator(_offered_plan),
    Field(description="A plan of GET /billing/plan's `offered` (free, starter, business, enterprise today)."),
]


def _password_policy(value: str) -> str:
    """The user pool's policy (infra/identity.yaml), checked before anything asks whether an
    address is taken: a weak password is refused alike for every address."""
    if not any("a" <= c <= "z" for c in value) or not any("0" <= c <= "9" for c in value):
        raise ValueError("the password needs a lower-case letter (a-z) and a digit (0-9)")
    return value


Password = Annotated[str, StringConstraints(min_length=10, max_length=128), AfterValidator(_password_policy)]
RoleName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,39}$")]
PermissionName = Annotated[str, StringConstraints(pattern=r"^[a-z]+\.[a-z-]+:[a-z]+(@own)?$")]
USER_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class SignupIn(StrictModel):
    company_name: Name
    owner_email: Email
    owner_password: Password
    plan: Plan = "free"
    default_currency: Currency = Field(
        default="CNY",
        description="ISO 4217: what orders, quotes, deals, invoices and payments are in when they name none.",
    )


class SignupOut(PublicModel):
    """The same answer whether the address was free or not: signup never tells who has an account."""

    status: Literal["accepted"] = "accepted"
    detail: str = Field(
        default=(
            "If this address had no account, the company is ready: log in with it. If it already had one, "
            "log in with that account's password."
        )
    )


class LoginIn(StrictModel):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RefreshIn(StrictModel):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class TokensOut(PublicModel):
    id_token: str = Field(description="Send as `Authorization: Bearer <id_token>`.")
    access_token: str
    refresh_token: str | None
    expires_in: int
    token_type: str = "Bearer"


class TenantOut(PublicModel):
    id: str
    company_name: str
    plan: Plan
    default_currency: str
    time_zone: str = Field(description="IANA name: the company's local day (automations).")
    created_at: str


def _known_zone(value: str) -> str:
    """An IANA zone name (Asia/Shanghai, Europe/Berlin, UTC): not a file of the host's zone directory
    such as ``localtime`` or ``posixrules``, nor the placeholder ``Factory``."""
    if value in ("Factory", "localtime", "posixrules") or value not in _zones():
        raise ValueError(f"there is no time zone {value!r} (an IANA name such as Asia/Shanghai)")
    return value


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class CompanyPatch(StrictModel):
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_known_zone)] = (
        Field(description="An IANA time zone: Asia/Shanghai (the default), Europe/Berlin...")
    )


class UserRef(PublicModel):
    id: str
    email: str


class MeOut(PublicModel):
    user: UserRef
    tenant: TenantOut
    roles: list[str]
    permissions: list[str]


class UserIn(StrictModel):
    email: Email
    roles: Annotated[list[RoleName], Field(min_length=1, max_length=10)]
    password: Password | None = Field(
        default=None,
        description="Set as the user's permanent password; without it Cognito sends an invitation.",
    )


class UserPatch(StrictModel):
    roles: Annotated[list[RoleName], Field(min_length=1, max_length=10)] | None = None
    enabled: bool | None = None


class UserOut(PublicModel):
    id: str
    email: str
    roles: list[str]
    enabled: bool
    created_at: str
    updated_at: str
    version: int


class RoleIn(StrictModel):
    name: RoleName
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    permissions: Annotated[list[PermissionName], Field(max_length=200)]


class RolePut(StrictModel):
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    permissions: Annotated[list[PermissionName], Field(max_length=200)]


class RoleOut(PublicModel):
    name: str
    description: str
    permissions: list[str]
    builtin: bool
    version: int | None = None


class RoleList(PublicModel):
    items: list[RoleOut]
    permissions: dict[str, str] = Field(description="The permission catalogue: name and meaning.")


class AuditQuery(ListQuery):
    entity_type: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")] | None = None
    entity_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@-]{1,128}$")] | None = None
    user_id: Annotated[str, StringConstraints(pattern=r"^(platform|[0-9a-f-]{36})$")] | None = None
    from_: Instant | None = Field(default=None, alias="from")
    to: Instant | None = None


class AuditOut(PublicModel):
    id: str
    at: str
    user_id: str
    user_email: str
    request_id: str
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any


class UserPage(PageOut):
    items: list[UserOut]


class AuditPage(PageOut):
    items: list[AuditOut]

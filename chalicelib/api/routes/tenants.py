"""HTTP routes of signup, login, /me and tenant administration (users, roles, audit)."""

from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.web import STORE, Request, Result, endpoint
from chalicelib.core import ratelimit
from chalicelib.core.config import settings
from chalicelib.core.schemas import ListQuery
from chalicelib.tenants import accounts, audit_log, identity, roles, users
from chalicelib.tenants.models import (
    USER_ID,
    AuditOut,
    AuditPage,
    AuditQuery,
    CompanyPatch,
    LoginIn,
    MeOut,
    RefreshIn,
    RoleIn,
    RoleList,
    RoleOut,
    RolePut,
    SignupIn,
    SignupOut,
    TokensOut,
    UserIn,
    UserOut,
    UserPage,
    UserPatch,
)

bp = Blueprint(__name__)
ROLE = {"name": r"^[a-z][a-z0-9_-]{1,39}$"}
USER = {"user_id": USER_ID}


@endpoint(
    bp,
    "/tenants",
    "POST",
    permission=None,
    public=True,
    tag="tenants",
    summary="Sign up a company (the same answer whether the address had an account or not)",
    body=SignupIn,
    response=SignupOut,
    status=202,
)
def signup(req: Request) -> Result:
    ratelimit.hit(STORE, "signup", req.source_ip, settings().signup_limit_per_hour, 3600, "signups")
    accounts.signup(STORE, req.body, req.request_id)  # None for a taken address: answered alike
    return Result(SignupOut(), headers={"Location": "/me"})


@endpoint(
    bp,
    "/auth/login",
    "POST",
    permission=None,
    public=True,
    tag="auth",
    summary="Log in with email and password",
    also=(401,),
    body=LoginIn,
    response=TokensOut,
)
def login(req: Request) -> TokensOut:
    ratelimit.hit(STORE, "login", req.source_ip, settings().login_limit_per_minute, 60, "logins")
    return TokensOut(**identity.login(req.body.email, req.body.password))


@endpoint(
    bp,
    "/auth/refresh",
    "POST",
    permission=None,
    public=True,
    tag="auth",
    summary="Exchange a refresh token",
    also=(401,),
    body=RefreshIn,
    response=TokensOut,
)
def refresh(req: Request) -> TokensOut:
    ratelimit.hit(STORE, "login", req.source_ip, settings().login_limit_per_minute, 60, "logins")
    return TokensOut(**identity.refresh(req.body.refresh_token))


@endpoint(
    bp,
    "/me",
    "GET",
    permission=None,
    any_user=True,
    tag="auth",
    summary="The caller: user, company, roles, permissions",
    response=MeOut,
)
def me(req: Request) -> MeOut:
    return MeOut(**accounts.me(STORE, req.me))


@endpoint(
    bp,
    "/tenants/me",
    "PATCH",
    permission="admin.company:write",
    tag="tenants",
    summary="Change the company's settings (its time zone)",
    body=CompanyPatch,
    response=MeOut,
)
def update_company(req: Request) -> MeOut:
    return MeOut(**accounts.set_time_zone(STORE, req.me, req.body.time_zone))


@endpoint(
    bp,
    "/admin/users",
    "GET",
    permission="admin.users:read",
    tag="admin",
    summary="List users",
    query=ListQuery,
    response=UserPage,
)
def list_users(req: Request) -> UserPage:
    page = users.list_page(STORE, req.me.tenant_id, req.query.limit, req.query.cursor)
    return UserPage(items=[UserOut(**u) for u in page.items], next_cursor=page.next_cursor)


@endpoint(
    bp,
    "/admin/users",
    "POST",
    permission="admin.users:write",
    tag="admin",
    summary="Add a user with roles",
    body=UserIn,
    response=UserOut,
    status=201,
)
def create_user(req: Request) -> Result:
    user = users.create(STORE, req.me, req.body)
    return Result(UserOut(**user), etag=user["version"], headers={"Location": f"/admin/users/{user['id']}"})


@endpoint(
    bp,
    "/admin/users/{user_id}",
    "GET",
    permission="admin.users:read",
    tag="admin",
    summary="Read a user",
    response=UserOut,
    path_params=USER,
    etag=True,
)
def get_user(req: Request) -> Result:
    user = users.get(STORE, req.me.tenant_id, req.params["user_id"])
    return Result(UserOut(**user), etag=user["version"])


@endpoint(
    bp,
    "/admin/users/{user_id}",
    "PATCH",
    permission="admin.users:write",
    tag="admin",
    summary="Change a user's roles or enable/disable them",
    body=UserPatch,
    response=UserOut,
    path_params=USER,
    etag=True,
)
def update_user(req: Request) -> Result:
    user = users.update(STORE, req.me, req.params["user_id"], req.body, req.if_match)
    return Result(UserOut(**user), etag=user["version"])


@endpoint(
    bp,
    "/admin/users/{user_id}",
    "DELETE",
    permission="admin.users:write",
    tag="admin",
    summary="Remove a user",
    path_params=USER,
    status=204,
    etag=True,
)
def delete_user(req: Request) -> Result:
    users.remove(STORE, req.me, req.params["user_id"], req.if_match)
    return Result(status=204)


@endpoint(
    bp,
    "/admin/roles",
    "GET",
    permission="admin.roles:read",
    tag="admin",
    summary="List built-in and custom roles and the permission catalogue",
    response=RoleList,
)
def list_roles(req: Request) -> RoleList:
    return RoleList(**roles.list_all(STORE, req.me.tenant_id))


@endpoint(
    bp,
    "/admin/roles",
    "POST",
    permission="admin.roles:write",
    tag="admin",
    summary="Create a custom role",
    body=RoleIn,
    response=RoleOut,
    status=201,
)
def create_role(req: Request) -> Result:
    role = roles.create(STORE, req.me, req.body)
    return Result(RoleOut(**role), etag=role["version"], headers={"Location": f"/admin/roles/{role['name']}"})


@endpoint(
    bp,
    "/admin/roles/{name}",
    "PUT",
    permission="admin.roles:write",
    tag="admin",
    summary="Replace a custom role",
    body=RolePut,
    response=RoleOut,
    path_params=ROLE,
    etag=True,
)
def replace_role(req: Request) -> Result:
    role = roles.replace(STORE, req.me, req.params["name"], req.body, req.if_match)
    return Result(RoleOut(**role), etag=role["version"])


@endpoint(
    bp,
    "/admin/roles/{name}",
    "DELETE",
    permission="admin.roles:write",
    tag="admin",
    summary="Delete a custom role nobody holds",
    path_params=ROLE,
    status=204,
    etag=True,
)
def delete_role(req: Request) -> Result:
    roles.remove(STORE, req.me, req.params["name"], req.if_match)
    return Result(status=204)


@endpoint(
    bp,
    "/admin/audit",
    "GET",
    permission="admin.audit:read",
    tag="admin",
    summary="The audit log, newest first, by entity, user and time range",
    query=AuditQuery,
    response=AuditPage,
)
def audit(req: Request) -> AuditPage:
    page = audit_log.list_page(STORE, req.me.tenant_id, req.query)
    return AuditPage(items=[AuditOut(**a) for a in page.items], next_cursor=page.next_cursor)

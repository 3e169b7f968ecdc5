"""HTTP routes of CRM customers."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.web import STORE, Request, Result, endpoint
from chalicelib.crm import service
from chalicelib.crm.models import CUSTOMER_ID, CustomerIn, CustomerOut, CustomerPage, CustomerPatch, CustomerQuery, DeletedOut

bp = Blueprint(__name__)
ID = {"customer_id": CUSTOMER_ID}


@endpoint(
    bp,
    "/crm/customers",
    "POST",
    permission="crm.customers:create",
    tag="crm",
    summary="Create a customer",
    body=CustomerIn,
    response=CustomerOut,
    status=201,
)
def create_customer(req: Request) -> Result:
    customer = service.create(STORE, req.me.actor(), req.body)
    return Result(CustomerOut(**customer), etag=customer["version"], headers={"Location": f"/crm/customers/{customer['id']}"})


@endpoint(
    bp,
    "/crm/customers",
    "GET",
    permission="crm.customers:read",
    tag="crm",
    summary="List customers: all, by name prefix, or changed since an instant",
    query=CustomerQuery,
    response=CustomerPage,
)
def list_customers(req: Request) -> CustomerPage:
    page = service.list_customers(STORE, req.me.tenant_id, req.query)
    items = [DeletedOut(**i) if i.get("deleted") else CustomerOut(**i) for i in page.items]
    return CustomerPage(items=items, next_cursor=page.next_cursor)


@endpoint(
    bp,
    "/crm/customers/{customer_id}",
    "GET",
    permission="crm.customers:read",
    tag="crm",
    summary="Read a customer",
    response=CustomerOut,
    path_params=ID,
    etag=True,
)
def get_customer(req: Request) -> Result:
    customer = service.public(service.get(STORE, req.me.tenant_id, req.params["customer_id"]))
    return Result(CustomerOut(**customer), etag=customer["version"])


@endpoint(
    bp,
    "/crm/customers/{customer_id}",
    "PATCH",
    permission="crm.customers:update",
    tag="crm",
    summary="Change a customer (fields given replace the stored ones)",
    body=CustomerPatch,
    response=CustomerOut,
    path_params=ID,
    etag=True,
)
def update_customer(req: Request) -> Result:
    customer = service.update(STORE, req.me.actor(), req.params["customer_id"], req.body, req.if_match)
    return Result(CustomerOut(**customer), etag=customer["version"])


@endpoint(
    bp,
    "/crm/customers/{customer_id}",
    "DELETE",
    permission="crm.customers:delete",
    tag="crm",
    summary="Delete a customer",
    path_params=ID,
    status=204,
    etag=True,
)
def delete_customer(req: Request) -> Result:
    service.remove(STORE, req.me.actor(), req.params["customer_id"], req.if_match)
    return Result(status=204)

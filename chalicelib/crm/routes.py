"""HTTP routes of the CRM."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core import crud
from chalicelib.crm import customers
from chalicelib.crm.models import CustomerIn, CustomerOut, CustomerPage, CustomerPatch, CustomerQuery, DeletedOut

bp = Blueprint(__name__)

CUSTOMERS = crud.Resource(
    customers.CUSTOMER, "/crm/customers", "customer_id", "crm.customers", "crm",
    CustomerIn, CustomerPatch, CustomerOut, CustomerPage, CustomerQuery, DeletedOut, customers,
)  # fmt: skip
crud.register(bp, CUSTOMERS)

"""The plans a company can subscribe to, as data (``plans.json`` beside this module): each one's
monthly price, what it includes per month, the price of what goes over, its request rate and burst,
and how many backups it keeps. Adding a plan is an edit of the data file; the tests check every plan
against this model. Prices are ``Decimal`` in the catalogue's one currency.

Read by the tenants (the plans signup offers), backups (retention) and billing (limits, usage,
invoices)."""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

METERS = ("api_calls", "seats", "stored_records", "handoff_events", "job_minutes")
"""What a plan includes: calls to the API (reads and writes together), seats (enabled users),
stored records, order-handoff events handled, minutes of job work."""
BILLED = ("api_calls", "stored_records", "handoff_events", "job_minutes")
"""What a paid plan bills past its included amount; seats are a limit on every plan (more seats:
a larger plan)."""


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rate(_Data):
    per_second: int = Field(ge=1)  # sustained requests per second, per company
    burst: int = Field(ge=1)  # requests at once after a quiet moment


class Retention(_Data):
    daily: int = Field(ge=1)
    weekly: int = Field(ge=0)
    monthly: int = Field(ge=0)

    @property
    def kept(self) -> int:
        """The most backups this keeps at once."""
        return self.daily + self.weekly + self.monthly


class Overage(_Data):
    per: int = Field(ge=1)  # units a price is for (1,000 calls)
    price: Decimal = Field(ge=0, decimal_places=2)


class Plan(_Data):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")
    name: str
    monthly_price: Decimal = Field(ge=0, decimal_places=2)
    capped: bool  # True: the included amounts are hard limits (no overage); False: overage is billed
    rate: Rate
    retention: Retention
    included: dict[str, int]
    overage: dict[str, Overage]

    @model_validator(mode="after")
    def _complete(self) -> Plan:
        if sorted(self.included) != sorted(METERS):
            raise ValueError(f"plan {self.id} must include exactly {', '.join(METERS)}")
        if self.capped and self.overage:
            raise ValueError(f"plan {self.id} is capped: it bills no overage")
        if not self.capped and sorted(self.overage) != sorted(BILLED):
            raise ValueError(f"plan {self.id} must price the overage of {', '.join(BILLED)}")
        if self.rate.burst < self.rate.per_second:
            raise ValueError(f"plan {self.id}: the burst is at least the rate")
        return self


class Catalogue(_Data):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    plans: list[Plan]


@functools.cache
def catalogue() -> Catalogue:
    return Catalogue.model_validate(json.loads((Path(__file__).parent / "plans.json").read_text()))


def ids() -> tuple[str, ...]:
    return tuple(p.id for p in catalogue().plans)


def get(plan_id: str) -> Plan:
    """A plan by id; an unknown id (a plan withdrawn from the catalogue) raises KeyError."""
    for p in catalogue().plans:
        if p.id == plan_id:
            return p
    raise KeyError(plan_id)


def currency() -> str:
    return catalogue().currency

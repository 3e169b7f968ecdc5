"""Money: Decimal amounts with an ISO 4217 currency, and the totals of priced lines.

The rounding rule (documented in docs/api.md), for a quote, an order or an invoice:

1. line net = quantity × unit price × (1 − discount % / 100), rounded half-up to the currency's
   minor unit (cents for most);
2. subtotal = the sum of the line nets;
3. tax, per rate = (the sum of the line nets at that rate) × rate / 100, rounded half-up once per
   rate (not per line, so many small lines do not drift by a cent each);
4. total = subtotal + the sum of the taxes.

No float anywhere: amounts enter as strings or integers and leave as strings. An amount of money
given to the API (a payment, its allocations, a credit, a deal's value) must be exact to the
currency's minor unit (``exact``); only unit prices keep more places, rounded by the rule above.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from chalicelib.core.errors import field_error

# Currencies whose minor unit is not the cent (ISO 4217); every other has two decimals.
_MINOR_UNITS = {
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "CLP": 0,
    "ISK": 0,
    "UGX": 0,
    "XAF": 0,
    "XOF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}
HUNDRED = Decimal(100)


def exponent(currency: str) -> Decimal:
    return Decimal(1).scaleb(-_MINOR_UNITS.get(currency, 2))


def round_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(exponent(currency), rounding=ROUND_HALF_UP)


def exact(amount: Decimal, currency: str, loc: list[Any]) -> Decimal:
    """An amount of money (a payment, a credit, a deal's value) written to the currency's minor
    unit (10 -> 10.00), if it is exact to that unit: a finer part would be rounded away in one
    place and kept in another, so it is a 422 naming the field (unit prices keep their places)."""
    rounded = round_money(amount, currency)
    if amount != rounded:
        places = _MINOR_UNITS.get(currency, 2)
        raise field_error(
            f"{text(amount)} is finer than {currency}'s smallest unit: at most {places} decimal place(s).",
            loc,
            f"at most {places} decimal places in {currency}",
            "minor_unit",
        )
    return rounded


def text(amount: Decimal) -> str:
    """An amount as the API writes it: plain notation, never an exponent."""
    return format(amount, "f")


def line_net(quantity: Decimal, unit_price: Decimal, discount_percent: Decimal, currency: str) -> Decimal:
    return round_money(quantity * unit_price * (HUNDRED - discount_percent) / HUNDRED, currency)


def totals(lines: Iterable[dict[str, Any]], currency: str) -> dict[str, Any]:
    """Line nets, subtotal, taxes per rate and total of lines with ``quantity``, ``unit_price``,
    ``discount_percent`` and ``tax_rate`` (Decimals or their strings)."""
    priced = []
    by_rate: dict[Decimal, Decimal] = {}
    for line in lines:
        quantity, price = Decimal(str(line["quantity"])), Decimal(str(line["unit_price"]))
        discount, rate = Decimal(str(line.get("discount_percent", 0))), Decimal(str(line.get("tax_rate", 0)))
        net = line_net(quantity, price, discount, currency)
        by_rate[rate] = by_rate.get(rate, Decimal(0)) + net
        priced.append({**line, "net": text(net)})
    taxes = [
        {
            "rate": text(rate.normalize() if rate == rate.to_integral() else rate),
            "base": text(base),
            "tax": text(round_money(base * rate / HUNDRED, currency)),
        }
        for rate, base in sorted(by_rate.items())
    ]
    subtotal = sum((Decimal(line["net"]) for line in priced), Decimal(0))
    tax_total = sum((Decimal(t["tax"]) for t in taxes), Decimal(0))
    return {
        "lines": priced,
        "subtotal": text(round_money(subtotal, currency)),
        "taxes": taxes,
        "tax_total": text(round_money(tax_total, currency)),
        "total": text(round_money(subtotal + tax_total, currency)),
    }

"""Priced documents (quotes, orders): their lines and totals as stored, in exact decimal text."""

from __future__ import annotations

from typing import Any

from chalicelib.core import money


def priced(lines: list[Any], currency: str) -> dict[str, Any]:
    """Stored fields of priced lines: each line's figures as text, then the totals (money.totals)."""
    as_text = [
        {
            "product_code": line.product_code,
            "description": line.description,
            "quantity": money.text(line.quantity),
            "unit_price": money.text(line.unit_price),
            "discount_percent": money.text(line.discount_percent),
            "tax_rate": money.text(line.tax_rate),
        }
        for line in lines
    ]
    return {"currency": currency, **money.totals(as_text, currency)}


def repriced(changes: dict[str, Any], before: dict[str, Any], lines: list[Any] | None) -> dict[str, Any]:
    """A PATCH's changes with the lines and totals recomputed when lines or currency change."""
    if lines is None and "currency" not in changes:
        return changes
    currency = changes.get("currency") or before["currency"]
    if lines is None:  # a new currency: the stored lines priced again in it
        stored = before["lines"]
        return {
            **changes,
            "currency": currency,
            **money.totals([{k: v for k, v in line.items() if k != "net"} for line in stored], currency),
        }
    return {**changes, **priced(lines, currency)}

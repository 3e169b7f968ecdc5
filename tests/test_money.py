"""Quote and order totals, exact to the minor unit, on a table of cases."""

from __future__ import annotations

import pytest

from chalicelib.core.money import totals


def line(quantity, price, discount="0", tax="0"):
    return {"quantity": quantity, "unit_price": price, "discount_percent": discount, "tax_rate": tax}


@pytest.mark.parametrize(
    ("lines", "currency", "subtotal", "taxes", "total"),
    [
        # plain: 3 × 19.99 = 59.97, 13 % VAT = 7.7961 → 7.80
        ([line("3", "19.99", tax="13")], "CNY", "59.97", [("13", "59.97", "7.80")], "67.77"),
        # discount: 3 × 19.99 × 0.9 = 53.973 → 53.97
        ([line("3", "19.99", "10", "13")], "CNY", "53.97", [("13", "53.97", "7.02")], "60.99"),
        # a half cent rounds up: 0.125 → 0.13, 1 × 0.005 → 0.01
        ([line("1", "0.125"), line("1", "0.005")], "EUR", "0.14", [("0", "0.14", "0.00")], "0.14"),
        # tax half rounds up once per rate: 0.50 at 1 % = 0.005 → 0.01
        ([line("1", "0.50", tax="1")], "EUR", "0.50", [("1", "0.50", "0.01")], "0.51"),
        # per rate, not per line: 3 × (0.10 at 5 %) taxes 0.015 → 0.02, where per line it would be 0.03
        ([line("1", "0.10", tax="5")] * 3, "EUR", "0.30", [("5", "0.30", "0.02")], "0.32"),
        # several rates, sorted by rate
        (
            [line("2", "100", tax="13"), line("1", "50", tax="6"), line("1", "10")],
            "CNY",
            "260.00",
            [("0", "10.00", "0.00"), ("6", "50.00", "3.00"), ("13", "200.00", "26.00")],
            "289.00",
        ),
        # fractional quantities and rates: 1.5 kg × 12.345 = 18.5175 → 18.52; 8.5 % → 1.5742 → 1.57
        ([line("1.5", "12.345", tax="8.5")], "USD", "18.52", [("8.5", "18.52", "1.57")], "20.09"),
        # a 100 % discount is free, tax and all
        ([line("4", "25", "100", "20")], "GBP", "0.00", [("20", "0.00", "0.00")], "0.00"),
        # currencies without cents: yen round to the unit, 2 × 1,234.5 → 2,469; 10 % → 246.9 → 247
        ([line("2", "1234.5", tax="10")], "JPY", "2469", [("10", "2469", "247")], "2716"),
        # three decimals: dinar
        ([line("3", "0.3335")], "KWD", "1.001", [("0", "1.001", "0.000")], "1.001"),
        # large amounts keep every digit: no float
        (
            [line("1000000", "99999.99", tax="13")],
            "CNY",
            "99999990000.00",
            [("13", "99999990000.00", "12999998700.00")],
            "112999988700.00",
        ),
    ],
)
def test_totals(lines, currency, subtotal, taxes, total):
    result = totals(lines, currency)
    assert result["subtotal"] == subtotal
    assert [(t["rate"], t["base"], t["tax"]) for t in result["taxes"]] == taxes
    assert result["total"] == total

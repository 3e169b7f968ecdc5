"""Invoices, credit notes, payments; aging buckets and balances exact to the cent."""

from __future__ import annotations

from tests.conftest import a_customer, a_user


def an_invoice(api, tenant, customer_id, price, issued, terms=30, currency="CNY", quantity="1", tax_rate="0"):
    line = {"description": "goods", "quantity": quantity, "unit_price": price, "tax_rate": tax_rate}
    body = {"customer_id": customer_id, "currency": currency, "lines": [line], "payment_terms_days": terms}
    draft = api.post("/erp/invoices", tenant.token, body)
    assert draft.status == 201, draft.body
    issued_reply = api.post(f"/erp/invoices/{draft.json['id']}/issue", tenant.token, {"issue_date": issued})
    assert issued_reply.status == 200, issued_reply.body
    return issued_reply.json


def pay(api, tenant, customer_id, amount, allocations=(), currency="CNY", received_on="2026-06-20"):
    body = {
        "customer_id": customer_id,
        "currency": currency,
        "amount": amount,
        "received_on": received_on,
        "allocations": [{"invoice_id": i, "amount": a} for i, a in allocations],
    }
    reply = api.post("/erp/payments", tenant.token, body)
    assert reply.status == 201, reply.body
    return reply.json


def test_aging_buckets_and_balances_on_a_table_of_cases(api, tenant):
    a, b = a_customer(api, tenant)["id"], a_customer(api, tenant)["id"]
    # as of 2026-06-30; days overdue in brackets
    current = an_invoice(api, tenant, a, "100", "2026-06-15")  # due 07-15 (-15): current
    part_paid = an_invoice(api, tenant, a, "200", "2026-05-01")  # due 05-31 (30): 1-30
    credited = an_invoice(api, tenant, a, "300", "2026-04-01")  # due 05-01 (60): 31-60
    settled = an_invoice(
        api, tenant, a, "100", "2026-03-01", tax_rate="13"
    )  # 113.00, due 03-31 (91), settled below
    ninety = an_invoice(api, tenant, a, "400", "2026-03-02")  # due 04-01 (90): 61-90
    old = an_invoice(api, tenant, a, "10", "2026-02-28")  # due 03-30 (92): over 90
    euro = an_invoice(
        api, tenant, b, "16.675", "2026-06-29", terms=0, currency="EUR", quantity="3"
    )  # 50.025 -> 50.03, (1)
    assert (settled["total"], euro["total"]) == ("113.00", "50.03")

    pay(api, tenant, a, "50", [(part_paid["id"], "50")])
    note = api.post(
        f"/erp/invoices/{credited['id']}/credit-notes", tenant.token, {"amount": "100", "reason": "damaged"}
    )
    assert (
        note.status == 201
        and note.json["invoice"]["balance"] == "200.00"
        and note.json["invoice"]["status"] == "partially_paid"
    )
    api.post(
        f"/erp/invoices/{settled['id']}/credit-notes", tenant.token, {"amount": "100", "reason": "goodwill"}
    )
    on_account = pay(api, tenant, a, "38", [(settled["id"], "13")])  # 25 stays on account
    assert on_account["unallocated"] == "25.00"
    assert api.get(f"/erp/invoices/{settled['id']}", tenant.token).json["status"] == "paid"

    aging = api.get("/erp/receivables/aging?as_of=2026-06-30", tenant.token).json
    rows = {(r["customer_id"], r["currency"]): r for r in aging["rows"]}
    figures = (
        "current",
        "days_1_30",
        "days_31_60",
        "days_61_90",
        "over_90",
        "open_total",
        "unapplied",
        "balance",
    )
    assert tuple(rows[(a, "CNY")][f] for f in figures) == (
        "100.00",
        "150.00",
        "200.00",
        "400.00",
        "10.00",
        "860.00",
        "25.00",
        "835.00",
    )
    assert tuple(rows[(b, "EUR")][f] for f in figures) == (
        "0.00",
        "50.03",
        "0.00",
        "0.00",
        "0.00",
        "50.03",
        "0.00",
        "50.03",
    )
    assert {t["currency"]: t["balance"] for t in aging["totals"]} == {"CNY": "835.00", "EUR": "50.03"}

    # A month earlier: today's open balances as they stood then (the euro invoice, due 06-29, was not
    # yet due; what is on account today is on account); everything a month younger.
    earlier = api.get("/erp/receivables/aging?as_of=2026-05-31", tenant.token).json
    early_b = next(r for r in earlier["rows"] if r["customer_id"] == b)
    assert (early_b["current"], early_b["days_1_30"]) == ("50.03", "0.00")
    early_a = next(r for r in earlier["rows"] if r["customer_id"] == a)
    assert (early_a["current"], early_a["days_1_30"], early_a["days_31_60"]) == ("250.00", "200.00", "400.00")
    assert (early_a["days_61_90"], early_a["over_90"], early_a["unapplied"]) == ("10.00", "0.00", "25.00")
    one = api.get(f"/erp/receivables/aging?as_of=2026-06-30&customer_id={b}", tenant.token).json
    assert [r["customer_id"] for r in one["rows"]] == [b] and one["totals"][0]["balance"] == "50.03"

    balance = api.get(f"/erp/receivables/customers/{a}", tenant.token).json
    assert {i["id"] for i in balance["open_invoices"]} == {
        current["id"],
        part_paid["id"],
        credited["id"],
        ninety["id"],
        old["id"],
    }
    assert balance["balances"][0]["balance"] == "835.00"


def test_refusals_change_nothing(api, tenant):
    a = a_customer(api, tenant)["id"]
    invoice = an_invoice(api, tenant, a, "100", "2026-06-01")
    path = f"/erp/invoices/{invoice['id']}"
    allocate = [{"invoice_id": invoice["id"], "amount": "150"}]
    too_much = api.post(
        "/erp/payments", tenant.token, {"customer_id": a, "amount": "150", "allocations": allocate}
    )
    assert too_much.status == 422 and too_much.json["errors"][0]["loc"] == [
        "body",
        "allocations",
        "0",
        "amount",
    ]
    over = api.post(
        "/erp/payments",
        tenant.token,
        {"customer_id": a, "amount": "10", "allocations": [{"invoice_id": invoice["id"], "amount": "20"}]},
    )
    assert over.status == 422 and over.json["errors"][0]["loc"] == ["body", "allocations"]
    other = a_customer(api, tenant)["id"]
    allocate = [{"invoice_id": invoice["id"], "amount": "10"}]
    wrong_customer = api.post(
        "/erp/payments", tenant.token, {"customer_id": other, "amount": "10", "allocations": allocate}
    )
    assert wrong_customer.status == 422
    big_credit = api.post(f"{path}/credit-notes", tenant.token, {"amount": "100.01", "reason": "x"})
    assert big_credit.status == 422 and big_credit.json["errors"][0]["loc"] == ["body", "amount"]
    assert api.get(path, tenant.token).json["balance"] == "100.00"
    assert api.get(f"/erp/payments?customer_id={a}", tenant.token).json["items"] == []

    assert api.patch(path, tenant.token, {"notes": "x"}).status == 409  # issued: changes only by credit note
    pay(api, tenant, a, "40", [(invoice["id"], "40")])
    refused = api.post(f"{path}/void", tenant.token)  # paid in part
    # The problem's status is the HTTP status; the record's own status travels as "state".
    assert (refused.status, refused.json["status"], refused.json["state"]) == (409, 409, "partially_paid")
    draft = api.post(
        "/erp/invoices", tenant.token, {"customer_id": a, "lines": [{"quantity": "1", "unit_price": "5"}]}
    ).json
    assert api.post(f"/erp/invoices/{draft['id']}/void", tenant.token).json["status"] == "void"
    assert api.post(f"/erp/invoices/{draft['id']}/issue", tenant.token, {}).status == 409


def test_finance_works_receivables_and_sales_cannot(api, tenant):
    a = a_customer(api, tenant)["id"]
    _, finance = a_user(api, tenant, ["finance"])
    _, sales = a_user(api, tenant, ["sales"])
    body = {"customer_id": a, "lines": [{"quantity": "1", "unit_price": "5"}]}
    assert api.post("/erp/invoices", finance, body).status == 201
    assert api.post("/erp/invoices", sales, body).json["permission"] == "erp.invoices:create"
    assert api.get("/erp/receivables/aging", sales).json["permission"] == "erp.receivables:read"
    assert api.get("/erp/receivables/aging", finance).status == 200


def test_money_finer_than_the_currencys_unit_is_refused_and_changes_nothing(api, tenant):
    """Issue 10, item 11: 9.995 CNY, 0.4 JPY, a credit of 0.0001 are 422s naming the field, so
    what is stored and what is owed never disagree by a rounded-away part."""
    customer = a_customer(api, tenant)["id"]
    cny = an_invoice(api, tenant, customer, "10", "2026-06-01")
    yen = an_invoice(api, tenant, customer, "1", "2026-06-01", currency="JPY")
    attempts = [  # currency, amount, the invoice and what is allocated to it, the field named
        ("CNY", "9.995", cny, "9.995", ["body", "amount"]),
        ("CNY", "10.00", cny, "9.995", ["body", "allocations", "0", "amount"]),
        ("JPY", "0.4", yen, "0.4", ["body", "amount"]),
    ]
    for currency, paid, invoice, allocated, loc in attempts:
        body = {
            "currency": currency,
            "amount": paid,
            "allocations": [{"invoice_id": invoice["id"], "amount": allocated}],
        }
        refused = api.post("/erp/payments", tenant.token, {"customer_id": customer, **body})
        assert refused.status == 422, refused.body
        assert [str(part) for part in refused.json["errors"][0]["loc"]] == loc
    tiny = api.post(
        f"/erp/invoices/{cny['id']}/credit-notes", tenant.token, {"amount": "0.0001", "reason": "rounding"}
    )
    assert tiny.status == 422 and tiny.json["errors"][0]["loc"] == ["body", "amount"], tiny.body
    for invoice in (cny, yen):
        seen = api.get(f"/erp/invoices/{invoice['id']}", tenant.token).json
        expected = {
            "paid": invoice["paid"],
            "credited": invoice["credited"],
            "balance": invoice["total"],
            "status": "issued",
        }
        assert {k: seen[k] for k in expected} == expected
    assert api.get(f"/erp/payments?customer_id={customer}", tenant.token).json["items"] == []

    # Exact amounts still pay to the last unit: 9.99 + 0.01 settles 10.00; 1 yen settles 1.
    pay(api, tenant, customer, "9.99", [(cny["id"], "9.99")])
    pay(api, tenant, customer, "0.01", [(cny["id"], "0.01")])
    pay(api, tenant, customer, "1", [(yen["id"], "1")], currency="JPY")
    for invoice in (cny, yen):
        assert api.get(f"/erp/invoices/{invoice['id']}", tenant.token).json["status"] == "paid"


def test_a_deals_value_is_exact_to_its_currency(api, tenant):
    customer = a_customer(api, tenant)["id"]
    deal = {"customer_id": customer, "name": "Yen deal", "amount": "1000.5", "currency": "JPY"}
    refused = api.post("/crm/opportunities", tenant.token, deal)
    assert refused.status == 422 and refused.json["errors"][0]["loc"] == ["body", "amount"], refused.body
    made = api.post("/crm/opportunities", tenant.token, {**deal, "amount": "1000.50", "currency": "CNY"})
    assert made.status == 201 and made.json["amount"] == "1000.50"
    moved = api.patch(f"/crm/opportunities/{made.json['id']}", tenant.token, {"currency": "JPY"})
    assert moved.status == 422 and moved.json["errors"][0]["loc"] == ["body", "currency"], moved.body


def test_a_currency_is_one_of_iso_4217s_in_use(api, tenant):
    """Found in review: a payment in "ZZZ" or "XXX" was taken."""
    customer = a_customer(api, tenant)["id"]
    for code in ("ZZZ", "XXX", "XAU"):
        refused = api.post(
            "/erp/payments", tenant.token, {"customer_id": customer, "currency": code, "amount": "1.00"}
        )
        assert refused.status == 422 and refused.json["errors"][0]["loc"] == ["body", "currency"], (
            refused.body
        )
    assert api.get(f"/erp/payments?customer_id={customer}", tenant.token).json["items"] == []
    taken = api.post(
        "/erp/payments", tenant.token, {"customer_id": customer, "currency": "KWD", "amount": "1.005"}
    )
    assert taken.status == 201 and taken.json["currency"] == "KWD"

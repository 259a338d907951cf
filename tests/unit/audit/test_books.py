"""Reading money out of an entry's bytes (R19, R21, R24, R25): index facts, postings, books and
disclosure totals, as both the service and the offline verifier compute them."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import get_args

import pytest

from services.audit.domain import leaf_bytes, leaf_document
from services.audit.ledger import books
from shared.contracts.billing import LedgerAccount
from shared.contracts.common import ExpenseCategory
from shared.contracts.registry import encode
from tests.unit.audit.money import DAY, School, envelope


def _entry(event) -> books.Entry:
    return books.read_entry(encode(envelope(event)))


def test_the_verifiers_chart_of_accounts_is_the_contracts() -> None:
    assert set(books.ACCOUNTS) == set(get_args(LedgerAccount))
    assert set(books.EXPENSE_ACCOUNTS) == set(get_args(ExpenseCategory))
    assert set(books.EXPENSE_ACCOUNTS.values()) <= set(books.ACCOUNTS)


def test_a_leaf_is_the_event_exactly_as_the_codec_puts_it_on_the_topic() -> None:
    event = envelope(School("bk").payment("stu-1", 77))
    body, document = leaf_document(event)
    assert body == leaf_bytes(event) == encode(event) and books.describe(document) == books.read_entry(body)


def test_an_entry_says_its_school_student_category_amount_and_school_local_month() -> None:
    school = School("bk")
    payment = school.payment("stu-1", 1234, received_at=datetime(2025, 9, 30, 17, 0, tzinfo=UTC))
    e = _entry(payment)
    assert (e.event_type, e.school_id, e.student_id, e.category, e.subcategory, e.amount_fen) == (
        "PaymentReceived", school.school_id, "stu-1", "payment", "wechat_pay", 1234)
    # 17:00 UTC on 30 September is 01:00 on 1 October in the school's time zone.
    assert e.day == date(2025, 10, 1) and e.period == "2025-10"
    assert e.cash_fen == 1234 and e.producer_postings


def test_a_described_entry_and_its_postings_are_the_dataclasses_their_fields_make() -> None:
    e = _entry(School("bk").payment("stu-1", 1234))
    fields = {name: getattr(e, name) for name in books.Entry.__dataclass_fields__}
    assert vars(e) == fields and e == books.Entry(**fields)
    assert e.postings == tuple(books.Posting(**vars(p)) for p in e.postings) and len(e.postings) == 1
    assert set(vars(e.postings[0])) == set(books.Posting.__dataclass_fields__)
    with pytest.raises(AttributeError):
        e.amount_fen = 1  # type: ignore[misc]  # still frozen


def test_an_event_without_postings_gets_the_postings_its_kind_implies() -> None:
    school = School("bk")
    e = _entry(school.expense(700, "extra_hours_operating", postings=[]))
    assert not e.producer_postings
    assert e.postings == (books.Posting("overtime_operating_costs", "bank", 700),)
    assert books.entry_problems(e) == []
    assert _entry(school.settlement("stu-1", 100)).postings == ()


def test_postings_that_move_other_cash_than_the_event_states_are_a_problem() -> None:
    school = School("bk")
    e = _entry(school.refund("stu-1", 500, postings=[{"debit": "refunds_payable", "credit": "bank", "amount_fen": 400}]))
    assert books.entry_problems(e) == ["postings move -400 fen through the bank account but the RefundIssued says -500"]


def test_a_school_balances_when_debits_equal_credits_and_the_bank_holds_the_stated_cash() -> None:
    school = School("bk")
    ledger = books.Books()
    for event in (school.subsidy(10000), school.payment("stu-1", 3000), school.payout(amount=2000),
                  school.expense(1000), school.charge("stu-1"), school.settlement("stu-1", 3000)):
        ledger.add(_entry(event))
    b = ledger.schools[school.school_id]
    assert b.balanced and b.bank_fen == b.cash_fen == 10000
    assert b.balances()["bank"] == 10000 and b.debit_fen == b.credit_fen
    ledger.add(_entry(school.payment("stu-1", 50, postings=[{"debit": "fee_income", "credit": "parent_receivables",
                                                              "amount_fen": 50}])))
    assert ledger.unbalanced() == [school.school_id]


def test_disclosure_totals_count_each_amount_on_the_day_the_money_moved() -> None:
    school = School("bk")
    events = [school.payment("stu-1", 3000), school.subsidy(10000), school.waiver("stu-1", "chg-1", 100),
              school.refund("stu-1", 200), school.payout(amount=2500), school.expense(700, "group_accident_insurance"),
              school.expense(300, "extra_hours_operating"), school.charge("stu-1"),
              school.payment("stu-1", 999, received_at=datetime(2020, 1, 5, tzinfo=UTC))]
    totals = books.disclosure_totals([_entry(e) for e in events], school.school_id, DAY.replace(day=1), DAY)
    assert totals == {"fee_income_fen": 3000, "subsidy_income_fen": 10000, "waived_fen": 100, "refunded_fen": 200,
                      "payouts_fen": 2500, "staff_remuneration_fen": 0, "extra_hours_operating_fen": 300,
                      "group_accident_insurance_fen": 700, "balance_fen": 3000 + 10000 - 200 - 2500 - 700 - 300}


@pytest.mark.parametrize("body, reason", [
    (b"not json", "not a JSON document"),
    (b"[]", "not a JSON object"),
    (json.dumps({"type": "StudentCheckedIn", "payload": {}}).encode(), "is not a fee record"),
    (json.dumps({"type": "FeeCharged", "event_id": "e", "version": 1, "payload": {"school_id": "s",
                 "charged_at": "2025-09-01T00:00:00"}}).encode(), "no UTC offset"),
    (json.dumps({"type": "PaymentReceived", "event_id": "e", "version": 1, "payload": {
        "school_id": "s", "received_at": "2025-09-01", "amount_fen": 5, "postings": [{"debit": "bank"}]}}).encode(),
     "must name a debit and a credit"),
])
def test_bytes_that_are_not_a_readable_fee_record_are_refused_with_the_reason(body: bytes, reason: str) -> None:
    with pytest.raises(books.EntryError, match=reason):
        books.read_entry(body)

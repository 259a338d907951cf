"""Property-based test that a school's books always balance (R19, R24, R25): whatever families pay,
however months settle, whatever the school spends, every move is double entry and each account's
balance is exactly what the records say it should be, to the fen."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from services.billing.domain import (
    Account,
    ApprovedSchedule,
    Move,
    Usage,
    allocate_payment,
    balances,
    disclosure_figures,
    expense_moves,
    is_balanced,
    payout_moves,
    settle,
    spans_for,
    subsidy_moves,
)
from services.billing.domain.books import expense_refusal

MONTHS = ["2025-09", "2025-10", "2025-11"]
SCHEDULE = [ApprovedSchedule("fsc-1", date(2025, 9, 1), 1500, 800), ApprovedSchedule("fsc-2", date(2025, 10, 15), 1200, 600)]


@dataclass
class Family:
    hardship: bool
    extended_care: bool
    credit_fen: int = 0
    prepaid_period: str | None = None
    open: dict[str, int] = field(default_factory=dict)  # statement -> outstanding


@dataclass
class Books:
    lines: list[tuple[str, str, str, int]] = field(default_factory=list)
    paid: int = 0
    subsidies: int = 0
    refunded: int = 0
    spent: int = 0
    charged: int = 0
    waived: int = 0

    def book(self, event_type: str, moves) -> None:
        self.lines += [(event_type, m.debit, m.credit, m.amount_fen) for m in moves]


operations = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(0, 5), st.integers(1, 60_000), st.sampled_from([None, *MONTHS])),
        st.tuples(st.just("settle"), st.integers(0, 2), st.integers(0, (1 << 28) - 1), st.integers(0, (1 << 28) - 1)),
        st.tuples(st.just("subsidy"), st.integers(1, 5_000_000)),
        st.tuples(st.just("expense"), st.sampled_from(["staff_remuneration", "extra_hours_operating",
                                                       "group_accident_insurance"]), st.integers(1, 900_000)),
        st.tuples(st.just("payout"), st.integers(0, 40), st.integers(0, 8000)),
    ),
    max_size=60,
)


@settings(max_examples=200)
@given(families=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=6), ops=operations,
       provided=st.integers(0, (1 << 28) - 1))
def test_the_books_always_balance_and_each_account_holds_what_the_records_say(families, ops, provided) -> None:
    people = [Family(h, e) for h, e in families]
    books = Books()
    settled_month = [0] * len(people)
    for op in ops:
        if op[0] == "pay":
            family = people[op[1] % len(people)]
            allocation = allocate_payment(op[2], sorted(family.open.items()), hardship=family.hardship)
            for sid, fen in allocation.applied:
                family.open[sid] -= fen
            family.credit_fen += allocation.to_credit_fen
            family.prepaid_period = op[3] or family.prepaid_period
            books.book("PaymentReceived", allocation.payment_moves())
            books.book("RefundIssued", allocation.refund_moves())
            books.paid += op[2]
            books.refunded += allocation.to_refund_fen
        elif op[0] == "settle":
            # Each family settles its months in order; a settle op settles the next month of one family.
            i = op[1] % len(people)
            if settled_month[i] == len(MONTHS):
                continue
            period = MONTHS[settled_month[i]]
            settled_month[i] += 1
            family = people[i]
            statement = settle(Account(family.hardship, family.extended_care, family.credit_fen, family.prepaid_period),
                               Usage(op[2], op[3]), provided, spans_for(period, SCHEDULE), period)
            for line in statement.lines:
                books.book("FeeCharged", statement.charge_moves(line))
            books.book("FeeWaived", statement.waiver_moves())
            books.book("FeeSettled", statement.settlement_moves())
            books.book("RefundIssued", statement.refund_moves())
            family.credit_fen = 0
            family.open[f"{period}/{i}"] = statement.outstanding_fen
            books.charged += statement.charged_fen
            books.waived += statement.waived_fen
            books.refunded += statement.refund_due_fen
        elif op[0] == "subsidy":
            books.book("SubsidyGranted", subsidy_moves(op[1]))
            books.subsidies += op[1]
        elif op[0] == "expense":
            assert expense_refusal(op[1]) is None
            books.book("ExpenseRecorded", expense_moves(op[1], op[2]))
            books.spent += op[2]
        else:
            books.book("PayoutIssued", payout_moves(op[1] * op[2]))
            books.spent += op[1] * op[2]

    moves = [Move(d, c, fen) for _, d, c, fen in books.lines]
    held = balances(moves)
    assert is_balanced(moves)
    assert held["parent_receivables"] == sum(sum(f.open.values()) for f in people)
    assert -held["parent_credit"] == sum(f.credit_fen for f in people)
    assert held["refunds_payable"] == 0  # every refund found due was paid out
    assert held["bank"] == books.paid + books.subsidies - books.refunded - books.spent
    assert -held["fee_income"] - held["fee_waivers"] == books.charged
    assert held["fee_waivers"] == books.waived
    figures = disclosure_figures(books.lines)
    assert figures.balance_fen == figures.bank_change_fen == held["bank"]
    assert (figures.fee_income_fen, figures.subsidy_income_fen, figures.refunded_fen) == (
        books.paid, books.subsidies, books.refunded)

"""The periodic income and spending disclosure (公示) of one school, computed from its books (R21).

Figures come from the moves of the period, grouped by the event that made them, on a cash basis:
each amount counts on the school-local day the event says the money moved (received, granted,
issued, spent), the rule the audit service recomputes disclosures with. So the published balance is
exactly the change of the school's bank account over the period and reconciles to the fen."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Figures:
    fee_income_fen: int
    subsidy_income_fen: int
    charged_fen: int
    waived_fen: int
    refunded_fen: int
    payouts_fen: int
    staff_remuneration_fen: int
    extra_hours_operating_fen: int
    group_accident_insurance_fen: int
    bank_change_fen: int

    @property
    def spending_fen(self) -> int:
        return self.payouts_fen + self.staff_remuneration_fen + self.extra_hours_operating_fen + self.group_accident_insurance_fen

    @property
    def balance_fen(self) -> int:
        """Income minus refunds and spending."""
        return self.fee_income_fen + self.subsidy_income_fen - self.refunded_fen - self.spending_fen


def disclosure_figures(lines: Iterable[tuple[str, str, str, int]]) -> Figures:
    """Figures from journal lines (event type, debit account, credit account, amount_fen)."""
    totals: dict[str, int] = {}

    def add(key: str, fen: int) -> None:
        totals[key] = totals.get(key, 0) + fen

    for event_type, debit, credit, fen in lines:
        if debit == "bank":
            add("bank", fen)
        if credit == "bank":
            add("bank", -fen)
        if event_type == "PaymentReceived" and debit == "bank":
            add("fee_income", fen)
        elif event_type == "SubsidyGranted" and debit == "bank":
            add("subsidy", fen)
        elif event_type == "FeeCharged" and credit == "fee_income":
            add("charged", fen)
        elif event_type == "FeeWaived" and debit == "fee_waivers":
            add("waived", fen)
        elif event_type == "RefundIssued" and credit == "bank":
            add("refunded", fen)
        elif event_type == "PayoutIssued" and credit == "bank":
            add("payouts", fen)
        elif event_type == "ExpenseRecorded" and credit == "bank":
            add(f"expense:{debit}", fen)
    return Figures(
        fee_income_fen=totals.get("fee_income", 0),
        subsidy_income_fen=totals.get("subsidy", 0),
        charged_fen=totals.get("charged", 0),
        waived_fen=totals.get("waived", 0),
        refunded_fen=totals.get("refunded", 0),
        payouts_fen=totals.get("payouts", 0),
        staff_remuneration_fen=totals.get("expense:staff_labour_fees", 0),
        extra_hours_operating_fen=totals.get("expense:overtime_operating_costs", 0),
        group_accident_insurance_fen=totals.get("expense:insurance", 0),
        bank_change_fen=totals.get("bank", 0),
    )

"""Billing's persistence: tables and the unit of work; imports the kit, never another service."""
from services.billing.db.tables import (
    AttendanceMonthRow,
    DisclosureRow,
    DistributionPlanRow,
    ExpenseRow,
    FeeAccountRow,
    FeeCapRow,
    FeeScheduleRow,
    HardshipVerificationRow,
    JournalRow,
    PaymentRow,
    PayoutRow,
    ProgrammeRow,
    RefundRow,
    RefusalRow,
    SchoolRow,
    SettlementRunRow,
    StaffMonthRow,
    StatementRow,
    SubsidyRow,
)
from services.billing.db.uow import BillingUoW

__all__ = [
    "AttendanceMonthRow", "BillingUoW", "DisclosureRow", "DistributionPlanRow", "ExpenseRow", "FeeAccountRow",
    "FeeCapRow", "FeeScheduleRow", "HardshipVerificationRow", "JournalRow", "PaymentRow", "PayoutRow",
    "ProgrammeRow", "RefundRow", "RefusalRow", "SchoolRow", "SettlementRunRow", "StaffMonthRow", "StatementRow",
    "SubsidyRow",
]  # fmt: skip

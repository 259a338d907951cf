"""Events the billing service publishes on billing.events; payload shapes only, no rules or I/O."""
from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from shared.contracts.common import ActorRole, ExpenseCategory, FeeCategory, Part, UtcDatetime
from shared.contracts.envelope import Event
from shared.contracts.topics import BILLING_EVENTS

PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"

# The named accounts of one school's books (R16, R19, R24). Every money event carries balanced
# postings between them, so the audit service can check double entry per school (R25).
LedgerAccount = Literal[
    "bank",  # the school's unified financial account that all income goes into (R19)
    "parent_receivables",  # what families owe on their statements (R17)
    "parent_credit",  # prepayments and over-payments held for families until settled (R17)
    "refunds_payable",  # refunds found due and not yet paid out (R17)
    "fee_income",  # staff labour fees charged to families at the approved standard (R16)
    "fee_waivers",  # standard fees waived for verified hardship families (R9)
    "government_subsidy",  # budget money: utilities, materials, hardship cover, staff subsidies (R16)
    "staff_labour_fees",  # labour fees, subsidies and other staff remuneration paid (R19, R20)
    "overtime_operating_costs",  # operating costs caused by the extra hours (R19)
    "insurance",  # the students' group accident insurance (R19, R30)
]


class Posting(Part):
    """One double-entry movement in a school's books: amount_fen is debited to one named account and
    credited to another, so every posting balances on its own (R19, R24, R25)."""

    debit: LedgerAccount = Field(description="Account debited.", examples=["parent_receivables"])
    credit: LedgerAccount = Field(description="Account credited.", examples=["fee_income"])
    amount_fen: int = Field(ge=1, description="Amount moved, in fen.", examples=[30000])

    @model_validator(mode="after")
    def _two_different_accounts(self) -> Posting:
        if self.debit == self.credit:
            raise ValueError(f"a posting moves money between two accounts, not {self.debit} to itself")
        return self


def _postings(*example: tuple[str, str, int]):
    return Field(
        default_factory=list,
        description="Balanced double-entry postings of this event in the school's books (R24, R25); "
        "empty only in events published before postings were carried.",
        examples=[[{"debit": d, "credit": c, "amount_fen": a} for d, c, a in example]],
    )


class FeeItem(Part):
    """One line of a fee standard (R10, R16)."""

    category: FeeCategory = Field(description="What is charged for; nothing else may be (R18).", examples=["session"])
    amount_fen: int = Field(ge=0, description="Standard amount per unit, in fen.", examples=[1500])
    unit: Literal["per_session", "per_month", "per_term"] = Field(
        description="What one amount pays for.", examples=["per_session"]
    )


class FeeScheduleApproved(Event):
    """A school's fee standard, agreed with its parents' committee, was approved by the district
    education authority (R2, R10, R16). Charges may never exceed it (R25)."""

    type_name: ClassVar[str] = "FeeScheduleApproved"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = BILLING_EVENTS
    key_field: ClassVar[str] = "school_id"

    fee_schedule_id: str = Field(description="Fee schedule id.", examples=["fsc-0042-2025a"])
    school_id: str = Field(description="School the schedule applies to.", examples=["sch-0042"])
    district_id: str = Field(description="District that reviewed it (R10).", examples=["dst-07"])
    programme_id: str = Field(description="Programme the schedule applies to.", examples=["prg-0042-2025a"])
    items: list[FeeItem] = Field(
        min_length=1,
        description="Fee standard, by category (R16: parents pay the staff's labour only).",
        examples=[
            [
                {"category": "session", "amount_fen": 1500, "unit": "per_session"},
                {"category": "extended_care", "amount_fen": 800, "unit": "per_session"},
            ]
        ],
    )
    parents_committee_agreed_on: date = Field(
        description="School-local day the parents' committee (家长委员会) agreed it (R10).", examples=["2025-08-15"]
    )
    parents_committee_ref: str = Field(description="Reference of the committee's minutes (R10).", examples=["pc-0042-2025-03"])
    effective_from: date = Field(description="First school-local day it applies.", examples=["2025-09-01"])
    approved_by: str = Field(description="District officer who approved it (R10, R27).", examples=["off-0701"])
    approved_by_role: ActorRole = Field(description="Role of who approved (R27).", examples=["district_officer"])
    approved_at: UtcDatetime = Field(description="When it was approved.", examples=["2025-08-18T06:00:00Z"])
    cap_per_session_fen: int | None = Field(
        default=None, ge=0,
        description="City or district cap per session the items were checked against (R2, R10).", examples=[3000]
    )
    submitted_by: str | None = Field(default=None, description="Who submitted it for review (R10, R27).", examples=["stf-0001"])
    submitted_by_role: ActorRole | None = Field(default=None, description="Role of who submitted it (R27).", examples=["principal"])


class FeeCharged(Event):
    """A student's family was charged for sessions, at the approved standard (R16, R17). Hardship
    students are never charged (R9)."""

    type_name: ClassVar[str] = "FeeCharged"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = BILLING_EVENTS
    key_field: ClassVar[str] = "student_id"

    charge_id: str = Field(description="Charge id.", examples=["chg-0001234"])
    school_id: str = Field(description="School charging.", examples=["sch-0042"])
    programme_id: str = Field(description="Programme charged for.", examples=["prg-0042-2025a"])
    student_id: str = Field(description="Student charged for.", examples=["stu-000123"])
    guardian_id: str = Field(description="Guardian who pays.", examples=["gdn-000456"])
    fee_schedule_id: str = Field(description="Approved fee schedule applied (R10, R25).", examples=["fsc-0042-2025a"])
    category: FeeCategory = Field(description="What is charged for (R18).", examples=["session"])
    unit_price_fen: int = Field(ge=0, description="Price per unit from the fee schedule, in fen.", examples=[1500])
    quantity: int = Field(ge=1, description="Units charged (sessions, months or terms).", examples=[20])
    amount_fen: int = Field(ge=1, description="Amount charged, in fen: unit_price_fen × quantity.", examples=[30000])
    period_start: date = Field(description="First school-local day covered.", examples=["2025-09-01"])
    period_end: date = Field(description="Last school-local day covered.", examples=["2025-09-30"])
    session_dates: list[date] = Field(
        default_factory=list,
        description="Sessions provided that the charge covers (R17); empty for an advance charge settled later.",
        examples=[["2025-09-01", "2025-09-02"]],
    )
    due_at: UtcDatetime = Field(description="When payment is due (R22).", examples=["2025-10-10T16:00:00Z"])
    charged_by: str = Field(description="Who charged (R27); the billing service for a scheduled run.", examples=["billing"])
    charged_by_role: ActorRole = Field(description="Role of who charged (R27).", examples=["platform"])
    charged_at: UtcDatetime = Field(description="When the charge was made.", examples=["2025-10-01T01:00:00Z"])
    settlement_id: str | None = Field(
        default=None, description="Statement (settlement) the charge belongs to, if any (R17).", examples=["stl-0009876"]
    )
    postings: list[Posting] = _postings(("parent_receivables", "fee_income", 30000))


class FeeWaived(Event):
    """An amount owed by a family was waived: hardship (R9) or sessions not provided (R17)."""

    type_name: ClassVar[str] = "FeeWaived"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = BILLING_EVENTS
    key_field: ClassVar[str] = "student_id"

    waiver_id: str = Field(description="Waiver id.", examples=["wvr-000321"])
    school_id: str = Field(description="School waiving.", examples=["sch-0042"])
    programme_id: str = Field(description="Programme concerned.", examples=["prg-0042-2025a"])
    student_id: str = Field(description="Student concerned.", examples=["stu-000123"])
    guardian_id: str = Field(description="Guardian who no longer owes it.", examples=["gdn-000456"])
    charge_id: str | None = Field(default=None, description="Charge reduced, if any.", examples=["chg-0001234"])
    amount_fen: int = Field(ge=1, description="Amount waived, in fen.", examples=[1500])
    reason: Literal["hardship", "session_not_provided", "other"] = Field(
        description="Why it was waived (R9, R17).", examples=["session_not_provided"]
    )
    note: str | None = Field(default=None, description="Explanation for the guardian and auditors.", examples=["9月18日停课"])
    waived_by: str = Field(description="Who waived (R27).", examples=["stf-0002"])
    waived_by_role: ActorRole = Field(description="Role of who waived (R27).", examples=["school_staff"])
    waived_at: UtcDatetime = Field(description="When it was waived.", examples=["2025-09-19T02:00:00Z"])
    settlement_id: str | None = Field(
        default=None, description="Statement (settlement) the waiver belongs to, if any (R17).", examples=["stl-0009876"]
    )
    verification_ref: str | None = Field(
        default=None, description="Reference of the hardship verification: the application it was verified on (R9).",
        examples=["app-000789"],
    )
    verified_by: str | None = Field(
        default=None, description="Who verified the hardship status, if known (R9, R27).", examples=["stf-0002"]
    )
    verified_by_role: ActorRole | None = Field(
        default=None, description="Role of who verified the hardship status (R27).", examples=["school_staff"]
    )
    postings: list[Posting] = _postings(("fee_waivers", "fee_income", 1500))


class SubsidyGranted(Event):
    """Government money was granted to a school's after-school service account: utilities and
    materials from the budget, or cover for hardship students and staff subsidies (R2, R9, R10, R16)."""

    type_name: ClassVar[str] = "SubsidyGranted"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = BILLING_EVENTS
    key_field: ClassVar[str] = "school_id"

    subsidy_id: str = Field(description="Subsidy id.", examples=["sub-0042-202509"])
    school_id: str = Field(description="School receiving it.", examples=["sch-0042"])
    district_id: str = Field(description="District of the school.", examples=["dst-07"])
    amount_fen: int = Field(ge=1, description="Amount granted, in fen.", examples=[1200000])
    purpose: Literal["utilities", "materials", "hardship_cover", "staff_subsidy"] = Field(
        description="What it pays for (R16).", examples=["utilities"]
    )
    period: str = Field(pattern=PERIOD_PATTERN, description="Month it is for, YYYY-MM.", examples=["2025-09"])
    deposited_to_account: str = Field(
        description="School's unified financial account it went into (R19).", examples=["acct-0042-main"]
    )
    granted_by: str = Field(description="Officer who granted it (R27).", examples=["off-0701"])
    granted_by_role: ActorRole = Field(description="Role of who granted it (R27).", examples=["district_officer"])
    granted_at: UtcDatetime = Field(description="When it was granted.", examples=["2025-09-05T02:00:00Z"])
    postings: list[Posting] = _postings(("bank", "government_subsidy", 1200000))


class PaymentReceived(Event):
    """A family's payment was received into the school's unified financial account (R19, R22)."""

    type_name: ClassVar[str] = "PaymentReceived"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = BILLING_EVENTS
    key_field: ClassVar[str] = "student_id"

    payment_id: str = Field(description="Payment id.", examples=["pay-0005678"])
    school_id: str = Field(description="School paid.", examples=["sch-0042"])
    student_id: str = Field(description="Student paid for.", examples=["stu-000123"])
    guardian_id: str = Field(description="Guardian who paid.", examples=["gdn-000456"])
    amount_fen: int = Field(ge=1, description="Amount received, in fen.", examples=[30000])
    charge_ids: list[str] = Field(description="Charges the payment settles.", examples=[["chg-0001234"]])
    method: Literal["wechat_pay", "alipay", "unionpay", "bank_transfer"] = Field(
        description="How it was paid.", examples=["wechat_pay"]
    )
    external_ref: str = Field(description="Payment provider's transaction id.", examples=["4200002025091212345678"])
    deposited_to_account: str = Field(
        description="School's unified financial account it went into (R19, R25).", examples=["acct-0042-main"]
    )
    received_by: str = Field(description="Who recorded it (R27); the billing service for a provider callback.", examples=["billing"])
    received_by_role: ActorRole = Field(description="Role of who recorded it (R27).", examples=["platform"])
    received_at: UtcDatetime = Field(description="When the money arrived.", examples=["2025-10-02T12:10:00Z"])
    programme_id: str | None = Field(default=None, description="Programme paid for, if known.", examples=["prg-0042-2025a"])
    prepaid_period: str | None = Field(
        default=None, pattern=PERIOD_PATTERN,
        description="Month paid for in advance, YYYY-MM, if it is a prepayment settled later on actuals (R17).",
        examples=["2025-09"],
    )
    postings: list[Posting] = _postings(("bank", "parent_receivables", 30000))


class FeeSettled(Event):
    """A student's account for a period was settled on actuals: what was provided and attended,
    charged, waived and paid, and what is refunded or still owed (R17)."""

    type_name: ClassVar[str] = "FeeSettled"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = BILLING_EVENTS
    key_field: ClassVar[str] = "student_id"

    settlement_id: str = Field(description="Settlement id.", examples=["stl-0009876"])
    school_id: str = Field(description="School settling.", examples=["sch-0042"])
    programme_id: str = Field(description="Programme settled.", examples=["prg-0042-2025a"])
    student_id: str = Field(description="Student settled.", examples=["stu-000123"])
    guardian_id: str = Field(description="Guardian who pays.", examples=["gdn-000456"])
    period_start: date = Field(description="First school-local day settled.", examples=["2025-09-01"])
    period_end: date = Field(description="Last school-local day settled.", examples=["2025-09-30"])
    sessions_provided: int = Field(ge=0, description="Sessions the school actually provided (R17).", examples=[20])
    sessions_attended: int = Field(ge=0, description="Sessions the student attended.", examples=[19])
    extended_care_sessions: int = Field(ge=0, description="Sessions with extended care used (R13).", examples=[2])
    charged_fen: int = Field(ge=0, description="Total charged for the period, in fen.", examples=[30000])
    waived_fen: int = Field(ge=0, description="Total waived, in fen.", examples=[1500])
    paid_fen: int = Field(ge=0, description="Total paid, in fen.", examples=[30000])
    refund_due_fen: int = Field(ge=0, description="Overpaid and to be refunded, in fen (R17).", examples=[1500])
    outstanding_fen: int = Field(ge=0, description="Still owed, in fen.", examples=[0])
    settled_by: str = Field(description="Who settled (R27).", examples=["billing"])
    settled_by_role: ActorRole = Field(description="Role of who settled (R27).", examples=["platform"])
    settled_at: UtcDatetime = Field(description="When it was settled.", examples=["2025-10-01T01:00:00Z"])
    period: str | None = Field(default=None, pattern=PERIOD_PATTERN, description="Month settled, YYYY-MM.", examples=["2025-09"])
    hardship: bool | None = Field(
        default=None, description="The student is a verified hardship student, served free (R9).", examples=[False]
    )
    charge_ids: list[str] = Field(default_factory=list, description="Charges made by this statement.", examples=[["chg-0001234"]])
    postings: list[Posting] = _postings(("parent_credit", "parent_receivables", 30000), ("parent_credit", "refunds_payable", 1500))


class RefundIssued(Event):
    """Money was refunded to a family from the school's account (R17, R22)."""

    type_name: ClassVar[str] = "RefundIssued"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = BILLING_EVENTS
    key_field: ClassVar[str] = "student_id"

    refund_id: str = Field(description="Refund id.", examples=["rfd-000456"])
    school_id: str = Field(description="School refunding.", examples=["sch-0042"])
    student_id: str = Field(description="Student concerned.", examples=["stu-000123"])
    guardian_id: str = Field(description="Guardian refunded.", examples=["gdn-000456"])
    amount_fen: int = Field(ge=1, description="Amount refunded, in fen.", examples=[1500])
    payment_id: str = Field(description="Payment refunded against.", examples=["pay-0005678"])
    settlement_id: str | None = Field(default=None, description="Settlement that found it due, if any.", examples=["stl-0009876"])
    reason: Literal["session_not_provided", "withdrawn", "overpaid", "hardship"] = Field(
        description="Why it was refunded (R9, R17, R1).", examples=["session_not_provided"]
    )
    paid_from_account: str = Field(description="School account it was paid from (R19).", examples=["acct-0042-main"])
    external_ref: str | None = Field(
        default=None, description="Payment provider's refund id, once known.", examples=["5030002025100112345678"]
    )
    issued_by: str = Field(description="Who issued it (R27).", examples=["stf-0002"])
    issued_by_role: ActorRole = Field(description="Role of who issued it (R27).", examples=["school_staff"])
    issued_at: UtcDatetime = Field(description="When it was issued.", examples=["2025-10-03T02:00:00Z"])
    postings: list[Posting] = _postings(("refunds_payable", "bank", 1500))


class DistributionPlanRecorded(Event):
    """A school recorded its approved staff labour-fee distribution plan (劳务费分配方案): the rates at
    which labour fees are paid for each session run and each extended-care session supervised (R20).
    Payouts are judged against it (R25), and it is the standard disclosed with the school's spending (R21)."""

    type_name: ClassVar[str] = "DistributionPlanRecorded"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = BILLING_EVENTS
    key_field: ClassVar[str] = "school_id"

    plan_id: str = Field(description="Distribution plan id; payouts name it (R20).", examples=["dpl-0042-2025a"])
    school_id: str = Field(description="School the plan applies to.", examples=["sch-0042"])
    per_session_fen: int = Field(ge=0, description="Labour fee per session run, in fen (R20).", examples=[6000])
    extended_care_per_session_fen: int = Field(
        ge=0, description="Labour fee per extended-care session supervised, in fen (R13, R20).", examples=[3000]
    )
    approval_ref: str = Field(
        description="Reference of the approval of the plan, e.g. the staff meeting's minutes (R20).",
        examples=["jdh-0042-2025-03"],
    )
    approved_on: date = Field(description="School-local day the plan was approved.", examples=["2025-08-30"])
    effective_from: date = Field(description="First school-local day payouts follow it.", examples=["2025-09-01"])
    paid_from_account: str = Field(
        description="School account the labour fees are paid from (R19).", examples=["acct-0042-main"]
    )
    recorded_by: str = Field(description="Who recorded it (R27).", examples=["stf-0001"])
    recorded_by_role: ActorRole = Field(description="Role of who recorded it (R27).", examples=["principal"])
    recorded_at: UtcDatetime = Field(description="When it was recorded.", examples=["2025-08-30T08:00:00Z"])


class DistributionPlanReviewed(Event):
    """The district education authority reviewed a school's labour-fee distribution plan (R10): approved,
    so payouts may follow it (R20), or returned to the school with the reason. Published on the billing
    topic, it is the plan's filing with the city bureau, which lists every plan with its review."""

    type_name: ClassVar[str] = "DistributionPlanReviewed"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = BILLING_EVENTS
    key_field: ClassVar[str] = "school_id"

    plan_id: str = Field(description="The plan reviewed (DistributionPlanRecorded).", examples=["dpl-0042-2025a"])
    school_id: str = Field(description="School whose plan it is.", examples=["sch-0042"])
    district_id: str | None = Field(description="District of the school, which reviewed it (R10); null when the "
                                                "city reviewed a school whose district is not known.",
                                    examples=["dst-07"])
    decision: Literal["approved", "returned"] = Field(description="Approved: payouts follow it. Returned: the school "
                                                                  "must record a corrected plan.", examples=["approved"])
    reason: str | None = Field(description="Why it was returned (required then); a note on approval.",
                               examples=["每次劳务费标准高于区定标准，请调整后重报"])
    reviewed_by: str = Field(description="Who reviewed it (R27).", examples=["dst-07-officer-3"])
    reviewed_by_role: ActorRole = Field(description="Role of who reviewed it (R27).", examples=["district_officer"])
    reviewed_at: UtcDatetime = Field(description="When it was reviewed.", examples=["2025-09-02T02:00:00Z"])


class PayoutIssued(Event):
    """A staff member's labour fee or subsidy was paid under the school's approved distribution plan
    (R19, R20)."""

    type_name: ClassVar[str] = "PayoutIssued"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = BILLING_EVENTS
    key_field: ClassVar[str] = "school_id"

    payout_id: str = Field(description="Payout id.", examples=["pyo-0042-202509-0311"])
    school_id: str = Field(description="School paying.", examples=["sch-0042"])
    staff_id: str = Field(description="Staff member or outside provider paid (R28).", examples=["stf-0311"])
    amount_fen: int = Field(ge=1, description="Amount paid, in fen.", examples=[180000])
    category: Literal["labour_fee", "staff_subsidy"] = Field(description="What is paid (R19).", examples=["labour_fee"])
    distribution_plan_id: str = Field(description="Approved distribution plan (劳务费分配方案) applied (R20).", examples=["dpl-0042-2025a"])
    period: str = Field(pattern=PERIOD_PATTERN, description="Month it pays for, YYYY-MM.", examples=["2025-09"])
    sessions_delivered: int = Field(ge=0, description="Sessions the person delivered in the period (R20).", examples=[18])
    paid_from_account: str = Field(description="School account it was paid from (R19).", examples=["acct-0042-main"])
    issued_by: str = Field(description="Who issued it (R27).", examples=["stf-0002"])
    issued_by_role: ActorRole = Field(description="Role of who issued it (R27).", examples=["school_staff"])
    issued_at: UtcDatetime = Field(description="When it was issued.", examples=["2025-10-10T02:00:00Z"])
    extended_care_sessions: int | None = Field(
        default=None, ge=0, description="Extended-care sessions the person supervised in the period (R13, R20).", examples=[4]
    )
    postings: list[Posting] = _postings(("staff_labour_fees", "bank", 180000))


class ExpenseRecorded(Event):
    """A school spent fee income on one of the permitted categories (R19). Individual staff pay is
    PayoutIssued; staff_remuneration here is e.g. an outside provider's invoice (R18)."""

    type_name: ClassVar[str] = "ExpenseRecorded"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = BILLING_EVENTS
    key_field: ClassVar[str] = "school_id"

    expense_id: str = Field(description="Expense id.", examples=["exp-0042-000077"])
    school_id: str = Field(description="School spending.", examples=["sch-0042"])
    category: ExpenseCategory = Field(description="Permitted spending category (R19).", examples=["group_accident_insurance"])
    amount_fen: int = Field(ge=1, description="Amount spent, in fen.", examples=[450000])
    payee: str = Field(description="Who was paid.", examples=["中国人民财产保险"])
    details: str = Field(description="What it was for.", examples=["2025秋季学生团体意外险"])
    invoice_ref: str | None = Field(default=None, description="Invoice (发票) number, if any.", examples=["33002500001234567"])
    spent_on: date = Field(description="School-local day of the spending.", examples=["2025-09-03"])
    paid_from_account: str = Field(description="School account it was paid from (R19).", examples=["acct-0042-main"])
    recorded_by: str = Field(description="Who recorded it (R27).", examples=["stf-0002"])
    recorded_by_role: ActorRole = Field(description="Role of who recorded it (R27).", examples=["school_staff"])
    recorded_at: UtcDatetime = Field(description="When it was recorded.", examples=["2025-09-03T06:00:00Z"])
    postings: list[Posting] = _postings(("insurance", "bank", 450000))


class DisclosurePublished(Event):
    """A school published its periodic income and spending disclosure (R4, R21, R23), computed from
    the ledger at a known tree size so anyone can check it (R26)."""

    type_name: ClassVar[str] = "DisclosurePublished"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = BILLING_EVENTS
    key_field: ClassVar[str] = "school_id"

    disclosure_id: str = Field(description="Disclosure id.", examples=["dsc-0042-2025q3"])
    school_id: str = Field(description="School disclosing.", examples=["sch-0042"])
    district_id: str = Field(description="District of the school.", examples=["dst-07"])
    period_start: date = Field(description="First school-local day covered.", examples=["2025-07-01"])
    period_end: date = Field(description="Last school-local day covered.", examples=["2025-09-30"])
    students_served: int = Field(ge=0, description="Students served in the period (R4).", examples=[612])
    fee_income_fen: int = Field(ge=0, description="Fees received from families, in fen.", examples=[18360000])
    subsidy_income_fen: int = Field(ge=0, description="Government subsidies received, in fen (R16).", examples=[3600000])
    waived_fen: int = Field(ge=0, description="Fees waived, in fen (R9, R17).", examples=[240000])
    refunded_fen: int = Field(ge=0, description="Refunds paid, in fen (R17).", examples=[90000])
    payouts_fen: int = Field(ge=0, description="Staff labour fees and subsidies paid, in fen (R20).", examples=[15000000])
    staff_remuneration_fen: int = Field(ge=0, description="Other staff remuneration spent, in fen (R19).", examples=[1200000])
    extra_hours_operating_fen: int = Field(ge=0, description="Extra-hours operating costs spent, in fen (R19).", examples=[900000])
    group_accident_insurance_fen: int = Field(
        ge=0, description="Group accident insurance spent, in fen (R19, R30).", examples=[450000]
    )
    balance_fen: int = Field(description="Income minus refunds and spending, in fen; may be negative.", examples=[4320000])
    ledger_tree_size: int | None = Field(
        default=None, ge=0, description="Ledger tree size the figures were computed at (R26).", examples=[1048576]
    )
    url: str = Field(description="Public page where the disclosure can be read (R21).", examples=["https://edu.example.cn/sch-0042/khfw/2025q3"])
    published_by: str = Field(description="Who published it (R27).", examples=["stf-0001"])
    published_by_role: ActorRole = Field(description="Role of who published it (R27).", examples=["principal"])
    published_at: UtcDatetime = Field(description="When it was published.", examples=["2025-10-08T02:00:00Z"])
    charged_fen: int | None = Field(
        default=None, ge=0, description="Fees charged on actuals for the period, in fen (R17).", examples=[18400000]
    )
    outstanding_fen: int | None = Field(
        default=None, ge=0, description="Still owed by families on the period's statements when published, in fen.",
        examples=[40000],
    )


EVENTS: tuple[type[Event], ...] = (
    FeeScheduleApproved,
    FeeCharged,
    FeeWaived,
    SubsidyGranted,
    PaymentReceived,
    FeeSettled,
    RefundIssued,
    PayoutIssued,
    ExpenseRecorded,
    DisclosurePublished,
    DistributionPlanRecorded,
    DistributionPlanReviewed,
)

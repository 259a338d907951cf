"""Billing's commands about what may be charged and paid out: fee caps and fee schedules, which a
school proposes and its district approves (R2, R10, R18), and the staff distribution plan (R20).
Each runs in the caller's unit of work; the caller commits. Who may act for which school is checked
by the HTTP layer before a command runs."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from services.billing.db import BillingUoW, DistributionPlanRow, FeeCapRow, FeeScheduleRow
from services.billing.domain import DomainError, FeeItem, effective_cap, schedule_problems
from services.billing.handlers.common import Actor, command, event_uuid, stable_id
from shared.contracts.billing import DistributionPlanRecorded, DistributionPlanReviewed, FeeScheduleApproved
from shared.contracts.billing import FeeItem as ContractFeeItem

CITY = "city"


def district_scope(district_id: str) -> str:
    return f"district:{district_id}"


# -- fee caps (R2, R10) ---------------------------------------------------------------------------
@command
async def set_fee_cap(uow: BillingUoW, scope: str, cap_per_session_fen: int, actor: Actor, now: datetime) -> FeeCapRow:
    """The city, or one district, caps what a session may cost; schedules above it are not approved."""
    row = await uow.cap_row(scope) or FeeCapRow(scope=scope, set_by=actor.subject, set_by_role=actor.role)
    row.cap_per_session_fen, row.set_by, row.set_by_role, row.set_at = cap_per_session_fen, actor.subject, actor.role, now
    uow.add(row)
    return row


async def caps_for(uow: BillingUoW, district_id: str, default_city_cap_fen: int | None) -> int | None:
    city = await uow.cap(CITY)
    return effective_cap(city if city is not None else default_city_cap_fen, await uow.cap(district_scope(district_id)))


# -- fee schedules (R10, R18) ---------------------------------------------------------------------
@dataclass(frozen=True)
class SubmitFeeSchedule:
    school_id: str
    programme_id: str
    items: tuple[FeeItem, ...]
    parents_committee_agreed_on: date
    parents_committee_ref: str
    effective_from: date
    district_id: str | None = None
    fee_schedule_id: str | None = None


def _items_json(items: tuple[FeeItem, ...]) -> list[dict]:
    return [{"category": i.category, "amount_fen": i.amount_fen, "unit": i.unit} for i in items]


@command
async def submit_fee_schedule(uow: BillingUoW, cmd: SubmitFeeSchedule, actor: Actor, now: datetime,
                              default_city_cap_fen: int | None) -> tuple[FeeScheduleRow, bool]:
    """A school proposes the standard its parents' committee agreed (R10); the district reviews it.
    Returns the schedule and whether it is new (the same proposal again is not a second one)."""
    programme = await uow.programme(cmd.programme_id)
    problems: list[str] = []
    district = cmd.district_id
    if programme is not None:
        if programme.school_id != cmd.school_id:
            problems.append(f"programme {cmd.programme_id} belongs to school {programme.school_id}, not {cmd.school_id}")
        if district and district != programme.district_id:
            problems.append(f"programme {cmd.programme_id} is in district {programme.district_id}, not {district}")
        district = programme.district_id
    known = await uow.district_of(cmd.school_id)
    if programme is None and district and known and district != known:
        # The reviewer and the cap are the school's district's (R10): a body naming another is refused,
        # never a way to choose who approves (issue 15, mass assignment).
        problems.append(f"school {cmd.school_id} is in district {known}, not {district}")
    district = district or known
    if not district:
        problems.append(f"district of school {cmd.school_id} is unknown: give district_id, the district that reviews it (R10)")
    if not cmd.parents_committee_ref.strip():
        problems.append("parents_committee_ref: the parents' committee minutes must be cited (R10)")
    cap = await caps_for(uow, district, default_city_cap_fen) if district else None
    disclosed = _disclosed(programme)
    problems += schedule_problems(list(cmd.items), cap_fen=cap, disclosed_fen=disclosed)
    if problems:
        raise DomainError(problems)
    fee_schedule_id = cmd.fee_schedule_id or stable_id("fsc", cmd.school_id, cmd.programme_id, cmd.effective_from)
    existing = await uow.schedule(fee_schedule_id)
    if existing is not None:
        same = (existing.school_id, existing.programme_id, existing.items, existing.effective_from,
                existing.parents_committee_ref) == (cmd.school_id, cmd.programme_id, _items_json(cmd.items),
                                                     cmd.effective_from, cmd.parents_committee_ref)
        if not same:
            raise DomainError(f"fee schedule {fee_schedule_id} was already submitted with other content", status=409)
        return existing, False
    row = FeeScheduleRow(
        fee_schedule_id=fee_schedule_id, school_id=cmd.school_id, district_id=district, programme_id=cmd.programme_id,
        items=_items_json(cmd.items), parents_committee_agreed_on=cmd.parents_committee_agreed_on,
        parents_committee_ref=cmd.parents_committee_ref, effective_from=cmd.effective_from, status="submitted",
        submitted_by=actor.subject, submitted_by_role=actor.role, submitted_at=now,
    )
    uow.add(row)
    await uow.remember_school(cmd.school_id, district)
    return row, True


def _disclosed(programme) -> dict[str, int] | None:
    if programme is None:
        return None
    return {"session": programme.fee_per_session_fen, "extended_care": programme.extended_care_fee_per_session_fen}


@command
async def approve_fee_schedule(uow: BillingUoW, fee_schedule_id: str, actor: Actor, now: datetime,
                               default_city_cap_fen: int | None) -> tuple[FeeScheduleRow, bool]:
    """The district approves: checked once more against the cap and the disclosed standard, then
    published (R10, R21). Approving twice publishes once."""
    row = await uow.schedule(fee_schedule_id, lock=True)
    if row is None:
        raise DomainError(f"no fee schedule {fee_schedule_id}", status=404)
    if row.status == "approved":
        return row, False
    if row.status == "rejected":
        raise DomainError(f"fee schedule {fee_schedule_id} was rejected: {row.review_reason}", status=409)
    items = [FeeItem(i["category"], i["amount_fen"], i["unit"]) for i in row.items]
    cap = await caps_for(uow, row.district_id, default_city_cap_fen)
    problems = schedule_problems(items, cap_fen=cap, disclosed_fen=_disclosed(await uow.programme(row.programme_id)))
    if problems:
        raise DomainError(problems)
    row.status, row.reviewed_by, row.reviewed_by_role, row.reviewed_at = "approved", actor.subject, actor.role, now
    row.cap_per_session_fen = cap
    uow.add(row)
    uow.publish(FeeScheduleApproved(
        fee_schedule_id=row.fee_schedule_id, school_id=row.school_id, district_id=row.district_id,
        programme_id=row.programme_id, items=[ContractFeeItem(**i) for i in row.items],
        parents_committee_agreed_on=row.parents_committee_agreed_on, parents_committee_ref=row.parents_committee_ref,
        effective_from=row.effective_from, approved_by=actor.subject, approved_by_role=actor.role, approved_at=now,
        cap_per_session_fen=cap, submitted_by=row.submitted_by, submitted_by_role=row.submitted_by_role,
    ), event_id=event_uuid("FeeScheduleApproved", row.fee_schedule_id), correlation_id=row.fee_schedule_id)
    return row, True


@command
async def reject_fee_schedule(uow: BillingUoW, fee_schedule_id: str, reason: str, actor: Actor,
                              now: datetime) -> FeeScheduleRow:
    row = await uow.schedule(fee_schedule_id, lock=True)
    if row is None:
        raise DomainError(f"no fee schedule {fee_schedule_id}", status=404)
    if row.status == "approved":
        raise DomainError(f"fee schedule {fee_schedule_id} is already approved and published", status=409)
    row.status, row.review_reason = "rejected", reason
    row.reviewed_by, row.reviewed_by_role, row.reviewed_at = actor.subject, actor.role, now
    uow.add(row)
    return row


# -- distribution plans (R20) ---------------------------------------------------------------------
@dataclass(frozen=True)
class RecordDistributionPlan:
    school_id: str
    per_session_fen: int
    extended_care_per_session_fen: int
    approval_ref: str
    approved_on: date
    effective_from: date
    paid_from_account: str
    plan_id: str | None = None


@command
async def record_distribution_plan(uow: BillingUoW, cmd: RecordDistributionPlan, actor: Actor,
                                   now: datetime) -> tuple[DistributionPlanRow, bool]:
    """A school records its labour-fee distribution plan (R20), as its staff meeting approved it, and publishes
    it, so that the audit service can judge every payout against the plan it names (R25). The plan is
    proposed until the school's district reviews it (R10, review_distribution_plan). Recording the same plan
    again changes nothing and publishes nothing; other rates under the same id are refused."""
    plan_id = cmd.plan_id or stable_id("dpl", cmd.school_id, cmd.effective_from)
    existing = await uow.plan_row(plan_id)
    if existing is not None:
        same = (existing.school_id, existing.per_session_fen, existing.extended_care_per_session_fen,
                existing.effective_from) == (cmd.school_id, cmd.per_session_fen, cmd.extended_care_per_session_fen,
                                             cmd.effective_from)
        if not same:
            raise DomainError(f"distribution plan {plan_id} was already recorded with other rates", status=409)
        return existing, False
    row = DistributionPlanRow(plan_id=plan_id, school_id=cmd.school_id, per_session_fen=cmd.per_session_fen,
                              extended_care_per_session_fen=cmd.extended_care_per_session_fen,
                              approval_ref=cmd.approval_ref, approved_on=cmd.approved_on,
                              effective_from=cmd.effective_from, paid_from_account=cmd.paid_from_account,
                              recorded_by=actor.subject, recorded_by_role=actor.role, recorded_at=now,
                              review_status="proposed", district_id=await uow.district_of(cmd.school_id))
    uow.add(row)
    uow.publish(DistributionPlanRecorded(
        plan_id=plan_id, school_id=cmd.school_id, per_session_fen=cmd.per_session_fen,
        extended_care_per_session_fen=cmd.extended_care_per_session_fen, approval_ref=cmd.approval_ref,
        approved_on=cmd.approved_on, effective_from=cmd.effective_from, paid_from_account=cmd.paid_from_account,
        recorded_by=actor.subject, recorded_by_role=actor.role, recorded_at=now,
    ), event_id=event_uuid("DistributionPlanRecorded", plan_id), correlation_id=plan_id)
    return row, True


@command
async def review_distribution_plan(uow: BillingUoW, plan_id: str, decision: str, reason: str | None, actor: Actor,
                                   now: datetime) -> tuple[DistributionPlanRow, bool]:
    """The district reviews a school's proposed plan (R10): approved, payouts follow it from its effective day
    (R20); returned, with the reason, the school records a corrected plan. DistributionPlanReviewed files the
    decision with the city. The same decision again changes nothing and publishes nothing; a different
    decision on a plan already reviewed is refused (a plan in force is replaced by a new plan, not undone)."""
    row = await uow.plan_row(plan_id, lock=True)
    if row is None:
        raise DomainError(f"no distribution plan {plan_id}", status=404)
    if decision == "returned" and not (reason or "").strip():
        raise DomainError("a returned plan needs the reason the school must act on (R10)", status=422)
    if row.review_status == decision:
        return row, False
    if row.review_status != "proposed":
        raise DomainError(f"distribution plan {plan_id} was already {row.review_status} by {row.reviewed_by}; "
                          "the school records a new plan to change it", status=409)
    row.review_status, row.review_reason = decision, reason
    row.district_id = row.district_id or await uow.district_of(row.school_id)
    row.reviewed_by, row.reviewed_by_role, row.reviewed_at = actor.subject, actor.role, now
    uow.add(row)
    uow.publish(DistributionPlanReviewed(
        plan_id=plan_id, school_id=row.school_id, district_id=row.district_id, decision=decision,  # type: ignore[arg-type]
        reason=reason, reviewed_by=actor.subject, reviewed_by_role=actor.role, reviewed_at=now,  # type: ignore[arg-type]
    ), event_id=event_uuid("DistributionPlanReviewed", plan_id), correlation_id=plan_id)
    return row, True

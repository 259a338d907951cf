"""Programme use cases (R4, R7, R8, R10, R30): propose, agree and review fees, publish (disclose)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.enrollment.db import EnrollmentUoW, ProgrammeRow
from services.enrollment.domain import (
    Actor,
    Conflict,
    DomainError,
    NotFound,
    Problem,
    ProgrammeSpec,
    programme_problems,
    publish_problems,
    require_role,
)
from services.enrollment.handlers.common import Clock, school_in_scope, today_local, utcnow, with_position
from shared.contracts.enrollment import ActivityOffer, InsuranceCover, ProgrammePublished, SessionTime


@dataclass(frozen=True)
class SaveProgramme:
    programme_id: str
    spec: ProgrammeSpec
    default_off_work_local: str = "17:30"


def _spec_json(spec: ProgrammeSpec) -> dict:
    return spec.model_dump(mode="json")


async def _off_work(uow: EnrollmentUoW, district_id: str, default: str) -> str:
    district = await uow.district(district_id)
    return (district.off_work_local if district and district.off_work_local else default)


async def save_programme(uow: EnrollmentUoW, actor: Actor, cmd: SaveProgramme, *, clock: Clock = utcnow) -> tuple[ProgrammeRow, bool]:
    """A school proposes (or revises) its programme for a term; every rule is checked now, so the school
    learns every problem before it asks its parents' committee (R3, R7, R8, R28, R30)."""
    require_role(actor, "school", doing="propose a programme")
    spec = cmd.spec
    school = await school_in_scope(uow, actor, spec.school_id, doing="propose a programme")
    existing = await uow.programme(cmd.programme_id, lock=True)
    if existing is not None and existing.school_id != spec.school_id:
        raise Conflict(f"programme {cmd.programme_id} belongs to another school")
    if existing is not None and existing.spec == _spec_json(spec):
        return existing, False
    if existing is not None and existing.status == "published":
        raise Conflict("a published programme cannot change: families applied on what was disclosed (R4)")
    same_term = await uow.programme_for_term(spec.school_id, spec.term)
    if same_term is not None and same_term.programme_id != cmd.programme_id:
        raise Conflict(f"school {spec.school_id} already has programme {same_term.programme_id} for {spec.term}")
    off_work = await _off_work(uow, school.district_id, cmd.default_off_work_local)
    problems = programme_problems(spec, off_work_local=off_work, admitted_staff=await uow.admitted_staff(school.school_id))
    if problems:
        raise DomainError(problems=problems)
    row = existing or ProgrammeRow(programme_id=cmd.programme_id, school_id=spec.school_id,
                                   district_id=school.district_id, term=spec.term, spec={}, capacity=spec.capacity,
                                   off_work_local=off_work, updated_by=actor.subject)
    row.spec = _spec_json(spec)
    row.term = spec.term
    row.capacity = spec.capacity
    row.off_work_local = off_work
    row.updated_by = actor.subject
    row.updated_at = clock()
    uow.add(row)
    await uow.commit()
    return row, existing is None


async def _programme_in_scope(uow: EnrollmentUoW, actor: Actor, programme_id: str, *, doing: str) -> ProgrammeRow:
    row = await uow.programme(programme_id, lock=True)
    if row is None:
        raise NotFound(f"programme {programme_id} does not exist")
    await school_in_scope(uow, actor, row.school_id, doing=doing)
    return row


async def record_fee_agreement(uow: EnrollmentUoW, actor: Actor, programme_id: str, *, agreed_on: date,
                               reference: str, clock: Clock = utcnow) -> ProgrammeRow:
    """R10: the school records that its parents' committee (家长委员会) agreed the fee standard as proposed."""
    require_role(actor, "school", doing="record the parents' committee agreement")
    row = await _programme_in_scope(uow, actor, programme_id, doing="record a fee agreement")
    fees = list(ProgrammeSpec.model_validate(row.spec).fees)
    if row.agreed_fees == fees and row.agreed_on == agreed_on and row.agreement_ref == reference:
        return row
    if row.status == "published":
        raise Conflict("the programme is published; its fee standard can no longer change (R4, R10)")
    if agreed_on > today_local(clock()):
        raise DomainError(problems=[Problem(("body", "agreed_on"), "an agreement cannot be dated in the future", "R10")])
    row.agreed_fees, row.agreed_on, row.agreement_ref, row.agreement_recorded_by = fees, agreed_on, reference, actor.subject
    uow.add(row)
    await uow.commit()
    return row


async def review_fees(uow: EnrollmentUoW, actor: Actor, programme_id: str, *, decision: str, note: str | None,
                      clock: Clock = utcnow) -> ProgrammeRow:
    """R10: the district education authority reviews the fee standard its parents' committee agreed."""
    require_role(actor, "district", doing="review a fee standard")
    row = await _programme_in_scope(uow, actor, programme_id, doing="review a fee standard")
    fees = list(ProgrammeSpec.model_validate(row.spec).fees)
    if row.status == "published":
        if row.review_decision == decision and row.reviewed_fees == (fees if decision == "approved" else None):
            return row
        raise Conflict("the programme is published; its fee review is closed (R10)")
    if row.agreed_fees != fees:
        raise DomainError(problems=[Problem(("body", "decision"), "the parents' committee has not agreed these fees "
                                            "yet; the district reviews what the committee agreed (R10)", "R10")])
    reviewed = fees if decision == "approved" else None
    if row.review_decision == decision and row.reviewed_fees == reviewed and row.reviewed_by == actor.subject:
        return row
    actor = await with_position(uow, actor)
    row.reviewed_fees, row.review_decision, row.review_note = reviewed, decision, note
    row.reviewed_by, row.reviewed_by_role, row.reviewed_at = actor.subject, actor.event_role, clock()
    uow.add(row)
    await uow.commit()
    return row


def disclosure(row: ProgrammeRow, school_name: str | None = None) -> ProgrammePublished:
    """What the school discloses (R4): the published programme, exactly as announced, with the school's name
    when the caller has it (for families' messages, issue 16)."""
    spec = ProgrammeSpec.model_validate(row.spec)
    return ProgrammePublished(
        programme_id=row.programme_id, school_id=row.school_id, district_id=row.district_id, school_name=school_name,
        term=spec.term,
        name=spec.name,
        sessions=[SessionTime(weekdays=s.weekdays, starts_at_local=s.starts_at_local, ends_at_local=s.ends_at_local)
                  for s in spec.sessions],
        normal_off_work_local=row.off_work_local, extended_care_until_local=spec.extended_care_until_local,
        activities=[ActivityOffer(activity_id=a.activity_id, name=a.name, tier=a.tier, level=a.level,
                                  staff_ids=a.staff_ids, capacity=a.capacity) for a in spec.activities],
        capacity=spec.capacity, fee_per_session_fen=spec.fee_per_session_fen,
        extended_care_fee_per_session_fen=spec.extended_care_fee_per_session_fen,
        safety_measures=spec.safety_measures,
        insurance=InsuranceCover(**spec.insurance.model_dump()),
        applications_open_at=row.applications_open_at, applications_close_at=row.applications_close_at,
        disclosure_url=spec.disclosure_url, published_by=row.published_by, published_by_role=row.published_by_role,
        published_at=row.published_at, served=spec.served, delivery=spec.delivery,
        parents_committee_agreed_on=row.agreed_on if row.agreed_fees is not None else None,
        fee_reviewed_by=row.reviewed_by if row.reviewed_fees is not None else None,
        fee_reviewed_by_role=row.reviewed_by_role if row.reviewed_fees is not None else None,
    )


async def publish_programme(uow: EnrollmentUoW, actor: Actor, programme_id: str, *,
                            correlation_id: str | None = None, clock: Clock = utcnow) -> tuple[ProgrammeRow, bool]:
    """R4, R7: the school discloses its programme; applications may open from now on, not before.
    Publishing again changes nothing and announces nothing."""
    require_role(actor, "school", doing="publish a programme")
    row = await _programme_in_scope(uow, actor, programme_id, doing="publish a programme")
    if row.status == "published":
        return row, False
    spec = ProgrammeSpec.model_validate(row.spec)
    now = clock()
    agreed = tuple(row.agreed_fees) if row.agreed_fees is not None else None
    reviewed = tuple(row.reviewed_fees) if row.reviewed_fees is not None else None
    # Staff may have been removed (R28) since the draft was checked: check everything again.
    problems = programme_problems(spec, off_work_local=row.off_work_local,
                                  admitted_staff=await uow.admitted_staff(row.school_id))
    problems += publish_problems(spec, agreed_fees=agreed, reviewed_fees=reviewed, today_local=today_local(now), now=now)
    if problems:
        raise DomainError(problems=problems)
    actor = await with_position(uow, actor)
    row.status = "published"
    row.published_by, row.published_by_role, row.published_at = actor.subject, actor.event_role, now
    row.applications_open_at = max(spec.applications_open_at or now, now)
    row.applications_close_at = spec.applications_close_at
    uow.add(row)
    school = await uow.school(row.school_id)
    uow.publish(disclosure(row, school.name if school else None), correlation_id=correlation_id)
    await uow.commit()
    return row, True

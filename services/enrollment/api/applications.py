"""HTTP routes of the application workflow (R1, R6, R9): apply, decide, report, file, withdraw, read."""
from __future__ import annotations

import json
from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from services.enrollment import handlers as h
from services.enrollment.api.deps import ERRORS, actor, correlation, uow
from services.enrollment.db import ApplicationRow, EnrollmentUoW
from services.enrollment.db.reports import Scope
from services.enrollment.db.reports import applications as list_applications
from services.enrollment.domain import Actor, Forbidden, NotFound, require_own_child, require_school_scope
from services.enrollment.domain.values import Id, Text
from shared.messaging.http import RequestBody
from shared.time import local_day, term_bounds, utc_now

router = APIRouter(prefix="/v1", tags=["applications"], responses=ERRORS)

Status = Literal["submitted", "waitlisted", "approved", "reported", "filed", "rejected", "withdrawn"]


class ApplicationIn(RequestBody):
    """One guardian's application for one child (R1). School staff entering it for a guardian must say
    how the guardian consented; it is then marked as entered on the guardian's behalf."""

    programme_id: Id = Field(examples=["prg-sch-001-2026-spring"])
    student_id: Id = Field(examples=["stu-000001"])
    guardian_id: Id = Field(examples=["gdn-000001"])
    consent: bool = Field(description="R1: the guardian's own, voluntary application.")
    school_id: Id | None = Field(None, description="If given, must be the programme's school.", examples=["sch-001"])
    student_name: Text | None = Field(None, description="Ignored: the school's records name the student.")
    hardship: bool = Field(False, description="The family claims economic hardship; the school verifies it (R9).")
    wants_extended_care: bool = Field(False, description="Extended care past the session end is wanted (R8).")
    activity_ids: list[Id] = Field(default_factory=list, max_length=20, description="Preferred activities (R3).")
    consent_evidence: Text | None = Field(None, description="Staff entries: how the guardian consented (R1).",
                                          examples=["签字申请表 2026-02-21"])


class ApplicationPublic(BaseModel):
    """An application and each step taken on it, with who and when (R6, R27)."""

    model_config = ConfigDict(from_attributes=True)

    application_id: str
    programme_id: str
    school_id: str
    district_id: str | None
    student_id: str
    student_name: str
    guardian_id: str
    status: Status
    on_behalf: bool
    submitted_by: str
    submitted_by_role: str | None
    submitted_at: datetime
    hardship: bool = Field(description="Claimed by the family.")
    hardship_verified: bool = Field(description="Verified by the school: served free (R9).")
    hardship_verified_by: str | None
    wants_extended_care: bool
    extended_care: bool
    activity_ids: list[str]
    decided_by: str | None
    decided_at: datetime | None
    waitlisted_at: datetime | None
    approved_at: datetime | None
    reject_reason_code: str | None
    reject_reason: str | None
    reported_at: datetime | None
    enrollment_id: str | None
    filed_by: str | None
    filed_at: datetime | None
    withdrawn_at: datetime | None
    effective_on: date | None


class ApproveIn(RequestBody):
    hardship_verified: bool = Field(False, description="The school verified the family's hardship (R9).")
    extended_care: bool | None = Field(None, description="Grant extended care; default: as the family asked (R8).")


class RejectIn(RequestBody):
    reason_code: Literal["capacity_full", "not_eligible", "incomplete", "duplicate", "other"]
    reason: Text = Field(description="Told to the guardian (R6).", examples=["学生不在本校就读"])


class WithdrawIn(RequestBody):
    reason: Text | None = Field(None, description="Optional: no reason is needed (R1).")
    effective_on: date | None = Field(None, description="First day not served; default today (school-local).")


def public(row: ApplicationRow) -> ApplicationPublic:
    return ApplicationPublic.model_validate(row)


async def refuse_bulk(request: Request) -> None:
    """R1: a list of applications in one request is bulk enrollment, refused with that reason."""
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        return  # FastAPI reports malformed JSON itself
    h.forbid_bulk(body)


async def _run_once_more_on_race(call):
    """Two identical requests racing: the loser's unique-key violation means the winner committed,
    so running the command again returns the winner's result."""
    try:
        return await call()
    except IntegrityError:
        return await call()


@router.post("/applications", response_model=ApplicationPublic, status_code=201,
             dependencies=[Depends(refuse_bulk)],
             summary="A guardian applies for their own child (R1, R6); retry-safe with Idempotency-Key.")
async def submit_application(
    body: ApplicationIn,
    request: Request,
    response: Response,
    who: Actor = Depends(actor),
    idempotency_key: str | None = Header(None, max_length=200, pattern=r"^[\x21-\x7e]+$",
                                         description="Retries with the same key return the first result."),
    correlation_id: str | None = Depends(correlation),
) -> ApplicationPublic:
    key = idempotency_key or f"{body.guardian_id}:{body.student_id}:{body.programme_id}"
    cmd = h.SubmitApplication(idempotency_key=key, correlation_id=correlation_id,
                              **{**body.model_dump(), "activity_ids": tuple(body.activity_ids)})

    async def call():
        async with uow(request) as u:
            return await h.submit_application(u, who, cmd)

    row, created = await _run_once_more_on_race(call)
    response.status_code = 201 if created else 200
    return public(row)


async def _readable(u: EnrollmentUoW, who: Actor, application_id: str) -> ApplicationRow:
    row = await u.application(application_id)
    if row is None:
        raise NotFound(f"application {application_id} does not exist")
    if who.role == "guardian":
        guardian = await u.guardian(who.subject)
        require_own_child(who, guardian_id=who.subject, student_id=row.student_id,
                          guardian_children=tuple(guardian.student_ids) if guardian else None)
    else:
        require_school_scope(who, row.school_id, row.district_id, doing="read applications")
    return row


@router.get("/applications/{application_id}", response_model=ApplicationPublic,
            summary="One application: guardians see their children's, schools theirs, districts their schools'.")
async def get_application(application_id: Id, request: Request, who: Actor = Depends(actor)) -> ApplicationPublic:
    async with uow(request) as u:
        return public(await _readable(u, who, application_id))


class StudentInsurance(BaseModel):
    """The cover in force for one student's enrollment (R30): the programme's school liability and student
    group accident insurance, against the term it must span."""

    application_id: str
    student_id: str
    programme_id: str
    term: str
    term_starts: date
    term_ends: date
    insurer: str
    liability_policy_no: str
    accident_policy_no: str
    valid_from: date
    valid_until: date
    in_force_today: bool
    covers_the_term: bool = Field(description="False when the cover lapses before the term ends (audit then "
                                              "raises insurance_missing).")


@router.get("/applications/{application_id}/insurance", response_model=StudentInsurance,
            summary="The insurance covering the student of an application (R30), for the guardian and the school.")
async def get_insurance(application_id: Id, request: Request, who: Actor = Depends(actor)) -> StudentInsurance:
    async with uow(request) as u:
        row = await _readable(u, who, application_id)
        programme = await u.programme(row.programme_id)
    if programme is None:
        raise NotFound(f"programme {row.programme_id} does not exist")
    cover = programme.spec["insurance"]
    starts, ends = term_bounds(programme.term)
    valid_from, valid_until = date.fromisoformat(cover["valid_from"]), date.fromisoformat(cover["valid_until"])
    today = local_day(utc_now())
    return StudentInsurance(
        application_id=row.application_id, student_id=row.student_id, programme_id=row.programme_id,
        term=programme.term, term_starts=starts, term_ends=ends, insurer=cover["insurer"],
        liability_policy_no=cover["liability_policy_no"], accident_policy_no=cover["accident_policy_no"],
        valid_from=valid_from, valid_until=valid_until, in_force_today=valid_from <= today <= valid_until,
        covers_the_term=valid_until >= ends)


@router.get("/applications", response_model=list[ApplicationPublic],
            summary="Applications in the caller's scope, oldest first (R27).")
async def get_applications(
    request: Request,
    who: Actor = Depends(actor),
    programme_id: Id | None = None,
    status: Status | None = None,
    school_id: Id | None = Query(None, description="City and districts: narrow to one school."),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> list[ApplicationPublic]:
    scope = Scope(school_id=school_id)
    if who.role == "guardian":
        scope = Scope(guardian_id=who.subject)
    elif who.role == "school":
        if school_id is not None and school_id != who.school_id:
            raise Forbidden(f"school {who.school_id} may not read another school's applications (R27)")
        scope = Scope(school_id=who.school_id or "")
    elif who.role == "district":
        scope = Scope(district_id=who.district_id or "", school_id=school_id)
    elif who.role not in ("city", "auditor"):
        raise Forbidden(f"role {who.role!r} may not read applications (R27)")
    async with uow(request) as u:
        rows = await list_applications(u, scope, programme_id=programme_id, status=status, limit=limit, offset=offset)
        return [public(r) for r in rows]


@router.post("/applications/{application_id}/approve", response_model=ApplicationPublic,
             summary="The school approves (R6); when full, the application joins the waitlist (R7).")
async def approve(application_id: Id, request: Request, body: ApproveIn | None = None, who: Actor = Depends(actor),
                  correlation_id: str | None = Depends(correlation)) -> ApplicationPublic:
    body = body or ApproveIn()
    async with uow(request) as u:
        row, _ = await h.approve_application(u, who, application_id, hardship_verified=body.hardship_verified,
                                             extended_care=body.extended_care, correlation_id=correlation_id)
        return public(row)


@router.post("/applications/{application_id}/reject", response_model=ApplicationPublic,
             summary="The school rejects, with a reason the guardian is told (R6).")
async def reject(application_id: Id, body: RejectIn, request: Request, who: Actor = Depends(actor),
                 correlation_id: str | None = Depends(correlation)) -> ApplicationPublic:
    async with uow(request) as u:
        row, _ = await h.reject_application(u, who, application_id, reason_code=body.reason_code, reason=body.reason,
                                            correlation_id=correlation_id)
        return public(row)


@router.post("/applications/{application_id}/report", response_model=ApplicationPublic,
             summary="The school reports the approved application to its district (R6 上报申请).")
async def report(application_id: Id, request: Request, who: Actor = Depends(actor),
                 correlation_id: str | None = Depends(correlation)) -> ApplicationPublic:
    async with uow(request) as u:
        row, _ = await h.report_application(u, who, application_id, correlation_id=correlation_id)
        return public(row)


@router.post("/applications/{application_id}/file", response_model=ApplicationPublic,
             summary="The district files the reported application: the student is enrolled (R6 属地报备).")
async def file(application_id: Id, request: Request, who: Actor = Depends(actor),
               correlation_id: str | None = Depends(correlation)) -> ApplicationPublic:
    async with uow(request) as u:
        row, _ = await h.file_application(u, who, application_id, correlation_id=correlation_id)
        return public(row)


@router.post("/applications/{application_id}/withdraw", response_model=ApplicationPublic,
             summary="The guardian withdraws, at any step and without a reason (R1).")
async def withdraw(application_id: Id, request: Request, body: WithdrawIn | None = None, who: Actor = Depends(actor),
                   correlation_id: str | None = Depends(correlation)) -> ApplicationPublic:
    body = body or WithdrawIn()
    async with uow(request) as u:
        row, _ = await h.withdraw_application(u, who, application_id, reason=body.reason,
                                              effective_on=body.effective_on, correlation_id=correlation_id)
        return public(row)

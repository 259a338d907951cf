"""Enrollment's HTTP routes: translate requests into commands and results into responses."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Header, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from services.enrollment import handlers as h
from services.enrollment.domain import DomainError

router = APIRouter(prefix="/v1", tags=["enrollment"])


class GuardianIn(BaseModel):
    guardian_id: str = Field(examples=["gdn-000001"])
    school_id: str = Field(examples=["sch-001"])
    student_ids: list[str] = Field(min_length=1, examples=[["stu-000001"]])
    name: str = Field(examples=["王芳"])
    phone: str = Field(description="Mainland mobile number; stored sealed, shown masked.", examples=["13812345678"])
    locale: Literal["zh-CN", "en"] = "zh-CN"
    push_token: str | None = None
    consent: bool = Field(description="Consent to receive messages about the child.")


class GuardianPublic(BaseModel):
    guardian_id: str
    school_id: str
    student_ids: list[str]
    name: str
    phone_masked: str
    locale: str
    consent: bool


class ApplicationIn(BaseModel):
    programme_id: str = Field(examples=["prg-sch-001-2026-autumn"])
    school_id: str = Field(examples=["sch-001"])
    student_id: str = Field(examples=["stu-000001"])
    student_name: str = Field(examples=["李小明"])
    guardian_id: str = Field(examples=["gdn-000001"])
    consent: bool = Field(description="R1: the guardian's own, voluntary application.")
    hardship: bool = False


class ApplicationPublic(BaseModel):
    application_id: str
    programme_id: str
    school_id: str
    student_id: str
    guardian_id: str
    status: str
    submitted_at: datetime


def _uow(request: Request) -> h.EnrollmentUoW:
    return request.app.state.runtime.uow_factory()


async def _run_once_more_on_race(call):  # noqa: ANN001, ANN202
    """Two identical requests racing: the loser's unique-key violation means the winner committed,
    so running the command again returns the winner's result."""
    try:
        return await call()
    except IntegrityError:
        return await call()


@router.post("/guardians", response_model=GuardianPublic, status_code=201,
             summary="Register a guardian and their contact (phone stored sealed).")
async def register_guardian(body: GuardianIn, request: Request, response: Response) -> GuardianPublic:
    sealer = request.app.state.runtime.extras["sealer"]
    cmd = h.RegisterGuardian(**body.model_dump(exclude={"student_ids"}), student_ids=tuple(body.student_ids),
                             actor=body.guardian_id)

    async def call():  # noqa: ANN202
        async with _uow(request) as uow:
            return await h.register_guardian(uow, cmd, sealer)

    try:
        row, created = await _run_once_more_on_race(call)
    except h.Conflict as exc:
        raise HTTPException(409, str(exc)) from exc
    except DomainError as exc:
        raise HTTPException(422, str(exc)) from exc
    response.status_code = 201 if created else 200
    return GuardianPublic(**row.model_dump(include=set(GuardianPublic.model_fields)))


@router.post("/applications", response_model=ApplicationPublic, status_code=201,
             summary="A guardian applies for their own child (R1, R6). Retry-safe with Idempotency-Key.")
async def submit_application(
    body: ApplicationIn,
    request: Request,
    response: Response,
    idempotency_key: str | None = Header(None, description="Retries with the same key return the first result."),
    x_correlation_id: str | None = Header(None),
) -> ApplicationPublic:
    key = idempotency_key or f"{body.guardian_id}:{body.student_id}:{body.programme_id}"
    cmd = h.SubmitApplication(idempotency_key=key, actor=body.guardian_id, correlation_id=x_correlation_id,
                              **body.model_dump())

    async def call():  # noqa: ANN202
        async with _uow(request) as uow:
            return await h.submit_application(uow, cmd)

    try:
        row, created = await _run_once_more_on_race(call)
    except h.Conflict as exc:
        raise HTTPException(409, str(exc)) from exc
    except DomainError as exc:
        raise HTTPException(422, str(exc)) from exc
    response.status_code = 201 if created else 200
    return ApplicationPublic(**row.model_dump(include=set(ApplicationPublic.model_fields)))

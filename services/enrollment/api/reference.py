"""HTTP routes of reference data (R1, R27, R28): guardians, bulk imports, staff admission."""
from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.enrollment import handlers as h
from services.enrollment.api.deps import ERRORS, Message, actor, correlation, uow
from services.enrollment.domain import Actor
from services.enrollment.domain.reference import KINDS, GuardianRecord, Mobile
from services.enrollment.domain.values import Id, Text
from services.enrollment.importer import FormatError, body_rows
from services.enrollment.settings import Context
from shared.messaging.http import RequestBody, problem_body
from shared.messaging.runtime import context_of

router = APIRouter(prefix="/v1", tags=["reference data"], responses=ERRORS)

ERRORS_SHOWN = 1000  # an HTTP reply lists this many refused rows; the command line writes them all


class GuardianPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    guardian_id: str
    school_id: str
    student_ids: list[str]
    name: str
    phone_masked: str = Field(description="The phone itself is stored sealed and never shown.")
    locale: str
    consent: bool


class RowErrorOut(BaseModel):
    line: int = Field(description="CSV: the line in the file (header = 1). JSON: the record's number from 1.")
    record_id: str | None
    reasons: list[str]


class ImportReportOut(BaseModel):
    """What an import did: every row is new, changed, unchanged or refused with its reasons."""

    kind: str
    received: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    events: int = Field(description="GuardianRegistered events queued for new or changed guardians (R22).")
    seconds: float
    errors: list[RowErrorOut] = Field(description=f"Refused rows, the first {ERRORS_SHOWN}.")
    errors_truncated: bool


class AdmissionIn(RequestBody):
    admission: Literal["admitted", "pending", "suspended", "removed"] = Field(description="R28 准入和退出.")
    reason: Text | None = Field(None, description="Why, in words; carried on StaffAdmissionChanged.")
    checked_on: date | None = Field(None, description="Day of the admission check.")


class StaffPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    staff_id: str
    school_id: str
    name: str
    kind: str
    position: str | None
    admission: str
    admission_checked_on: date | None
    admission_changed_by: str | None


class GuardianIn(GuardianRecord):
    """A guardian registered one by one: unlike an import's spreadsheet columns, a field the record does not
    declare is refused, not ignored (issue 15, mass assignment)."""

    model_config = ConfigDict(RequestBody.model_config, str_strip_whitespace=True)


@router.post("/guardians", response_model=GuardianPublic, status_code=201,
             summary="A school registers a guardian of its students (phone stored sealed, R22); the link to the "
                     "child comes from the school, never from the guardian's claim (R1).")
async def register_guardian(body: GuardianIn, request: Request, response: Response, who: Actor = Depends(actor),
                            correlation_id: str | None = Depends(correlation)) -> GuardianPublic:
    ctx = context_of(request, Context)
    async with uow(request) as u:
        row, created = await h.register_guardian(u, who, body, sealer=ctx.sealer, key=ctx.digest_key,
                                                 correlation_id=correlation_id)
    response.status_code = 201 if created else 200
    return GuardianPublic.model_validate(row)


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "Records of one kind: CSV with a header row (lists such as student_ids separated by |), "
                       "a JSON array or {\"records\": [...]}, or JSON Lines.",
        "content": {
            "application/json": {"schema": {"type": "object", "properties": {
                "records": {"type": "array", "items": {"type": "object"}}}, "required": ["records"]}},
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    },
}


@router.post("/reference/{kind}", response_model=ImportReportOut, openapi_extra=_IMPORT_BODY,
             responses={413: {"model": Message, "description": "Too large for HTTP: use the command line."},
                        415: {"model": Message, "description": "Not CSV, JSON or JSON Lines."},
                        400: {"model": Message, "description": "The file as a whole cannot be read."}},
             summary="Bulk import of reference data; idempotent, with a reason for every refused row (R27, R28). "
                     "Enrollment cannot be imported (R1).")
async def import_reference(request: Request, kind: Literal[tuple(KINDS)] = Path(),  # type: ignore[valid-type]
                           who: Actor = Depends(actor), correlation_id: str | None = Depends(correlation)) -> ImportReportOut:
    rt = request.app.state.runtime
    media_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media_type not in ("application/json", "text/csv", "application/x-ndjson", "application/jsonl"):
        return JSONResponse(problem_body(415, f"unsupported media type {media_type!r}: send text/csv, "
                                              "application/json or application/x-ndjson"), status_code=415)
    body = await request.body()
    if len(body) > rt.settings.import_max_bytes:
        return JSONResponse(problem_body(413, "the file is too large for an HTTP import; use python -m "
                                              "services.enrollment.importer"), status_code=413)
    try:
        rows = body_rows(body, media_type)
        ctx = context_of(request, Context)
        report = await h.import_records(rt.uow_factory, who, kind, rows, sealer=ctx.sealer,
                                        key=ctx.digest_key, chunk_rows=rt.settings.import_chunk_rows,
                                        correlation_id=correlation_id)
    except FormatError as exc:
        return JSONResponse(problem_body(400, str(exc), "unreadable_file"), status_code=400)
    return ImportReportOut(
        kind=report.kind, received=report.received, inserted=report.inserted, updated=report.updated,
        unchanged=report.unchanged, rejected=report.rejected, events=report.events, seconds=round(report.seconds, 3),
        errors=[RowErrorOut(line=e.line, record_id=e.record_id, reasons=e.reasons) for e in report.errors[:ERRORS_SHOWN]],
        errors_truncated=len(report.errors) > ERRORS_SHOWN,
    )


@router.post("/staff/{staff_id}/admission", response_model=StaffPublic,
             summary="Admit (district, city) or remove (school too) staff and outside providers (R28).")
async def set_admission(staff_id: Id, body: AdmissionIn, request: Request, who: Actor = Depends(actor)) -> StaffPublic:
    async with uow(request) as u:
        row = await h.set_admission(u, who, staff_id, admission=body.admission, checked_on=body.checked_on,
                                   reason=body.reason)
        return StaffPublic.model_validate(row)


class StaffContactIn(RequestBody):

    roles: list[Literal["class_teacher", "programme_lead", "safety_contact"]] = Field(
        default_factory=list, description="What the staff member is reached for (R11, R12).")
    class_ids: list[Id] = Field(default_factory=list, description="Classes they are class teacher of.")
    programme_ids: list[Id] = Field(default_factory=list, description="Programmes they lead.")
    phone: Mobile = Field(description="Mainland mobile number; published only sealed and masked (R22).")
    push_token: str | None = Field(None, max_length=512, description="App push token, sealed likewise.")
    locale: Literal["zh-CN", "en"] = "zh-CN"

class StaffContactOut(BaseModel):
    staff_id: str
    school_id: str
    roles: list[str]
    phone_masked: str


@router.post("/staff/{staff_id}/contact", response_model=StaffContactOut,
             summary="Record how to reach a staff member and what for (class teacher, programme lead, safety contact).")
async def register_staff_contact(staff_id: Id, body: StaffContactIn, request: Request,
                                 who: Actor = Depends(actor)) -> StaffContactOut:
    async with uow(request) as u:
        event = await h.register_staff_contact(
            u, who, staff_id, roles=body.roles, class_ids=body.class_ids, programme_ids=body.programme_ids,
            phone=body.phone, push_token=body.push_token, locale=body.locale,
            sealer=context_of(request, Context).sealer)
    return StaffContactOut(staff_id=event.staff_id, school_id=event.school_id, roles=event.roles,
                           phone_masked=event.phone_masked)

"""Attendance's HTTP routes: the school systems' batch endpoint (R15), excusals, and the queries (who is
on site, the day's attendance, exercise compliance, the roster). Translates HTTP to use cases; no rules."""
from __future__ import annotations

import json
import re
from dataclasses import asdict, replace
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from services.attendance import handlers as h
from services.attendance.db import AttendanceUoW
from services.attendance.domain import (
    DAILY_EXERCISE_MINUTES,
    KINDS,
    DayState,
    Record,
    Rejection,
    compliance,
    local_day,
    submission_refusal,
)
from services.attendance.handlers.handovers import HandoverConflict, HandoverRecord, handovers_on, record_handover
from services.attendance.settings import Context
from shared.auth import Principal, bearer, current_principal
from shared.contracts.common import ActivityTier, CollectorName, Text, UtcDatetime
from shared.messaging.runtime import Runtime, context_of
from shared.observability import correlation_id

router = APIRouter(prefix="/v1", tags=["attendance"])

ID = Annotated[Text, Field(min_length=1, max_length=128)]


# -- the batch format ---------------------------------------------------------------------------------
class _RecordIn(BaseModel):
    # Unknown fields are refused so that a misspelt field (say "collected_by") is a clear per-record
    # reason rather than a silently missing value.
    model_config = ConfigDict(extra="forbid")

    record_id: ID = Field(description="Your system's id for the record; resending it is harmless (R15).",
                          examples=["gate-20250912-00017"])
    student_id: ID = Field(examples=["stu-000123"])
    at: UtcDatetime = Field(description="When it happened, with its UTC offset: the check-in, the handover, or the "
                                          "activity's start.", examples=["2025-09-12T15:31:00+08:00"])
    session_date: date | None = Field(None, description="School-local day; defaults to the local day of `at`.")
    programme_id: ID | None = Field(None, description="Needed only if the student has two sessions that day.")
    staff_id: ID = Field(description="Admitted staff member who did it (R11, R28).", examples=["stf-0311"])
    staff_role: Text = Field("school_staff", description="school_staff, principal or outside_provider.")
    school_id: ID | None = Field(None, description="If given, must be the school in the path.")
    system_id: ID | None = Field(None, description="Your gate or information system; defaults to the token's subject.")


class CheckInIn(_RecordIn):
    kind: Literal["check_in"]


class CheckOutIn(_RecordIn):
    kind: Literal["check_out"]
    collected_by_id: ID = Field(description="Guardian or authorised pickup person, as known to the platform (R11).",
                                examples=["gdn-000456"])
    collected_by_name: CollectorName | None = Field(None, max_length=64, description="Their name as your gate recorded it.")


class ActivityIn(_RecordIn):
    kind: Literal["activity"]
    activity_id: ID = Field(examples=["act-0042-07"])
    tier: ActivityTier
    minutes: int = Field(ge=1, le=600)
    exercise_minutes: int = Field(ge=0, le=600, description="Of those, minutes of physical exercise (R14).")


RecordIn = Annotated[CheckInIn | CheckOutIn | ActivityIn, Field(discriminator="kind")]
_RECORD = TypeAdapter(RecordIn)


class BatchIn(BaseModel):
    """The request body (documentation only: records are read one by one, so one bad record is one
    rejection, not a failed request)."""

    records: list[RecordIn] = Field(description="Up to ingest_max_records records, in any order.")


class ResultOut(BaseModel):
    index: int = Field(description="Position of the record in the request.")
    record_id: str | None
    status: Literal["accepted", "duplicate", "rejected", "conflict"] = Field(
        description="accepted: took effect; duplicate: already known, nothing changed; rejected: not stored, see the "
                    "reason; conflict: this record id was received before with other content, so this one was not "
                    "applied and is kept for review (send a correction under a new record id).")
    reason_code: str | None = Field(None, description="Stable code of the reason; see docs/attendance.md.")
    reason: str | None = None
    event_id: str | None = Field(None, description="Id of the event the record produced (accepted or refused pickup), "
                                                    "or, for a conflict, the event of the record first received.")


class BatchOut(BaseModel):
    school_id: str
    received: int
    accepted: int
    duplicate: int
    rejected: int
    conflict: int = Field(description="Records answered conflict: a record id resent with other content.")
    results: list[ResultOut]


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"][1:]) or "record"  # loc[0] is the kind's tag
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def parse_record(raw: object, school_id: str, system_id: str) -> h.Submitted:
    """One raw JSON record to a Submitted: a Record, or a rejection saying exactly what is wrong (R15)."""
    record_id = raw.get("record_id") if isinstance(raw, dict) else None
    # Echoed in the answer even when rejected, so made printable: a lone surrogate cannot be written as UTF-8.
    record_id = record_id.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd") if isinstance(record_id, str) else None
    if not isinstance(raw, dict):
        return h.Submitted(None, rejection=Rejection("invalid", f"a record must be a JSON object, got {type(raw).__name__}"))
    if raw.get("kind") not in KINDS:
        return h.Submitted(record_id, rejection=Rejection(
            "invalid", f"kind must be one of {', '.join(KINDS)}; got {raw.get('kind')!r}"))
    try:
        rec = _RECORD.validate_python(raw)
    except ValidationError as exc:
        return h.Submitted(record_id, rejection=Rejection("invalid", _describe(exc)))
    if rec.school_id is not None and rec.school_id != school_id:
        return h.Submitted(record_id, rejection=Rejection(
            "wrong_school", f"record is about school {rec.school_id}, posted to {school_id}"))
    at = rec.at  # UTC already
    try:
        session_date = rec.session_date or local_day(at)
    except OverflowError:
        return h.Submitted(record_id, rejection=Rejection("invalid", "at: the school-local day of this instant is past year 9999"))
    extra = {}
    if isinstance(rec, CheckOutIn):
        extra = dict(collected_by_id=rec.collected_by_id, collected_by_name=rec.collected_by_name)
    elif isinstance(rec, ActivityIn):
        extra = dict(activity_id=rec.activity_id, tier=rec.tier, minutes=rec.minutes, exercise_minutes=rec.exercise_minutes)
    record = Record(
        record_id=rec.record_id, kind=rec.kind, school_id=school_id, student_id=rec.student_id,
        at=at, session_date=session_date, staff_id=rec.staff_id, staff_role=rec.staff_role,
        system_id=rec.system_id or system_id, programme_id=rec.programme_id, **extra,
    )
    return h.Submitted(record_id, record)


# -- who may do what ------------------------------------------------------------------------------------
def _uow(request: Request) -> AttendanceUoW:
    return request.app.state.runtime.uow_factory()


def _policy(request: Request) -> h.Policy:
    return context_of(request, Context).policy


async def school_system_of(school_id: str, principal: Principal = Depends(current_principal)) -> Principal:
    """Only a school system, and only for its own school's students (R15, R27): the rule the attendance.ingest
    topic applies to each record's token too."""
    refusal = submission_refusal(principal.role, principal.school_id, school_id)
    if refusal is not None:
        raise HTTPException(403, refusal)
    return principal


async def school_or_system_of(school_id: str, principal: Principal = Depends(current_principal)) -> Principal:
    if principal.role not in ("school", "school_system") or principal.school_id != school_id:
        raise HTTPException(403, f"only school {school_id} itself (role school or school_system) may do this")
    return principal


async def reader_of(school_id: str, request: Request, principal: Principal = Depends(current_principal)) -> Principal:
    """The school itself, its school system, its district, the city and auditors may read (R27)."""
    if principal.role not in ("school", "school_system", "district", "city", "auditor"):
        raise HTTPException(403, f"role {principal.role!r} may not read a school's attendance")
    district = None
    if principal.role == "district":
        async with _uow(request) as uow:
            district = await uow.district_of(school_id)
    if not principal.may_see_school(school_id, district):
        scope = principal.school_id or principal.district_id
        raise HTTPException(403, f"{principal.role} {scope} may not read school {school_id}")
    return principal


def _day(request: Request, value: date | None) -> date:
    return value or local_day(_policy(request).clock())


def _inlined(model: type[BaseModel]) -> dict:
    """The model's JSON Schema with its $defs substituted in place, to sit inside an OpenAPI request body."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def walk(node: object) -> object:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            # A discriminator mapping names $defs too; with the variants inlined, the property name suffices.
            return {k: walk(v) for k, v in node.items() if not (k == "discriminator" and isinstance(v, dict))}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)  # type: ignore[return-value]


# -- routes -----------------------------------------------------------------------------------------------
@router.post(
    "/schools/{school_id}/records",
    summary="A school system posts a batch of check-in, check-out and activity records (R15).",
    responses={200: {"model": BatchOut, "description": "Every record's result, in request order."},
               400: {"description": "The body is not JSON."}, 413: {"description": "Too many records."},
               422: {"description": "The body is not an object with a records list."},
               503: {"description": "The service is shutting down; resend the batch (a resend is harmless)."}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _inlined(BatchIn)}}}},
)
async def post_records(school_id: str, request: Request, principal: Principal = Depends(school_system_of)) -> JSONResponse:
    return JSONResponse(await submit_records(request.app.state.runtime, school_id, principal, await request.body()))


async def submit_records(rt: Runtime, school_id: str, principal: Principal, body: bytes) -> dict:
    """The batch endpoint's work, whichever way the request came in (the route above, or RecordsFastPath):
    every record's result, in order; HTTPException for a request that cannot be taken at all."""
    limit = rt.settings.ingest_max_body_bytes
    if len(body) > limit:
        raise HTTPException(413, f"the body is {len(body):,} bytes; at most {limit:,}; split the batch")
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise HTTPException(400, "the body is not JSON this service reads: nested too deeply") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
        raise HTTPException(422, 'the body must be a JSON object {"records": [...]}')
    raw_records = payload["records"]
    limit = rt.settings.ingest_max_records
    if len(raw_records) > limit:
        raise HTTPException(413, f"{len(raw_records)} records in one batch; at most {limit}; split the batch")
    # The request's own correlation id (given or made by the kit's middleware), so its events and logs agree.
    request_id = correlation_id.get()
    batch = [replace(parse_record(raw, school_id, principal.subject), correlation_id=request_id) for raw in raw_records]
    group_commit = context_of(rt, Context).group_commit
    try:
        # Judged and committed together with whatever other batches are waiting (one transaction for many
        # one-record requests); the outcomes are this request's alone.
        outcomes = await group_commit.submit(batch)
    except h.Stopping as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from None
    results, counts = [], {"accepted": 0, "duplicate": 0, "rejected": 0, "conflict": 0}
    for index, (item, outcome) in enumerate(zip(batch, outcomes)):
        counts[outcome.status] += 1
        result = {"index": index, "record_id": item.record_id, "status": outcome.status}
        if outcome.reason_code:
            result["reason_code"], result["reason"] = outcome.reason_code, outcome.reason
        if outcome.event_id:
            result["event_id"] = outcome.event_id
        results.append(result)
    return {"school_id": school_id, "received": len(batch), **counts, "results": results}


class RecordsFastPath:
    """Pure ASGI, just inside the kit's correlation middleware: answers the school gates' POST of records
    without the framework's routing, dependency solving and exception layers, which at city scale (about
    300 one-record POSTs a second) cost more CPU than the records themselves. Same function, same
    answers and errors as the documented route; every other request passes through untouched."""

    PATH = re.compile(r"/v1/schools/([^/]+)/records")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = self.PATH.fullmatch(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        school_id = match[1]
        try:
            rt: Runtime = scope["app"].state.runtime
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            principal = await school_system_of(school_id, bearer(rt.authority, header))
            body = await _body(receive, rt.settings.ingest_max_body_bytes)
            response: Response = JSONResponse(await submit_records(rt, school_id, principal, body))
        except HTTPException as exc:
            response = JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        except Exception as exc:
            handler = _handler_for(scope["app"].exception_handlers, exc)
            if handler is None:
                raise
            response = await handler(Request(scope, receive), exc)
        await response(scope, receive, send)


async def _body(receive: Receive, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes `limit`: nothing that large is read, let alone parsed."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HTTPException(400, "the client went away before the body was complete")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the body is over {limit:,} bytes; split the batch")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _handler_for(handlers: dict, exc: Exception):
    """The app's exception handler for this error (as the framework would pick it), if it has one."""
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None


class ExcusalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    student_id: ID
    session_date: date
    programme_id: ID | None = None
    reason: str = Field(min_length=1, max_length=200, examples=["病假"])


class ExcusalOut(BaseModel):
    student_id: str
    programme_id: str
    session_date: date
    excused: bool = True


@router.post("/schools/{school_id}/excusals", status_code=201, response_model=ExcusalOut,
             summary="Excuse a student from a day's session: no absence alert is raised (R12).",
             responses={422: {"description": "Not on the roster, or no session that day."}})
async def post_excusal(school_id: str, body: ExcusalIn, request: Request,
                       principal: Principal = Depends(school_or_system_of)) -> ExcusalOut:
    async with _uow(request) as uow:
        result = await h.excuse_student(uow, school_id=school_id, student_id=body.student_id, day=body.session_date,
                                        programme_id=body.programme_id, reason=body.reason)
        if isinstance(result, Rejection):
            raise HTTPException(422, {"reason_code": result.code, "reason": result.reason})
        await uow.commit()
    return ExcusalOut(student_id=result.student_id, programme_id=result.programme_id, session_date=result.session_date)


class HandoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handover_id: ID = Field(description="The school system's id for this handover: resending it is not a second one.")
    programme_id: ID
    from_staff_id: ID = Field(description="Staff member going off shift.")
    to_staff_id: ID = Field(description="Staff member taking over; both must be admitted to run the programme (R28).")
    at: UtcDatetime = Field(description="When the children were handed over, with its UTC offset.")
    student_ids: list[ID] | None = Field(None, max_length=2000, description="The children handed over; omitted: every "
                                                                           "child still on site in the programme.")


class HandoverRefusal(BaseModel):
    student_id: str
    reason_code: str
    reason: str


class HandoverOut(BaseModel):
    handover_id: str
    school_id: str
    programme_id: str
    session_date: date
    from_staff_id: str
    to_staff_id: str
    handed_over_at: datetime
    student_ids: list[str] = Field(description="Children handed over: checked in and not yet collected.")
    refused: list[HandoverRefusal] = Field(description="Children named but not on site, each with the reason.")


def _handover_out(r: HandoverRecord) -> HandoverOut:
    return HandoverOut.model_validate(asdict(r))


@router.post("/schools/{school_id}/handovers", status_code=201, response_model=HandoverOut,
             summary="Record a staff shift handover (交接班): who handed which children still on site to whom, and "
                     "when (R11, R28); published as StaffShiftHandedOver.",
             responses={409: {"description": "The handover id was recorded before with other content."},
                         422: {"description": "A staff member not admitted to run the programme, the same staff "
                                             "member twice, or no such programme at the school."}})
async def post_handover(school_id: str, body: HandoverIn, request: Request, response: Response,
                        principal: Principal = Depends(school_or_system_of)) -> HandoverOut:
    async with _uow(request) as uow:
        try:
            result = await record_handover(uow, school_id=school_id, handover_id=body.handover_id,
                                           programme_id=body.programme_id, from_staff_id=body.from_staff_id,
                                           to_staff_id=body.to_staff_id, at=body.at, student_ids=body.student_ids,
                                           recorded_by=principal.subject,
                                           recorded_by_role="school_system" if principal.role == "school_system"
                                           else "school_staff")
        except HandoverConflict as exc:
            raise HTTPException(409, str(exc)) from exc
        if isinstance(result, Rejection):
            raise HTTPException(422, {"reason_code": result.code, "reason": result.reason})
        record, new = result
        await uow.commit()
    response.status_code = 201 if new else 200
    return _handover_out(record)


@router.get("/schools/{school_id}/handovers", response_model=list[HandoverOut],
            summary="A day's staff shift handovers at the school, in order (R11): who had which children when.")
async def get_handovers(school_id: str, request: Request, day: date | None = None,
                        principal: Principal = Depends(reader_of)) -> list[HandoverOut]:
    async with _uow(request) as uow:
        found = await handovers_on(uow, school_id, _day(request, day))
    return [_handover_out(r) for r in found]


class RosterEntryPublic(BaseModel):
    student_id: str
    programme_id: str
    student_name: str
    extended_care: bool


@router.get("/schools/{school_id}/roster", response_model=list[RosterEntryPublic],
            summary="Students filed and not withdrawn at a school.")
async def roster(school_id: str, request: Request, principal: Principal = Depends(reader_of)) -> list[RosterEntryPublic]:
    async with _uow(request) as uow:
        rows = await uow.roster(school_id)
    return [RosterEntryPublic(student_id=r.student_id, programme_id=r.programme_id, student_name=r.student_name,
                              extended_care=r.extended_care) for r in rows]


class StudentDayPublic(BaseModel):
    student_id: str
    programme_id: str
    student_name: str
    status: Literal["collected", "on_site", "excused", "absent", "expected"]
    checked_in_at: datetime | None = None
    checked_in_by: str | None = None
    checked_out_at: datetime | None = None
    handed_over_by: str | None = None
    collected_by_id: str | None = None
    collected_by_name: str | None = None
    collected_by_relation: str | None = None
    extended_care_minutes: int = 0
    in_extended_care: bool = False
    escalated: bool = False
    excuse_reason: str | None = None
    absence_raised_at: datetime | None = None


class DayPublic(BaseModel):
    school_id: str
    session_date: date
    counts: dict[str, int] = Field(description="Students per status.")
    students: list[StudentDayPublic]


async def _day_view(request: Request, school_id: str, day: date) -> list[StudentDayPublic]:
    async with _uow(request) as uow:
        rows = await uow.day_rows(school_id, day)
        schedules = await uow.schedules({r.programme_id for r in rows})
    students = []
    for r in rows:
        schedule = schedules.get(r.programme_id)
        if schedule is None or schedule.window(day) is None:
            continue  # no session that day: the student is not expected
        state = DayState(r.checked_in_at, r.checked_in_by, r.checked_out_at, r.excused, r.absent_at,
                         r.extended_care_started_at, r.escalated_at)
        students.append(StudentDayPublic(
            student_id=r.student_id, programme_id=r.programme_id, student_name=r.student_name, status=state.status,
            checked_in_at=r.checked_in_at, checked_in_by=r.checked_in_by, checked_out_at=r.checked_out_at,
            handed_over_by=r.handed_over_by, collected_by_id=r.collected_by_id, collected_by_name=r.collected_by_name,
            collected_by_relation=r.collected_by_relation, extended_care_minutes=r.extended_care_minutes,
            in_extended_care=state.on_site and r.extended_care_started_at is not None,
            escalated=state.on_site and r.escalated_at is not None, excuse_reason=r.excuse_reason,
            absence_raised_at=r.absent_at,
        ))
    return students


@router.get("/schools/{school_id}/attendance", response_model=DayPublic,
            summary="The day's attendance of a school: every expected student and where they stand (R11-R13).")
async def attendance(school_id: str, request: Request, on: date | None = Query(None, alias="date"),
                     principal: Principal = Depends(reader_of)) -> DayPublic:
    day = _day(request, on)
    students = await _day_view(request, school_id, day)
    counts = {s: 0 for s in ("collected", "on_site", "excused", "absent", "expected")}
    for s in students:
        counts[s.status] += 1
    return DayPublic(school_id=school_id, session_date=day, counts=counts, students=students)


@router.get("/schools/{school_id}/on-site", response_model=list[StudentDayPublic],
            summary="Who is on site now (checked in, not yet handed over), including extended care (R11, R13).")
async def on_site(school_id: str, request: Request, on: date | None = Query(None, alias="date"),
                  principal: Principal = Depends(reader_of)) -> list[StudentDayPublic]:
    return [s for s in await _day_view(request, school_id, _day(request, on)) if s.status == "on_site"]


class StudentExercisePublic(BaseModel):
    student_id: str
    exercise_minutes: int
    compliant: bool


class ExercisePublic(BaseModel):
    school_id: str
    session_date: date
    required_minutes: int = DAILY_EXERCISE_MINUTES
    students: int = Field(description="Students who attended or have an activity record that day.")
    compliant: int = Field(description="Of those, students with at least the required minutes of exercise.")
    share: float
    per_student: list[StudentExercisePublic]


@router.get("/schools/{school_id}/exercise", response_model=ExercisePublic,
            summary="A day's physical exercise per student and the school's compliance with the 30-minute rule (R14).")
async def exercise(school_id: str, request: Request, on: date | None = Query(None, alias="date"),
                   principal: Principal = Depends(reader_of)) -> ExercisePublic:
    day = _day(request, on)
    async with _uow(request) as uow:
        minutes = await uow.exercise_minutes(school_id, day)
        attending = await uow.attending(school_id, day)
    rows, school = compliance(school_id, day, attending, minutes)
    return ExercisePublic(school_id=school_id, session_date=day, students=school.students, compliant=school.compliant,
                          share=round(school.share, 4),
                          per_student=[StudentExercisePublic(student_id=r.student_id, exercise_minutes=r.exercise_minutes,
                                                             compliant=r.compliant) for r in rows])

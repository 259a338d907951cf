"""The school systems' batch endpoint (R15): the record format, the documented route and the fast path that
answers the same requests without the framework's layers at city scale. Translates HTTP to use cases; no rules."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from services.attendance import handlers as h
from services.attendance.api.deps import ID, inlined, school_system_of
from services.attendance.domain import (
    KINDS,
    Record,
    Rejection,
    local_day,
)
from services.attendance.settings import Context
from shared.auth import Principal, bearer
from shared.contracts.common import ActivityTier, CollectorName, Text, UtcDatetime
from shared.messaging.runtime import Runtime, context_of
from shared.observability import correlation_id

router = APIRouter(prefix="/v1", tags=["attendance"])


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


# -- routes -----------------------------------------------------------------------------------------------
@router.post(
    "/schools/{school_id}/records",
    summary="A school system posts a batch of check-in, check-out and activity records (R15).",
    responses={200: {"model": BatchOut, "description": "Every record's result, in request order."},
               400: {"description": "The body is not JSON."}, 413: {"description": "Too many records."},
               422: {"description": "The body is not an object with a records list."},
               503: {"description": "The service is shutting down; resend the batch (a resend is harmless)."}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": inlined(BatchIn)}}}},
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
        except Exception as exc:  # an HTTPException too: the app's handler gives it the one error body
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

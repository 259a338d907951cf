"""HTTP routes of emergency broadcasts (issue 16): send one to a school, a district or the city, list those
the caller may see, and read one's delivery report; recording and fan-out are services/notification/handlers/broadcasts.py."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field, model_validator

from services.notification.db import BroadcastRow
from services.notification.handlers import broadcasts as broadcast
from services.notification.handlers.broadcasts import KeyReused, NotAllowed, Notice
from services.notification.settings import Context
from shared.auth import Principal, current_principal
from shared.messaging.http import RequestBody
from shared.messaging.runtime import context_of
from shared.observability import correlation_id

router = APIRouter(tags=["notification"])


class BroadcastIn(RequestBody):
    scope: Literal["school", "district", "city"] = Field(description="Whose families hear it.", examples=["school"])
    scope_id: str | None = Field(None, min_length=1, max_length=64,
                                 description="The school or district id; null (or left out) for the city.",
                                 examples=["sch-0042"])
    title: str = Field(min_length=1, max_length=40, description="The notice's heading.", examples=["暴雨停课通知"])
    body: str = Field(min_length=1, max_length=300, description="The notice as families read it (one SMS is 70 "
                      "characters: keep it short).", examples=["受暴雨影响，今日课后服务暂停，请家长16:00前接孩子。"])
    reason: str = Field(min_length=1, max_length=500, description="Why it is sent, for the record (R27).",
                        examples=["市气象台暴雨红色预警"])
    broadcast_id: uuid.UUID | None = Field(None, description="The client's id for it: sending the same id again "
                                           "does not broadcast twice (as the Idempotency-Key header).")

    @model_validator(mode="after")
    def _scope_id_matches_scope(self) -> BroadcastIn:
        if (self.scope == "city") != (self.scope_id is None):
            raise ValueError("scope_id names the school or district, and is left out for the city")
        return self


class ChannelCounts(BaseModel):
    queued: int = Field(description="Recorded and not yet handed over (waiting, being sent, or to retry).")
    handed_over: int = Field(description="Handed to the SMS gateway or push service.")
    failed: int = Field(description="Will not be sent: refused (no consent, no way to reach) or failed for good.")


class BroadcastOut(BaseModel):
    broadcast_id: uuid.UUID
    scope: str
    scope_id: str | None
    title: str
    body: str
    reason: str
    issued_by: str
    issued_by_role: str
    issued_at: datetime
    recipients: int = Field(description="Recipients queued so far (all of them once fan_out_complete).")
    fan_out_complete: bool


class BroadcastReport(BroadcastOut):
    queued: int
    handed_over: int
    failed: int
    by_channel: dict[str, ChannelCounts] = Field(description="The same counts by the channel last tried.")


def _out(row: BroadcastRow) -> dict:
    return dict(broadcast_id=row.broadcast_id, scope=row.scope, scope_id=row.scope_id, title=row.title, body=row.body,
                reason=row.reason, issued_by=row.issued_by, issued_by_role=row.issued_by_role,
                issued_at=row.issued_at, recipients=row.fanned_out, fan_out_complete=row.fanned_out_at is not None)


@router.post("/v1/broadcasts", response_model=BroadcastOut, status_code=201,
             summary="Send an urgent notice to every family and staff contact of a school, a district or the city "
                     "(issue 16); 200 with the same broadcast when the request is retried.")
async def send_broadcast(body: BroadcastIn, request: Request, response: Response,
                         principal: Principal = Depends(current_principal),
                         idempotency_key: str | None = Header(None, min_length=1, max_length=200,
                                                              description="Retries with the same key send nothing "
                                                              "more.")) -> BroadcastOut:
    if principal.role not in broadcast.ISSUER_ROLES:
        raise HTTPException(403, f"role {principal.role!r} may not do this; needs one of school, district, city")
    notice = Notice(body.scope, body.scope_id, body.title, body.body, body.reason)
    key = idempotency_key or (str(body.broadcast_id) if body.broadcast_id else str(uuid.uuid4()))
    rt = request.app.state.runtime
    async with rt.uow_factory() as uow:
        district = await uow.district_of(body.scope_id) if body.scope == "school" and body.scope_id else None
        try:
            broadcast.authorise(principal, body.scope, body.scope_id, district)
            row, created = await broadcast.issue(uow, principal, notice, key, body.broadcast_id, correlation_id.get(),
                                                   context_of(request, Context).delivery.clock())
        except NotAllowed as exc:
            raise HTTPException(403, str(exc)) from None
        except KeyReused as exc:
            raise HTTPException(409, str(exc)) from None
        await uow.commit()
    if created:
        context_of(request, Context).fan_out.wake()
    else:
        response.status_code = 200
    return BroadcastOut(**_out(row))


@router.get("/v1/broadcasts", response_model=list[BroadcastOut],
            summary="Broadcasts the caller may see, newest first: the city all; a district those to it or its "
                    "schools; a school those to it.")
async def list_broadcasts(request: Request, limit: int = Query(100, ge=1, le=1000),
                          principal: Principal = Depends(current_principal)) -> list[BroadcastOut]:
    async with request.app.state.runtime.uow_factory() as uow:
        rows = await broadcast.read(uow, principal, limit=limit)
    return [BroadcastOut(**_out(r)) for r in rows]


@router.get("/v1/broadcasts/{broadcast_id}", response_model=BroadcastReport,
            summary="A broadcast's delivery report: recipients, queued, handed over and failed, by channel.")
async def broadcast_report(broadcast_id: uuid.UUID, request: Request,
                           principal: Principal = Depends(current_principal)) -> BroadcastReport:
    async with request.app.state.runtime.uow_factory() as uow:
        rows = await broadcast.read(uow, principal, broadcast_id)
        if not rows:
            raise HTTPException(404, "no such broadcast that you may see")
        counts = await broadcast.tally(uow, broadcast_id)
    totals = {k: sum(c[k] for c in counts.values()) for k in ("queued", "handed_over", "failed")}
    return BroadcastReport(**_out(rows[0]), **totals, by_channel={ch: ChannelCounts(**c) for ch, c in counts.items()})

"""Notification's HTTP routes: a recipient's channel preferences and quiet hours, the messages sent to a
recipient (for that recipient's own token), auditors' contacts for anomaly alerts, and the local delivery
sink (development only: see `sink_router`)."""
from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, field_validator

from services.notification.db import ContactRow, PreferenceRow
from services.notification.settings import Context
from shared.auth import Principal, bearer, current_principal, require
from shared.messaging.http import RequestBody
from shared.messaging.runtime import context_of
from shared.privacy import mask_phone

router = APIRouter(tags=["notification"])
# The message log holds children's names, pickup times, who collected them and payments (R22, R27): it is
# mounted only where no real provider carries messages (app.build_channels), and read only by the city
# bureau's token even there.
sink_router = APIRouter(tags=["notification"])


async def city_reader(request: Request,
                      access_token: str | None = Query(None, description="A city token, for the page opened from a "
                                                       "link (RFC 6750 §2.3); the Authorization header otherwise.")
                      ) -> Principal:
    """The sink page's reader: the city bureau, by its bearer token in the header or, so `make run` can print a
    link a browser opens, in the query. Only on the development sink; never a real provider's routes."""
    header = request.headers.get("authorization") or (f"Bearer {access_token}" if access_token else "")
    principal = bearer(request.app.state.runtime.authority, header)
    if principal.role != "city":
        raise HTTPException(403, f"role {principal.role!r} may not do this; needs one of city")
    return principal

HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
MOBILE = re.compile(r"^(\+?86)?1[3-9]\d{9}$")


class SinkMessage(BaseModel):
    id: int
    event_id: str
    recipient_id: str
    recipient_role: str
    kind: str
    channel: str
    provider: str | None
    status: str
    attempts: int
    to_masked: str | None
    body: str | None
    cause_event_type: str
    last_error: str | None
    event_at: datetime | None
    created_at: datetime | None
    delivered_at: datetime | None


async def _recent(request: Request, limit: int, recipient_id: str | None, status: str | None,
                  kind: str | None, recipient_prefix: str | None = None) -> list[SinkMessage]:
    async with request.app.state.runtime.uow_factory() as uow:
        rows = await uow.recent_messages(limit, recipient_id, status, kind, recipient_prefix)
    return [SinkMessage(**{**r.model_dump(), "event_id": str(r.event_id)}) for r in rows]


@sink_router.get("/v1/sink", response_model=list[SinkMessage], dependencies=[Depends(require("city"))],
            summary="The message log, newest first: what was handed to each channel (the local sink included), "
                    "what waits, and what was refused.")
async def sink(request: Request, limit: int = Query(100, ge=1, le=10_000), recipient_id: str | None = None,
               status: str | None = None, kind: str | None = None,
               recipient_prefix: str | None = Query(None, max_length=100)) -> list[SinkMessage]:
    return await _recent(request, limit, recipient_id, status, kind, recipient_prefix)


@sink_router.get("/sink", response_class=HTMLResponse, summary="The local delivery sink as a page.",
                 dependencies=[Depends(city_reader)], openapi_extra={"security": [{"bearerAuth": []}]})
async def sink_page(request: Request, limit: int = Query(200, ge=1, le=2000)) -> str:
    rows = await _recent(request, limit, None, None, None)
    cells = "".join(
        f"<tr><td>{m.delivered_at or m.created_at:%Y-%m-%d %H:%M:%S}</td><td>{html.escape(m.kind)}</td>"
        f"<td>{html.escape(m.channel)}/{html.escape(m.provider or '-')}</td><td>{html.escape(m.to_masked or '')}</td>"
        f"<td>{html.escape(m.status)}</td><td>{html.escape(m.body or '')}</td></tr>"
        for m in rows
    )
    return (
        "<!doctype html><meta charset=utf-8><title>Beilei local delivery sink</title>"
        "<style>body{font-family:sans-serif}td{padding:2px 8px;border-bottom:1px solid #ddd}</style>"
        f"<h1>Messages to guardians and auditors ({len(rows)})</h1><table><tr><th>time (UTC)</th><th>kind</th>"
        f"<th>channel</th><th>to</th><th>status</th><th>text</th></tr>{cells}</table>"
    )


# -- a recipient's own messages ----------------------------------------------------------------------

class RecipientMessage(BaseModel):
    notification_id: str = Field(description="As in NotificationSent.", examples=["ntf-5f0c1d2e"])
    kind: str = Field(description="What the message is about (R22, R23).", examples=["pickup"])
    channel: str = Field(description="sms or app push, as sent (or planned, while waiting).", examples=["sms"])
    status: str = Field(description="sent, waiting (quiet hours, retries) or refused.", examples=["sent"])
    text: str | None = Field(description="The words as sent; null until a channel took it.")
    student_id: str | None
    school_id: str | None
    event_at: datetime | None = Field(description="When the event the message tells of happened.")
    sent_at: datetime | None = Field(description="When a channel took it.")


@router.get("/v1/recipients/{recipient_id}/messages", response_model=list[RecipientMessage],
            summary="The messages sent to a guardian or auditor, newest first, with their words: for the recipient's "
                    "own token (the portal's messages page) or the city bureau's.")
async def recipient_messages(recipient_id: str, request: Request, limit: int = Query(50, ge=1, le=200),
                             principal: Principal = Depends(current_principal)) -> list[RecipientMessage]:
    _may_manage(principal, recipient_id, "see these messages")
    async with request.app.state.runtime.uow_factory() as uow:
        rows = await uow.recent_messages(limit, recipient_id)
    return [RecipientMessage(notification_id=f"ntf-{r.out_id}", kind=r.kind, channel=r.channel, status=r.status,
                             text=r.body, student_id=r.student_id, school_id=r.school_id, event_at=r.event_at,
                             sent_at=r.delivered_at) for r in rows]


# -- preferences --------------------------------------------------------------------------------

class QuietHours(RequestBody):
    start: str = Field(pattern=HHMM, description="School-local start, HH:MM.", examples=["21:30"])
    end: str = Field(pattern=HHMM, description="School-local end, HH:MM; before start means overnight.", examples=["07:00"])


class PreferencesIn(RequestBody):
    channels: Literal["push_then_sms", "sms_only", "push_only"] = Field(
        "push_then_sms", description="Push first with SMS fallback, SMS only, or push only (safety messages still "
        "fall back to SMS).")
    quiet_hours: QuietHours | None = Field(
        None, description="No messages in this window except safety ones; null for none.")
    locale: Literal["zh-CN", "en"] | None = Field(None, description="Language of messages; null keeps the registered one.")


class PreferencesOut(PreferencesIn):
    recipient_id: str


def _may_manage(principal: Principal, recipient_id: str, what: str = "see or change these preferences") -> None:
    if principal.subject != recipient_id and principal.role != "city":
        raise HTTPException(403, f"only the recipient (or the city bureau) may {what}")


def _out(row: PreferenceRow) -> PreferencesOut:
    quiet = QuietHours(start=row.quiet_start, end=row.quiet_end) if row.quiet_start and row.quiet_end else None
    return PreferencesOut(recipient_id=row.recipient_id, channels=row.channels, quiet_hours=quiet, locale=row.locale)


@router.get("/v1/recipients/{recipient_id}/preferences", response_model=PreferencesOut,
            summary="A guardian's or auditor's channel preferences and quiet hours.")
async def get_preferences(recipient_id: str, request: Request,
                          principal: Principal = Depends(current_principal)) -> PreferencesOut:
    _may_manage(principal, recipient_id)
    async with request.app.state.runtime.uow_factory() as uow:
        row = await uow.preferences(recipient_id)
    if row is None:
        defaults = context_of(request, Context).delivery.defaults
        row = PreferenceRow(recipient_id=recipient_id, channels=defaults.channels,
                            quiet_start=defaults.quiet_start and defaults.quiet_start.strftime("%H:%M"),
                            quiet_end=defaults.quiet_end and defaults.quiet_end.strftime("%H:%M"))
    return _out(row)


@router.put("/v1/recipients/{recipient_id}/preferences", response_model=PreferencesOut,
            summary="Set channel preferences and quiet hours (R22); applies to messages caused from now on.")
async def put_preferences(recipient_id: str, body: PreferencesIn, request: Request,
                          principal: Principal = Depends(current_principal)) -> PreferencesOut:
    _may_manage(principal, recipient_id)
    row = PreferenceRow(recipient_id=recipient_id, channels=body.channels,
                        quiet_start=body.quiet_hours.start if body.quiet_hours else None,
                        quiet_end=body.quiet_hours.end if body.quiet_hours else None, locale=body.locale,
                        updated_at=context_of(request, Context).delivery.clock())
    async with request.app.state.runtime.uow_factory() as uow:
        await uow.save_preferences(row)
        await uow.commit()
    return _out(row)


# -- auditors -----------------------------------------------------------------------------------

class AuditorContactIn(RequestBody):
    phone: str = Field(description="Mainland mobile number; stored sealed, shown masked.", examples=["13812345678"])
    district_id: str | None = Field(None, description="District whose anomalies they hear of; null for city-wide.")
    locale: Literal["zh-CN", "en"] = "zh-CN"
    push_token: str | None = Field(None, description="App push registration id, if the app is installed.")

    @field_validator("phone")
    @classmethod
    def _mobile(cls, value: str) -> str:
        compact = re.sub(r"[\s-]", "", value)
        if not MOBILE.match(compact):
            raise ValueError("phone must be a mainland mobile number (11 digits starting 13-19)")
        return compact


class AuditorContactOut(BaseModel):
    auditor_id: str
    district_id: str | None
    locale: str
    phone_masked: str
    push: bool


@router.put("/v1/auditors/{auditor_id}/contact", response_model=AuditorContactOut,
            summary="Register where an auditor receives anomaly alerts (R25); the number is stored sealed.")
async def put_auditor_contact(auditor_id: str, body: AuditorContactIn, request: Request,
                              principal: Principal = Depends(current_principal)) -> AuditorContactOut:
    if not ((principal.role == "auditor" and principal.subject == auditor_id) or principal.role == "city"):
        raise HTTPException(403, "an auditor registers their own contact; the city bureau may register any")
    sealer = context_of(request, Context).sealer
    row = ContactRow(recipient_id=auditor_id, role="auditor", locale=body.locale, district_id=body.district_id,
                     phone_sealed=sealer.seal(body.phone), phone_masked=mask_phone(body.phone),
                     push_token_sealed=sealer.seal(body.push_token) if body.push_token else None,
                     consent=True)  # alerts are part of the auditor's duty, asked for by registering
    async with request.app.state.runtime.uow_factory() as uow:
        existing = await uow.contact(auditor_id)
        if existing is not None and existing.role != "auditor":
            raise HTTPException(409, f"{auditor_id} is registered as a {existing.role}, not an auditor")
        await uow.upsert_contact(row)
        await uow.commit()
    return AuditorContactOut(auditor_id=auditor_id, district_id=body.district_id, locale=body.locale,
                             phone_masked=row.phone_masked or "", push=bool(body.push_token))

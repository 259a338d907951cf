"""Notification's HTTP routes: the local delivery sink, readable by a person and by tests."""
from __future__ import annotations

import html
from datetime import datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

router = APIRouter(tags=["notification"])


class SinkMessage(BaseModel):
    id: int
    event_id: str
    recipient_id: str
    channel: str
    status: str
    to_masked: str | None
    body: str | None
    created_at: datetime | None
    delivered_at: datetime | None


async def _recent(request: Request, limit: int, recipient_id: str | None) -> list[SinkMessage]:
    async with request.app.state.runtime.uow_factory() as uow:
        rows = await uow.recent_messages(limit, recipient_id)
    return [SinkMessage(**{**r.model_dump(), "event_id": str(r.event_id)}) for r in rows]


@router.get("/v1/sink", response_model=list[SinkMessage],
            summary="Messages handed to the local delivery sink, newest first.")
async def sink(request: Request, limit: int = Query(100, ge=1, le=10_000), recipient_id: str | None = None):
    return await _recent(request, limit, recipient_id)


@router.get("/sink", response_class=HTMLResponse, summary="The local delivery sink as a page.")
async def sink_page(request: Request, limit: int = Query(200, ge=1, le=2000)) -> str:
    rows = await _recent(request, limit, None)
    cells = "".join(
        f"<tr><td>{m.delivered_at or m.created_at:%Y-%m-%d %H:%M:%S}</td><td>{html.escape(m.channel)}</td>"
        f"<td>{html.escape(m.to_masked or '')}</td><td>{html.escape(m.status)}</td>"
        f"<td>{html.escape(m.body or '')}</td></tr>"
        for m in rows
    )
    return (
        "<!doctype html><meta charset=utf-8><title>Beilei local delivery sink</title>"
        "<style>body{font-family:sans-serif}td{padding:2px 8px;border-bottom:1px solid #ddd}</style>"
        f"<h1>Messages to guardians ({len(rows)})</h1><table><tr><th>time (UTC)</th><th>channel</th>"
        f"<th>to</th><th>status</th><th>text</th></tr>{cells}</table>"
    )

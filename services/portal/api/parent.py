"""The parent's view (issue 18; R11, R12): each of my enrolled children today, checked in or not, collected
by whom (and in what relation), handed over by which teacher, extended care, from the portal's own read
models; and their applications with their status (R6), as enrollment answers the guardian's own token."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.portal.api.deps import COOKIE, message, render, who
from services.portal.api.upstream import UpstreamError
from shared.time import local_day, utc_now

router = APIRouter(include_in_schema=False)


@router.get("/me")
async def me(request: Request) -> Response:
    person = who(request)
    if person is None or person.role != "guardian":
        return message(request, "forbidden", 403)
    today = local_day(utc_now())
    async with request.app.state.runtime.uow_factory() as uow:
        children = await uow.children_of(person.subject, today)
    try:  # enrollment's own answer, asked with the guardian's token: their applications and nobody else's
        applications = await request.app.state.runtime.extras["upstream"].applications(request.cookies[COOKIE])
    except UpstreamError:
        applications = None
    return render(request, "me.html", children=children, today=today.isoformat(), applications=applications)

"""What every enrollment route shares: the verified caller, the unit of work, documented error replies."""
from __future__ import annotations

from typing import Any

from fastapi import Header, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from services.enrollment.db import EnrollmentUoW
from services.enrollment.domain import Actor
from shared.auth import current_principal

_bearer = HTTPBearer(auto_error=False, description="Bearer token (docs/security.md) with a role and a school or"
                     " district scope; `python -m shared.issuer mint ROLE SUBJECT` mints one for local use.")


class Message(BaseModel):
    """Why a request was refused, in words."""

    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Message, "description": "The body cannot be parsed (not UTF-8 JSON)."},
    401: {"model": Message, "description": "No valid bearer token."},
    403: {"model": Message, "description": "The caller's role or scope does not allow this (R1, R27)."},
    404: {"model": Message, "description": "No such record."},
    409: {"model": Message, "description": "The record's state contradicts the request."},
}


async def actor(request: Request, _: HTTPAuthorizationCredentials | None = Security(_bearer)) -> Actor:
    """The verified caller (401 without a valid token)."""
    p = await current_principal(request)
    return Actor(p.subject, p.role, p.school_id, p.district_id)


def uow(request: Request) -> EnrollmentUoW:
    return request.app.state.runtime.uow_factory()


async def correlation(x_correlation_id: str | None = Header(None, max_length=128, pattern=r"^[\x21-\x7e]+$",
                                                      description="Ties the events of one request together.")) -> str | None:
    return x_correlation_id

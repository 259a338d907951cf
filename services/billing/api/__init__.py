"""Billing's HTTP routes, for schools (schedules, statements, payments, spending), guardians (their
children's statements and receipts), districts (approvals, subsidies) and the public (disclosures)."""
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.billing.api import money, month_to_date, schedules, statements
from services.billing.domain import DomainError
from shared.messaging.http import problem_body

router = APIRouter()
router.include_router(schedules.router)
router.include_router(money.router)
router.include_router(statements.router)
router.include_router(month_to_date.router)


async def domain_error_reply(request: Request, exc: DomainError) -> JSONResponse:
    """A broken billing rule is the caller's to fix: its status (4xx) and every reason, never a 500."""
    return JSONResponse(problem_body(exc.status, exc.reasons[0] if len(exc.reasons) == 1 else "refused",
                                     reasons=exc.reasons), status_code=exc.status)


ERROR_HANDLERS = {DomainError: domain_error_reply}

__all__ = ["ERROR_HANDLERS", "router"]

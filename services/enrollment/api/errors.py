"""Maps refusals to HTTP replies: rule breaks are 422 in FastAPI's validation shape (one entry per
reason, with where and which rule); access 403, absence 404, state 409. Never a 500 for bad input."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError

from services.enrollment.domain import DomainError
from shared.messaging.http import problem_body

log = logging.getLogger(__name__)


async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
    if exc.status == 422:
        detail = [{"loc": list(p.loc), "msg": p.msg, "type": p.type} for p in exc.problems]
        return JSONResponse(problem_body(422, detail, "rule_broken"), status_code=422)
    return JSONResponse(problem_body(exc.status, str(exc)), status_code=exc.status)


async def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
    # Two requests raced for the same unique record; the other one won. Retrying sees its result.
    log.info("concurrent change refused", extra={"path": request.url.path, "error": str(exc.orig)[:200]})
    return JSONResponse(problem_body(409, "a concurrent request changed the same record; retry to see its result",
                                     "concurrent_change"), status_code=409)


async def _data_error(request: Request, exc: DBAPIError) -> JSONResponse:
    state = str(getattr(exc.orig, "sqlstate", "") or "")
    if state.startswith("22"):  # data exception: a value the database cannot store
        return JSONResponse(problem_body(422, [{"loc": ["body"], "msg": "a value cannot be stored: "
                                                f"{str(exc.orig).splitlines()[0][:200]}", "type": "value_error"}],
                                         "unstorable_value"), status_code=422)
    raise exc


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DBAPIError, _data_error)

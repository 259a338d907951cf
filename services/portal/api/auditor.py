"""The auditor's console (issue 18; R24-R26): the anomalies audit raised, each with its evidence, the
checkpoint it cites and links to the inclusion proofs of the ledger entries it is about; the ledger by
school and period, each entry with its proof (audit's answer to the auditor's own token); and the full
export, streamed through for the offline verifier."""
from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from services.portal.api.deps import COOKIE, context, message, render, who
from services.portal.api.upstream import Upstream, UpstreamError

router = APIRouter(include_in_schema=False)
READERS = ("auditor", "city", "district")


@router.get("/auditor")
async def anomalies(request: Request) -> Response:
    person = who(request)
    if person is None or person.role not in READERS:
        return message(request, "forbidden", 403)
    async with request.app.state.runtime.uow_factory() as uow:
        found = await uow.anomalies(person.district_id if person.role == "district" else None)
        checkpoint = await uow.checkpoint()
    return render(request, "auditor.html", anomalies=found, checkpoint=checkpoint)


@router.get("/auditor/anomalies/{anomaly_id}")
async def anomaly(request: Request, anomaly_id: Annotated[str, Path(max_length=120)]) -> Response:
    person = who(request)
    if person is None or person.role not in READERS:
        return message(request, "forbidden", 403)
    async with request.app.state.runtime.uow_factory() as uow:
        found = await uow.anomaly(anomaly_id)
    if found is None or (person.role == "district" and found["district_id"] != person.district_id):
        return message(request, "not_found", 404)
    return render(request, "anomaly.html", a=found)


@router.get("/auditor/ledger")
async def ledger(request: Request,
                 school_id: Annotated[str | None, Query(max_length=80, pattern=r"^[A-Za-z0-9._:-]*$")] = None,
                 period: Annotated[str | None, Query(pattern=r"^([0-9]{4}(-(0[1-9]|1[0-2]))?)?$")] = None,
                 after: Annotated[int, Query(ge=-1)] = -1) -> Response:
    person = who(request)
    if person is None or person.role not in READERS:
        return message(request, "forbidden", 403)
    upstream: Upstream = context(request).upstream
    try:
        page = await upstream.entries(request.cookies[COOKIE], school_id=school_id or "", period=period or "",
                                      after=str(after), limit="100")
    except UpstreamError as exc:
        return message(request, "forbidden" if exc.status == 403 else "upstream", exc.status)
    return render(request, "ledger.html", page=page, school_id=school_id or "", period=period or "")


@router.get("/auditor/export")
async def export(request: Request) -> Response:
    """The whole ledger under the newest checkpoint, as audit streams it (auditors only, R24)."""
    person = who(request)
    if person is None or person.role != "auditor":
        return message(request, "forbidden", 403)
    upstream: Upstream = context(request).upstream
    reply = await upstream.client.send(upstream.export_request(request.cookies[COOKIE]), stream=True)
    if reply.status_code != 200:
        await reply.aclose()
        return message(request, "upstream", 503)
    return StreamingResponse(reply.aiter_bytes(), media_type="text/plain; charset=utf-8", background=_closing(reply),
                             headers={"Content-Disposition": reply.headers.get("content-disposition",
                                                                               'attachment; filename="ledger-export.jsonl"'),
                                      "Cache-Control": "private, no-store"})


def _closing(reply):
    from starlette.background import BackgroundTask

    return BackgroundTask(reply.aclose)


@router.get("/auditor/consistency")
async def consistency(request: Request) -> Response:
    """Paste a checkpoint saved earlier; the browser proves the newest one extends it (R24, R26). Public
    data, but offered on the auditor's console with the others."""
    person = who(request)
    if person is None or person.role not in READERS:
        return message(request, "forbidden", 403)
    try:
        keys = await context(request).upstream.ledger_keys()
    except UpstreamError:
        return message(request, "upstream", 503)
    return render(request, "consistency.html", keys_json=json.dumps(keys, ensure_ascii=False).replace("</", "<\\/"))


@router.get("/auditor/entries/{index}/proof")
async def entry_proof(request: Request, index: Annotated[int, Path(ge=0, le=2**62)]) -> Response:
    """A ledger entry's inclusion proof, as audit answers the reader's own token (R24, R27)."""
    person = who(request)
    if person is None or person.role not in READERS:
        return message(request, "forbidden", 403)
    try:
        proof = await context(request).upstream.entry_proof(index, request.cookies[COOKIE])
    except UpstreamError as exc:
        return message(request, "forbidden" if exc.status == 403 else "not_found" if exc.status == 404 else "upstream",
                       exc.status)
    return JSONResponse(proof, headers={"Cache-Control": "private, no-store"})

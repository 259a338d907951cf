"""The auditor's console (issue 18; R24-R26): the anomalies audit raised, each with its evidence, the
checkpoint it cites and links to the inclusion proofs of the ledger entries it is about."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from services.portal.api.deps import message, render, who

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

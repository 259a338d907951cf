"""The bureau's dashboard (issue 18; R29): participation by district and school against the eligible
students and the city's 78.5%, as a table that prints cleanly, a chart, and CSV; the time from application
to district filing (R6), the waiting lists (R7), how many anomalies wait (R25), and the newest school day per
district: exercise minutes against 30 (R14) and extended-care use (R13), from the portal's own read models. The figures are
enrollment's own report, asked with the signed-in officer's token, so a district sees only its schools."""
from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.portal.api.deps import COOKIE, context, lang, message, render, who
from services.portal.api.upstream import Upstream, UpstreamError
from services.portal.domain.words import word

router = APIRouter(include_in_schema=False)
OFFICERS = ("city", "district", "auditor")
REVIEW_FIELDS = ("charged_fen", "waived_fen", "fee_income_fen", "subsidy_income_fen", "refunded_fen", "payouts_fen",
                 "balance_fen")


def _rows(report: dict[str, Any], language: str) -> list[dict[str, Any]]:
    """Each district, then its schools: the table's rows, in order."""
    rows = []
    for d in report["districts"]:
        rows.append({"level": "district", "id": d["district_id"], "name": d["district_id"], **_figures(d)})
        rows.extend({"level": "school", "id": s["school_id"], "name": s["school_id"], **_figures(s)}
                    for s in report["schools"] if s["district_id"] == d["district_id"])
    total = report["total"]
    rows.append({"level": "city", "id": "city", "name": word("city", language), **_figures(total)})
    return rows


def _figures(p: dict[str, Any]) -> dict[str, Any]:
    return {"enrolled": p["enrolled"], "eligible": p["eligible"], "rate": p["rate"]}


async def _report(request: Request) -> dict[str, Any] | Response:
    person = who(request)
    if person is None or person.role not in OFFICERS:
        return message(request, "forbidden", 403)
    upstream: Upstream = context(request).upstream
    try:
        return await upstream.participation(request.cookies[COOKIE])
    except UpstreamError as exc:
        return message(request, "forbidden" if exc.status == 403 else "upstream", exc.status)


@router.get("/bureau")
async def bureau(request: Request) -> Response:
    report = await _report(request)
    if isinstance(report, Response):
        return report
    rows = _rows(report, lang(request))
    chart = [{"name": r["name"], "rate": r["rate"] or 0} for r in rows if r["level"] == "district"]
    upstream: Upstream = context(request).upstream
    token = request.cookies[COOKIE]
    try:
        filing, waiting = await upstream.filing_times(token), await upstream.waitlists(token)
    except UpstreamError:
        filing, waiting = [], []
    person = who(request)
    district = person.district_id if person and person.role == "district" else None
    async with request.app.state.runtime.uow_factory() as uow:
        anomalies = await uow.anomalies(district)
        day, days = await uow.day_by_district(district)
    open_anomalies = sum(a["severity"] != "info" for a in anomalies)
    return render(request, "bureau.html", rows=rows, chart_json=json.dumps(chart, ensure_ascii=False),
                  filing=filing, waiting=[w for w in waiting if w["waiting"]], open_anomalies=open_anomalies,
                  day=day, days=days)


@router.get("/bureau/participation.csv")
async def participation_csv(request: Request) -> Response:
    report = await _report(request)
    if isinstance(report, Response):
        return report
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["level", "id", "enrolled", "eligible", "rate"])
    for r in _rows(report, "en"):
        writer.writerow([r["level"], r["id"], r["enrolled"], r["eligible"], "" if r["rate"] is None else r["rate"]])
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="participation.csv"', "Cache-Control": "private, no-store"})


@router.get("/bureau/review")
async def review(request: Request,
                 period: Annotated[str, Query(pattern=r"^[0-9]{4}(-(0[1-9]|1[0-2]))?$")]) -> Response:
    """The monthly review (月调度, period YYYY-MM) or the annual report (年报告, YYYY) of fees per school (R29),
    as audit computes it from the ledger, citing the checkpoint; a page that prints cleanly."""
    person = who(request)
    if person is None or person.role not in OFFICERS:
        return message(request, "forbidden", 403)
    upstream: Upstream = context(request).upstream
    try:
        report = await upstream.fee_review(request.cookies[COOKIE], period)
    except UpstreamError as exc:
        return message(request, "forbidden" if exc.status == 403 else "upstream", exc.status)
    return render(request, "review.html", report=report, fields=REVIEW_FIELDS)

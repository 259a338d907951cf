"""Public pages, no login (issue 18; R4, R7, R21, R26): the schools, each school's programmes with their
times, activities, staff, fees, safety measures and insurance, each disclosure in words and numbers with the
Verify button, and the proofs that button fetches (audit's public answers, kept a few seconds)."""
from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from services.portal.api.deps import PublicPages, context, lang, settings
from services.portal.api.upstream import Upstream, UpstreamError
from services.portal.domain.words import FIGURES, word

router = APIRouter(tags=["public"])
Id = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._:-]+$")]


def _pages(request: Request) -> PublicPages:
    return context(request).pages


def _upstream(request: Request) -> Upstream:
    return context(request).upstream


@router.get("/", include_in_schema=False)
async def index(request: Request, district: Annotated[str | None, Query(max_length=80)] = None) -> Response:
    async def load() -> tuple[str, dict[str, Any], int]:
        async with request.app.state.runtime.uow_factory() as uow:
            every = await uow.schools()
        shown = [s for s in every if not district or s["district_id"] == district]
        return "index.html", {"schools": shown, "districts": sorted({s["district_id"] for s in every}),
                              "district": district}, 200
    return await _pages(request).answer(request, load)


@router.get("/s/{school_id}", include_in_schema=False)
async def school(request: Request, school_id: Id) -> Response:
    async def load() -> tuple[str, dict[str, Any], int]:
        async with request.app.state.runtime.uow_factory() as uow:
            programmes = await uow.programmes_of(school_id)
            disclosures = await uow.disclosures_of(school_id)
        if not programmes and not disclosures:
            return _not_found(request)
        name = next((p["school_name"] for p in programmes if p.get("school_name")), school_id)
        return "school.html", {"name": name, "programmes": programmes, "disclosures": disclosures}, 200
    return await _pages(request).answer(request, load)


@router.get("/d/{disclosure_id}", include_in_schema=False)
async def disclosure(request: Request, disclosure_id: Id) -> Response:
    async def load() -> tuple[str, dict[str, Any], int]:
        async with request.app.state.runtime.uow_factory() as uow:
            found = await uow.disclosure(disclosure_id)
            name = await uow.school_name(found["school_id"]) if found else None
        if found is None:
            return _not_found(request)
        try:
            keys = await _upstream(request).ledger_keys()
        except UpstreamError:
            keys = {"log_vkey": None, "witness_vkeys": [], "quorum": 0}
        return "disclosure.html", {"d": found, "name": name or found["school_id"], "figures": FIGURES,
                                   "keys_json": json.dumps(keys, ensure_ascii=False).replace("</", "<\\/")}, 200
    return await _pages(request).answer(request, load)


@router.get("/api/disclosures/{disclosure_id}/proof", tags=["public"],
            summary="A disclosure's ledger entry, its inclusion proof and the cosigned checkpoint (audit's answer).")
async def disclosure_proof(request: Request, disclosure_id: Id) -> JSONResponse:
    return await _proxied(request, _upstream(request).disclosure_proof(disclosure_id))


@router.get("/api/ledger/consistency", tags=["public"],
            summary="Proof that the checkpoint of size `old` is a prefix of the newest (audit's bundle).")
async def consistency_proof(request: Request, old: Annotated[int, Query(ge=0, le=2**62)]) -> JSONResponse:
    return await _proxied(request, _upstream(request).consistency(old))


async def _proxied(request: Request, answer) -> JSONResponse:
    try:
        body = await answer
    except UpstreamError as exc:  # the kit answers it in the one error shape every service uses
        raise HTTPException(exc.status, str(exc)) from exc
    seconds = max(1, int(settings(request).proof_cache_seconds))
    return JSONResponse(body, headers={"Cache-Control": f"public, max-age={seconds}"})


def _not_found(request: Request) -> tuple[str, dict[str, Any], int]:
    return "message.html", {"message": word("not_found", lang(request))}, 404

"""The parent's pages (issue 18): each of my enrolled children today, checked in or not, collected by whom (and
in what relation), handed over by which teacher, extended care (R11, R12), from the portal's own read models;
their applications with their status (R6), as enrollment answers the guardian's own token; the family's
monthly statements (R17), each with the receipt of its ledger entry, as audit answers that token, for the
browser to verify (R26); the messages sent to me and my notification settings (R22, notification's); and who
else may collect my children (R11), named and revoked at enrollment."""
from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from services.portal.api.deps import COOKIE, context, lang, message, render, who
from services.portal.api.upstream import UpstreamError
from services.portal.domain.words import STATEMENT_FIGURES
from shared.auth import Principal
from shared.time import local_day, utc_now

router = APIRouter(include_in_schema=False)
ID = r"^[A-Za-z0-9._:-]+$"
IdPath = Annotated[str, Path(max_length=80, pattern=ID)]


def _guardian(request: Request, *, posted: bool = False) -> Principal | None:
    """The signed-in guardian, or None; a form must come from the portal's own pages."""
    person = who(request)
    if person is None or person.role != "guardian" or (posted and not _same_site(request)):
        return None
    return person


def _same_site(request: Request) -> bool:
    """A form posted from the portal's own pages (the session cookie is SameSite=Lax as well)."""
    origin = request.headers.get("origin")
    return origin is None or origin.split("://", 1)[-1] == request.headers.get("host")


async def _form(request: Request) -> dict[str, str]:
    return {k: v[0].strip() for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items() if v}


async def _change(request: Request, send: Callable[[str], Awaitable[Any]], refused: str, done: str) -> Response:
    """A guardian's change at another service, asked with their own token: a refusal (4xx) is said in the
    words `refused`, an outage as such; done, back to the page `done` in the page's language."""
    try:
        await send(request.cookies[COOKIE])
    except UpstreamError as exc:
        return message(request, "upstream" if exc.status >= 500 else refused, exc.status)
    if lang(request) == "en":
        done += ("&" if "?" in done else "?") + "lang=en"
    return RedirectResponse(done, status_code=303)


@router.get("/me")
async def me(request: Request) -> Response:
    person = _guardian(request)
    if person is None:
        return message(request, "forbidden", 403)
    today = local_day(utc_now())
    async with request.app.state.runtime.uow_factory() as uow:
        children = await uow.children_of(person.subject, today)
        statements = await uow.statements_of(person.subject)
    upstream = context(request).upstream
    try:  # enrollment's own answer, asked with the guardian's token: their applications and nobody else's
        applications = await upstream.applications(request.cookies[COOKIE])
    except UpstreamError:
        applications = None
    keys_json = None
    if statements:  # what the receipts' Verify buttons trust: the ledger's key and the witnesses, from audit
        try:
            keys_json = json.dumps(await upstream.ledger_keys(), ensure_ascii=False).replace("</", "<\\/")
        except UpstreamError:
            keys_json = None
    return render(request, "me.html", children=children, today=today.isoformat(), applications=applications,
                  done=request.query_params.get("done"), schools=sorted({c["school_id"] for c in children}),
                  statements=statements, statement_figures=STATEMENT_FIGURES, keys_json=keys_json)


@router.get("/me/statements/{settlement_id}/receipt")
async def statement_receipt(request: Request, settlement_id: IdPath) -> Response:
    """The family's receipt of one of its own statements (R17, R26), as audit answers the guardian's token:
    the Verify button checks it in the browser (static/js/receipt-page.js)."""
    person = _guardian(request)
    if person is None:
        return PlainTextResponse("sign in as the statement's guardian", status_code=403)
    async with request.app.state.runtime.uow_factory() as uow:
        found = await uow.statement(person.subject, settlement_id)
    if found is None:
        return PlainTextResponse("no such statement of yours", status_code=404)
    try:
        text = await context(request).upstream.event_receipt(str(found["event_id"]), request.cookies[COOKIE])
    except UpstreamError as exc:
        return PlainTextResponse(str(exc), status_code=exc.status)
    return PlainTextResponse(text, headers={"Cache-Control": "private, no-store"})


@router.post("/me/applications/{application_id}/withdraw")
async def withdraw(request: Request, application_id: IdPath) -> Response:
    """Withdraw one's own application, no reason needed (R1, R6): enrollment decides, with the guardian's token."""
    if _guardian(request, posted=True) is None:
        return message(request, "forbidden", 403)
    return await _change(request, lambda token: context(request).upstream.post(
        f"/v1/applications/{application_id}/withdraw", token, {}), "forbidden", "/me?done=withdrawn")


@router.post("/me/coercion-report")
async def coercion_report(request: Request) -> Response:
    """Report pressure to enroll (R1), anonymously: enrollment keeps and publishes no guardian or student."""
    if _guardian(request, posted=True) is None:
        return message(request, "forbidden", 403)
    form = await _form(request)
    body = {"report_key": f"rpt-{uuid.uuid4().hex[:16]}", "school_id": form.get("school_id", ""),
            "what_happened": form.get("what_happened", ""), "happened_on": form.get("happened_on") or date.today().isoformat()}
    return await _change(request, lambda token: context(request).upstream.post("/v1/coercion-reports", token, body),
                         "report_refused", "/me?done=reported")


@router.get("/me/messages")
async def messages(request: Request) -> Response:
    """The messages sent to me (R22, R23: what about, which child, how, from the portal's read model of
    NotificationSent; their words as notification sent them, asked with my own token) and my notification
    settings (notification's answer to my own token)."""
    person = _guardian(request)
    if person is None:
        return message(request, "forbidden", 403)
    async with request.app.state.runtime.uow_factory() as uow:
        sent = await uow.messages_of(person.subject)
    upstream, token = context(request).upstream, request.cookies[COOKIE]
    try:
        prefs = await upstream.preferences(person.subject, token)
    except UpstreamError:
        prefs = None
    try:  # the words as sent are notification's to give; without them the page still says what each was about
        words = await upstream.message_words(person.subject, token) if sent else {}
    except UpstreamError:
        words = None
    return render(request, "messages.html", messages=sent, words=words, prefs=prefs,
                  done=request.query_params.get("done"))


@router.post("/me/preferences")
async def save_preferences(request: Request) -> Response:
    """Channels, quiet hours and language of my messages (R22), set at notification with my own token."""
    person = _guardian(request, posted=True)
    if person is None:
        return message(request, "forbidden", 403)
    form = await _form(request)
    start, end = form.get("quiet_start"), form.get("quiet_end")
    body = {"channels": form.get("channels", "push_then_sms"), "locale": form.get("locale") or None,
            "quiet_hours": {"start": start or "", "end": end or ""} if start or end else None}
    return await _change(request, lambda token: context(request).upstream.save_preferences(person.subject, token, body),
                         "preferences_refused", "/me/messages?done=saved")


@router.get("/me/pickups")
async def pickups(request: Request) -> Response:
    """Who else may collect each of my children (R11), from the portal's read model of enrollment's events."""
    person = _guardian(request)
    if person is None:
        return message(request, "forbidden", 403)
    today = local_day(utc_now())
    async with request.app.state.runtime.uow_factory() as uow:
        children = await uow.children_of(person.subject, today)
        persons = await uow.pickup_persons_of(person.subject, today)
    return render(request, "pickups.html", children=children, persons=persons, today=today.isoformat(),
                  done=request.query_params.get("done"))


@router.post("/me/pickups")
async def authorise_pickup(request: Request) -> Response:
    """Name someone who may collect my child until a day (R11): enrollment decides, with my own token (it keeps
    only the phone's mask). Its answer goes into the read model at once; the event it publishes says the same."""
    person = _guardian(request, posted=True)
    if person is None:
        return message(request, "forbidden", 403)
    form = await _form(request)
    student = form.get("student_id", "")
    body = {k: form.get(k, "") for k in ("name", "relation", "phone", "valid_until")}

    async def send(token: str) -> None:
        p = await context(request).upstream.post(f"/v1/students/{quote(student, safe='')}/pickup-persons", token, body)
        async with request.app.state.runtime.uow_factory() as uow:
            await uow.save_pickup_persons([(p["pickup_person_id"], p["student_id"], person.subject, p["name"],
                                            p["relation"], p["phone_masked"], date.fromisoformat(p["valid_until"]))])
            await uow.commit()
    return await _change(request, send, "pickup_refused", "/me/pickups?done=added")


@router.post("/me/pickups/{student_id}/{pickup_person_id}/revoke")
async def revoke_pickup(request: Request, student_id: IdPath, pickup_person_id: IdPath) -> Response:
    """Revoke a pickup person (R11): enrollment decides, with my own token; attendance refuses them from then on."""
    if _guardian(request, posted=True) is None:
        return message(request, "forbidden", 403)

    async def send(token: str) -> None:
        await context(request).upstream.delete(f"/v1/students/{student_id}/pickup-persons/{pickup_person_id}", token)
        async with request.app.state.runtime.uow_factory() as uow:
            await uow.revoke_pickup_persons([(pickup_person_id, utc_now())])
            await uow.commit()
    return await _change(request, send, "forbidden", "/me/pickups?done=revoked")

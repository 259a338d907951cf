"""Signing in (issue 18). Locally, a development sign-in mints a token per role with the local issuer
(shared.issuer) and keeps it in an HttpOnly cookie; pages read the role from the verified token, exactly as
every service verifies a bearer token. Deployed, `OIDC_ISSUER_URL` sends people to the city's identity
provider instead (oidc.py: code flow with PKCE, the ID token checked against the provider's keys) and the
development sign-in is off (docs/portal.md)."""
from __future__ import annotations

import logging
import secrets
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.portal.api.deps import COOKIE, HOME_OF_ROLE, context, lang, message, render, settings
from services.portal.api.oidc import FLOW_COOKIE, FLOW_SECONDS, Flow, SignInError, principal_of, session_token
from shared.auth import ROLES

log = logging.getLogger(__name__)
CALLBACK = "/signin/oidc/callback"

router = APIRouter(include_in_schema=False)
SIGNIN_ROLES = ("guardian", "school", "district", "city", "auditor")


@router.get("/signin")
async def signin_page(request: Request) -> Response:
    s = settings(request)
    oidc = context(request).oidc
    if oidc is not None:
        flow = Flow.start(lang(request))
        try:
            url = await oidc.authorization_url(flow, _redirect_uri(request))
        except SignInError as exc:
            log.warning("sign-in could not start: %s", exc)
            return message(request, "upstream", 503)
        reply = RedirectResponse(url, status_code=303)
        reply.set_cookie(FLOW_COOKIE, flow.cookie(), max_age=FLOW_SECONDS, path=CALLBACK, httponly=True,
                         samesite="lax", secure=s.cookie_secure)
        return reply
    if not s.dev_signin:
        return message(request, "forbidden", 404)
    return render(request, "signin.html", roles=[r for r in SIGNIN_ROLES if r in ROLES])


def _redirect_uri(request: Request) -> str:
    return settings(request).oidc_redirect_url or str(request.url_for("oidc_callback"))


def _signed_in(request: Request, token: str, max_age: int, role: str, language: str) -> Response:
    """The session cookie set and the person sent to their role's home page."""
    reply = RedirectResponse(HOME_OF_ROLE.get(role, "/") + ("?lang=en" if language == "en" else ""), status_code=303)
    reply.set_cookie(COOKIE, token, max_age=max_age, httponly=True, samesite="lax",
                     secure=settings(request).cookie_secure)
    return reply


@router.get(CALLBACK, name="oidc_callback")
async def oidc_callback(request: Request) -> Response:
    """The provider's answer: the state checked, the code exchanged with the PKCE verifier, the ID token
    verified and mapped to the session (oidc.py)."""
    oidc = context(request).oidc
    flow = Flow.from_cookie(request.cookies.get(FLOW_COOKIE))
    params = request.query_params
    if oidc is None or flow is None:
        return message(request, "signin_failed", 400)
    try:
        if params.get("error"):
            raise SignInError(f"the provider refused: {params.get('error')} {params.get('error_description', '')}")
        if not secrets.compare_digest(params.get("state", ""), flow.state) or not params.get("code"):
            raise SignInError("the callback's state is not this browser's sign-in")
        answer = await oidc.exchange(params["code"], flow, _redirect_uri(request))
        person = principal_of(await oidc.id_claims(answer["id_token"], flow.nonce))
        token, max_age = session_token(answer, person, request.app.state.runtime.authority)
    except SignInError as exc:
        log.warning("sign-in refused: %s", exc)
        reply = message(request, "signin_failed", 400)
        reply.delete_cookie(FLOW_COOKIE, path=CALLBACK)
        return reply
    reply = _signed_in(request, token, min(max_age, 8 * 3600), person.role, flow.lang)
    reply.delete_cookie(FLOW_COOKIE, path=CALLBACK)
    return reply


@router.post("/signin")
async def signin(request: Request) -> Response:
    if not settings(request).dev_signin:
        return message(request, "forbidden", 404)
    form = {k: v[0].strip() for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items() if v}
    role, subject = form.get("role", ""), form.get("subject", "")
    if role not in SIGNIN_ROLES or not subject or len(subject) > 80:
        return message(request, "forbidden", 400)
    from shared.issuer import dev_issuer

    token = dev_issuer().mint(subject, role, school_id=form.get("school_id") or None,
                              district_id=form.get("district_id") or None, ttl_seconds=8 * 3600)
    return _signed_in(request, token, 8 * 3600, role, form.get("lang", ""))


@router.post("/signout")
async def signout(request: Request) -> Response:
    reply = RedirectResponse("/" + ("?lang=en" if lang(request) == "en" else ""), status_code=303)
    reply.delete_cookie(COOKIE)
    return reply

"""Signing in (issue 18). Locally, a development sign-in mints a token per role with the local issuer
(shared.issuer) and keeps it in an HttpOnly cookie; pages read the role from the verified token, exactly as
every service verifies a bearer token. Deployed, `OIDC_ISSUER_URL` sends people to the city's identity
provider instead and the development sign-in is off (docs/portal.md)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.portal.api.deps import COOKIE, HOME_OF_ROLE, lang, message, render, settings
from shared.auth import ROLES

router = APIRouter(include_in_schema=False)
SIGNIN_ROLES = ("guardian", "school", "district", "city", "auditor")


@router.get("/signin")
async def signin_page(request: Request) -> Response:
    s = settings(request)
    if s.oidc_issuer_url and s.oidc_client_id:
        query = urlencode({"response_type": "code", "client_id": s.oidc_client_id, "scope": "openid",
                           "redirect_uri": str(request.url_for("signin_page"))})
        return RedirectResponse(f"{s.oidc_issuer_url.rstrip('/')}/authorize?{query}", status_code=303)
    if not s.dev_signin:
        return message(request, "forbidden", 404)
    return render(request, "signin.html", roles=[r for r in SIGNIN_ROLES if r in ROLES])


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
    home = HOME_OF_ROLE.get(role, "/") + ("?lang=en" if form.get("lang") == "en" else "")
    reply = RedirectResponse(home, status_code=303)
    reply.set_cookie(COOKIE, token, max_age=8 * 3600, httponly=True, samesite="lax",
                     secure=settings(request).cookie_secure)
    return reply


@router.post("/signout")
async def signout(request: Request) -> Response:
    reply = RedirectResponse("/" + ("?lang=en" if lang(request) == "en" else ""), status_code=303)
    reply.delete_cookie(COOKIE)
    return reply

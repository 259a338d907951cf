"""What the portal's pages share: the templates and the words they use, the language, who is signed in
(the token in the session cookie, verified like every service verifies a bearer token), and the answers of
public pages, rendered once and kept a few seconds with an ETag (a burst of parents opening one link)."""
from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.portal.domain import words
from services.portal.settings import Context, Settings
from shared.auth import AuthError, Principal
from shared.messaging.runtime import context_of

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
COOKIE = "beilei_session"
HOME_OF_ROLE = {"guardian": "/me", "city": "/bureau", "district": "/bureau", "auditor": "/auditor", "school": "/"}

env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)


def lang(request: Request) -> str:
    return words.lang_of(request.query_params.get("lang"))


def settings(request: Request) -> Settings:
    return request.app.state.runtime.settings


def context(request: Request) -> Context:
    return context_of(request, Context)


def who(request: Request) -> Principal | None:
    """The signed-in person, or None: a missing, expired or forged cookie is nobody."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return request.app.state.runtime.authority.verify(token)
    except AuthError:
        return None


def _context(request: Request, person: Principal | None) -> dict[str, Any]:
    language = lang(request)
    query = "?lang=en" if language == "en" else ""
    other = dict(request.query_params)
    if language == "en":
        other.pop("lang", None)
    else:
        other["lang"] = "en"
    other_query = "&".join(f"{k}={v}" for k, v in other.items())
    return {
        "lang": language, "q": query, "who": person,
        "other_lang_url": request.url.path + (f"?{other_query}" if other_query else ""),
        "home_of_role": HOME_OF_ROLE.get(person.role, "/") + query if person else "/",
        "w": partial(words.word, lang=language), "role_name": partial(words.role_name, lang=language),
        "status_name": partial(words.status_name, lang=language),
        "kind_name": partial(words.kind_name, lang=language), "channel_name": partial(words.channel_name, lang=language),
        "weekdays": partial(words.weekdays, lang=language), "figure": partial(words.figure, lang=language),
        "figure_label": partial(words.figure_label, lang=language),
        "statement_figure": partial(words.statement_figure, lang=language),
        "yuan": words.yuan, "percent": words.percent, "local_time": words.local_time,
        "local_datetime": words.local_datetime,
        "staff_count": lambda p: len({s for a in p.get("activities", []) for s in a.get("staff_ids", [])}),
    }


def render(request: Request, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    """A private page: for the signed-in person only, never cached by anyone else."""
    body = env.get_template(template).render(**_context(request, who(request)), **values)
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "private, no-store"})


class PublicPages:
    """Public pages rendered for nobody in particular, kept `seconds` by URL, answered with an ETag, and
    304 when the browser has them already. A signed-in visitor gets a private rendering instead (the
    header names them)."""

    def __init__(self, max_age: int, keep_seconds: float = 5.0) -> None:
        self.max_age, self.keep_seconds = max_age, keep_seconds
        self._pages: dict[str, tuple[float, str, bytes, int]] = {}

    async def answer(self, request: Request, load: Callable[[], Awaitable[tuple[str, dict[str, Any], int]]]) -> Response:
        """`load` gives the template, its values and the status (a 404 renders message.html)."""
        if who(request) is not None:
            template, values, status = await load()
            return render(request, template, status=status, **values)
        key = str(request.url.path) + "?" + request.url.query
        hit = self._pages.get(key)
        if hit is None or hit[0] < time.monotonic():
            template, values, status = await load()
            body = env.get_template(template).render(**_context(request, None), **values).encode()
            hit = (time.monotonic() + self.keep_seconds, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', body,
                   status)
            if len(self._pages) > 50_000:
                self._pages.clear()
            self._pages[key] = hit
        _, etag, body, status = hit
        headers = {"ETag": etag, "Vary": "Cookie",
                   "Cache-Control": f"public, max-age={self.max_age}" if status == 200 else "public, max-age=5"}
        if status == 200 and request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, status_code=status, media_type="text/html; charset=utf-8", headers=headers)


def message(request: Request, key: str, status: int) -> HTMLResponse:
    return render(request, "message.html", status=status, message=words.word(key, lang(request)))

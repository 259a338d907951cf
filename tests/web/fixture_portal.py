"""A stand-in for the portal's disclosure page, built exactly to the page's contract
(docs/portal-verifier.md, "What the page carries") over a real ledger made by the audit's own code
(tests/portal_js/ledger_fixture.py), so the browser verifier is tested in a browser before and beside the
portal itself. It serves the portal's real static files (services/portal/static) and nothing else of it."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from services.portal.domain.words import FIGURES
from tests.portal_js.ledger_fixture import build

STATIC = Path(__file__).resolve().parents[2] / "services" / "portal" / "static"

def _amount(name: str, value: int, lang: str) -> str:
    if not name.endswith("_fen"):
        return f"{value:,} 人" if lang == "zh" else f"{value:,}"
    sign = "-" if value < 0 else ""
    whole, cents = divmod(abs(value), 100)
    return f"{sign}{whole:,}.{cents:02d} 元"


def disclosure_page(fixture: dict[str, Any], lang: str) -> str:
    """The disclosure page: every figure with data-figure and data-fen, the #verify section, the ledger keys."""
    d = fixture["disclosure"]
    zh = lang == "zh"
    rows = "\n".join(
        f'<tr><th scope="row">{html.escape(zh_label if zh else en_label)}</th>'
        f'<td data-figure="{name}" data-fen="{d[name]}">{html.escape(_amount(name, d[name], lang))}</td></tr>'
        for name, zh_label, en_label in FIGURES)
    keys = json.dumps(fixture["keys"], ensure_ascii=False).replace("</", "<\\/")
    title = "收支公示" if zh else "Income and spending disclosure"
    period = f"{d['period_start']} – {d['period_end']}"
    return f"""<!doctype html>
<html lang="{'zh-CN' if zh else 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {d['school_id']}</title>
<style>
body {{ font-family: system-ui, "Noto Sans CJK SC", sans-serif; margin: 0 auto; max-width: 42rem; padding: 1rem;
       color: #1a1a1a; background: #fff; line-height: 1.5; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ padding: .4rem .2rem; border-bottom: 1px solid #ccc; text-align: left; }}
td {{ text-align: right; font-variant-numeric: tabular-nums; }}
#verify-button {{ font-size: 1rem; padding: .6rem 1.2rem; margin-top: 1rem; min-height: 44px; }}
#verify-result[data-verified="true"] {{ color: #0a5a1a; }}
#verify-result[data-verified="false"] {{ color: #a00000; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
<p>{d['school_id']} · {period}</p>
<table>
<caption>{'单位：元' if zh else 'Amounts in yuan (元)'}</caption>
{rows}
</table>
<section id="verify" data-proof-url="/api/disclosures/{fixture['disclosure_id']}/proof" aria-labelledby="verify-title">
<h2 id="verify-title">{'验证' if zh else 'Verify'}</h2>
<button id="verify-button" type="button">{'验证这份公示' if zh else 'Verify this disclosure'}</button>
<p id="verify-result" role="status" aria-live="polite"></p>
</section>
</main>
<script type="application/json" id="ledger-keys">{keys}</script>
<script type="module" src="/static/js/verify-page.js"></script>
</body>
</html>
"""


def app(fixture: dict[str, Any] | None = None) -> Starlette:
    fixture = fixture or build()
    disclosure_id = fixture["disclosure_id"]

    async def page(request: Request) -> Response:
        if request.path_params["disclosure_id"] != disclosure_id:
            return Response(status_code=404)
        lang = "en" if request.query_params.get("lang") == "en" else "zh"
        return HTMLResponse(disclosure_page(fixture, lang))

    async def proof(request: Request) -> Response:
        if request.path_params["disclosure_id"] != disclosure_id:
            return Response(status_code=404)
        return JSONResponse(fixture["proof"], headers={"Cache-Control": "public, max-age=5"})

    return Starlette(routes=[
        Route("/d/{disclosure_id}", page),
        Route("/api/disclosures/{disclosure_id}/proof", proof),
        Mount("/static", StaticFiles(directory=STATIC)),
    ])
